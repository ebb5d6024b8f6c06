"""An unofficial WhatsApp-Web provider speaking the WAHA HTTP API, and a fake WAHA server."""

from waport_web.provider import WahaProvider, default_capabilities

__all__ = ["WahaProvider", "default_capabilities"]
