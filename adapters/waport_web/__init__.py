"""waport web adapter."""
