"""The application object: registration (from :mod:`kookoo.web.scaffold`), mounting, the
checks, the settings and the store. Serving a request is the job of the
:class:`~kookoo.web.pipeline.Pipeline` the app builds at its first request.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

from werkzeug.wrappers import Request

from kookoo.core.errors import ConfigError, SetupError
from kookoo.core.settings import Settings
from kookoo.state.calls import Call
from kookoo.state.session import CallSession
from kookoo.state.stores.base import CallStore
from kookoo.web.checks import route_problems, unknown_steps, uses_call_state
from kookoo.web.context import AfterResponse, BeforeDispatch, Reply
from kookoo.web.handlers import ErrorHandler, normalise_route
from kookoo.web.logs import install_default_handler, log_request
from kookoo.web.pipeline import Pipeline, unknown_step
from kookoo.web.scaffold import HandlerGroup, Scaffold, setupmethod
from kookoo.web.security import IPAllowList, RequestGuard, SharedSecret, URLResolver
from kookoo.web.signing import signed_url
from kookoo.web.streams import StreamReplies

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from kookoo.web.metrics import Metrics

__all__ = ["KooKoo"]

logger = logging.getLogger("kookoo")


class KooKoo(Scaffold):
    """A KooKoo IVR application: a WSGI callable.

    Args:
        name: a name for logs (defaults to ``"kookoo"``).
        store: where per-call state lives: a :class:`~kookoo.CallStore`, ``None`` for the
            store the ``store`` setting names (``KOOKOO_STORE``, a store URL) or else the
            default :class:`~kookoo.SQLiteStore` (its file: the ``db`` setting,
            ``KOOKOO_DB``), created on first use; or ``False`` for an app that keeps no
            state (handlers may then not ask for ``call``). Calls are only loaded and saved
            when some handler asks for ``call`` or uses steps.
        secret: the shared secret every request must carry (``?kk_token=<secret>`` or
            ``/<secret>/...``), a list of them for rotation, or ``False`` for none even if
            ``KOOKOO_SECRET`` is set.
        allow_ips: the other keywords are settings of the one table,
            :class:`~kookoo.core.settings.Settings`, which says what each does (``debug``,
            ``max_params``, ``fallback_prompt``, ``max_live_calls``, ``public_url``,
            ``metrics``, ...): a value given here wins, one left out (``None``) is read from
            its ``KOOKOO_*`` variable, else it takes its default. ``kookoo config TARGET``
            prints what is in effect and where it came from; :attr:`settings` holds it.

    Raises:
        ConfigError: a setting that cannot be used (naming the variable or the argument).

    Example::

        app = KooKoo()

        @app.on_new_call
        def welcome(event: NewCall, call: Call) -> Response:
            call.state["visits"] = 1
            with (r := Response()).collect_dtmf(max_digits=1) as menu:
                menu.play_text("Press 1 for English")
            return r.next_step("language")
    """

    #: The Werkzeug request class handed to handlers that ask for ``request``.
    request_class: type[Request] = Request
    #: The class of the call handlers receive; a subclass of :class:`~kookoo.Call` may add
    #: methods (and class-wide settings such as ``history_limit``).
    call_class: type[Call] = Call
    #: The class of the per-request call session (:class:`~kookoo.CallSession`).
    session_class: type[CallSession] = CallSession
    #: The class of the one response object each request is answered with.
    response_class: type[Reply] = Reply
    #: The class of the request pipeline built at the first request.
    pipeline_class: type[Pipeline] = Pipeline

    def __init__(
        self,
        name: str = "kookoo",
        *,
        store: CallStore | Literal[False] | None = None,
        secret: str | Sequence[str] | SharedSecret | Literal[False] | None = None,
        allow_ips: Sequence[str] | None = None,
        trusted_proxies: int | None = None,
        public_url: str | None = None,
        trusted_hosts: Sequence[str] | None = None,
        fallback_prompt: str | None = None,
        busy_prompt: str | None = None,
        unavailable_prompt: str | None = None,
        debug: bool | None = None,
        max_query_bytes: int | None = None,
        max_params: int | None = None,
        conflict_retries: int | None = None,
        max_live_calls: int | None = None,
        health_path: str | None = None,
        metrics: bool | None = None,
        metrics_path: str | None = None,
    ) -> None:
        super().__init__()
        self.name = name
        if isinstance(store, bool) and store:  # untyped callers
            raise TypeError("store must be a CallStore, None (the default) or False")
        #: The settings in effect (:class:`~kookoo.core.settings.Settings`), read once.
        self.settings = Settings.from_environ(
            secret=_secrets(secret),
            allow_ips=None if allow_ips is None else _networks(allow_ips),
            trusted_proxies=trusted_proxies,
            public_url=public_url,
            trusted_hosts=None if trusted_hosts is None else tuple(trusted_hosts),
            fallback_prompt=fallback_prompt,
            busy_prompt=busy_prompt,
            unavailable_prompt=unavailable_prompt,
            debug=debug,
            max_query_bytes=max_query_bytes,
            max_params=max_params,
            conflict_retries=conflict_retries,
            max_live_calls=max_live_calls,
            health_path=health_path,
            metrics=metrics,
            metrics_path=metrics_path,
        )
        self._store: CallStore | Literal[False] | None = store
        sources = self.settings.sources
        if store is None and sources["store"] == "KOOKOO_STORE" and sources["db"] == "KOOKOO_DB":
            raise ConfigError(
                "both KOOKOO_STORE and KOOKOO_DB are set; set only one "
                "(KOOKOO_DB=/path is KOOKOO_STORE=sqlite:////path)"
            )
        if store is None and self.settings.store:
            from kookoo.state.stores.urls import store_from_url

            self._store = store_from_url(self.settings.store, variable="KOOKOO_STORE")
        self.guard = RequestGuard.from_settings(self.settings)
        self.url_resolver = URLResolver.from_settings(self.settings)
        #: The app's :class:`~kookoo.web.metrics.Metrics`, or ``None`` (off: nothing imported).
        self.metrics: Metrics | None = None
        #: Per route, the error handlers and hooks of the group mounted there.
        self.route_error_handlers: dict[str, dict[type[BaseException], ErrorHandler]] = {}
        self.route_before_dispatch: dict[str, list[BeforeDispatch]] = {}
        self.route_after_response: dict[str, list[AfterResponse]] = {}
        self._pipeline: Pipeline | None = None
        limit = self.settings.max_live_calls
        if limit is not None:
            if store is False:
                raise ConfigError("max_live_calls counts calls in the store; it needs a store")
            from kookoo.web.capacity import LiveCallCap

            self.before_dispatch(LiveCallCap(self, limit, self.settings.busy_prompt))
        self.before_dispatch(StreamReplies(self))
        self.after_response(log_request)
        if self.settings.metrics:
            from kookoo.web.metrics import Metrics

            self.metrics = Metrics()
            self.after_response(self.metrics.request_done)

    @property
    def secret(self) -> SharedSecret | None:
        """The app's shared secret(s), or ``None`` when requests need none."""
        return self.guard.secret

    def check_setup(self, method: str) -> None:
        """Refuse registration once the app has served a request (in this process)."""
        if self._pipeline is not None:
            raise SetupError(
                f"{method}() can no longer be called on app {self.name!r}: it has already "
                "handled a request. Register every handler before serving."
            )

    @setupmethod
    def require_signed(self, *routes: str) -> None:
        """Declare routes signed, like ``signed=True`` on their decorators: a request there
        must carry app parameters made by :meth:`signed_url` (unchanged, unexpired) or it
        gets a 403. Each route must already be served by a handler.

        Raises:
            ConfigError: a route no handler serves (with a "did you mean").
            SetupError: the app has no secret to verify with.
        """
        if self.guard.secret is None:
            raise SetupError("require_signed() needs a secret (secret= or KOOKOO_SECRET)")
        served = {h.route for h in self.handlers}
        for route in routes:
            route = normalise_route(route)
            if route not in served:
                import difflib

                close = difflib.get_close_matches(route, sorted(served), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ConfigError(
                    f"require_signed({route!r}): no handler serves route {route!r}{hint} "
                    "(register the handlers first, or pass signed=True to their decorator)"
                )
            self.signed_routes.add(route)

    def signed_url(
        self, url: str, /, *, expires_in: float | None = None, **params: str | int
    ) -> str:
        """A URL carrying ``params`` signed with the app's secret (and its token); see
        :func:`kookoo.web.signing.signed_url`. For ``gotourl`` and outbound ``url`` and
        ``callback_url``.
        """
        if self.guard.secret is None:
            raise SetupError("signed_url() needs a secret (secret= or KOOKOO_SECRET)")
        app_params: dict[str, Any] = dict(params)  # names are checked by signed_url
        return signed_url(url, secret=self.guard.secret, expires_in=expires_in, **app_params)

    @setupmethod
    def mount(self, group: HandlerGroup, *, prefix: str = "") -> None:
        """Copy everything registered on ``group`` into this app, under ``prefix``
        (``"/survey"``): its handlers, signed routes, and its error handlers and hooks for
        its own routes. The group takes no registrations afterwards (as Flask's blueprints,
        a group records what it is given; mount it once it is complete).
        """
        prefix = prefix.rstrip("/")
        if prefix and not prefix.startswith("/"):
            raise ConfigError(f"prefix {prefix!r} must start with '/'")
        routed = [
            (handler, prefix + handler.route if handler.route != "/" else prefix or "/")
            for handler in group.handlers
        ]
        taken = {(h.event_type, h.route, h.step) for h in self.handlers}
        for handler, route in routed:  # all or nothing: check before anything is copied
            if (handler.event_type, route, handler.step) in taken:
                raise ConfigError(
                    f"mount(prefix={prefix!r}): {handler.event_type.__name__} on {route!r}"
                    + (f" in step {handler.step!r}" if handler.step else "")
                    + " already has a handler in the app"
                )
        group.mounted = True
        for handler, route in routed:
            self.add_handler(
                handler.event_type,
                handler.func,
                route=route,
                step=handler.step,
                signed=handler.route in group.signed_routes,
            )
            if group.error_handlers:
                self.route_error_handlers.setdefault(route, {}).update(group.error_handlers)
            before = self.route_before_dispatch.setdefault(route, [])
            before.extend(f for f in group.before_dispatch_funcs if f not in before)
            after = self.route_after_response.setdefault(route, [])
            after.extend(f for f in group.after_response_funcs if f not in after)

    # -- the store ------------------------------------------------------------------------------

    @property
    def store(self) -> CallStore | None:
        """The call store in use (the default SQLite store is created on first use), or
        ``None`` for an app without state.

        May be replaced before the first request (tests swap in a :class:`~kookoo.MemoryStore`).
        """
        if self._store is None:
            from kookoo.state.stores.sqlite import SQLiteStore

            db = self.settings.db
            store = self._store = SQLiteStore(db) if db else SQLiteStore()
            if db and self.settings.sources.get("db") == "KOOKOO_DB":
                store.name += " (from KOOKOO_DB)"  # named in every outage message
        return self._store if isinstance(self._store, CallStore) else None

    @store.setter
    def store(self, store: CallStore) -> None:
        if self._pipeline is not None:
            raise SetupError(
                f"app {self.name!r} has already handled a request, so its store can no longer "
                "be replaced for good. In a test, use `with app.using_store(MemoryStore()):` "
                "(the pytest plugin's kookoo_app fixture does it for every test), or set the "
                "store before the first request (e.g. in a session-scoped fixture)."
            )
        self._store = store

    @contextlib.contextmanager
    def using_store(self, store: CallStore) -> Iterator[CallStore]:
        """Serve with ``store`` inside the ``with`` block, then go back to the app's own, even
        after the app has served (for tests: a fresh store per test).

        Not for production: requests served by other threads meanwhile see the swap too.

        >>> from kookoo import MemoryStore
        >>> app = KooKoo()
        >>> with app.using_store(MemoryStore()) as store:
        ...     assert app.store is store
        >>> app.uses_default_store
        True
        """
        previous = self._store
        self._store = store
        try:
            yield store
        finally:
            self._store = previous

    @property
    def store_if_created(self) -> CallStore | None:
        """The store given to the app or already created; unlike :attr:`store`, reading it
        never creates the default SQLite store (and its file)."""
        return self._store if isinstance(self._store, CallStore) else None

    @property
    def uses_default_store(self) -> bool:
        """True while the app will create the default SQLite store on first use (it was given
        neither a store nor ``store=False``, and the ``store`` setting is unset)."""
        return self._store is None

    # -- checks ---------------------------------------------------------------------------------

    def routes(self) -> list[tuple[str, str, str | None, str]]:
        """The handler table as ``(route, event name, step, handler name)`` rows, sorted."""
        rows = [(h.route, h.event_type.__name__, h.step, h.name) for h in self.handlers]
        return sorted(rows, key=lambda r: (r[0], r[1], r[2] or ""))

    def check(self) -> list[str]:
        """Problems in the handler table that would only show on a live call, as sentences.

        A step named in a handler's ``next_step("...")`` that no handler serves (with a "did
        you mean" from the known steps), and a route that never gets a request
        (:func:`kookoo.web.checks.route_problems`). Logged at WARNING at each worker's first
        request; ``kookoo check`` prints them.
        """
        known = {h.step for h in self.handlers if h.step is not None}
        found = unknown_steps(self.handlers)
        problems = [unknown_step(step, known, f"handler {name}") for name, step in found]
        return problems + route_problems(
            self.handlers, self.settings, metrics=self.metrics is not None
        )

    def _serve(self) -> Pipeline:
        """Build the pipeline once, at the first request (in each worker): also the default
        log handler (:mod:`kookoo.web.logs`) and a check that the store answers.

        Raises:
            SetupError: handlers keep call state in an app created with ``store=False``,
                or a signed route and no secret.
        """
        install_default_handler(log_format=self.settings.log_format)
        tracks_calls = uses_call_state(self)
        if tracks_calls and self._store is False:
            names = ", ".join(h.name for h in self.handlers if h.wants_call or h.step)
            raise SetupError(
                f"app {self.name!r} was created with store=False but handlers need call "
                f"state: {names}"
            )
        if self.signed_routes and self.guard.secret is None:
            raise SetupError(
                f"app {self.name!r} has signed routes ({', '.join(sorted(self.signed_routes))})"
                " but no secret to verify them with: set KooKoo(secret=...) or KOOKOO_SECRET"
            )
        for problem in self.check():
            logger.warning("app %s: %s", self.name, problem)
        if tracks_calls:
            from kookoo.web.health import log_store_problem

            log_store_problem(self.name, self.store)
        pipeline = self._pipeline = self.pipeline_class(self)
        # A reply naming one of them is not warned about again.
        pipeline.warned_steps.update(step for _, step in unknown_steps(self.handlers))
        return pipeline

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """The WSGI entry point; see :meth:`wsgi_app`."""
        return self.wsgi_app(environ, start_response)

    def wsgi_app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Answer one request through the app's :class:`~kookoo.web.pipeline.Pipeline`
        (built at the first request)."""
        pipeline = self._pipeline or self._serve()
        return pipeline.wsgi_app(environ, start_response)


def _secrets(
    secret: str | Sequence[str] | SharedSecret | Literal[False] | None,
) -> tuple[str, ...] | None:
    """The ``secret`` argument as the setting's value (``()``: none, even if the variable
    is set; ``None``: read the variable)."""
    if secret is None:
        return None
    if secret is False:
        return ()
    if isinstance(secret, SharedSecret):
        return secret.secrets
    return SharedSecret(secret).secrets  # checked here: an empty list is not "none"


def _networks(allow_ips: Sequence[str]) -> tuple[str, ...]:
    """The ``allow_ips`` argument, checked here: an empty list must not turn the check off."""
    return tuple(str(n) for n in IPAllowList(allow_ips).networks)
