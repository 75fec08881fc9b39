"""pytest fixtures for testing kookoo apps (the ``kookoo`` plugin, registered through the
``pytest11`` entry point).

Installing kookoo makes these fixtures available in every test suite:

``kookoo_app``
    The app under test.  Override it in ``conftest.py`` (return a WSGI app, or a URL to test a
    running server), or name it in the pytest configuration::

        [tool.pytest.ini_options]
        kookoo_app = "myivr:app"        # or "path/to/file.py:app"

    An app named there runs every test on a fresh :class:`~kookoo.state.stores.MemoryStore`
    (:meth:`KooKoo.using_store <kookoo.KooKoo.using_store>`), so no state leaks from one test,
    or one run, into the next and no SQLite file appears in the project; set
    ``kookoo_keep_store = true`` to test with the app's own store instead.  In your own
    fixture, do the same with ``with app.using_store(MemoryStore()): yield app``.  With
    ``--kookoo-url`` the store is the server's: each test's calls get their own sids.

``kookoo_simulator``
    A :class:`kookoo.testing.Simulator` on ``kookoo_app``, with sids that are the same on
    every run of a test.  ``pytest --kookoo-url http://127.0.0.1:8000/`` runs the same tests
    against a live server instead.

``kookoo_call``
    A factory: ``kookoo_call(caller="09876543210", **options)`` starts a call (sends
    ``NewCall``) and returns a :class:`kookoo.testing.SimulatedCall`; the options are those of
    :meth:`Simulator.call <kookoo.testing.Simulator.call>`.

A whole test::

    # conftest.py
    import pytest
    from kookoo.state.stores import MemoryStore
    from myivr import app

    @pytest.fixture(scope="session")
    def kookoo_app():
        app.store = MemoryStore()  # no SQLite file from the tests
        return app

    # test_menu.py
    def test_english_sales_busy(kookoo_call):
        call = kookoo_call(caller="09876543210")
        assert call.last_heard[0] == "Welcome to Acme. For English press 1."
        call.press("1")
        call.assert_heard("For sales press 1")
        call.press("1")
        assert call.waiting_for == "dial"
        call.dial_not_answered()
        assert call.ended_by == "app"

The plugin imports nothing from kookoo until a fixture is used.  That is why it is a top-level
module and not ``kookoo.pytest_plugin``: pytest imports every ``pytest11`` plugin before
``pytest --cov`` starts measuring, and importing any ``kookoo.*`` module runs ``kookoo/__init__``
(the whole app), whose lines would then count as never run.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from kookoo.testing import SimulatedCall, Simulator

__all__ = ["kookoo_app", "kookoo_call", "kookoo_simulator"]

_INI = "kookoo_app"
_KEEP_STORE_INI = "kookoo_keep_store"
_URL_OPTION = "--kookoo-url"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``kookoo_app`` ini value and the ``--kookoo-url`` option."""
    parser.addini(
        _INI,
        "the kookoo app under test: module:app or path/to/file.py[:app] (kookoo_app fixture)",
        default="",
    )
    parser.addini(
        _KEEP_STORE_INI,
        "test the kookoo_app app with its own store instead of a fresh MemoryStore per test",
        type="bool",
        default=False,
    )
    parser.getgroup("kookoo").addoption(
        _URL_OPTION,
        dest="kookoo_url",
        default=None,
        metavar="URL",
        help="drive the kookoo_simulator fixture against a running server at URL instead",
    )


@pytest.fixture
def kookoo_app(pytestconfig: pytest.Config) -> Iterator[Any]:
    """The app under test (a WSGI app or an http(s) URL).  Override this fixture, or set
    ``kookoo_app = "module:app"`` in the pytest configuration (each test then gets a fresh
    MemoryStore unless ``kookoo_keep_store = true``)."""
    spec = str(pytestconfig.getini(_INI) or "").strip()
    if not spec:
        pytest.fail(
            "no kookoo app to test: define a `kookoo_app` fixture that returns your app "
            '(or its URL), or set kookoo_app = "module:app" in the pytest configuration',
            pytrace=False,
        )
    from kookoo.core.loading import load_app
    from kookoo.state.stores.memory import MemoryStore
    from kookoo.web.app import KooKoo

    try:
        app = load_app(spec)
    except ValueError as exc:
        pytest.fail(f"kookoo_app = {spec!r}: {exc}", pytrace=False)
    if (
        isinstance(app, KooKoo)
        and (app.uses_default_store or app.store_if_created is not None)
        and not pytestconfig.getini(_KEEP_STORE_INI)
    ):
        with app.using_store(MemoryStore()):
            yield app
    else:
        yield app


@pytest.fixture
def kookoo_simulator(request: pytest.FixtureRequest, pytestconfig: pytest.Config) -> Simulator:
    """A :class:`~kookoo.testing.Simulator` on ``kookoo_app`` (or on ``--kookoo-url``)."""
    from kookoo.testing import Simulator

    url: str | None = pytestconfig.getoption("kookoo_url", None)
    target = url if url else request.getfixturevalue("kookoo_app")
    # The same sids on every run of a test: failures reproduce exactly.
    return Simulator(target, seed=zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture
def kookoo_call(kookoo_simulator: Simulator) -> Callable[..., SimulatedCall]:
    """Start a simulated call: ``kookoo_call(caller="09876543210", called_number=...)``."""
    return kookoo_simulator.call
