"""Builds: validate sources and install dependencies."""
