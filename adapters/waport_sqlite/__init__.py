"""waport sqlite adapter."""
