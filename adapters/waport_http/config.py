"""Gateway configuration: a TOML file (``--config``) plus ``WAPORT_*`` environment variables.

Top-level keys are the gateway's own (``listen``, ``database``, ``provider``,
``webhook_url`` ...). Each plugin reads its own table, named after it: ``[meta]``,
``[web]``, ``[sandbox]``, ``[sqlite]``. Every key is also a variable: the top-level
``listen`` is ``WAPORT_LISTEN``; ``[meta] token`` is ``WAPORT_META_TOKEN``. The
environment wins over the file. Lists are comma-separated in the environment.
Values are validated at start and a bad one stops the gateway with a clear message.
"""

from __future__ import annotations

import difflib
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, TypeVar

import attrs
from yarl import URL

from waport.domain import consent
from waport.domain.errors import ConfigError, WaportError
from waport.domain.templates import TemplateCategory
from waport_http import auth

C = TypeVar("C")
PREFIX = "WAPORT_"
EVENT_LOOPS = ("auto", "uvloop", "asyncio")
MAX_PORT: Final = 65535


@attrs.frozen(kw_only=True)
class Settings:
    """The gateway's own settings (plugins have theirs)."""

    listen: str = "127.0.0.1:8080"
    """host:port to listen on (``[::1]:8080`` for IPv6; port 0: any free port, printed at start)."""
    database: str = "./waport.db"
    """A SQLite path, ``memory:``, or a ``postgresql://`` URL (chooses the store plugin)."""
    provider: str = "sandbox"
    """``sandbox``, ``meta``, ``web``, or another installed provider plugin's name."""
    webhook_url: str | None = None
    """Where outbound events go when a message and its workspace name no URL."""
    webhook_secret: str | None = attrs.field(default=None, repr=False)
    """The Standard Webhooks signing secret (``whsec_...``); generated at first start if unset."""
    key_pepper: str | None = attrs.field(default=None, repr=False)
    """A server secret mixed into API-key digests (HMAC-SHA256)."""
    rate_limit_per_minute: int = 60
    """Requests per minute per API key unless the key says otherwise."""
    max_body_bytes: int = 1024 * 1024
    """The largest JSON body accepted (broadcasts, templates, most endpoints)."""
    max_message_bytes: int = 23 * 1024 * 1024
    """The largest ``POST /v1/messages`` body: base64 media up to 16 MB, plus JSON."""
    max_upload_bytes: int = 100 * 1024 * 1024
    """The largest multipart upload (documents may be 100 MB)."""
    max_webhook_bytes: int = 4 * 1024 * 1024
    """The largest inbound provider webhook."""
    idle_timeout_seconds: float = 15.0
    """How long a connection may wait for a request, or for the rest of a request's
    headers, before it is closed (slow and idle clients hold no connection longer)."""
    body_timeout_seconds: float = 30.0
    """How long a request body may pause between two chunks before the request ends 408
    ``REQUEST_TIMEOUT``; a provider webhook's body (read before its signature can be
    checked) must arrive whole within it."""
    max_webhook_reads: int = 8
    """Provider webhook bodies read at once; more wait (within ``body_timeout_seconds``).
    Bounds what unauthenticated clients can make the gateway hold: this times
    ``max_webhook_bytes``."""
    lookup_cache_seconds: float = 1.0
    """How long workspace, sender, template and API-key lookups are cached in the process
    (a change made by another process, such as `waport keys revoke`, applies after this)."""
    webhook_timeout_seconds: float = 15.0
    """How long a receiver has to answer an outbound webhook."""
    shutdown_timeout_seconds: float = 20.0
    """How long in-flight requests may take to finish after SIGTERM."""
    dispatch_interval_seconds: float = 0.5
    """How often the dispatcher looks for due work when nothing wakes it."""
    provider_timeout_seconds: float = 30.0
    """How long one provider call may take before it counts as unavailable (and is retried)."""
    idempotency_lease_seconds: float = 30.0
    """How long a retry of a request still running (same Idempotency-Key) gets 409; after
    it, a retry is answered from the rows the first request stored (a crashed request's
    retry waits this long at most)."""
    attempt_lease_seconds: float = 90.0
    """A claim older than this belongs to a process that died mid-attempt; must exceed the provider timeout."""
    retention_days: float = 0.0
    """Delete finished messages (bodies, phone numbers, statuses), their delivered webhooks
    and contacts no message refers to any more, this many days after they were created.
    0 keeps everything; otherwise at least 1."""
    media_retention_days: float = 30.0
    """Delete stored media (uploads, contacts' photos and documents, the bytes of sends)
    this many days after it was stored, except media a message not sent yet refers to.
    0 keeps everything; otherwise at least 1."""
    outcome_window_seconds: float = 600.0
    """How long to wait for a provider that cannot de-duplicate to report a crashed attempt
    before failing it with OUTCOME_UNKNOWN."""
    allow_private_urls: bool = False
    """Whether callers may give webhook and media URLs that resolve to loopback, private,
    link-local or reserved addresses (for tests and closed networks). The workspace's own
    webhook URL (`webhook_url`) is trusted either way."""
    gc_threshold: int = 10_000
    """Python's youngest-generation garbage-collection threshold for the gateway process
    (Python's default is 700), applied with ``gc.freeze()`` of everything loaded at
    start-up; 0 leaves the collector as Python set it. See the performance page."""
    event_loop: str = "auto"
    """The gateway's event loop: ``uvloop`` (5-10 % less CPU a request and a lower p99 on
    the performance page), ``asyncio`` (the standard library's), or ``auto``: uvloop
    where it is installed (it is a dependency on Linux and macOS), asyncio elsewhere."""
    opt_out_keywords: tuple[str, ...] | None = None
    """Inbound texts that opt a contact out when they are the whole message (any case,
    spacing, accents or trailing punctuation). Unset: STOP, STOP ALL, UNSUBSCRIBE,
    CANCEL, END, QUIT and Spanish, Portuguese, French and German forms (the rules page
    lists them)."""
    opt_in_keywords: tuple[str, ...] | None = None
    """Inbound texts that opt a contact back in. Unset: START, UNSTOP, SUBSCRIBE,
    RESUME and their Spanish, Portuguese, French and German forms."""
    opt_out_blocked_categories: tuple[str, ...] = ("MARKETING",)
    """Template categories an opted-out contact is not sent (``RECIPIENT_OPTED_OUT``)."""
    opt_out_reply: str | None = None
    """A text sent back to a contact who opts out (inside the window their message opened)."""
    prices: tuple[str, ...] = ()
    """What a message costs a prepaid workspace, per category, in the smallest currency
    unit: ``MARKETING=50,UTILITY=20,AUTHENTICATION=20`` (a category not listed is free).
    A workspace is prepaid when an operator sets its ``billing`` to ``prepaid``."""
    inbound_media: str = "eager"
    """Media contacts send (photos, voice notes, documents): fetched from the provider
    into the media store right after the webhook (``eager``, retried with backoff), when
    first asked for by ``GET /v1/media/{id}`` (``lazy``), or never (``off``)."""
    metrics_token: str | None = attrs.field(default=None, repr=False)
    """The bearer token Prometheus presents for ``GET /metrics``
    (``authorization: {credentials: ...}`` in its scrape config). ``/metrics`` also
    answers an API key with the admin scope, and nobody else: message counts and the
    backlog are not for the public."""
    log_level: str = "INFO"
    """DEBUG, INFO, WARNING or ERROR. Logs go to stderr, with phone numbers masked and
    keys, tokens and configured secrets removed."""
    access_log: bool = False
    """Log a line per request at INFO: method, route, status, error code, milliseconds
    and request id (``POST /v1/messages 422 WINDOW_CLOSED in 2.1 ms (req_01...)``)."""

    @property
    def host(self) -> str:
        """The address to bind (``[::1]:8080`` binds ``::1``; an empty host is 127.0.0.1)."""
        return self.listen.rsplit(":", 1)[0].removeprefix("[").removesuffix("]") or "127.0.0.1"

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])


