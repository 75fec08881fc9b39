"""kookoo.web.security: the shared secret, the IP allow-list behind proxies, hardened output and
safe URL resolution, driven with real WSGI environs (werkzeug.test.EnvironBuilder)."""

from __future__ import annotations

import hmac
import logging
from typing import Any

import pytest
from werkzeug.datastructures import Headers
from werkzeug.test import EnvironBuilder

from kookoo.core.settings import Settings
from kookoo.core.text import escape_for_log, plain_error_body
from kookoo.web.security import (
    DEFAULT_TRUSTED_HOSTS,
    ERROR_HEADERS,
    IPAllowList,
    RequestGuard,
    SharedSecret,
    UnsafeURLError,
    URLResolver,
    generate_secret,
    with_token,
)

SECRET = "s3cr3t-Token_0123456789"
OLD = "old-secret.0123456789~"


def environ(
    path: str = "/ivr",
    query: str = "event=GotDTMF&sid=1&data=1",
    *,
    remote: str = "203.0.113.9",
    base_url: str = "http://localhost",
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A real WSGI environ for GET ``path?query``."""
    builder = EnvironBuilder(
        path=path,
        query_string=query,
        base_url=base_url,
        headers=Headers(headers),
        environ_base={"REMOTE_ADDR": remote},
    )
    try:
        return builder.get_environ()
    finally:
        builder.close()


# -- shared secret ------------------------------------------------------------------------------


def test_token_in_the_query_is_accepted_and_the_path_is_kept() -> None:
    result = SharedSecret(SECRET).check(environ(query=f"event=NewCall&sid=1&kk_token={SECRET}"))
    assert (result.allowed, result.status, result.reason) == (True, 200, "ok")
    assert (result.path, result.token, result.token_in_path) == ("/ivr", SECRET, False)


def test_token_as_the_first_query_parameter() -> None:
    result = SharedSecret(SECRET).check(environ(query=f"kk_token={SECRET}&event=NewCall"))
    assert result.allowed
    assert result.token == SECRET


def test_token_as_the_first_path_segment_is_stripped_for_the_router() -> None:
    result = SharedSecret(SECRET).check(environ(path=f"/{SECRET}/ivr/menu", query="event=NewCall"))
    assert result.allowed
    assert (result.path, result.token, result.token_in_path) == ("/ivr/menu", SECRET, True)


def test_token_alone_in_the_path_leaves_the_root() -> None:
    result = SharedSecret(SECRET).check(environ(path=f"/{SECRET}", query="event=NewCall"))
    assert (result.allowed, result.path) == (True, "/")


def test_percent_encoded_token_is_decoded_before_the_comparison() -> None:
    encoded = SECRET.replace("-", "%2D").replace("_", "%5f")
    assert SharedSecret(SECRET).check(environ(query=f"kk_token={encoded}")).allowed


def test_missing_token_is_refused_and_says_so() -> None:
    result = SharedSecret(SECRET).check(environ(query="event=NewCall&sid=1"))
    assert (result.allowed, result.status, result.reason) == (False, 403, "missing")
    assert result.message == (
        "Forbidden: this app needs its secret token, as the kk_token query parameter or the "
        "first path segment, and the request carries none."
    )
    assert result.token is None


def test_wrong_token_is_refused_without_revealing_the_secret() -> None:
    result = SharedSecret(SECRET).check(environ(query="event=NewCall&kk_token=guess"))
    assert (result.allowed, result.reason) == (False, "wrong")
    assert result.message == (
        "Forbidden: the kk_token in this request is not one of this app's secrets."
    )
    assert SECRET not in result.message


def test_empty_token_counts_as_missing() -> None:
    assert SharedSecret(SECRET).check(environ(query="kk_token=&event=x")).reason == "missing"


def test_a_name_ending_in_kk_token_is_not_the_token() -> None:
    result = SharedSecret(SECRET).check(environ(query=f"xkk_token={SECRET}&event=x"))
    assert result.reason == "missing"


def test_the_first_kk_token_decides_as_the_event_parser_would() -> None:
    # parse_qsl keeps the first value, so a valid second token must not rescue a wrong first.
    result = SharedSecret(SECRET).check(environ(query=f"kk_token=bad&kk_token={SECRET}"))
    assert result.reason == "wrong"


def test_a_secret_prefix_or_extension_is_wrong() -> None:
    check = SharedSecret(SECRET).check
    assert check(environ(query=f"kk_token={SECRET[:-1]}")).reason == "wrong"
    assert check(environ(query=f"kk_token={SECRET}x")).reason == "wrong"
    assert check(environ(path=f"/{SECRET}x/ivr", query="")).reason == "missing"


def test_a_wrong_path_token_is_not_stripped() -> None:
    result = SharedSecret(SECRET).check(environ(path=f"/{OLD}/ivr", query=""))
    assert (result.reason, result.path) == ("missing", f"/{OLD}/ivr")


def test_rotation_accepts_every_active_secret_and_builds_with_the_first() -> None:
    shared = SharedSecret([SECRET, OLD])
    assert shared.primary == SECRET
    assert shared.check(environ(query=f"kk_token={OLD}")).token == OLD
    assert shared.check(environ(path=f"/{OLD}/ivr", query="")).path == "/ivr"
    assert SharedSecret(SECRET).check(environ(query=f"kk_token={OLD}")).reason == "wrong"


def test_comparison_is_constant_time_against_every_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr("kookoo.web.security.hmac.compare_digest", spy)
    shared = SharedSecret([SECRET, OLD, "third-secret-0123456"])
    assert shared.check(environ(query=f"kk_token={SECRET}")).allowed
    # The match on the first secret does not stop the loop: every secret is compared.
    assert [a for a, _ in compared] == [s.encode() for s in shared.secrets]
    assert all(b == SECRET.encode() for _, b in compared)


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ("short", ValueError),
        ("has space in it 0123", ValueError),
        ("slash/in/the/secret0", ValueError),
        ("amp&in&the&secret&00", ValueError),
        ([], ValueError),
        ([SECRET, 42], TypeError),
    ],
)
def test_unusable_secrets_are_refused(bad: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        SharedSecret(bad)


def test_short_secret_error_says_how_to_make_one() -> None:
    with pytest.raises(ValueError, match=r"at least 16 characters .*generate_secret\(\)"):
        SharedSecret("tooshort")


def test_generated_secrets_are_usable_and_distinct() -> None:
    first, second = generate_secret(), generate_secret()
    assert first != second
    assert SharedSecret(first).check(environ(query=f"kk_token={first}")).allowed


def test_the_secret_comes_from_its_setting() -> None:
    from_env = SharedSecret.from_settings(
        Settings.from_environ({"KOOKOO_SECRET": f" {SECRET} , {OLD},"})
    )
    assert from_env is not None
    assert from_env.secrets == (SECRET, OLD)
    assert SharedSecret.from_settings(Settings.from_environ({})) is None
    assert SharedSecret.from_settings(Settings.from_environ({"KOOKOO_SECRET": "  "})) is None
    off = Settings.from_environ({"KOOKOO_SECRET": OLD}, secret=())  # KooKoo(secret=False)
    assert SharedSecret.from_settings(off) is None


def test_bad_environment_secret_names_the_variable() -> None:
    with pytest.raises(ValueError, match="KOOKOO_SECRET: a secret must be at least"):
        SharedSecret.from_settings(Settings.from_environ({"KOOKOO_SECRET": "abc"}))
    with pytest.raises(ValueError, match="KOOKOO_SECRET=\\*\\*\\*\\*: holds only commas"):
        Settings.from_environ({"KOOKOO_SECRET": ", ,"})
    with pytest.raises(ValueError, match=r"^secret: a secret must be at least"):
        SharedSecret.from_settings(Settings.from_environ({}, secret=("abc",)))


def test_check_reads_a_bare_environ_without_building_a_request() -> None:
    # The hot path needs no wsgi.input and no werkzeug Request: only the two raw strings.
    bare = {"PATH_INFO": "/ivr", "QUERY_STRING": f"sid=1&kk_token={SECRET}"}
    assert SharedSecret(SECRET).check(bare).allowed
    assert SharedSecret(SECRET).check({}).reason == "missing"


# -- the guard: logging, proxies, the allow-list -------------------------------------------------


def test_guard_refusal_is_logged_at_warning_with_the_escaped_address(
    caplog: pytest.LogCaptureFixture,
) -> None:
    guard = RequestGuard(SharedSecret(SECRET))
    bad = environ(path="/ivr%0A[CRITICAL] fake", query="kk_token=nope", remote="198.51.100.4\r\nX")
    with caplog.at_level(logging.WARNING, logger="kookoo.security"):
        result = guard.check(bad)
    assert result.reason == "wrong"
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    line = record.getMessage()
    assert line == (
        "refused request from 198.51.100.4\\r\\nX: wrong secret token path=/ivr\\n[CRITICAL] fake"
    )
    assert "nope" not in line


def test_guard_lets_a_good_request_through_silently(caplog: pytest.LogCaptureFixture) -> None:
    guard = RequestGuard(SharedSecret(SECRET))
    with caplog.at_level(logging.DEBUG, logger="kookoo.security"):
        result = guard.check(environ(path=f"/{SECRET}/ivr", query="event=NewCall"))
    assert (result.allowed, result.path) == (True, "/ivr")
    assert caplog.records == []


def test_guard_without_settings_is_inactive_and_admits() -> None:
    guard = RequestGuard()
    assert not guard.active
    result = guard.check(environ(path="/menu"))
    assert (result.allowed, result.path, result.token) == (True, "/menu", None)
    assert RequestGuard(trusted_proxies=1).active


def test_guard_from_settings_reads_the_variables() -> None:
    env = {
        "KOOKOO_SECRET": SECRET,
        "KOOKOO_ALLOW_IPS": "203.0.113.0/24, 2001:db8::/32",
        "KOOKOO_TRUSTED_PROXIES": "2",
    }
    guard = RequestGuard.from_settings(Settings.from_environ(env))
    assert guard.secret is not None
    assert guard.secret.secrets == (SECRET,)
    assert guard.allow_list is not None
    assert [str(n) for n in guard.allow_list.networks] == [
        "203.0.113.0/24",
        "2001:db8::/32",
    ]
    assert guard.trusted_proxies == 2
    assert RequestGuard.from_settings(Settings.from_environ({})).active is False
    with pytest.raises(ValueError, match="KOOKOO_TRUSTED_PROXIES='two': expected a whole number"):
        Settings.from_environ({"KOOKOO_TRUSTED_PROXIES": "two"})
    with pytest.raises(ValueError, match="trusted_proxies must be 0 or more"):
        RequestGuard(trusted_proxies=-1)


def test_allow_list_admits_listed_networks_only() -> None:
    allow = IPAllowList(["203.0.113.0/24", "2001:db8::/32", "192.0.2.7"])
    assert allow.check(environ(remote="203.0.113.200")).allowed
    assert allow.check(environ(remote="2001:db8::1")).allowed
    assert allow.check(environ(remote="192.0.2.7")).allowed
    assert not allow.check(environ(remote="192.0.2.8")).allowed
    assert not allow.check(environ(remote="not-an-ip")).allowed
    # What a dual-stack socket reports for an IPv4 client.
    assert allow.check(environ(remote="::ffff:203.0.113.5")).allowed


def test_allow_list_refusal_names_the_address_and_what_the_app_saw() -> None:
    result = IPAllowList(["203.0.113.0/24"]).check(environ(remote="198.51.100.4"))
    assert (result.status, result.reason) == (403, "address")
    assert result.message == (
        "Forbidden: client 198.51.100.4 is not in allow_ips (REMOTE_ADDR 198.51.100.4; "
        "no X-Forwarded-For)."
    )


def test_allow_list_entries_are_checked() -> None:
    with pytest.raises(ValueError, match=r"'10\.0\.0\.300' is not an IP address or CIDR"):
        IPAllowList(["10.0.0.0/8", "10.0.0.300"])
    with pytest.raises(ValueError, match="at least one network"):
        IPAllowList([])
    assert IPAllowList.from_settings(Settings.from_environ({})) is None
    single = IPAllowList("203.0.113.1")
    assert [str(n) for n in single.networks] == ["203.0.113.1/32"]


def test_behind_one_proxy_the_forwarded_client_is_checked() -> None:
    guard = RequestGuard(allow_list=IPAllowList(["203.0.113.0/24"]), trusted_proxies=1)
    env = environ(remote="10.0.0.2", headers={"X-Forwarded-For": "203.0.113.9"})
    assert guard.check(env).allowed
    assert env["REMOTE_ADDR"] == "203.0.113.9"
    assert env["werkzeug.proxy_fix.orig"]["REMOTE_ADDR"] == "10.0.0.2"


def test_a_client_cannot_spoof_its_address_by_prepending_to_the_header(
    caplog: pytest.LogCaptureFixture,
) -> None:
    guard = RequestGuard(allow_list=IPAllowList(["203.0.113.0/24"]), trusted_proxies=1)
    # The attacker sends "X-Forwarded-For: 203.0.113.9"; the proxy appends the real peer.
    env = environ(remote="10.0.0.2", headers={"X-Forwarded-For": "203.0.113.9, 198.51.100.66"})
    with caplog.at_level(logging.WARNING, logger="kookoo.security"):
        result = guard.check(env)
    assert not result.allowed
    assert result.message == (
        "Forbidden: client 198.51.100.66 is not in allow_ips (REMOTE_ADDR 10.0.0.2; "
        "X-Forwarded-For '203.0.113.9, 198.51.100.66'; trusted_proxies=1)."
    )
    # One log line is enough to see what happened.
    line = caplog.records[0].getMessage()
    assert line.startswith("refused request from 198.51.100.66: Forbidden: client 198.51.100.66")


def test_proxy_mistakes_are_named_in_the_refusal() -> None:
    allow = IPAllowList(["203.0.113.0/24"])
    headers = {"X-Forwarded-For": "203.0.113.9"}
    # The proxy is there but the app trusts none: the proxy's address is refused.
    result = RequestGuard(allow_list=allow).check(environ(remote="10.0.0.2", headers=headers))
    assert result.message == (
        "Forbidden: client 10.0.0.2 is not in allow_ips (REMOTE_ADDR 10.0.0.2; X-Forwarded-For "
        "'203.0.113.9'; ignored: trusted_proxies=0)."
    )
    # Two hops trusted but only one proxy: ProxyFix ignores the header.
    result = RequestGuard(allow_list=allow, trusted_proxies=2).check(
        environ(remote="10.0.0.2", headers=headers)
    )
    assert result.message == (
        "Forbidden: client 10.0.0.2 is not in allow_ips (REMOTE_ADDR 10.0.0.2; X-Forwarded-For "
        "'203.0.113.9'; ignored: 1 hops < trusted_proxies=2)."
    )


def test_trusted_proxies_apply_forwarded_proto_and_host() -> None:
    guard = RequestGuard(trusted_proxies=1)
    env = environ(
        remote="10.0.0.2",
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "ivr.example.in"},
    )
    assert guard.check(env).allowed
    assert (env["wsgi.url_scheme"], env["HTTP_HOST"]) == ("https", "ivr.example.in")


def test_allow_list_runs_before_the_secret() -> None:
    guard = RequestGuard(SharedSecret(SECRET), IPAllowList(["203.0.113.0/24"]))
    assert guard.check(environ(remote="198.51.100.1", query=f"kk_token={SECRET}")).reason == (
        "address"
    )
    assert guard.check(environ(remote="203.0.113.1", query="")).reason == "missing"
    assert guard.check(environ(remote="203.0.113.1", query=f"kk_token={SECRET}")).allowed


def test_a_long_forwarded_chain_still_gives_a_short_body() -> None:
    chain = ", ".join(f"10.0.{i // 250}.{i % 250}" for i in range(400))
    result = RequestGuard(allow_list=IPAllowList(["203.0.113.0/24"])).check(
        environ(remote="10.9.9.9", headers={"X-Forwarded-For": chain})
    )
    body = plain_error_body(result.message)
    assert len(body) <= 201
    assert body.startswith(b"Forbidden: client 10.9.9.9 is not in allow_ips (REMOTE_ADDR 10.9.9.9")
    assert body.endswith(b"...\n")


# -- hardening ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("NewCall", "NewCall"),
        ("हिन्दी मेनू", "हिन्दी मेनू"),
        ("GotDTMF\n[CRITICAL] fake", "GotDTMF\\n[CRITICAL] fake"),
        ("a\r\nb", "a\\r\\nb"),
        ("nul\x00del\x7f", "nul\\x00del\\x7f"),
        ("c1\x85next", "c1\\x85next"),
        ("sep\u2028para\u2029", "sep\\u2028para\\u2029"),
        ("bidi\u202eevil", "bidi\\u202eevil"),
        ("tab\tend", "tab\\tend"),
        ("back\\slash\n", "back\\slash\\n"),
        ("nbsp\u00a0kept", "nbsp\u00a0kept"),
        ("unassigned/\u0380", "unassigned/\\u0380"),  # a 404 for that path said it raw
        ("zero\u200bwidth", "zero\\u200bwidth"),
        ("tag\U000e0041", "tag\\U000e0041"),
    ],
)
def test_escape_for_log(text: str, escaped: str) -> None:
    assert escape_for_log(text) == escaped


def test_escape_for_log_truncates_and_accepts_any_object() -> None:
    assert escape_for_log("x" * 300) == "x" * 200 + "...(+100 chars)"
    assert escape_for_log("x" * 300, limit=None) == "x" * 300
    assert escape_for_log(ValueError("bad\nthing")) == "bad\\nthing"


def test_plain_error_body_is_one_short_line() -> None:
    body = plain_error_body("The event 'Got\x00DTMF\r\n[CRITICAL]' is unknown. " + "A" * 5000)
    text = body.decode("utf-8")
    assert text.count("\n") == 1
    assert text.endswith("\n")
    assert len(text) == 201
    assert text.startswith("The event 'Got\\x00DTMF\\r\\n[CRITICAL]' is unknown. AAAA")
    assert text.endswith("...\n")
    assert all(c.isprintable() for c in text[:-1])
    assert plain_error_body("Namaste, नमस्ते.") == "Namaste, नमस्ते.\n".encode()


def test_error_headers_carry_nosniff() -> None:
    assert dict(ERROR_HEADERS) == {
        "Content-Type": "text/plain; charset=utf-8",
        "X-Content-Type-Options": "nosniff",
    }


# -- URL resolution -----------------------------------------------------------------------------


def test_public_url_is_the_root_whatever_the_host_header_says() -> None:
    resolver = URLResolver(public_url="https://ivr.example.in/")
    env = environ(path="/ivr/start", base_url="http://evil.example")
    assert resolver.resolve("/static/hi.wav", env) == "https://ivr.example.in/static/hi.wav"
    assert resolver.resolve("next?step=2", env) == "https://ivr.example.in/ivr/next?step=2"
    assert resolver.resolve("http://cdn.example.com/a.wav", env) == "http://cdn.example.com/a.wav"


def test_public_url_with_a_prefix_keeps_it() -> None:
    resolver = URLResolver(public_url="https://example.in/kookoo")
    env = environ(path="/ivr/start")
    assert resolver.resolve("/ivr/next", env) == "https://example.in/kookoo/ivr/next"
    assert resolver.resolve("next", env) == "https://example.in/kookoo/ivr/next"


def test_an_untrusted_host_header_is_never_used() -> None:
    env = environ(path="/ivr", base_url="http://evil.example")
    with pytest.raises(UnsafeURLError) as info:
        URLResolver().resolve("next", env)
    assert str(info.value) == (
        "cannot make a relative URL absolute: the request's host 'evil.example' is not in "
        "trusted_hosts ['localhost', '127.0.0.1', '[::1]']; set public_url= (or "
        "KOOKOO_PUBLIC_URL) to the URL KooKoo reaches this app at, or add the host to "
        "trusted_hosts="
    )
    with pytest.raises(UnsafeURLError, match=r"'evil\.example' is not in trusted_hosts"):
        URLResolver(trusted_hosts=["ivr.example.in"]).resolve("next", env)


def test_trusted_hosts_are_checked_by_werkzeug_rules() -> None:
    resolver = URLResolver(trusted_hosts=["ivr.example.in", ".calls.example.in"])
    env = environ(path="/ivr/start", base_url="https://ivr.example.in")
    assert resolver.resolve("next?step=2", env) == "https://ivr.example.in/ivr/next?step=2"
    sub = environ(path="/ivr", base_url="http://a.calls.example.in:8080")
    assert resolver.resolve("/x", sub) == "http://a.calls.example.in:8080/x"
    assert URLResolver(trusted_hosts="ivr.example.in").trusted_hosts == ("ivr.example.in",)


def test_loopback_is_trusted_by_default_for_development() -> None:
    assert DEFAULT_TRUSTED_HOSTS == ("localhost", "127.0.0.1", "[::1]")
    env = environ(path="/ivr", base_url="http://localhost:8000")
    assert URLResolver().resolve("/next", env) == "http://localhost:8000/next"


def test_a_forwarded_host_is_still_checked() -> None:
    env = environ(path="/ivr", remote="10.0.0.2", headers={"X-Forwarded-Host": "evil.example"})
    RequestGuard(trusted_proxies=1).check(env)
    with pytest.raises(UnsafeURLError, match=r"'evil\.example' is not in trusted_hosts"):
        URLResolver(trusted_hosts=["ivr.example.in"]).resolve("next", env)


@pytest.mark.parametrize(
    "url", ["//evil.example/x", "\\\\evil.example\\x", "/\\evil.example/x", " //evil.example"]
)
def test_scheme_relative_urls_are_refused(url: str) -> None:
    with pytest.raises(UnsafeURLError, match="it would send the call to another host"):
        URLResolver(public_url="https://ivr.example.in").resolve(url, environ())


def test_control_characters_in_a_url_are_refused() -> None:
    with pytest.raises(UnsafeURLError, match=r"'next\\nHost: x' holds control characters"):
        URLResolver().resolve("next\nHost: x", environ())


def test_the_query_token_is_kept_in_relative_urls() -> None:
    resolver = URLResolver(public_url="https://ivr.example.in")
    env = environ(path="/ivr/start")
    assert resolver.resolve("next?step=2", env, token=SECRET) == (
        f"https://ivr.example.in/ivr/next?step=2&kk_token={SECRET}"
    )
    assert resolver.resolve("/menu", env, token=SECRET) == (
        f"https://ivr.example.in/menu?kk_token={SECRET}"
    )
    already = f"/menu?kk_token={OLD}"
    assert resolver.resolve(already, env, token=SECRET) == f"https://ivr.example.in{already}"
    # Absolute URLs are the app's own business (a CDN must not receive the token).
    assert resolver.resolve("https://cdn.example.com/a.wav", env, token=SECRET) == (
        "https://cdn.example.com/a.wav"
    )


def test_the_path_token_is_kept_in_relative_urls() -> None:
    resolver = URLResolver(public_url="https://ivr.example.in")
    env = environ(path=f"/{SECRET}/ivr/start")
    result = SharedSecret(SECRET).check(env)
    resolve = resolver.resolve
    kwargs: dict[str, Any] = {"path": result.path, "token": result.token, "token_in_path": True}
    assert resolve("/ivr/next", env, **kwargs) == f"https://ivr.example.in/{SECRET}/ivr/next"
    assert resolve("next", env, **kwargs) == f"https://ivr.example.in/{SECRET}/ivr/next"


def test_the_script_root_is_kept_without_public_url() -> None:
    env = environ(path="/start", base_url="http://localhost/app")
    assert env["SCRIPT_NAME"] == "/app"
    assert URLResolver().resolve("/next", env) == "http://localhost/app/next"
    assert URLResolver().resolve("next", env) == "http://localhost/app/next"


def test_public_url_is_validated_and_read_from_the_environment() -> None:
    for bad in ("ivr.example.in", "ftp://x.in", "https://x.in/?a=1", "https://"):
        with pytest.raises(ValueError, match="public_url"):
            URLResolver(public_url=bad)
    env = {"KOOKOO_PUBLIC_URL": "https://ivr.example.in", "KOOKOO_TRUSTED_HOSTS": "a.in, b"}
    resolver = URLResolver.from_settings(Settings.from_environ(env))
    assert resolver.public_url == "https://ivr.example.in"
    assert resolver.trusted_hosts == ("a.in", "b")
    default = URLResolver.from_settings(Settings.from_environ({}))
    assert default.trusted_hosts == DEFAULT_TRUSTED_HOSTS


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://x.in/n", f"https://x.in/n?kk_token={SECRET}"),
        ("https://x.in/n?", f"https://x.in/n?kk_token={SECRET}"),
        ("https://x.in/n?a=1", f"https://x.in/n?a=1&kk_token={SECRET}"),
        ("https://x.in/n?a=1#f", f"https://x.in/n?a=1&kk_token={SECRET}#f"),
        ("https://x.in/n?kk_token=z", "https://x.in/n?kk_token=z"),
        ("https://x.in/n?a=1&kk_token=z", "https://x.in/n?a=1&kk_token=z"),
        ("https://x.in/n?xkk_token=z", f"https://x.in/n?xkk_token=z&kk_token={SECRET}"),
    ],
)
def test_with_token(url: str, expected: str) -> None:
    assert with_token(url, SECRET) == expected


def test_a_path_token_is_stripped_even_when_the_query_has_one_too() -> None:
    result = SharedSecret(SECRET).check(environ(path=f"/{SECRET}/ivr", query=f"kk_token={SECRET}"))
    assert (result.allowed, result.path, result.token_in_path) == (True, "/ivr", True)
    # A short first segment is never compared (it cannot be a secret).
    assert SharedSecret(SECRET).check(environ(path="/ivr/x", query=f"kk_token={SECRET}")).path == (
        "/ivr/x"
    )


@pytest.mark.parametrize(
    ("query", "rest"),
    [
        (f"kk_token={SECRET}", ""),
        (f"kk_token={SECRET}&a=1", "a=1"),
        (f"a=1&kk_token={SECRET}", "a=1"),
        (f"a=1&kk_token={SECRET}&b=2", "a=1&b=2"),
        (f"a=1&kk_token={SECRET}&kk_token=x", "a=1&kk_token=x"),
    ],
)
def test_the_checked_token_pair_is_cut_from_the_query(query: str, rest: str) -> None:
    assert SharedSecret(SECRET).check(environ(query=query)).query == rest


def test_a_path_token_leaves_the_query_alone() -> None:
    assert SharedSecret(SECRET).check(environ(path=f"/{SECRET}/x", query="a=1")).query is None
