"""callbox: a self-hosted serverless platform compatible with Twilio Functions & Assets."""

__version__ = "0.1.0"
