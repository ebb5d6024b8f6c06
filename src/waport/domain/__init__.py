"""The pure domain core: every rule of the trade, no I/O, no clock, no event loop."""
