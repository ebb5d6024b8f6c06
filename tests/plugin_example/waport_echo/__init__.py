"""waport_echo: a toy provider, written the way the plugin-author guide teaches."""
