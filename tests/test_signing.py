"""kookoo.web.signing: app parameters carried in URLs, signed so they come back unchanged."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from werkzeug.test import EnvironBuilder

from kookoo.web.security import SharedSecret
from kookoo.web.signing import SignatureError, signed_url, verify_signed

SECRET = "s3cr3t-Token_0123456789"
OLD = "old-secret.0123456789~"
NOW = 1_750_000_000.0


def kookoo_request(url: str, kookoo_params: str = "event=GotDTMF&sid=77&data=1") -> dict[str, str]:
    """What the app's pipeline sees when KooKoo requests ``url`` with its own parameters
    appended (protocol.md §1): the first value of each name, from a real WSGI environ."""
    query = urlsplit(url).query
    path = urlsplit(url).path or "/"
    builder = EnvironBuilder(path=path, query_string=f"{query}&{kookoo_params}")
    try:
        raw = builder.get_environ()["QUERY_STRING"]
    finally:
        builder.close()
    params: dict[str, str] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        params.setdefault(key, value)
    return params


def test_signed_parameters_survive_kookoo_adding_its_own() -> None:
    url = signed_url("/ivr/account", account="42", lang="hi", secret=SECRET, include_token=False)
    assert url.startswith("/ivr/account?account=42&lang=hi&kk_params=account,lang&kk_sig=")
    params = kookoo_request(url)
    assert params["event"] == "GotDTMF"
    assert params["data"] == "1"
    assert verify_signed(params, secret=SECRET) == {"account": "42", "lang": "hi"}


def test_the_url_carries_the_token_by_default() -> None:
    url = signed_url("https://ivr.example.in/ivr/callback", account=42, secret=SECRET)
    assert url.endswith(f"&kk_token={SECRET}")
    params = kookoo_request(url, "status=answered&sid=9")
    assert params["kk_token"] == SECRET
    assert verify_signed(params, secret=SECRET) == {"account": "42"}


def test_an_existing_query_is_kept_but_not_signed() -> None:
    url = signed_url("/ivr?route=a", account="1", secret=SECRET, include_token=False)
    params = kookoo_request(url)
    assert params["route"] == "a"
    assert verify_signed(params, secret=SECRET) == {"account": "1"}


def test_values_with_reserved_characters_round_trip() -> None:
    value = "a&b=c d+é\n#?"
    url = signed_url("/x", note=value, secret=SECRET, include_token=False)
    assert verify_signed(kookoo_request(url), secret=SECRET) == {"note": value}


def test_a_changed_value_is_tampered() -> None:
    url = signed_url("/ivr/account", account="42", secret=SECRET, include_token=False)
    params = kookoo_request(url.replace("account=42", "account=43"))
    with pytest.raises(SignatureError) as info:
        verify_signed(params, secret=SECRET)
    assert info.value.reason == "tampered"
    assert str(info.value) == (
        "the signature does not match parameters account: they were changed, or signed with a "
        "secret that is no longer active"
    )


def test_a_prepended_value_wins_the_parse_and_so_fails() -> None:
    url = signed_url("/ivr/account", account="42", secret=SECRET, include_token=False)
    forged = url.replace("?", "?account=43&", 1)
    with pytest.raises(SignatureError, match="does not match"):
        verify_signed(kookoo_request(forged), secret=SECRET)


def test_a_removed_parameter_is_named() -> None:
    url = signed_url("/x", account="42", lang="hi", secret=SECRET, include_token=False)
    with pytest.raises(SignatureError, match="signed parameter 'lang' is missing") as info:
        verify_signed(kookoo_request(url.replace("lang=hi&", "")), secret=SECRET)
    assert info.value.reason == "tampered"


def test_dropping_a_name_from_the_list_breaks_the_signature() -> None:
    url = signed_url("/x", account="42", lang="hi", secret=SECRET, include_token=False)
    with pytest.raises(SignatureError, match="does not match parameters account"):
        verify_signed(
            kookoo_request(url.replace("kk_params=account,lang", "kk_params=account")),
            secret=SECRET,
        )


def test_values_cannot_be_shifted_between_names() -> None:
    # Without an unambiguous encoding a="1\nb=2", b="3" and a="1", b="2\nb=3" could collide.
    one = kookoo_request(signed_url("/x", a="1\nb=2", b="3", secret=SECRET, include_token=False))
    two = kookoo_request(signed_url("/x", a="1", b="2\nb=3", secret=SECRET, include_token=False))
    assert one["kk_sig"] != two["kk_sig"]
    one["a"], one["b"] = two["a"], two["b"]
    with pytest.raises(SignatureError, match="does not match"):
        verify_signed(one, secret=SECRET)


def test_unsigned_and_malformed_requests_are_told_apart() -> None:
    with pytest.raises(SignatureError, match="carries no signed app parameters") as info:
        verify_signed({"account": "42", "event": "GotDTMF"}, secret=SECRET)
    assert info.value.reason == "unsigned"
    with pytest.raises(SignatureError, match="need both kk_sig and kk_params") as info:
        verify_signed({"account": "42", "kk_sig": "abc"}, secret=SECRET)
    assert info.value.reason == "malformed"
    with pytest.raises(SignatureError, match="not a sorted name list") as info:
        verify_signed({"b": "1", "a": "2", "kk_params": "b,a", "kk_sig": "x"}, secret=SECRET)
    assert info.value.reason == "malformed"
    with pytest.raises(SignatureError, match="kk_exp is not a unix time"):
        verify_signed({"a": "1", "kk_params": "a", "kk_sig": "x", "kk_exp": "soon"}, secret=SECRET)


def test_expiry_is_signed_and_enforced() -> None:
    url = signed_url(
        "/x", account="42", secret=SECRET, expires_in=600, now=NOW, include_token=False
    )
    params = kookoo_request(url)
    assert params["kk_exp"] == str(int(NOW + 600))
    assert verify_signed(params, secret=SECRET, now=NOW + 600) == {"account": "42"}
    with pytest.raises(SignatureError, match="the signed URL expired 1 s ago") as info:
        verify_signed(params, secret=SECRET, now=NOW + 601)
    assert info.value.reason == "expired"
    # Moving the expiry breaks the signature rather than extending it.
    params["kk_exp"] = str(int(NOW + 6000))
    with pytest.raises(SignatureError, match="does not match"):
        verify_signed(params, secret=SECRET, now=NOW + 601)


def test_rotation_signs_with_the_first_and_accepts_every_active_secret() -> None:
    old_url = signed_url("/x", account="42", secret=OLD, include_token=False)
    assert verify_signed(kookoo_request(old_url), secret=[SECRET, OLD]) == {"account": "42"}
    assert verify_signed(kookoo_request(old_url), secret=SharedSecret([SECRET, OLD])) == {
        "account": "42"
    }
    with pytest.raises(SignatureError, match="no longer active"):
        verify_signed(kookoo_request(old_url), secret=SECRET)
    new_url = signed_url("/x", account="42", secret=[SECRET, OLD], include_token=False)
    assert verify_signed(kookoo_request(new_url), secret=SECRET) == {"account": "42"}


def test_signature_does_not_equal_the_token() -> None:
    params = kookoo_request(signed_url("/x", a="1", secret=SECRET))
    assert params["kk_sig"] != SECRET
    assert len(params["kk_sig"]) == 22


@pytest.mark.parametrize("name", ["sid", "data", "event", "cid", "kk_token", "kk_x", "_a", "a-b"])
def test_names_that_would_clash_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match=f"parameter name '{name}' cannot be used"):
        # A name mypy cannot tell apart from the typed keywords (expires_in, include_token, ...).
        signed_url("/x", secret=SECRET, **{name: "1"})  # type: ignore[arg-type]


def test_bad_values_and_urls_are_refused() -> None:
    with pytest.raises(TypeError, match="flag must be a str or int, not bool"):
        signed_url("/x", flag=True, secret=SECRET)
    with pytest.raises(TypeError, match="ratio must be a str or int, not float"):
        signed_url("/x", ratio=0.5, secret=SECRET)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one app parameter"):
        signed_url("/x", secret=SECRET)
    with pytest.raises(ValueError, match="has a fragment"):
        signed_url("/x#frag", a="1", secret=SECRET)
    with pytest.raises(ValueError, match="at least 16 characters"):
        signed_url("/x", a="1", secret="short")


def test_urls_signed_before_the_one_signing_primitive_still_verify() -> None:
    """The URL signature kept its key (a fixed vector made by the code before the change)."""
    url = (
        "/ivr/account?account=42&name=Asha&kk_exp=1700000600&kk_params=account,name"
        "&kk_sig=UXd38YnlyafmZXXtNrmu5Q&kk_token=0123456789abcdef-secret"
    )
    made = signed_url(
        "/ivr/account",
        account="42",
        name="Asha",
        secret="0123456789abcdef-secret",
        expires_in=600,
        now=1700000000,
    )
    assert made == url
    params = dict(pair.split("=", 1) for pair in url.split("?", 1)[1].split("&"))
    verified = verify_signed(params, secret="0123456789abcdef-secret", now=1700000001)
    assert verified == {"account": "42", "name": "Asha"}


def test_a_url_signature_is_no_stream_token_signature_and_back() -> None:
    from kookoo.core.signing import Signer

    secret = "0123456789abcdef-secret"
    url = Signer([secret], purpose="signed app parameters", size=16)
    stream = Signer([secret], purpose="stream token v2", size=16)
    assert url.sign(b"payload") != stream.sign(b"payload")
    assert not stream.verify(b"payload", url.sign(b"payload"))
    rotated = Signer(["new-0123456789abcdef", secret], purpose="stream token v2", size=16)
    assert rotated.verify(b"payload", stream.sign(b"payload"))  # an older secret still verifies


def test_a_signature_verifies_in_one_spelling_only() -> None:
    url = signed_url("/x", account="42", secret=SECRET, include_token=False)
    params = dict(pair.split("=", 1) for pair in url.split("?", 1)[1].split("&"))
    assert verify_signed(params, secret=SECRET) == {"account": "42"}
    sig = params["kk_sig"]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    spellings = [sig[:-1] + c for c in alphabet if c != sig[-1]] + [sig + "==", sig + " "]
    for other in spellings:  # 16 of these decode to the same bytes leniently
        with pytest.raises(SignatureError, match="does not match"):
            verify_signed({**params, "kk_sig": other}, secret=SECRET)
