"""The pytest plugin: a user's test suite using the fixtures, run with pytester."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from werkzeug.serving import make_server

pytest_plugins = ["pytester"]

APP = """
from kookoo import KooKoo, Response
from kookoo.state.stores import MemoryStore

app = KooKoo("balance", store=MemoryStore())

@app.on_new_call
def welcome(event, call):
    call.state["greeted"] = True
    with (reply := Response()).collect_dtmf(max_digits=1) as menu:
        menu.play_text("Welcome. Press 1 for your balance.")
    return reply

@app.on_dtmf
def balance(event):
    if event.digits == "1":
        return Response().say_as(5000, format="currency", lang="EN").hangup()
    return Response().play_text("Goodbye").hangup()
"""

CONFTEST = """
import pytest
from myivr import app

@pytest.fixture
def kookoo_app():
    return app
"""

TESTS = """
def test_balance(kookoo_call):
    call = kookoo_call(caller="09876543210")
    assert call.last_heard == ["Welcome. Press 1 for your balance."]
    assert call.state == {"greeted": True}
    call.press("1")
    assert call.last_heard == ["[say-as 401 EN] 5000"]
    assert call.ended_by == "app"

def test_other_key(kookoo_call):
    call = kookoo_call()
    call.press("2")
    call.assert_heard("Goodbye")

def test_hangup(kookoo_simulator):
    call = kookoo_simulator.call("08041169706").hangup()
    assert call.last_turn.params["process"] == "collectdtmf"
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # hypothesis's plugin costs half a second per run and is not needed here.
    return pytester.runpytest("-p", "no:hypothesispytest", *args)


@pytest.fixture
def user_suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(myivr=APP)
    pytester.syspathinsert()
    return pytester


def test_fixtures_from_a_conftest(user_suite: pytest.Pytester) -> None:
    user_suite.makeconftest(CONFTEST)
    user_suite.makepyfile(test_ivr=TESTS)
    result = run(user_suite)
    result.assert_outcomes(passed=3)


def test_a_failing_expectation_fails_with_what_was_heard(user_suite: pytest.Pytester) -> None:
    user_suite.makeconftest(CONFTEST)
    user_suite.makepyfile(
        test_ivr="""
        def test_wrong(kookoo_call):
            kookoo_call().assert_heard("Welcome", "Hello")

        def test_wrong_action(kookoo_call):
            kookoo_call().record()
        """
    )
    result = run(user_suite)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "E       AssertionError: the caller did not hear ['Hello']; heard:",
            "E         'Welcome. Press 1 for your balance.'",
            "test_ivr.py:2: AssertionError",
            "E       kookoo.testing.simulator.UnexpectedActionError: record() but the app is "
            "waiting for "
            "digits (press() or timeout())",
        ]
    )


def test_app_named_in_the_configuration(user_suite: pytest.Pytester) -> None:
    user_suite.makeini("[pytest]\nkookoo_app = myivr:app\n")
    user_suite.makepyfile(test_ivr=TESTS)
    run(user_suite).assert_outcomes(passed=3)


def test_app_named_as_a_file(user_suite: pytest.Pytester) -> None:
    user_suite.makeini("[pytest]\nkookoo_app = myivr.py\n")
    user_suite.makepyfile(
        test_ivr="""
        def test_it(kookoo_call):
            assert kookoo_call().waiting_for == "digits"
        """
    )
    run(user_suite).assert_outcomes(passed=1)


def test_no_app_configured(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_ivr="def test_it(kookoo_call):\n    kookoo_call()\n")
    result = run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*no kookoo app to test: define a `kookoo_app` fixture that returns your app*"]
    )


