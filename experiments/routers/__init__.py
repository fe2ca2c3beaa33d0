"""Routers: what decides, for one user request and one roster, which agent Claude Code's main
loop hands the request to (``simulated``, ``messages``, ``claude-code``)."""
