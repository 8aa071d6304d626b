"""The Serverless Toolkit's commands, one module each; ``toolkit/cli.py`` registers them."""