def test_bad_app_in_the_configuration(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nkookoo_app = nowhere_kk:app\n")
    pytester.makepyfile(test_ivr="def test_it(kookoo_call):\n    kookoo_call()\n")
    result = run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*kookoo_app = 'nowhere_kk:app': cannot import 'nowhere_kk'*"])


def test_sids_are_the_same_on_every_run(user_suite: pytest.Pytester) -> None:
    user_suite.makeconftest(CONFTEST)
    user_suite.makepyfile(
        test_ivr="""
        def test_a(kookoo_call):
            print("SID", kookoo_call().sid, kookoo_call().sid)
        """
    )
    runs = [run(user_suite, "-s") for _ in range(2)]
    lines = [[line for line in r.outlines if "SID" in line] for r in runs]
    assert lines[0] == lines[1]
    first, second = lines[0][0].split()[-2:]
    assert first != second
    assert len(first) == 16


@pytest.fixture
def served_app(user_suite: pytest.Pytester) -> Iterator[str]:
    import myivr  # type: ignore[import-not-found]  # written by user_suite

    server = make_server("127.0.0.1", 0, myivr.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_kookoo_url_runs_the_suite_against_a_server(
    user_suite: pytest.Pytester, served_app: str
) -> None:
    user_suite.makepyfile(
        test_ivr="""
        def test_over_http(kookoo_call):
            call = kookoo_call()
            assert call.turns[0].url.startswith(URL + "?event=NewCall&")
            assert call.state is None
            call.press("1")
            assert call.heard[-1] == "[say-as 401 EN] 5000"
        """.replace("URL", repr(served_app))
    )
    # No kookoo_app fixture or setting is needed with --kookoo-url.
    run(user_suite, "--kookoo-url", served_app).assert_outcomes(passed=1)


def test_loading_the_plugin_imports_nothing_from_kookoo(user_suite: pytest.Pytester) -> None:
    # pytest imports entry-point plugins before pytest-cov starts measuring: anything of kookoo
    # imported then would count as never run.  A fresh interpreter shows what the load imported
    # (pytest_configure runs after every plugin and the conftest are loaded).
    user_suite.makeconftest(
        CONFTEST.replace("from myivr import app\n", "")
        .replace("return app", "from myivr import app\n    return app")
        .replace(
            "import pytest\n",
            "import sys\nimport pytest\n\n"
            "def pytest_configure(config):\n"
            "    assert config.pluginmanager.has_plugin('kookoo')\n"
            "    loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'kookoo')\n"
            "    print('kookoo modules after plugin load:', loaded)\n",
        )
    )
    user_suite.makepyfile(
        test_ivr="""
        import sys

        def test_the_fixtures_still_work(kookoo_call):
            kookoo_call().press("1")
            assert "kookoo.web.app" in sys.modules  # imported when the fixture needed it
        """
    )
    result = user_suite.runpytest_subprocess("-p", "no:hypothesispytest", "-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["kookoo modules after plugin load: []"])


STATEFUL_APP = """
from kookoo import Call, KooKoo, NewCall, Response

app = KooKoo("visits")   # the default SQLite store, as a real app has

@app.on_new_call
def welcome(event: NewCall, call: Call) -> Response:
    call.state["visits"] = call.state.get("visits", 0) + 1
    return Response().play_text(f"Visit {call.state['visits']}").hangup()
"""

STATEFUL_TEST = """
def test_first_visit(kookoo_app, kookoo_call):
    call = kookoo_call(caller="09876543210")   # the same sid on every run of this test
    assert call.heard == ["Visit 1"]
    stored = kookoo_app.store.load(call.sid)
    assert stored.state == {"visits": 1}
"""


def test_an_ini_app_gets_a_fresh_memory_store_per_test_and_leaves_no_file(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(visits=STATEFUL_APP, test_visits=STATEFUL_TEST)
    pytester.makeini("[pytest]\nkookoo_app = visits:app\n")
    for _ in range(2):  # a second run would see visit 2 if state leaked between runs
        run(pytester).assert_outcomes(passed=1)
    assert sorted(p.name for p in pytester.path.glob("*.sqlite3*")) == []


def test_kookoo_keep_store_tests_with_the_apps_own_store(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(visits=STATEFUL_APP, test_visits=STATEFUL_TEST)
    pytester.makeini("[pytest]\nkookoo_app = visits:app\nkookoo_keep_store = true\n")
    run(pytester).assert_outcomes(passed=1)
    run(pytester).assert_outcomes(failed=1)  # the SQLite file remembers the first run
    assert [p.name for p in pytester.path.glob("*.sqlite3")] == ["kookoo-calls.sqlite3"]


def test_replacing_the_store_after_serving_says_how_to_do_it() -> None:
    from kookoo import KooKoo, NewCall, Response
    from kookoo.state.stores import MemoryStore

    app = KooKoo(store=MemoryStore())

    @app.on_new_call
    def hello(event: NewCall) -> Response:
        return Response().hangup()

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: object = None
    ) -> Callable[[bytes], object]:
        return lambda data: None

    app(
        {"REQUEST_METHOD": "GET", "QUERY_STRING": "event=NewCall&sid=1", "PATH_INFO": "/"},
        start_response,
    )
    with pytest.raises(RuntimeError, match=r"with app.using_store\(MemoryStore\(\)\):"):
        app.store = MemoryStore()
    fresh = MemoryStore()
    with app.using_store(fresh):
        assert app.store is fresh
