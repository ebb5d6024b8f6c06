"""waport memory adapter."""