def _field_types(cls: type[Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in attrs.fields(cls)}


def _parse_env(value: str, kind: Any, name: str) -> Any:
    origin = typing.get_origin(kind)
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if origin in (typing.Union, types.UnionType):
        if value == "":
            return None
        return _parse_env(value, args[0], name)
    if kind is bool:
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name} must be true or false, got {value!r}")
    if kind is int:
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"{name} must be an integer, got {value!r}") from None
    if kind is float:
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if origin is tuple:
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


def _check_value(value: Any, kind: Any, name: str) -> Any:
    origin = typing.get_origin(kind)
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        return _check_value(value, args[0], name)
    if kind is bool and not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false")
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{name} must be an integer")
    if kind is float and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise ConfigError(f"{name} must be a number")
    if kind is str and not isinstance(value, str):
        raise ConfigError(f"{name} must be a string")
    if origin is tuple:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        if not isinstance(value, list):
            raise ConfigError(f"{name} must be a list")
        return tuple(str(v) for v in value)
    return value


def build(
    cls: type[C], table: Mapping[str, Any], env: Mapping[str, str], *, env_prefix: str, where: str
) -> C:
    """An attrs config class from a TOML table and environment variables (which win)."""
    types_ = _field_types(cls)
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in types_:
            raise ConfigError(f"unknown setting {where}{key!r}; known: {', '.join(sorted(types_))}")
        values[key] = _check_value(value, types_[key], f"{where}{key}")
    for name, kind in types_.items():
        variable = f"{env_prefix}{name.upper()}"
        if variable in env:
            values[name] = _parse_env(env[variable], kind, variable)
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid settings for {where or 'the gateway'}: {exc}") from None


