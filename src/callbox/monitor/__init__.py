"""Failures you can see: alerts (the Debugger), its webhook, metrics."""
