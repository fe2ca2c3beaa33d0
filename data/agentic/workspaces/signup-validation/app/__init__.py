"""accounts-api: customer sign-up."""
