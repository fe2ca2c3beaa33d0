"""orders-service: a WSGI order API over SQLite."""
