"""kookoo.web.logs: the default handler (installed only without logging config, stepping aside
once there is some) and the JSON format."""

from __future__ import annotations

import functools
import io
import json
import logging
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from kookoo.web import logs
from kookoo.web.logs import (
    JSON_FIELDS,
    DefaultHandler,
    JSONFormatter,
    RequestFields,
    default_handler,
    install_default_handler,
    logging_configured,
    mask_caller,
    remove_default_handler,
)

F = TypeVar("F", bound=Callable[..., None])


def without_root_handlers(test: F) -> F:
    """Run ``test`` with the root logger's handlers (pytest's log capture) taken away: the
    situation of a gunicorn worker where nobody configured logging. Done inside the test call
    (pytest adds its capture handler after the fixtures are set up) and undone before it ends."""

    @functools.wraps(test)
    def run(*args: object, **kwargs: object) -> None:
        root = logging.root
        saved, level = root.handlers[:], root.level
        root.handlers[:] = []
        try:
            test(*args, **kwargs)
        finally:
            root.handlers[:] = saved
            root.setLevel(level)

    return run  # type: ignore[return-value]


@pytest.fixture
def bare_logging() -> Iterator[logging.Logger]:
    """A fresh logger, removed handlers and all afterwards."""
    logger = logging.getLogger(f"kookoo-test-{uuid.uuid4().hex}")
    yield logger
    remove_default_handler(logger)
    for handler in logger.handlers[:]:
        logger.removeHandler(handler)


