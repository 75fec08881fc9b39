"""Signed, expiring stream tokens."""

from __future__ import annotations

import base64
import json

import pytest

from kookoo.stream import (
    TOKEN_KEY,
    StreamToken,
    StreamTokenError,
    sign_stream_token,
    stream_uui,
    verify_stream_token,
)

SECRET = "test-secret"


def token(**overrides: object) -> str:
    args: dict[str, object] = {"sid": "3341", "handler": "echo", "now": 1000.0}
    args.update(overrides)
    return sign_stream_token(SECRET, **args)  # type: ignore[arg-type]


def reason(value: object, *, sid: str | None = "3341", now: float = 1001.0, **kw: str) -> str:
    with pytest.raises(StreamTokenError) as info:
        verify_stream_token(SECRET, value, sid=sid, now=now, **kw)
    return info.value.reason


def test_valid_token() -> None:
    assert verify_stream_token(SECRET, token(), sid="3341", handler="echo", now=1299.9) == (
        StreamToken(sid="3341", handler="echo", expires_at=1300.0)
    )
    assert verify_stream_token(SECRET.encode(), token(), sid="3341", now=1001) == StreamToken(
        "3341", "echo", 1300.0
    )


def test_refusals_have_reasons_and_clear_messages() -> None:
    assert reason(token(), now=1300.0) == "expired"
    assert reason(token(), sid="9999") == "sid"
    assert reason(token(), sid=None) == "sid"
    assert reason(token(), handler="other") == "handler"
    assert reason(None) == "missing"
    assert reason("") == "missing"
    assert reason(42) == "malformed"
    assert reason("v2.a.b") == "malformed"
    assert reason("v2.@@@.b") == "malformed"
    assert reason(sign_stream_token("s3cret", sid="1", handler="h").replace("v2.", "v1.", 1)) == (
        "malformed"
    )  # a token of the format before the one signing primitive
    with pytest.raises(StreamTokenError, match="for handler 'echo', not 'other'"):
        verify_stream_token(SECRET, token(), sid="3341", handler="other", now=1001)
    with pytest.raises(StreamTokenError, match=r"expired 5 s ago"):
        verify_stream_token(SECRET, token(), sid="3341", now=1305)


def test_other_secret_or_tampering_is_refused() -> None:
    good = token()
    with pytest.raises(StreamTokenError, match="signature does not match") as info:
        verify_stream_token("other", good, sid="3341", now=1001)
    assert info.value.reason == "signature"
    # Re-sign nothing, change the payload: the MAC no longer matches.
    version, payload, mac = good.split(".")
    forged = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged["s"] = "9999"
    body = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    assert reason(f"{version}.{body}.{mac}", sid="9999") == "signature"
    # A changed MAC is refused.
    assert reason(good[:-2] + ("AA" if good[-2:] != "AA" else "BB")) == "signature"


def test_signing_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        sign_stream_token("", sid="1", handler="h")
    with pytest.raises(ValueError, match="sid must not be empty"):
        sign_stream_token(SECRET, sid="", handler="h")
    with pytest.raises(ValueError, match="handler must not be empty"):
        sign_stream_token(SECRET, sid="1", handler="")
    with pytest.raises(ValueError, match="expires_in must be positive"):
        sign_stream_token(SECRET, sid="1", handler="h", expires_in=0)


def test_stream_uui_carries_data_sid_and_token() -> None:
    uui = json.loads(stream_uui(SECRET, sid="3341", handler="echo", data={"lang": "hi"}, now=0))
    assert set(uui) == {"lang", "sid", TOKEN_KEY}
    assert uui["lang"] == "hi"
    assert uui["sid"] == "3341"
    assert verify_stream_token(SECRET, uui[TOKEN_KEY], sid="3341", now=1).handler == "echo"
    # data cannot override the sid or the token
    uui = json.loads(
        stream_uui(SECRET, sid="1", handler="h", data={"sid": "2", TOKEN_KEY: "x"}, now=0)
    )
    assert uui["sid"] == "1"
    assert uui[TOKEN_KEY] != "x"


def test_token_is_short() -> None:
    assert len(sign_stream_token(SECRET, sid="21275806501458167", handler="echo")) < 130


def test_a_token_verifies_under_any_active_secret_rotation() -> None:
    token = sign_stream_token("old-secret-0123456789", sid="1", handler="h", now=0.0)
    rotated = ["new-secret-0123456789", "old-secret-0123456789"]
    found = verify_stream_token(rotated, token, sid="1", now=1.0)
    assert (found.sid, found.handler) == ("1", "h")
    with pytest.raises(StreamTokenError, match="signature"):
        verify_stream_token(["new-secret-0123456789"], token, sid="1", now=1.0)
    fresh = sign_stream_token(rotated, sid="1", handler="h", now=0.0)  # the first one signs
    assert verify_stream_token("new-secret-0123456789", fresh, sid="1", now=1.0).sid == "1"
