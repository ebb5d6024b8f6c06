"""In-memory stores and the SandboxProvider: a complete waport stack without I/O."""

from waport_memory.sandbox import SANDBOX_SENDER, SandboxProvider, SentMessage, default_templates
from waport_memory.store import MemoryStore

__all__ = ["SANDBOX_SENDER", "MemoryStore", "SandboxProvider", "SentMessage", "default_templates"]
