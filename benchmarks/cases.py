"""The in-process cases: builders (1), one WSGI request (2), call state (3), flow replay (5).

Each function returns :class:`~benchmarks.runner.Case` objects for one group; the groups are
timed by :func:`benchmarks.runner.measure_group`.  Request cases call the WSGI app directly (no
socket) with a fresh environ per request, read the whole body and close the iterable, as a WSGI
server does.  Every request is a NewCall with a sid never used before, so stateful apps create
a call record each time, as a real first request does.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Generator, Iterable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from werkzeug.test import EnvironBuilder

from benchmarks import apps
from benchmarks.handwritten_state import HandWrittenSQLiteApp
from benchmarks.procs import ServerError, redis_binary, redis_server
from benchmarks.runner import Case
from kookoo import Call, KooKoo
from kookoo.flow import FlowCall, Step
from kookoo.state.stores import MemoryStore, RedisStore, SQLiteStore
from kookoo.state.stores import sqlite as sqlite_store

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

__all__ = [
    "BadReply",
    "builder_cases",
    "call_wsgi",
    "flow_cases",
    "missing_comparisons",
    "new_call_environ",
    "request_cases",
    "state_cases",
]

_next_sid = [1_000_000_000_000]


class BadReply(AssertionError):
    """An app under comparison did not answer as its equivalents do: the run stops."""


def missing_comparisons() -> list[str]:
    """Comparison libraries (``kookoo[bench]``) that are not installed; ``[]`` when all are."""
    return [m for m in ("flask", "twilio", "plivo") if importlib.util.find_spec(m) is None]


def _reserve_sids(n: int) -> int:
    """The first of ``n`` consecutive sids no other request of this run uses."""
    first = _next_sid[0]
    _next_sid[0] += n
    return first


# -- part 1: builders ----------------------------------------------------------------------------


def _repeat(build: Callable[[], object]) -> Callable[[int], Callable[[], object]]:
    def prepare(n: int) -> Callable[[], object]:
        loop = range(n)

        def run() -> None:
            for _ in loop:
                build()

        return run

    return prepare


def _kookoo_build() -> bytes:
    return apps.build_kookoo().to_xml()


def builder_cases() -> list[Case]:
    """Build and serialise the menu document: kookoo, raw lxml, twilio, plivo."""
    cases = [
        Case("builder.kookoo", "kookoo Response builder", _repeat(_kookoo_build)),
        Case("builder.lxml", "raw lxml", _repeat(apps.build_lxml)),
    ]
    if not missing_comparisons():
        from benchmarks import thirdparty

        cases.append(
            Case("builder.twilio", "twilio VoiceResponse", _repeat(thirdparty.build_twilio))
        )
        cases.append(Case("builder.plivo", "plivo plivoxml", _repeat(thirdparty.build_plivo)))
    return cases


# -- part 2: one request in-process -----------------------------------------------------------

_STATUS: list[str] = []


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
    _STATUS.append(status)
    return None


def new_call_environ(sid: str = apps.SID) -> WSGIEnvironment:
    """The WSGI environ of KooKoo's ``GET /ivr?...event=NewCall`` for ``sid``."""
    builder = EnvironBuilder(
        path=apps.ROUTE, query_string=apps.new_call_query(sid), base_url="http://127.0.0.1:8000"
    )
    try:
        return builder.get_environ()
    finally:
        builder.close()


