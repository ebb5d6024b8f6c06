"""waport meta adapter."""
