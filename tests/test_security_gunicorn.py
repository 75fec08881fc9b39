"""The shared secret under real ``gunicorn -w 2`` with ``KOOKOO_SECRET`` set: refused without
the token, served with it; the simulator and ``kookoo call URL`` work against it unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
from servers import gunicorn, http_get

from kookoo.cli import main
from kookoo.testing import Simulator

SECRET = "gunicorn-Secret_0123456789"
SID = "1104528084461170"


@pytest.mark.gunicorn
def test_secret_under_gunicorn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {
        "KOOKOO_DB": str(tmp_path / "calls.sqlite3"),
        "KOOKOO_SECRET": f"{SECRET},older-Secret_0123456789",
    }
    with gunicorn("examples.menu:app", workers=2, env=env) as (base, _):
        status, ctype, body = http_get(f"{base}/?event=NewCall&sid={SID}&cid=09876543210")
        assert (status, ctype) == (403, "text/plain; charset=utf-8")
        assert body == (
            b"Forbidden: this app needs its secret token, as the kk_token query parameter or the "
            b"first path segment, and the request carries none.\n"
        )
        status, _, body = http_get(f"{base}/?event=NewCall&sid={SID}&kk_token=nope")
        assert (status, body) == (
            403,
            b"Forbidden: the kk_token in this request is not one of this app's secrets.\n",
        )
        status, ctype, body = http_get(f"{base}/?event=NewCall&sid={SID}&kk_token={SECRET}")
        assert (status, ctype) == (200, "text/xml; charset=utf-8")
        assert b"Welcome to Acme" in body
        # The rotated-out secret still works while it is listed; in the path as well.
        status, _, body = http_get(
            f"{base}/older-Secret_0123456789/?event=GotDTMF&sid={SID}&data=1"
        )
        assert status == 200
        assert b"For sales press 1" in body

        # The simulator takes the token from KOOKOO_SECRET, as `kookoo call` does.
        monkeypatch.setenv("KOOKOO_SECRET", SECRET)
        call = Simulator(base + "/", seed=3).call().press("1")
        assert call.turns[0].url.startswith(f"{base}/?kk_token={SECRET}&event=NewCall&sid=")
        assert all(t.status == 200 for t in call.turns)
        assert call.last_heard == [
            "For sales press 1. For support press 2. To hear our address press 3."
        ]
        monkeypatch.delenv("KOOKOO_SECRET")
        assert main(["call", base + "/", "--secret", SECRET, "--press", "1", "--hangup"]) == 0
        assert "For sales press 1" in capsys.readouterr().out
        assert main(["call", base + "/", "--press", "1"]) != 0
        assert "403" in capsys.readouterr().err
