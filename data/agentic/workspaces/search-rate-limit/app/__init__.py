"""catalog-search: the public product search API."""
