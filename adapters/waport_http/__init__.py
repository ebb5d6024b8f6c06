"""waport http adapter: the REST gateway, outbound webhooks and the ``waport`` command.

Receivers of waport's webhooks verify them with :class:`WebhookVerifier`."""

from waport_http.relay import Verdict, WebhookVerifier, sign, verify

__all__ = ["Verdict", "WebhookVerifier", "sign", "verify"]
