"""The control plane: a REST API wire-compatible with Twilio's Serverless v1."""