def _record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    logger = logging.getLogger("kookoo")
    record = logger.makeRecord("kookoo", logging.INFO, __file__, 1, msg, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_mask_caller_keeps_the_last_four_digits_only() -> None:
    assert mask_caller("09876543210") == "*******3210"
    assert mask_caller("+919876543210") == "*********3210"
    assert mask_caller("1234") == "****"
    assert mask_caller("") == ""
    assert mask_caller(None) is None


def test_json_formatter_writes_the_request_fields_with_the_caller_masked() -> None:
    fields = RequestFields("sid-1", "GotDTMF", "/ivr", "menu", 200, 1.23456, "09876543210")
    record = _record("sid=%s event=%s", "sid-1", "GotDTMF", kookoo=fields)
    line = JSONFormatter().format(record)
    assert "\n" not in line
    obj = json.loads(line)
    assert list(obj) == list(JSON_FIELDS)
    assert obj["sid"] == "sid-1"
    assert obj["event"] == "GotDTMF"
    assert obj["route"] == "/ivr"
    assert obj["handler"] == "menu"
    assert obj["status"] == 200
    assert obj["ms"] == 1.23
    assert obj["caller"] == "*******3210"
    assert obj["level"] == "INFO"
    assert obj["logger"] == "kookoo"
    assert obj["message"] == "sid=sid-1 event=GotDTMF"
    assert obj["time"].endswith("+00:00")
    assert "09876543210" not in line


def test_json_formatter_escapes_control_characters_so_a_line_stays_one_line() -> None:
    evil = 'GotDTMF\n{"level": "CRITICAL"}\r\u2028\x1b[31m'
    fields = RequestFields("s", evil, "/", "-", 400, 0.5, None)
    line = JSONFormatter().format(_record("event=%s", evil, kookoo=fields))
    assert line.isascii()
    assert line.isprintable()
    assert json.loads(line)["event"] == evil
    assert json.loads(line)["caller"] is None


def test_json_formatter_finds_the_sid_of_an_error_line_and_its_traceback() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        exc_info = sys.exc_info()
    logger = logging.getLogger("kookoo")
    record = logger.makeRecord(
        "kookoo", logging.ERROR, __file__, 1, "sid=%s could not load", ("abc",), exc_info
    )
    obj = json.loads(JSONFormatter().format(record))
    assert obj["sid"] == "abc"
    assert obj["level"] == "ERROR"
    assert obj["status"] is None
    assert "RuntimeError: boom" in obj["exception"]
    plain = json.loads(JSONFormatter().format(_record("app started")))
    assert plain["sid"] is None
    assert "exception" not in plain


@without_root_handlers
def test_default_handler_is_installed_once_when_nothing_is_configured(
    bare_logging: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    logger = bare_logging
    assert not logging_configured(logger)
    assert install_default_handler(logger) is True
    assert install_default_handler(logger) is True
    assert len(logger.handlers) == 1
    assert isinstance(logger.handlers[0], DefaultHandler)
    assert logger.level == logging.INFO
    logger.info("sid=%s event=%s", "s-1", "NewCall")
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    # time, pid, level, logger name, message
    assert f" INFO {logger.name}: sid=s-1 event=NewCall" in err
    assert err[:4].isdigit()


@without_root_handlers
def test_default_handler_writes_json_with_kookoo_log_format(
    bare_logging: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    install_default_handler(bare_logging, log_format="JSON")
    bare_logging.warning("careful")
    obj = json.loads(capsys.readouterr().err)
    assert obj["message"] == "careful"
    assert obj["level"] == "WARNING"


@without_root_handlers
def test_a_bad_log_format_is_refused(bare_logging: logging.Logger) -> None:
    with pytest.raises(ValueError, match="log_format='xml': give text or json"):
        install_default_handler(bare_logging, log_format="xml")
    assert bare_logging.handlers == []


@without_root_handlers
def test_no_default_handler_when_the_root_logger_is_configured(
    bare_logging: logging.Logger,
) -> None:
    logging.root.addHandler(logging.NullHandler())
    assert logging_configured(bare_logging)
    assert install_default_handler(bare_logging) is False
    assert bare_logging.handlers == []
    assert bare_logging.level == logging.NOTSET


@without_root_handlers
def test_no_default_handler_when_the_logger_has_its_own(bare_logging: logging.Logger) -> None:
    own = logging.StreamHandler(io.StringIO())
    bare_logging.addHandler(own)
    assert install_default_handler(bare_logging) is False
    assert bare_logging.handlers == [own]


@without_root_handlers
def test_the_default_handler_steps_aside_when_logging_is_configured_later(
    bare_logging: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    logger = bare_logging
    install_default_handler(logger)
    logger.info("before")
    assert "before" in capsys.readouterr().err
    users = io.StringIO()
    user_handler = logging.StreamHandler(users)
    logging.root.addHandler(user_handler)  # what logging.basicConfig() does
    logging.root.setLevel(logging.INFO)
    try:
        logger.warning("after")
        assert capsys.readouterr().err == ""  # written once, by the user's handler
        assert users.getvalue() == "after\n"
        handler = default_handler(logger)
        assert handler is not None
        assert handler.stepped_aside
        assert logger.level == logging.NOTSET  # the user's levels rule again
        # Installing again (the next app's first request) keeps stepping aside.
        assert install_default_handler(logger) is False
    finally:
        logging.root.removeHandler(user_handler)
    # Logging unconfigured again: the next install takes over once more.
    assert install_default_handler(logger) is True
    logger.info("again")
    assert "again" in capsys.readouterr().err
    assert len(logger.handlers) == 1


@without_root_handlers
def test_remove_default_handler_restores_the_level(bare_logging: logging.Logger) -> None:
    bare_logging.setLevel(logging.DEBUG)
    install_default_handler(bare_logging)
    assert bare_logging.level == logging.DEBUG  # a level of the user's own is kept
    remove_default_handler(bare_logging)
    assert bare_logging.handlers == []
    assert bare_logging.level == logging.DEBUG
    remove_default_handler(bare_logging)  # nothing there: no error


def test_module_defaults_target_the_kookoo_logger() -> None:
    assert logs._logger is logging.getLogger("kookoo")


# -- the request line ------------------------------------------------------------------------


_FIELDS = RequestFields("1104528084461170", "GotDTMF", "/ivr", "menu", 200, 0.4449, "8041169706")


def _line_record(created: float) -> logging.LogRecord:
    record = logging.getLogger("kookoo").makeRecord(
        "kookoo", logging.INFO, __file__, 0, logs.REQUEST_LINE, tuple(_FIELDS[:6]), None
    )
    record.created = created
    record.msecs = int((created - int(created)) * 1000) + 0.0
    return record


@pytest.mark.parametrize("now", [1764702687.0, 1764702687.4449, 1764702687.9996, 1764702688.001])
def test_the_text_formatter_writes_what_logging_writes(now: float) -> None:
    ours, base = logs.TextFormatter(), logging.Formatter(logs.TEXT_FORMAT)
    assert ours.format(_line_record(now)) == base.format(_line_record(now))
    # the second of a line is worked out once: the next line of the same second agrees too
    assert ours.format(_line_record(now + 0.0001)) == base.format(_line_record(now + 0.0001))


def test_the_text_formatter_follows_its_time_settings() -> None:
    ours, base = logs.TextFormatter(), logging.Formatter(logs.TEXT_FORMAT)

    def india(secs: float | None) -> time.struct_time:
        assert secs is not None  # a formatter converts the record's time
        return time.gmtime(secs + 5.5 * 3600)

    for formatter in (ours, base):
        # India's time of day, whatever the machine's zone, and a dot before the milliseconds.
        formatter.converter = india
        formatter.default_msec_format = "%s.%03d"
    assert ours.format(_line_record(1764702687.25)) == base.format(_line_record(1764702687.25))
    assert ours.format(_line_record(1764702687.25)).startswith("2025-12-03 00:41:27.250 [")
    assert ours.formatTime(_line_record(0.5), "%Y") == base.formatTime(_line_record(0.5), "%Y")


@without_root_handlers
def test_the_app_logs_its_request_line_through_logging(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from werkzeug.test import Client

    from kookoo import KooKoo, NewCall, Response

    logger = logging.getLogger("kookoo")
    saved_handlers, saved_level = logger.handlers[:], logger.level
    logger.handlers[:] = []
    logger.setLevel(logging.NOTSET)
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    try:
        app = KooKoo("logged", store=False, secret=False)

        @app.on_new_call
        def hello(event: NewCall) -> Response:
            return Response().play_text("Hello")

        assert Client(app).get("/?event=NewCall&sid=77").status_code == 200
        err = capsys.readouterr().err
        logger.addHandler(Keep())  # the default handler steps aside; the record comes here
        assert Client(app).get("/?event=NewCall&sid=78").status_code == 200
    finally:
        remove_default_handler(logger)
        logger.handlers[:] = saved_handlers
        logger.setLevel(saved_level)
    assert err.count("\n") == 1
    assert " INFO kookoo: sid=77 event=NewCall route=/ handler=" in err
    assert " status=200 ms=" in err
    (record,) = records
    assert record.kookoo.sid == "78"  # type: ignore[attr-defined]
    assert record.getMessage().startswith("sid=78 event=NewCall route=/ handler=")


def test_log_request_line_gives_other_handlers_a_record_with_the_fields(
    bare_logging: logging.Logger,
) -> None:
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    bare_logging.addHandler(Keep())
    bare_logging.setLevel(logging.INFO)
    logs.log_request_line(bare_logging, _FIELDS)
    (record,) = seen
    assert record.getMessage() == logs.REQUEST_LINE % _FIELDS[:6]
    assert record.kookoo == _FIELDS  # type: ignore[attr-defined]
    assert record.levelno == logging.INFO
