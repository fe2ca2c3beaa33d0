"""The bottom layer: what every package shares (the error hierarchy)."""
