"""Client settings: from arguments, else the environment, else defaults."""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import ssl
from typing import Any

import attrs
import httpx

from ._exceptions import ConfigurationError, Hint, InvalidArgumentError
from ._validation import number, positive_int, shorten, timeout_seconds
from ._version import __version__

DEFAULT_BASE_URL = "https://api.writer.com"
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
DEFAULT_MAX_RETRIES = 5
#: The most one call takes in all, attempts, backoff and Retry-After waits included.
DEFAULT_DEADLINE = 120.0
DEFAULT_BACKOFF_INITIAL = 0.5
DEFAULT_BACKOFF_MAX = 30.0
DEFAULT_MAX_RETRY_AFTER = 60.0
DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024
DEFAULT_PAGE_SIZE = 100

API_KEY_ENV = "WRITER_API_KEY"
BASE_URL_ENV = "WRITER_BASE_URL"


@attrs.frozen
class ClientConfig:
    """Resolved, validated settings shared by the sync and async clients."""

    api_key: str = attrs.field(repr=False)
    base_url: str
    timeout: httpx.Timeout
    max_retries: int
    #: Seconds one call may take in all (None: no limit).
    deadline: float | None
    backoff_initial: float
    backoff_max: float
    max_retry_after: float
    max_response_bytes: int
    page_size: int
    #: What follows a failed attempt: an ``_engine.Retries`` (None: ``_engine.BOUNDED``,
    #: the settings above). A layer above passes its own (bulk/ holds transient
    #: failures back instead of failing them).
    retries: Any = None

    @property
    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.api_key}",
            "Accept": "application/json",
            "User-Agent": f"writer-jobs/{__version__}",
        }


#: Writer's default account limit, requests a minute.
ACCOUNT_LIMIT = 400.0
#: Writer's API host (and its subdomains): where "auto" knows the account limit.
WRITER_HOST = "writer.com"
#: How ``api_host`` spells every loopback host.
LOOPBACK = "loopback"


def api_host(host: str) -> str:
    """A URL's host spelled one way: ``LOOPBACK`` for every spelling of this machine
    (localhost, localhost., 127.0.0.0/8 in any numeric form such as 127.1 or 0x7f.1,
    ::1, ::ffff:127.0.0.1, 0.0.0.0), an IP address in its canonical form, else the
    lower-case name. The run lock and the http:// check both ask this."""
    host = host.lower().strip("[]")
    try:  # numeric forms too: 127.1, ::ffff:127.0.0.1, 0x7f.1 are all 127.0.0.1
        numeric = socket.getaddrinfo(host, None, flags=socket.AI_NUMERICHOST)[0][4][0]
        address = ipaddress.ip_address(str(numeric).split("%")[0])
    except (OSError, ValueError, IndexError):
        name = host.rstrip(".")
        return LOOPBACK if name == "localhost" or name.endswith(".localhost") else host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return LOOPBACK if address.is_loopback or address.is_unspecified else str(address)


def is_loopback(host: str) -> bool:
    return api_host(host) == LOOPBACK


def _resolve_api_key(api_key: str | None) -> str:
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
    if key is None or not key.strip():
        raise ConfigurationError("no Writer API key", hint=Hint.PASS_API_KEY)
    if not isinstance(key, str):
        raise ConfigurationError(f"api_key must be a str, received {type(key).__name__}")
    if any(ord(ch) < 0x21 or ord(ch) > 0x7E for ch in key.strip()):
        # Never echo the key: say what is wrong with it instead.
        raise ConfigurationError(
            f"the API key ({len(key)} characters) contains whitespace, control or non-ASCII "
            "characters; it cannot be sent in an HTTP header"
        )
    return key.strip()


def _resolve_base_url(base_url: str | None, allow_insecure_http: bool) -> str:
    raw = base_url if base_url is not None else os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    try:
        url = httpx.URL(raw)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ConfigurationError(
            f"base_url is not a valid URL ({exc}), received {shorten(raw)}"
        ) from None
    if url.scheme not in {"http", "https"} or not url.host:
        raise ConfigurationError(
            f"base_url must be an http:// or https:// URL with a host, received {shorten(raw)}"
        )
    if url.username or url.password:
        raise ConfigurationError("base_url must not carry credentials", hint=Hint.KEY_NOT_IN_URL)
    if url.query or url.fragment:
        raise ConfigurationError(f"base_url must not have a query or fragment, received {raw!r}")
    if url.scheme == "http" and not is_loopback(url.host) and not allow_insecure_http:
        raise ConfigurationError(
            f"refusing plain http:// to {url.host!r}: the API key would travel unencrypted.",
            hint=Hint.USE_HTTPS,
        )
    path = url.path.rstrip("/")
    if path.endswith("/v1"):  # the operations' paths start with /v1 already
        url = url.copy_with(path=path[:-3] or "/")
    return str(url).rstrip("/")


