"""teams-dashboard: the data behind the /teams page."""
