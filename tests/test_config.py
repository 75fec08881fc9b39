"""kookoo.web.config: settings from KOOKOO_* variables, store URLs, the effective-config view."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kookoo import KooKoo
from kookoo.state.stores import MemoryStore, RedisStore, SQLiteStore
from kookoo.web.config import (
    CONFLICT_RETRIES,
    DEBUG,
    FALLBACK_PROMPT,
    HEALTH_PATH,
    MAX_LIVE_CALLS,
    MAX_PARAMS,
    SETTINGS,
    ConfigError,
    EffectiveSetting,
    describe,
    format_settings,
    parse_bool,
    store_from_env,
    store_from_url,
)

SECRET = "s3cret-token-for-tests-0123456789"


def test_an_argument_wins_over_the_variable_which_wins_over_the_default() -> None:
    env = {"KOOKOO_MAX_PARAMS": "10"}
    assert MAX_PARAMS.resolve(20, env) == 20
    assert MAX_PARAMS.resolve(None, env) == 10
    assert MAX_PARAMS.resolve(None, {}) == 64
    assert MAX_PARAMS.resolve(None, {"KOOKOO_MAX_PARAMS": "  "}) == 64  # empty is unset
    assert DEBUG.resolve(False, {"KOOKOO_DEBUG": "1"}) is False  # False is an argument
    assert DEBUG.resolve(None, {"KOOKOO_DEBUG": "yes"}) is True
    assert FALLBACK_PROMPT.resolve(None, {"KOOKOO_FALLBACK_PROMPT": " Sorry! "}) == "Sorry!"
    assert MAX_LIVE_CALLS.resolve(None, {}) is None
    assert CONFLICT_RETRIES.resolve(None, {"KOOKOO_CONFLICT_RETRIES": "0"}) == 0


@pytest.mark.parametrize(
    ("setting", "raw", "words"),
    [
        (MAX_PARAMS, "many", "KOOKOO_MAX_PARAMS='many': expected a whole number"),
        (MAX_PARAMS, "0", "KOOKOO_MAX_PARAMS='0': expected a whole number of at least 1"),
        (DEBUG, "maybe", "KOOKOO_DEBUG='maybe': expected 1/true/yes/on"),
        (HEALTH_PATH, "healthz", "KOOKOO_HEALTH_PATH='healthz': expected a path"),
        (CONFLICT_RETRIES, "-1", "KOOKOO_CONFLICT_RETRIES='-1'"),
    ],
)
def test_a_bad_value_names_the_variable(setting: object, raw: str, words: str) -> None:
    assert hasattr(setting, "variable")
    with pytest.raises(ConfigError) as info:
        setting.resolve(None, {setting.variable: raw})  # type: ignore[attr-defined]
    assert words in str(info.value)


def test_health_path_can_be_turned_off_and_is_normalised() -> None:
    assert HEALTH_PATH.resolve(None, {}) == "/healthz"
    assert HEALTH_PATH.resolve(None, {"KOOKOO_HEALTH_PATH": "off"}) == ""
    assert HEALTH_PATH.resolve(None, {"KOOKOO_HEALTH_PATH": "/ops/health/"}) == "/ops/health"


def test_parse_bool_takes_the_usual_spellings() -> None:
    for raw in ("1", "true", "TRUE", "yes", "on"):
        assert parse_bool(raw) is True
    for raw in ("0", "false", "No", "off"):
        assert parse_bool(raw) is False
    with pytest.raises(ValueError, match="expected"):
        parse_bool("2")


def test_every_setting_has_a_kookoo_variable_and_a_doc() -> None:
    names = [s.name for s in SETTINGS]
    assert len(set(names)) == len(names)
    for setting in SETTINGS:
        assert setting.variable == "KOOKOO_" + setting.name.upper()
        assert setting.doc


# -- stores ---------------------------------------------------------------------------------


def test_sqlite_urls_follow_sqlalchemy_relative_and_absolute(tmp_path: Path) -> None:
    absolute = store_from_url(f"sqlite:///{tmp_path}/calls.sqlite3")  # "////" + path
    assert isinstance(absolute, SQLiteStore)
    assert absolute.path == str(tmp_path / "calls.sqlite3")
    relative = store_from_url("sqlite:///calls.sqlite3?busy_timeout=2&ttl_seconds=60")
    assert isinstance(relative, SQLiteStore)
    assert relative.path == os.path.abspath("calls.sqlite3")
    assert relative.busy_timeout == 2.0
    assert relative.ttl_seconds == 60.0


def test_a_store_from_the_variable_says_so_in_its_name(tmp_path: Path) -> None:
    store = store_from_url(f"sqlite:///{tmp_path}/c.db", variable="KOOKOO_STORE")
    assert store.name == f"SQLite database {tmp_path}/c.db (from KOOKOO_STORE)"


def test_memory_and_redis_urls() -> None:
    assert isinstance(store_from_url("memory://"), MemoryStore)
    assert store_from_url("memory://?grace_seconds=5").grace_seconds == 5.0
    redis = store_from_url("redis://:pw@127.0.0.1:6390/3?prefix=ivr:&socket_timeout=2")
    assert isinstance(redis, RedisStore)
    assert redis.prefix == "ivr:"
    assert redis.socket_timeout == 2.0
    assert redis.name == "Redis at 127.0.0.1:6390/3"
    assert "pw" not in redis.name
    redis.close()


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("postgres://db/x", "KOOKOO_STORE='postgres://db/x': unknown kind of store; give sqlite"),
        ("sqlite://", "give the database file"),
        ("sqlite:///dir/", "give the database file"),
        ("memory://host", "memory:// takes no host"),
        ("sqlite:///x.db?timeout=1", "unknown option 'timeout' (known: busy_timeout"),
        ("memory://?ttl_seconds=soon", "option ttl_seconds='soon' is not a number"),
    ],
)
def test_a_bad_store_url_names_the_variable(url: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        store_from_url(url, variable="KOOKOO_STORE")
    assert words in str(info.value)
    assert str(info.value).startswith(f"KOOKOO_STORE='{url}'") or "postgres" in url


def test_an_unknown_url_never_shows_its_password() -> None:
    with pytest.raises(ConfigError) as info:
        store_from_url("mysql://app:hunter2@db/x")
    assert "hunter2" not in str(info.value)
    assert "app:****@db" in str(info.value)


def test_store_from_env(tmp_path: Path) -> None:
    assert store_from_env({}) is None
    assert store_from_env({"KOOKOO_DB": str(tmp_path / "x")}) is None  # the app's default
    store = store_from_env({"KOOKOO_STORE": "memory://"})
    assert isinstance(store, MemoryStore)
    with pytest.raises(ConfigError, match="both KOOKOO_STORE and KOOKOO_DB are set"):
        store_from_env({"KOOKOO_STORE": "memory://", "KOOKOO_DB": "/x"})


# -- the view -------------------------------------------------------------------------------


def _rows(app: KooKoo, env: dict[str, str]) -> dict[str, EffectiveSetting]:
    return {row.name: row for row in describe(app, env)}


def test_describe_shows_values_and_where_they_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {
        "KOOKOO_SECRET": SECRET,
        "KOOKOO_MAX_PARAMS": "10",
        "KOOKOO_DB": str(tmp_path / "calls.sqlite3"),
        "KOOKOO_LOG_FORMAT": "json",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    app = KooKoo(max_params=10, debug=True, fallback_prompt="Call back later.")
    rows = _rows(app, env)
    assert rows["store"] == EffectiveSetting(
        "store", f"SQLite database {tmp_path}/calls.sqlite3", "KOOKOO_DB"
    )
    assert app.store_if_created is None  # describing created no store (and no file)
    assert not (tmp_path / "calls.sqlite3").exists()
    assert rows["max_params"] == EffectiveSetting("max_params", "10", "KOOKOO_MAX_PARAMS")
    assert rows["debug"] == EffectiveSetting("debug", "True", "argument")
    assert rows["fallback_prompt"].value == "'Call back later.'"
    assert rows["fallback_prompt"].source == "argument"
    assert rows["max_query_bytes"] == EffectiveSetting("max_query_bytes", "8192", "default")
    assert rows["secret"] == EffectiveSetting("secret", "**** (1 secret)", "KOOKOO_SECRET")
    assert rows["allow_ips"] == EffectiveSetting("allow_ips", "off", "default")
    assert rows["public_url"] == EffectiveSetting("public_url", "off", "default")
    assert rows["log_format"] == EffectiveSetting("log_format", "json", "KOOKOO_LOG_FORMAT")
    text = format_settings(list(rows.values()))
    assert SECRET not in text
    lines = {line.split()[0]: " ".join(line.split()[1:]) for line in text.splitlines()}
    assert lines["secret"] == "**** (1 secret) [KOOKOO_SECRET]"
    assert lines["debug"] == "True [argument]"


def test_describe_names_a_given_store_and_no_store() -> None:
    app = KooKoo(store=MemoryStore(), secret=[SECRET, SECRET[::-1]], allow_ips=["10.0.0.0/8"])
    rows = _rows(app, {})
    assert rows["store"].value.startswith("MemoryStore")
    assert rows["store"].source == "argument"
    assert rows["secret"].value == "**** (2 secrets)"
    assert rows["secret"].source == "argument"
    assert rows["allow_ips"] == EffectiveSetting("allow_ips", "10.0.0.0/8", "argument")
    stateless = KooKoo(store=False)
    assert _rows(stateless, {})["store"].value == "none (store=False: no call state)"


def test_describe_a_store_from_kookoo_store(tmp_path: Path) -> None:
    store = store_from_url(f"sqlite:///{tmp_path}/c.db", variable="KOOKOO_STORE")
    rows = _rows(KooKoo(store=store), {})
    assert rows["store"].source == "KOOKOO_STORE"
