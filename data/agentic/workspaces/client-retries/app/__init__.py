"""shipping-client: the carrier API client."""
