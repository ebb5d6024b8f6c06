"""waport http adapter."""
