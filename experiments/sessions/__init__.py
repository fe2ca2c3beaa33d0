"""What plays an agentic trial's session (``experiments.kinds.agentic``): ``claude-code`` (the
real CLI) or ``simulated`` (offline, from the task's reference solution)."""
