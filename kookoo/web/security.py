"""Only KooKoo gets in: the shared secret, an IP allow-list behind proxies, hardened error
output and safe URL resolution. (Signed app parameters are in :mod:`kookoo.web.signing`,
abuse limits that outlive a call in :mod:`kookoo.state.limits`.)

KooKoo signs nothing (it sends only the query parameters of the app URL it was given), so the
app's URL is the credential. The pieces here are called by the app's pipeline before it parses
the event; each is usable on its own and takes a plain WSGI environ.

Example::

    guard = RequestGuard(SharedSecret("Xq3..."), IPAllowList(["203.0.113.0/24"]))
    result = guard.check(environ)      # never raises for a bad request
    if not result.allowed:
        status, body = result.status, plain_error_body(result.message)
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import logging
import re
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote_to_bytes, urljoin, urlsplit

from werkzeug.exceptions import SecurityError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.sansio.utils import get_host

from kookoo.core.errors import ConfigError, KooKooError
from kookoo.core.settings import DEFAULT_TRUSTED_HOSTS, Settings
from kookoo.core.text import escape_for_log

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = [
    "DEFAULT_TRUSTED_HOSTS",
    "ERROR_HEADERS",
    "MIN_SECRET_LENGTH",
    "NOSNIFF_HEADER",
    "TOKEN_PARAM",
    "GuardResult",
    "IPAllowList",
    "RequestGuard",
    "SharedSecret",
    "URLResolver",
    "UnsafeURLError",
    "check_relative_url",
    "generate_secret",
    "with_token",
]

logger = logging.getLogger("kookoo.security")

TOKEN_PARAM = "kk_token"
"""The query parameter that carries the shared secret."""

MIN_SECRET_LENGTH = 16
"""Shortest secret accepted; :func:`generate_secret` makes 32-character ones."""

NOSNIFF_HEADER = ("X-Content-Type-Options", "nosniff")
"""Tells browsers not to guess a content type: an error body is never run as HTML."""

ERROR_HEADERS = (("Content-Type", "text/plain; charset=utf-8"), NOSNIFF_HEADER)
"""Headers of every 4xx reply (add ``Content-Length``)."""


# Unreserved URL characters (RFC 3986): a secret travels unencoded in a path segment and a query.
_SECRET_CHARS = re.compile(r"[A-Za-z0-9._~-]+")


def generate_secret() -> str:
    """A new random secret (32 URL-safe characters, 192 bits) for ``KooKoo(secret=...)``.

    >>> len(generate_secret())
    32
    """
    import secrets

    return secrets.token_urlsafe(24)


# -- shared secret ----------------------------------------------------------------------------


def _check_secret(secret: object) -> str:
    if not isinstance(secret, str):
        raise TypeError(f"a secret must be a str, not {type(secret).__name__}")
    if len(secret) < MIN_SECRET_LENGTH or not _SECRET_CHARS.fullmatch(secret):
        raise ValueError(
            f"a secret must be at least {MIN_SECRET_LENGTH} characters of A-Z a-z 0-9 . _ ~ - "
            f"(got {len(secret)} characters); make one with kookoo.web.security.generate_secret()"
        )
    return secret


class GuardResult:
    """What a guard decided about one request.

    Attributes:
        allowed: whether the request may go on.
        path: the path the router should see (``PATH_INFO`` without a token segment).
        token: the valid token the request carried, or ``None`` (no secret configured or refused);
            replies keep it in the relative URLs they emit.
        token_in_path: the token came as the first path segment (else as ``kk_token``).
        reason: ``"ok"``, ``"missing"``, ``"wrong"`` (the secret) or ``"address"`` (allow-list).
        message: the one-line sentence for the 403 body (never holds a secret).
        status: 200 when allowed, else 403.
        query: the query string without the ``kk_token`` pair that was checked (``None``: as
            the request sent it), so the parser need not read the secret again.
    """

    __slots__ = (
        "allowed",
        "message",
        "path",
        "query",
        "reason",
        "status",
        "token",
        "token_in_path",
    )

    def __init__(
        self,
        reason: Literal["ok", "missing", "wrong", "address"],
        path: str,
        token: str | None = None,
        token_in_path: bool = False,
        message: str = "",
    ) -> None:
        self.allowed = reason == "ok"
        self.status = 200 if self.allowed else 403
        self.reason = reason
        self.path = path
        self.token = token
        self.token_in_path = token_in_path
        self.message = message
        self.query: str | None = None

    def __repr__(self) -> str:
        return f"GuardResult({self.reason!r}, path={self.path!r})"


_MISSING = (
    "Forbidden: this app needs its secret token, as the kk_token query parameter or the first "
    "path segment, and the request carries none."
)
_WRONG = "Forbidden: the kk_token in this request is not one of this app's secrets."


class SharedSecret:
    """The secret(s) every request must carry: ``?kk_token=<secret>`` or ``/<secret>/path``.

    Several secrets may be active at once, for rotation: the first is the one URLs are built
    with, every one is accepted. Comparison is constant-time (:func:`hmac.compare_digest`)
    against every active secret, so timing reveals neither the secret nor which one matched.

    Args:
        secrets: one secret or a sequence of them, each at least :data:`MIN_SECRET_LENGTH`
            URL-safe characters.

    Raises:
        ValueError: no secret, or one that is too short or holds other characters.
    """

    def __init__(self, secrets: str | Sequence[str]) -> None:
        items = [secrets] if isinstance(secrets, str) else list(secrets)
        if not items:
            raise ValueError("secret: give at least one secret (or None to read KOOKOO_SECRET)")
        self.secrets: tuple[str, ...] = tuple(_check_secret(s) for s in items)
        self._keys: tuple[bytes, ...] = tuple(s.encode("ascii") for s in self.secrets)

    @property
    def primary(self) -> str:
        """The secret new URLs are built with (the first one)."""
        return self.secrets[0]

    @classmethod
    def from_settings(cls, settings: Settings) -> SharedSecret | None:
        """The ``secret`` setting's secrets (``KOOKOO_SECRET``, comma-separated for
        rotation), or ``None`` when there are none (every request is let in).

        Raises:
            ConfigError: a secret too short or with other characters (naming where it came
                from).
        """
        if not settings.secret:
            return None
        try:
            return cls(settings.secret)
        except ValueError as exc:
            source = settings.sources.get("secret", "argument")
            where = source if source.startswith("KOOKOO_") else "secret"
            raise ConfigError(f"{where}: {exc}") from None

    def matches(self, token: bytes) -> bool:
        """Whether ``token`` is one of the active secrets (constant-time, checks all)."""
        found = False
        for key in self._keys:
            if hmac.compare_digest(key, token):
                found = True
        return found

    def _strip_path(self, path: str) -> GuardResult | None:
        cut = path.find("/", 1)
        if (cut < 0 and len(path) <= MIN_SECRET_LENGTH) or 0 < cut <= MIN_SECRET_LENGTH:
            return None  # the first segment is too short to be a secret: no comparison
        segment = path[1:] if cut < 0 else path[1:cut]
        if not self.matches(segment.encode("latin-1", "replace")):
            return None
        return GuardResult("ok", "/" if cut < 0 else path[cut:], segment, token_in_path=True)

    def check(self, environ: WSGIEnvironment) -> GuardResult:
        """Look for the token in the query, then in the first path segment; never raises.

        Only the raw ``QUERY_STRING`` and ``PATH_INFO`` are read (no request object is built):
        this runs on every request.
        """
        path: str = environ.get("PATH_INFO") or "/"
        query: str = environ.get("QUERY_STRING", "")
        value: str | None = None
        if query.startswith("kk_token="):
            start = 9
        else:
            found = query.find("&kk_token=")
            start = found + 10 if found >= 0 else -1
        if start >= 0:
            end = query.find("&", start)
            value = query[start:] if end < 0 else query[start:end]
            raw = (
                unquote_to_bytes(value.replace("+", " "))
                if "%" in value or "+" in value
                else value.encode("latin-1", "replace")
            )
            if self.matches(raw):
                result = self._strip_path(path) or GuardResult("ok", path, raw.decode("ascii"))
                # Cut the pair out: "a=1&kk_token=x&b=2" -> "a=1&b=2".
                if end < 0:
                    result.query = query[: max(start - 10, 0)]
                else:
                    result.query = query[: start - 9] + query[end + 1 :]
                return result
        # The first path segment: "/<secret>/ivr" -> the router sees "/ivr".
        stripped = self._strip_path(path)
        if stripped is not None:
            return stripped
        if value:
            return GuardResult("wrong", path, message=_WRONG)
        return GuardResult("missing", path, message=_MISSING)


# -- IP allow-list behind proxies ---------------------------------------------------------------


def _return_environ(environ: WSGIEnvironment, start_response: StartResponse) -> Any:
    return environ


class IPAllowList:
    """Only clients whose address is in one of ``networks`` get in.

    The client address is ``REMOTE_ADDR`` after :class:`ProxyFix
    <werkzeug.middleware.proxy_fix.ProxyFix>` has applied ``trusted_proxies`` hops of
    ``X-Forwarded-For`` (see :class:`RequestGuard`). An IPv4-mapped IPv6 address
    (``::ffff:203.0.113.5``, what a dual-stack socket reports) counts as its IPv4 address.

    Args:
        networks: CIDRs or plain addresses, e.g. ``["203.0.113.0/24", "2001:db8::/32"]``.

    Raises:
        ValueError: an entry is not an address or network; the message names it.
    """

    def __init__(self, networks: Sequence[str]) -> None:
        if isinstance(networks, str):
            networks = [networks]
        parsed: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in networks:
            try:
                parsed.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                raise ValueError(f"allow_ips: {entry!r} is not an IP address or CIDR") from None
        if not parsed:
            raise ValueError("allow_ips: give at least one network (or None to turn it off)")
        self.networks = tuple(parsed)
        # Few distinct addresses ever reach an app (KooKoo's); remember the verdicts.
        self.allows = functools.lru_cache(maxsize=1024)(self._allows)

    @classmethod
    def from_settings(cls, settings: Settings) -> IPAllowList | None:
        """From the ``allow_ips`` setting (``KOOKOO_ALLOW_IPS``), or ``None`` (off)."""
        return cls(settings.allow_ips) if settings.allow_ips else None

    def _allows(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.networks)

    def check(
        self, environ: WSGIEnvironment, path: str = "", trusted_proxies: int = 0
    ) -> GuardResult:
        """Admit or refuse by the client address; a refusal says what the app believed."""
        address: str = environ.get("REMOTE_ADDR") or ""
        if self.allows(address):
            return GuardResult("ok", path)
        orig = environ.get("werkzeug.proxy_fix.orig") or {}
        peer = orig.get("REMOTE_ADDR", address) or ""
        forwarded = environ.get("HTTP_X_FORWARDED_FOR")
        parts = [f"REMOTE_ADDR {peer or '(none)'}"]
        if forwarded is None:
            parts.append("no X-Forwarded-For")
        else:
            parts.append(f"X-Forwarded-For {forwarded!r}")
            hops = len([p for p in forwarded.split(",") if p.strip()])
            if trusted_proxies == 0:
                parts.append("ignored: trusted_proxies=0")
            elif hops < trusted_proxies:
                parts.append(f"ignored: {hops} hops < trusted_proxies={trusted_proxies}")
            else:
                parts.append(f"trusted_proxies={trusted_proxies}")
        shown = address or "(none)"
        message = f"Forbidden: client {shown} is not in allow_ips ({'; '.join(parts)})."
        return GuardResult("address", path, message=message)


class RequestGuard:
    """Every check that runs before the event is parsed, in order: proxy headers (``ProxyFix``
    with ``trusted_proxies`` hops of ``X-Forwarded-For`` / ``-Proto`` / ``-Host``), the IP
    allow-list, the shared secret. Refusals are logged at WARNING with the client address.

    Args:
        secret: the :class:`SharedSecret`, or ``None``.
        allow_list: the :class:`IPAllowList`, or ``None``.
        trusted_proxies: how many proxies in front of the app append to ``X-Forwarded-For``
            (0: the headers are ignored, ``REMOTE_ADDR`` is the client).
    """

    def __init__(
        self,
        secret: SharedSecret | None = None,
        allow_list: IPAllowList | None = None,
        trusted_proxies: int = 0,
    ) -> None:
        if isinstance(trusted_proxies, bool) or not isinstance(trusted_proxies, int):
            raise TypeError("trusted_proxies must be an int (the number of proxy hops)")
        if trusted_proxies < 0:
            raise ValueError(f"trusted_proxies must be 0 or more, got {trusted_proxies}")
        self.secret = secret
        self.allow_list = allow_list
        self.trusted_proxies = trusted_proxies
        self._proxy_fix = (
            ProxyFix(
                _return_environ,
                x_for=trusted_proxies,
                x_proto=trusted_proxies,
                x_host=trusted_proxies,
            )
            if trusted_proxies
            else None
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> RequestGuard:
        """The guard the ``secret``, ``allow_ips`` and ``trusted_proxies`` settings make."""
        return cls(
            SharedSecret.from_settings(settings),
            IPAllowList.from_settings(settings),
            settings.trusted_proxies,
        )

    @property
    def active(self) -> bool:
        """Whether :meth:`check` does anything (else the pipeline may skip it)."""
        return bool(self.secret or self.allow_list or self._proxy_fix)

    def check(self, environ: WSGIEnvironment) -> GuardResult:
        """Apply the proxy headers to ``environ`` (in place, as ``ProxyFix`` does; the original
        values stay under ``werkzeug.proxy_fix.orig``), then admit or refuse; never raises."""
        if self._proxy_fix is not None:
            self._proxy_fix(environ, _no_start_response)
        if self.allow_list is not None:
            result = self.allow_list.check(environ, "", self.trusted_proxies)
            if not result.allowed:
                self._log(environ, result)
                return result
        if self.secret is not None:
            result = self.secret.check(environ)
            if not result.allowed:
                self._log(environ, result)
            return result
        return GuardResult("ok", environ.get("PATH_INFO") or "/")

    def _log(self, environ: WSGIEnvironment, result: GuardResult) -> None:
        client = environ.get("REMOTE_ADDR") or "-"
        detail = result.message if result.reason == "address" else f"{result.reason} secret token"
        logger.warning(
            "refused request from %s: %s path=%s",
            escape_for_log(client),
            escape_for_log(detail, limit=500),
            escape_for_log(result.path),
        )


def _no_start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
    raise AssertionError("not called: the wrapped function only returns the environ")


# -- safe URL resolution ------------------------------------------------------------------------


class UnsafeURLError(KooKooError, ValueError):
    """A URL in a reply cannot be sent safely: it points off-site while looking relative
    (``//host/x``), or no trusted host is known to resolve it against."""


class URLResolver:
    """Makes the relative ``gotourl`` / ``playaudio`` URLs of a reply absolute, safely.

    With ``public_url`` (or ``KOOKOO_PUBLIC_URL``) the app's root is that URL, whatever the
    request says. Otherwise the request's host (after the proxy headers) must be one of
    ``trusted_hosts`` (Werkzeug's :func:`~werkzeug.sansio.utils.get_host` check; a leading dot
    matches subdomains); when none are given only :data:`DEFAULT_TRUSTED_HOSTS` (loopback) are.

    ``/x`` is relative to the app's root, ``x`` to the current request's path. A URL with a
    scheme is left alone; ``//host/x`` (and ``\\\\host``, ``/\\host``) is refused.

    Args:
        public_url: the URL KooKoo reaches the app's root at, e.g. ``https://ivr.example.in``.
        trusted_hosts: host names the request's ``Host`` may have.
    """

    def __init__(
        self, public_url: str | None = None, trusted_hosts: Collection[str] | None = None
    ) -> None:
        if public_url is not None:
            parts = urlsplit(public_url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(
                    f"public_url {public_url!r} must be an absolute http(s) URL such as "
                    "'https://ivr.example.in'"
                )
            if parts.query or parts.fragment:
                raise ValueError(f"public_url {public_url!r} must not have a query or fragment")
            public_url = public_url.rstrip("/")
        if isinstance(trusted_hosts, str):
            trusted_hosts = [trusted_hosts]
        self.public_url = public_url
        self.trusted_hosts: tuple[str, ...] = tuple(trusted_hosts or DEFAULT_TRUSTED_HOSTS)

    @classmethod
    def from_settings(cls, settings: Settings) -> URLResolver:
        """From the ``public_url`` and ``trusted_hosts`` settings."""
        return cls(settings.public_url, settings.trusted_hosts)

    def root(self, environ: WSGIEnvironment) -> str:
        """The app's root URL for this request (no trailing slash).

        Raises:
            UnsafeURLError: no ``public_url`` and the request's host is not trusted.
        """
        if self.public_url is not None:
            return self.public_url
        scheme = environ.get("wsgi.url_scheme", "http")
        server_port = environ.get("SERVER_PORT")
        server = (
            (environ.get("SERVER_NAME", ""), int(server_port))
            if server_port and server_port.isdigit()
            else None
        )
        header = environ.get("HTTP_HOST")
        try:
            host = get_host(scheme, header, server, self.trusted_hosts)
        except SecurityError:
            host = ""
        if not host:
            raise UnsafeURLError(
                f"cannot make a relative URL absolute: the request's host "
                f"'{escape_for_log(header or '(none)', 100)}' is not in trusted_hosts "
                f"{list(self.trusted_hosts)}; set public_url= (or KOOKOO_PUBLIC_URL) to the "
                "URL KooKoo reaches this app at, or add the host to trusted_hosts="
            )
        script = environ.get("SCRIPT_NAME", "").encode("latin-1").decode("utf-8", "replace")
        return f"{scheme}://{host}{script.rstrip('/')}"

    def resolve(
        self,
        url: str,
        environ: WSGIEnvironment,
        *,
        path: str | None = None,
        token: str | None = None,
        token_in_path: bool = False,
    ) -> str:
        """``url`` made absolute for this request, keeping the request's ``token``.

        Args:
            url: as the handler wrote it.
            environ: the request.
            path: the request's path as the router saw it (default ``PATH_INFO``).
            token: the secret the request carried (:attr:`GuardResult.token`), kept in the
                result: as the first path segment if ``token_in_path``, else as ``kk_token``.

        Raises:
            UnsafeURLError: ``url`` looks relative but names another host, or no trusted host
                is known (see :meth:`root`).
        """
        check_relative_url(url)
        if urlsplit(url).scheme:
            return url
        root = self.root(environ)
        if token is not None and token_in_path:
            root = f"{root}/{token}"
        if url.startswith("/"):
            absolute = root + url
        else:
            current = path if path is not None else environ.get("PATH_INFO") or "/"
            absolute = urljoin(root + current, url)
        if token is not None and not token_in_path:
            absolute = with_token(absolute, token)
        return absolute


def check_relative_url(url: str) -> None:
    """Refuse a URL that looks relative but leaves the site (``//host``, ``\\\\host``,
    ``/\\host``) or holds control characters.

    Raises:
        UnsafeURLError: naming the URL and the fix.
    """
    head = url.lstrip()
    if head[:2] in ("//", "\\\\", "/\\", "\\/"):
        raise UnsafeURLError(
            f"URL '{escape_for_log(url, 100)}' starts with {head[:2]!r}: it would send the call "
            "to another host. Write the full https://... URL if that is meant, or a path "
            "starting with a single '/'"
        )
    if not url.isprintable():
        raise UnsafeURLError(f"URL '{escape_for_log(url, 100)}' holds control characters")


def with_token(url: str, token: str) -> str:
    """``url`` with ``kk_token=<token>`` added to its query, unless it has one already."""
    base, _, fragment = url.partition("#")
    _, sep, query = base.partition("?")
    if f"&{TOKEN_PARAM}=" in f"&{query}":
        return url
    joined = f"{base}{'&' if query else '' if sep else '?'}{TOKEN_PARAM}={token}"
    return f"{joined}#{fragment}" if fragment else joined
