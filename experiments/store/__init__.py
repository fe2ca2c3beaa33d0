"""The only code in experiments/ and dashboard/ that touches the experiment tables."""
