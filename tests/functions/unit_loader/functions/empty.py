"""A module that defines nothing at all."""