def resolve_timeout(value: object) -> httpx.Timeout:
    """Seconds or an httpx.Timeout; a bare number keeps the 5 s connect cap. 0 is refused:
    to httpx it means "fail at once", never meant, and it reads like "no timeout" (None)."""
    if isinstance(value, httpx.Timeout):
        for name in ("connect", "read", "write", "pool"):
            _positive_timeout(getattr(value, name), f"timeout.{name}")
        return value
    seconds = _positive_timeout(value, "timeout")
    if seconds is None:
        return httpx.Timeout(None)
    return httpx.Timeout(seconds, connect=min(seconds, DEFAULT_TIMEOUT.connect or seconds))


def _positive_timeout(value: object, name: str) -> float | None:
    seconds = timeout_seconds(value, name=name)
    if seconds == 0:
        raise InvalidArgumentError(
            f"{name} must be > 0 seconds, or None for no timeout, received {value!r}"
        )
    return seconds


def resolve_config(
    api_key: str | None = None,
    *,
    base_url: str | None = None,
    timeout: object = DEFAULT_TIMEOUT,
    deadline: object = DEFAULT_DEADLINE,
    max_retries: object = DEFAULT_MAX_RETRIES,
    backoff_initial: object = DEFAULT_BACKOFF_INITIAL,
    backoff_max: object = DEFAULT_BACKOFF_MAX,
    max_retry_after: object = DEFAULT_MAX_RETRY_AFTER,
    max_response_bytes: object = DEFAULT_MAX_RESPONSE_BYTES,
    page_size: object = DEFAULT_PAGE_SIZE,
    allow_insecure_http: object = False,
) -> ClientConfig:
    """The client's settings, each validated (the clients' keywords say what each is);
    raises ConfigurationError or InvalidArgumentError on a bad one."""
    initial = timeout_seconds(backoff_initial, name="backoff_initial")
    cap = timeout_seconds(backoff_max, name="backoff_max")
    retry_after_cap = timeout_seconds(max_retry_after, name="max_retry_after")
    if initial is None or cap is None or retry_after_cap is None:
        raise InvalidArgumentError("backoff_initial, backoff_max and max_retry_after must be set")
    return ClientConfig(
        api_key=_resolve_api_key(api_key),
        base_url=_resolve_base_url(base_url, bool(allow_insecure_http)),
        timeout=resolve_timeout(timeout),
        max_retries=positive_int(max_retries, name="max_retries", minimum=0),
        deadline=_positive_timeout(deadline, "deadline"),
        backoff_initial=initial,
        backoff_max=cap,
        max_retry_after=retry_after_cap,
        max_response_bytes=positive_int(max_response_bytes, name="max_response_bytes"),
        page_size=positive_int(page_size, name="page_size", maximum=10_000),
    )


def tls_verify(verify: object) -> ssl.SSLContext | bool:
    """``verify`` as httpx wants it: a CA bundle path becomes an SSLContext trusting it."""
    if isinstance(verify, str | os.PathLike):
        try:
            return ssl.create_default_context(cafile=os.fspath(verify))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(
                f"verify must name a readable PEM CA bundle, received {verify!r} ({exc})"
            ) from None
    if isinstance(verify, ssl.SSLContext | bool):
        return verify
    raise ConfigurationError(
        f"verify must be True, False, a CA bundle path or an ssl.SSLContext, "
        f"received {type(verify).__name__}"
    )


def log_from_env() -> None:
    """WRITER_LOG=debug|info: log the "writer_jobs" logger to stderr (once)."""
    level = os.environ.get("WRITER_LOG", "").strip().upper()
    logger = logging.getLogger("writer_jobs")
    if level in {"DEBUG", "INFO"} and not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(level)


def resolve_rate_limit(rate_limit: object, base_url: str) -> float | None:
    """The ceiling of the client's budget, requests a minute: "auto" is Writer's account
    limit (400) for writer.com and its subdomains, no ceiling for every other host (a
    gateway, a proxy, the fake: their limit is not known). Whatever the ceiling, the
    budget learns the pace from 429s."""
    if rate_limit == "auto":
        host = httpx.URL(base_url).host
        return ACCOUNT_LIMIT if host == WRITER_HOST or host.endswith("." + WRITER_HOST) else None
    if rate_limit is None:
        return None
    rate = number(rate_limit, name="rate_limit (requests a minute, None or 'auto')")
    if not rate:
        raise InvalidArgumentError(
            f"rate_limit must be > 0 requests a minute, None or 'auto', received {rate_limit!r}"
        )
    return rate