def call_wsgi(app: WSGIApplication, environ: WSGIEnvironment) -> tuple[str, bytes]:
    """Call ``app`` as a WSGI server would; return (status, body)."""
    _STATUS.clear()
    result: Iterable[bytes] = app(environ, _start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return _STATUS[-1], body


def _request_case(
    key: str,
    label: str,
    app: WSGIApplication,
    check: Callable[[str, bytes], bool],
    extra_query: str = "",
) -> Case:
    sid = str(_reserve_sids(1))
    environ = new_call_environ(sid)
    environ["QUERY_STRING"] += extra_query
    status, body = call_wsgi(app, environ)
    if status != "200 OK" or not check(sid, body):
        raise BadReply(f"{label} answered {status} {body[:200]!r}")
    template = new_call_environ("SID")
    head, tail = (template["QUERY_STRING"] + extra_query).split("SID")

    def prepare(n: int) -> Callable[[], object]:
        first = _reserve_sids(n)
        sids = range(first, first + n)
        start_response = _start_response

        def run() -> None:
            for sid in sids:
                environ = template.copy()
                environ["QUERY_STRING"] = f"{head}{sid}{tail}"
                result = app(environ, start_response)
                b"".join(result)
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            _STATUS.clear()

        return run

    return Case(key, label, prepare)


def _is_kookoo_menu(sid: str, body: bytes) -> bool:
    return body == apps.expected_reply(sid)


def _has_prompts(sid: str, body: bytes) -> bool:
    return all(p in body for p in (b"Ram &amp; Shyam &lt;Traders&gt;", b"orders &amp; 2"))


def request_cases() -> list[Case]:
    """NewCall -> menu through kookoo, the hand-written app, Flask + twilio/plivo, the floor."""
    cases = [
        _request_case("request.kookoo", "kookoo (no state)", apps.kookoo_app, _is_kookoo_menu),
        _request_case(
            "request.kookoo_secret",
            "kookoo (no state), secret checked",
            apps.kookoo_secret_app,
            _is_kookoo_menu,
            f"&kk_token={apps.BENCH_SECRET}",
        ),
        _request_case(
            "request.werkzeug", "hand-written Werkzeug + lxml", apps.werkzeug_app, _is_kookoo_menu
        ),
    ]
    if not missing_comparisons():
        from benchmarks import thirdparty

        cases += [
            _request_case(
                "request.flask_twilio", "Flask + twilio", thirdparty.flask_twilio_app, _has_prompts
            ),
            _request_case(
                "request.flask_plivo", "Flask + plivo", thirdparty.flask_plivo_app, _has_prompts
            ),
        ]
    cases.append(
        _request_case("request.floor", "raw WSGI, constant bytes", apps.floor_app, _has_prompts)
    )
    return cases


# -- part 3: call state -------------------------------------------------------------------------

#: GotDTMF requests per call in the warm state cases (a call of a few menu levels).
DTMF_PER_CALL = 10


def _dtmf_case(
    key: str, label: str, app: WSGIApplication, check: Callable[[str, bytes], bool]
) -> Case:
    """GotDTMF on a live call whose last request this process served (the worker holds it).

    Each call is started with an untimed NewCall; then every timed request is a GotDTMF,
    :data:`DTMF_PER_CALL` in a row per call, so the call's record stays a realistic size.
    """
    template = new_call_environ("SID")
    head, tail = template["QUERY_STRING"].split("SID")

    def environ_for(sid: int) -> WSGIEnvironment:
        return dict(template, QUERY_STRING=f"event=GotDTMF&sid={sid}&data=2")

    sid = _reserve_sids(1)
    call_wsgi(app, dict(template, QUERY_STRING=f"{head}{sid}{tail}"))
    status, body = call_wsgi(app, environ_for(sid))
    if status != "200 OK" or not check(str(sid), body):
        raise BadReply(f"{label} answered {status} {body[:200]!r}")

    store = getattr(app, "store_if_created", None)

    def prepare(n: int) -> Callable[[], object]:
        calls = -(-n // DTMF_PER_CALL)
        if store is not None and store.recent_limit:
            # Every call of the round was started before timing: the process holds them all
            # (as a worker holds its live calls), not just the last 1024 started.
            store.recent_limit = max(store.recent_limit, calls + 16)
        first = _reserve_sids(calls)
        for sid in range(first, first + calls):
            call_wsgi(app, dict(template, QUERY_STRING=f"{head}{sid}{tail}"))
        environs = [environ_for(first + i // DTMF_PER_CALL) for i in range(n)]
        start_response = _start_response

        def run() -> None:
            for environ in environs:
                result = app(environ.copy(), start_response)
                b"".join(result)
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            _STATUS.clear()

        return run

    return Case(key, label, prepare)


def _commit_case(store: SQLiteStore) -> Case:
    """SQLite on its own: the compare-and-set ``UPDATE`` of a save, in autocommit, on the
    store's own file and connection settings, with a record of a warm call's size that
    changes each time (an update that changes nothing writes no page): the floor of any
    save to an SQLite file that several processes share."""
    sid = f"commit-floor-{_reserve_sids(1)}"
    call = Call(sid)
    call.state["menu"] = "main"
    store.save(call)
    for _ in range(DTMF_PER_CALL):
        call.record_event("GotDTMF")
    data = call.to_json()

    def prepare(n: int) -> Callable[[], object]:
        conn, generation = store._acquire()
        store._release(conn, generation)
        records = [data.replace('"menu"', f'"m{i % 10}nu"') for i in range(n)]
        execute = store._execute
        update = sqlite_store._UPDATE

        def run() -> None:
            for record in records:
                if execute(conn, update, (record, 1e10, sid, call.version, 0.0)).rowcount != 1:
                    raise BadReply(f"the floor's update of {sid} changed no row")
                call.version += 1

        return run

    return Case("state.sqlite_commit", "SQLite alone: UPDATE + commit", prepare)


def _ping_case(url: str, stack: ExitStack) -> Case:
    import redis

    client = redis.Redis.from_url(url)
    stack.callback(client.close)

    def prepare(n: int) -> Callable[[], object]:
        loop = range(n)
        ping = client.ping

        def run() -> None:
            for _ in loop:
                ping()

        return run

    return Case("state.redis_ping", "one Redis round trip (PING)", prepare)


def state_cases(
    stack: ExitStack, workdir: Path, round_trips: dict[str, float] | None = None
) -> tuple[list[Case], dict[str, str]]:
    """kookoo without state, then with MemoryStore, SQLiteStore and RedisStore.

    Resources (the SQLite file, redis-server) are released by ``stack``.  Returns the cases and
    the ones skipped, by key, with the reason; ``round_trips`` gets Redis commands per GotDTMF
    (``"cold"``, ``"warm"``) when Redis runs.
    """
    skipped: dict[str, str] = {}
    sqlite = SQLiteStore(workdir / "state.sqlite3")
    stack.callback(sqlite.close)
    cases = [
        _request_case("state.none", "kookoo, no state", apps.kookoo_app, _is_kookoo_menu),
        _request_case(
            "state.memory",
            "kookoo + MemoryStore",
            apps.make_kookoo_state_app(MemoryStore()),
            _is_kookoo_menu,
        ),
        _request_case(
            "state.sqlite",
            "kookoo + SQLiteStore",
            apps.make_kookoo_state_app(sqlite),
            _is_kookoo_menu,
        ),
        _dtmf_case("state.dtmf_none", "GotDTMF, no state", apps.kookoo_app, _is_kookoo_menu),
        _dtmf_case(
            "state.dtmf_memory",
            "GotDTMF + MemoryStore",
            apps.make_kookoo_state_app(MemoryStore()),
            _is_kookoo_menu,
        ),
        _dtmf_case(
            "state.dtmf_sqlite",
            "GotDTMF + SQLiteStore",
            apps.make_kookoo_state_app(sqlite),
            _is_kookoo_menu,
        ),
        _dtmf_case(
            "state.dtmf_werkzeug", "GotDTMF, by hand, no state", apps.werkzeug_app, _is_kookoo_menu
        ),
        _dtmf_case(
            "state.dtmf_werkzeug_sqlite",
            "GotDTMF, by hand + sqlite3",
            HandWrittenSQLiteApp(workdir / "handwritten.sqlite3"),
            _is_kookoo_menu,
        ),
        _commit_case(sqlite),
    ]
    reason = _redis_unavailable()
    if reason is None:
        try:
            url = stack.enter_context(redis_server(workdir))
        except ServerError as exc:
            reason = f"skipped: {exc}"
        else:
            store = RedisStore(url, prefix="bench:state:")
            stack.callback(store.close)
            cases.append(
                _request_case(
                    "state.redis",
                    "kookoo + RedisStore",
                    apps.make_kookoo_state_app(store),
                    _is_kookoo_menu,
                )
            )
            redis_app = apps.make_kookoo_state_app(store)
            cases.append(
                _dtmf_case("state.dtmf_redis", "GotDTMF + RedisStore", redis_app, _is_kookoo_menu)
            )
            if round_trips is not None:
                cold, warm = count_round_trips(redis_app, store.client)
                round_trips.update(cold=cold, warm=warm)
            cases.append(_ping_case(url, stack))
    if reason is not None:
        skipped["state.redis"] = reason
    return cases, skipped


def count_round_trips(app: WSGIApplication, client: Any, requests: int = 20) -> tuple[float, float]:
    """Commands ``client`` sends per request: (cold GotDTMF, warm GotDTMF).

    Warm: this process served the call's previous request.  Cold: the call's last save came
    from elsewhere (here: the process's cache of recent calls is emptied first).
    """
    sent = [0]
    execute = client.execute_command

    def counting(*args: Any, **kwargs: Any) -> Any:
        sent[0] += 1
        return execute(*args, **kwargs)

    template = new_call_environ("SID")
    head, tail = template["QUERY_STRING"].split("SID")
    first = _reserve_sids(requests)
    sids = range(first, first + requests)
    for sid in sids:
        call_wsgi(app, dict(template, QUERY_STRING=f"{head}{sid}{tail}"))
    dtmf = [dict(template, QUERY_STRING=f"event=GotDTMF&sid={sid}&data=2") for sid in sids]
    store = getattr(app, "store", None)
    client.execute_command = counting
    try:
        for environ in dtmf:
            call_wsgi(app, dict(environ))
        warm = sent[0] / requests
        sent[0] = 0
        for environ in dtmf:
            if store is not None:
                store.forget()
            call_wsgi(app, dict(environ))
        cold = sent[0] / requests
    finally:
        del client.execute_command
    return cold, warm


def _redis_unavailable() -> str | None:
    if redis_binary() is None:
        return "skipped: redis-server not installed"
    if importlib.util.find_spec("redis") is None:
        return "skipped: the redis package is not installed (pip install 'kookoo[bench]')"
    return None


# -- part 5: flow replay -------------------------------------------------------------------------

FLOW_STEPS = 50


def make_flow_app(store: MemoryStore) -> KooKoo:
    """A linear flow of :data:`FLOW_STEPS` questions, then a goodbye."""
    app = KooKoo("bench-flow", store=store)

    @app.flow(apps.ROUTE)
    def survey(call: FlowCall) -> Generator[Step, Any, None]:
        total = 0
        for i in range(FLOW_STEPS):
            answer = yield call.ask_digits(f"Question {i}: press a key", max_digits=1)
            total += int(answer or 0)
        yield call.hangup(f"Thank you. Your total is {total}.")

    return app


def flow_cases() -> list[Case]:
    """The last request of a 50-step flow: the whole journal is replayed, then the reply built.

    The call is driven once to its last question; before each timed request its stored record
    is put back as it was, so every timed request replays all 50 steps.  The put-back is a dict
    assignment in the MemoryStore, a few hundred nanoseconds of the measured time.
    """
    store = MemoryStore()
    app = make_flow_app(store)
    sid = str(_reserve_sids(1))
    call_wsgi(app, new_call_environ(sid))
    template = new_call_environ(sid)

    def answer(environ: WSGIEnvironment) -> bytes:
        return call_wsgi(app, environ)[1]

    question = dict(template, QUERY_STRING=f"event=GotDTMF&sid={sid}&data=2")
    for _ in range(FLOW_STEPS - 1):
        answer(dict(question))
    snapshot = store._records[sid]
    body = answer(dict(question))
    if b"Your total is 100." not in body:
        raise BadReply(f"the 50-step flow answered {body[:200]!r}")

    def prepare(n: int) -> Callable[[], object]:
        records = store._records
        start_response = _start_response

        def run() -> None:
            for _ in range(n):
                records[sid] = snapshot
                b"".join(app(dict(question), start_response))

        return run

    return [
        Case("flow.last_step", f"kookoo, last request of a {FLOW_STEPS}-step flow", prepare),
        _flow_kept_case(),
    ]


#: The step at which the kept-flow case starts timing, and how many steps it times per call.
KEPT_FLOW_STEP = 200
KEPT_STEPS_PER_CALL = 20


def make_long_flow_app(store: MemoryStore) -> KooKoo:
    """A flow that asks question after question (far more than any benchmark answers)."""
    app = KooKoo("bench-long-flow", store=store)

    @app.flow(apps.ROUTE)
    def quiz(call: FlowCall) -> Generator[Step, Any, None]:
        total = 0
        for i in range(1_000_000):
            answer = yield call.ask_digits(f"Question {i}: press a key", max_digits=1)
            total += int(answer or 0)
        yield call.hangup(f"Thank you. Your total is {total}.")

    return app


def _flow_kept_case() -> Case:
    """A request at step 200-220 of a live flow whose last request this process served: the
    worker resumes the generator it kept instead of replaying 200 journal steps.

    One call is driven to step 200 once; each round's calls are copies of its stored record
    under new sids, each warmed with one untimed request (that one replays), then timed for
    :data:`KEPT_STEPS_PER_CALL` steps in a row.
    """
    store = MemoryStore()
    app = make_long_flow_app(store)
    sid = str(_reserve_sids(1))
    template = new_call_environ(sid)
    call_wsgi(app, template)

    def dtmf(to: str | int) -> WSGIEnvironment:
        return dict(template, QUERY_STRING=f"event=GotDTMF&sid={to}&data=2")

    for _ in range(KEPT_FLOW_STEP - 1):
        call_wsgi(app, dtmf(sid))
    version, data, expires_at = store._records[sid]
    body = call_wsgi(app, dtmf(sid))[1]
    if f"Question {KEPT_FLOW_STEP}:".encode() not in body:
        raise BadReply(f"the long flow answered {body[:200]!r}")

    def prepare(n: int) -> Callable[[], object]:
        calls = -(-n // KEPT_STEPS_PER_CALL)
        first = _reserve_sids(calls)
        for copy in range(first, first + calls):
            store._records[str(copy)] = (
                version,
                data.replace(f'"sid":"{sid}"', f'"sid":"{copy}"', 1),
                expires_at,
            )
            call_wsgi(app, dtmf(copy))  # replays once; from now on the worker holds the call
        environs = [dtmf(first + i // KEPT_STEPS_PER_CALL) for i in range(n)]
        start_response = _start_response

        def run() -> None:
            for environ in environs:
                b"".join(app(environ.copy(), start_response))

        return run

    return Case(
        "flow.kept_step_200",
        f"kookoo, step {KEPT_FLOW_STEP}-{KEPT_FLOW_STEP + KEPT_STEPS_PER_CALL} of a live flow "
        "(kept by the worker)",
        prepare,
    )
