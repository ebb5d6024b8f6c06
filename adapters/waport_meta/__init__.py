"""Meta's WhatsApp Cloud API: a provider, its wire format, its error table, and a fake Graph API."""

from waport_meta.provider import MetaCloudProvider, default_capabilities

__all__ = ["MetaCloudProvider", "default_capabilities"]
