"""The settings table (kookoo.core.settings), store URLs (kookoo.state.stores.urls) and the
effective-config view (kookoo.web.config)."""

from __future__ import annotations

import dataclasses
import inspect
import os
from pathlib import Path

import pytest

from kookoo import KooKoo
from kookoo.core.errors import ConfigError
from kookoo.core.settings import SETTINGS, EffectiveSetting, Settings, format_settings, parse_bool
from kookoo.state.stores import MemoryStore, RedisStore, SQLiteStore
from kookoo.state.stores.urls import store_from_url
from kookoo.web.config import describe

SECRET = "s3cret-token-for-tests-0123456789"


def test_an_argument_wins_over_the_variable_which_wins_over_the_default() -> None:
    env = {"KOOKOO_MAX_PARAMS": "10"}
    assert Settings.from_environ(env, max_params=20).max_params == 20
    assert Settings.from_environ(env).max_params == 10
    assert Settings.from_environ({}).max_params == 64
    assert Settings.from_environ({"KOOKOO_MAX_PARAMS": "  "}).max_params == 64  # empty: unset
    assert Settings.from_environ({"KOOKOO_DEBUG": "1"}, debug=False).debug is False
    assert Settings.from_environ({"KOOKOO_DEBUG": "yes"}).debug is True
    sorry = Settings.from_environ({"KOOKOO_FALLBACK_PROMPT": " Sorry! "})
    assert sorry.fallback_prompt == "Sorry!"
    assert Settings.from_environ({}).max_live_calls is None
    assert Settings.from_environ({"KOOKOO_CONFLICT_RETRIES": "0"}).conflict_retries == 0


def test_the_settings_say_where_each_value_came_from() -> None:
    settings = Settings.from_environ({"KOOKOO_MAX_PARAMS": "10"}, debug=True)
    assert settings.sources["max_params"] == "KOOKOO_MAX_PARAMS"
    assert settings.sources["debug"] == "argument"
    assert settings.sources["max_query_bytes"] == "default"


@pytest.mark.parametrize(
    ("variable", "raw", "words"),
    [
        ("KOOKOO_MAX_PARAMS", "many", "KOOKOO_MAX_PARAMS='many': expected a whole number"),
        ("KOOKOO_MAX_PARAMS", "0", "KOOKOO_MAX_PARAMS='0': expected a whole number of at least 1"),
        ("KOOKOO_DEBUG", "maybe", "KOOKOO_DEBUG='maybe': expected 1/true/yes/on"),
        ("KOOKOO_HEALTH_PATH", "healthz", "KOOKOO_HEALTH_PATH='healthz': expected a path"),
        ("KOOKOO_CONFLICT_RETRIES", "-1", "KOOKOO_CONFLICT_RETRIES='-1'"),
        ("KOOKOO_LOG_FORMAT", "xml", "KOOKOO_LOG_FORMAT='xml': give text or json"),
        ("KOOKOO_SECRET", ", ,", "KOOKOO_SECRET=****: holds only commas"),
    ],
)
def test_a_bad_value_names_the_variable(variable: str, raw: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_environ({variable: raw})
    assert words in str(info.value)


def test_an_argument_out_of_range_is_refused() -> None:
    with pytest.raises(ConfigError, match="max_live_calls must be at least 1, got 0"):
        Settings.from_environ({}, max_live_calls=0)
    with pytest.raises(TypeError, match="no such setting: debgu"):
        Settings.from_environ({}, debgu=True)


def test_only_reads_just_the_settings_asked_for() -> None:
    env = {"KOOKOO_DB": "/var/x.db", "KOOKOO_MAX_PARAMS": "not a number"}
    assert Settings.from_environ(env, only=["db"]).db == "/var/x.db"
    with pytest.raises(ConfigError):
        Settings.from_environ(env)


def test_health_path_can_be_turned_off_and_is_normalised() -> None:
    assert Settings.from_environ({}).health_path == "/healthz"
    assert Settings.from_environ({"KOOKOO_HEALTH_PATH": "off"}).health_path == ""
    nested = Settings.from_environ({"KOOKOO_HEALTH_PATH": "/ops/health/"})
    assert nested.health_path == "/ops/health"


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
    assert names == [f.name for f in dataclasses.fields(Settings) if f.name != "sources"]
    for setting in SETTINGS:
        assert setting.variable == "KOOKOO_" + setting.name.upper()
        assert setting.doc


def test_the_app_takes_every_setting_it_serves_with_as_a_typed_keyword() -> None:
    keywords = set(inspect.signature(KooKoo).parameters) - {"name", "store"}
    not_keywords = {"store", "db", "log_format", "api_key"}  # a store, the log, outbound
    assert keywords == {s.name for s in SETTINGS} - not_keywords


def test_both_store_variables_at_once_is_refused_unless_the_app_is_given_its_store(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KOOKOO_STORE", "memory://")
    monkeypatch.setenv("KOOKOO_DB", "/x")
    with pytest.raises(ConfigError, match="both KOOKOO_STORE and KOOKOO_DB are set"):
        KooKoo()
    given = MemoryStore()
    assert KooKoo(store=given).store is given  # an argument wins: neither variable is read
    assert KooKoo(store=False).store is None


def test_an_empty_allow_list_is_refused_not_turned_off() -> None:
    with pytest.raises(ValueError, match="at least one network"):
        KooKoo(store=False, allow_ips=[])
    guarded = KooKoo(store=False, allow_ips=["203.0.113.0/24"])
    assert guarded.guard.allow_list is not None


def test_the_app_builds_its_store_from_kookoo_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOOKOO_STORE", "memory://")
    app = KooKoo()
    assert isinstance(app.store_if_created, MemoryStore)
    assert app.store_if_created.name.endswith("(from KOOKOO_STORE)")


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


def test_a_redis_url_takes_the_values_prefix_and_names_the_variable_for_a_bad_one() -> None:
    redis = store_from_url("redis://127.0.0.1:6390/0?prefix=ivr:call:&kv_prefix=ivr:values:")
    assert isinstance(redis, RedisStore)
    assert redis.value_key("ns", "k").startswith("ivr:values:")
    redis.close()
    with pytest.raises(ConfigError, match=r"^KOOKOO_STORE='redis://:\*\*\*\*@h/0\?prefix=':"):
        store_from_url("redis://:pw@h/0?prefix=", variable="KOOKOO_STORE")


def test_an_unknown_url_never_shows_its_password() -> None:
    with pytest.raises(ConfigError) as info:
        store_from_url("mysql://app:hunter2@db/x")
    assert "hunter2" not in str(info.value)
    assert "app:****@db" in str(info.value)


# -- the view -------------------------------------------------------------------------------


def _rows(app: KooKoo, env: dict[str, str]) -> dict[str, EffectiveSetting]:
    return {row.name: row for row in describe(app)}


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
    app = KooKoo(debug=True, fallback_prompt="Call back later.")
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
    assert rows["log_format"] == EffectiveSetting("log_format", "'json'", "KOOKOO_LOG_FORMAT")
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
