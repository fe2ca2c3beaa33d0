"""returns-service: refunds for returned items."""