@attrs.frozen(kw_only=True)
class LoadedConfig:
    settings: Settings
    tables: Mapping[str, Mapping[str, Any]]
    env: Mapping[str, str]

    def plugin_config(self, plugin_name: str, cls: type[C], **overrides: Any) -> C:
        config = build(
            cls,
            self.tables.get(plugin_name, {}),
            self.env,
            env_prefix=f"{PREFIX}{plugin_name.upper()}_",
            where=f"[{plugin_name}] ",
        )
        return attrs.evolve(config, **overrides) if overrides else config  # type: ignore[misc]

    def secrets(self) -> list[str]:
        """Every configured value whose name says it is a secret (tokens, secrets, keys,
        the pepper, passwords), from the file and the environment: what logs must never show."""
        found = [
            value
            for name, value in self.env.items()
            if name.startswith(PREFIX) and name.lower().endswith(SECRET_NAMES)
        ]
        for table in (self.tables, *self.tables.values()):
            found += [
                value
                for name, value in table.items()
                if isinstance(value, str) and name.lower().endswith(SECRET_NAMES)
            ]
        for name in ("webhook_secret", "key_pepper"):
            value = getattr(self.settings, name)
            if value:
                found.append(value)
        password = database_password(self.settings.database)
        if password:
            found.append(password)
        return found


def database_password(database: str) -> str | None:
    """The password in a database URL, if it has one."""
    if "://" not in database:
        return None
    try:
        return URL(database).password
    except ValueError:
        return None


def shown_database(database: str) -> str:
    """A database path or URL as it may be printed: without its password."""
    if not database_password(database):
        return database
    return str(URL(database).with_password("***"))


SECRET_NAMES: Final = ("secret", "token", "pepper", "api_key", "hmac_key", "password")


def load(path: str | Path | None, env: Mapping[str, str]) -> LoadedConfig:
    """Read the TOML file (if any) and the environment into validated settings."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"no configuration file at {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    top = {k: v for k, v in data.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    settings = build(Settings, top, env, env_prefix=PREFIX, where="")
    port = settings.listen.rsplit(":", 1)[1] if ":" in settings.listen else ""
    if not (port.isdigit() and int(port) <= MAX_PORT):
        raise ConfigError(
            f"listen must be host:port, the port from 0 (any free one) to {MAX_PORT};"
            f" got {settings.listen!r}"
        )
    if not 1 <= settings.rate_limit_per_minute <= auth.MAX_RATE_PER_MINUTE:
        raise ConfigError(f"rate_limit_per_minute must be from 1 to {auth.MAX_RATE_PER_MINUTE}")
    if settings.attempt_lease_seconds <= settings.provider_timeout_seconds:
        raise ConfigError("attempt_lease_seconds must be longer than provider_timeout_seconds")
    if settings.retention_days and settings.retention_days < 1:
        raise ConfigError("retention_days must be 0 (keep everything) or at least 1")
    if settings.media_retention_days and settings.media_retention_days < 1:
        raise ConfigError("media_retention_days must be 0 (keep everything) or at least 1")
    for name in ("idle_timeout_seconds", "body_timeout_seconds"):
        if getattr(settings, name) <= 0:
            raise ConfigError(f"{name} must be more than 0")
    if settings.max_webhook_reads < 1:
        raise ConfigError("max_webhook_reads must be at least 1")
    try:
        consent.keyword_sets(settings.opt_out_keywords, settings.opt_in_keywords)
    except WaportError as err:
        raise ConfigError(f"opt_out_keywords / opt_in_keywords: {err.message}") from None
    unknown = {c.upper() for c in settings.opt_out_blocked_categories} - {
        c.value for c in TemplateCategory
    }
    if unknown:
        raise ConfigError(f"opt_out_blocked_categories: unknown categories {sorted(unknown)}")
    if settings.inbound_media not in ("eager", "lazy", "off"):
        raise ConfigError("inbound_media must be eager, lazy or off")
    if settings.gc_threshold < 0:
        raise ConfigError("gc_threshold must be 0 (Python's default) or more")
    if settings.event_loop not in EVENT_LOOPS:
        raise ConfigError(f"event_loop must be one of {', '.join(EVENT_LOOPS)}")
    if settings.log_level.upper() not in LOG_LEVELS:
        raise ConfigError(
            f"log_level must be one of {', '.join(LOG_LEVELS)}; got {settings.log_level!r}"
        )
    return LoadedConfig(settings=settings, tables=tables, env=dict(env))


LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR")
# read by waport itself or its tools, not settings: never "unknown"
OTHER_VARIABLES: Final = frozenset({"WAPORT_CONFIG"})


def unknown_variables(env: Mapping[str, str], plugins: Mapping[str, type[Any]]) -> list[str]:
    """A line per ``WAPORT_*`` variable that no setting reads (a typo is otherwise silently
    ignored), with the nearest known name when there is one. ``plugins``: each installed
    plugin's name and configuration class (their variables are ``WAPORT_<PLUGIN>_<NAME>``)."""
    known = set(OTHER_VARIABLES) | {f"{PREFIX}{name.upper()}" for name in _field_types(Settings)}
    for plugin, cls in plugins.items():
        known |= {f"{PREFIX}{plugin.upper()}_{name.upper()}" for name in _field_types(cls)}
    lines = []
    for variable in sorted(v for v in env if v.startswith(PREFIX) and v not in known):
        near = difflib.get_close_matches(variable, sorted(known), n=1, cutoff=0.75)
        hint = f" (did you mean {near[0]}?)" if near else ""
        lines.append(f"{variable} is not a waport setting and is ignored{hint}")
    return lines
