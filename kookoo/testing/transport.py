"""How the call simulator reaches an app: in-process through Werkzeug's test client, or over
HTTP with ``urllib``.  Both keep cookies for the call, as KooKoo's own client does."""

from __future__ import annotations

import ipaddress
import logging
import threading
import urllib.error
import urllib.request
from http.cookiejar import CookieJar
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from kookoo.core.errors import KooKooError

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = ["HTTPTransport", "Transport", "TransportError", "WSGITransport"]


class TransportError(KooKooError, OSError):
    """The app could not be reached; the message names the URL and the reason."""


class Transport(Protocol):
    """Sends one GET; returns (HTTP status, body, errors the app logged while answering)."""

    def get(self, url: str) -> tuple[int, bytes, list[str]]: ...


class _ErrorCollector(logging.Handler):
    """Collects the ERROR records the app logs on this thread while it answers a request."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self.thread:
            return
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            message += f": {type(exc).__name__}: {exc}"
        self.messages.append(message)


class WSGITransport:
    """Requests through Werkzeug's test client (cookies kept for the call, like KooKoo's)."""

    def __init__(self, app: WSGIApplication) -> None:
        from werkzeug.test import Client

        self.client = Client(app)

    def get(self, url: str) -> tuple[int, bytes, list[str]]:
        collector = _ErrorCollector()
        logger = logging.getLogger("kookoo")
        logger.addHandler(collector)
        try:
            response = self.client.get(url)
            try:
                return response.status_code, response.get_data(), collector.messages
            finally:
                response.close()
        finally:
            logger.removeHandler(collector)


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HTTPTransport:
    """Real HTTP GETs with ``urllib`` (cookies kept for the call; no proxy for loopback)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.cookies = CookieJar()

    def get(self, url: str) -> tuple[int, bytes, list[str]]:
        handlers: list[urllib.request.BaseHandler] = [
            urllib.request.HTTPCookieProcessor(self.cookies)
        ]
        if _is_loopback(urlsplit(url).hostname):
            handlers.append(urllib.request.ProxyHandler({}))
        opener = urllib.request.build_opener(*handlers)
        request = urllib.request.Request(url, headers={"User-Agent": "kookoo-simulator"})
        try:
            with opener.open(request, timeout=self.timeout) as reply:
                return reply.status, reply.read(), []
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, exc.read(), []
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise TransportError(f"could not reach the app at {url}: {reason}") from exc
