"""shop-db: schema migrations and the data access layer."""
