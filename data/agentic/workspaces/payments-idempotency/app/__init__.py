"""payments-api: card charges for merchants."""
