"""kookoo.web.metrics: Prometheus series, counted alone and added up over processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kookoo.web.metrics import MULTIPROC_VARIABLE, Metrics


def _samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_one_process_counts_requests_fallbacks_store_errors_and_live_calls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(MULTIPROC_VARIABLE, raising=False)
    metrics = Metrics()
    assert metrics.multiprocess_dir is None
    metrics.observe("NewCall", 200, 0.002)
    metrics.observe("NewCall", 200, 0.004)
    metrics.observe("-", 403, 0.0001)
    metrics.fallback()
    metrics.store_error()
    metrics.call_started()
    metrics.call_started()
    metrics.call_ended()
    got = _samples(metrics.render())
    assert got[("kookoo_requests_total", (("event", "NewCall"), ("status", "200")))] == 2
    assert got[("kookoo_requests_total", (("event", "-"), ("status", "403")))] == 1
    assert got[("kookoo_request_seconds_count", (("event", "NewCall"),))] == 2
    assert got[("kookoo_request_seconds_sum", (("event", "NewCall"),))] == pytest.approx(0.006)
    assert got[("kookoo_request_seconds_bucket", (("event", "NewCall"), ("le", "0.0025")))] == 1
    assert got[("kookoo_fallbacks_total", ())] == 1
    assert got[("kookoo_store_errors_total", ())] == 1
    assert got[("kookoo_live_calls", ())] == 1


def test_two_apps_in_one_process_do_not_collide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MULTIPROC_VARIABLE, raising=False)
    first, second = Metrics(), Metrics()
    first.observe("NewCall", 200, 0.001)
    assert ("kookoo_requests_total", (("event", "NewCall"), ("status", "200"))) not in _samples(
        second.render()
    )


def test_a_missing_multiprocess_directory_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MULTIPROC_VARIABLE, str(tmp_path / "absent"))
    with pytest.raises(ValueError, match=r"PROMETHEUS_MULTIPROC_DIR=.*absent.*not a writable"):
        Metrics()


_WORKER = textwrap.dedent(
    """
    import sys
    from kookoo.web.metrics import Metrics

    metrics = Metrics()
    for _ in range(int(sys.argv[1])):
        metrics.observe("GotDTMF", 200, 0.003)
    metrics.call_started()
    if sys.argv[2] == "end":
        metrics.call_ended()
        metrics.call_ended()
    metrics.fallback()
    """
)


def test_processes_add_up_in_multiprocess_mode(tmp_path: Path) -> None:
    env = {**os.environ, MULTIPROC_VARIABLE: str(tmp_path)}
    for count, end in ((3, "start"), (4, "end")):
        subprocess.run([sys.executable, "-c", _WORKER, str(count), end], env=env, check=True)
    scrape = (
        "import sys; from kookoo.web.metrics import Metrics; "
        "sys.stdout.buffer.write(Metrics().render())"
    )
    out = subprocess.run(
        [sys.executable, "-c", scrape], env=env, check=True, capture_output=True
    ).stdout
    got = _samples(out)
    assert got[("kookoo_requests_total", (("event", "GotDTMF"), ("status", "200")))] == 7
    assert got[("kookoo_request_seconds_count", (("event", "GotDTMF"),))] == 7
    assert got[("kookoo_fallbacks_total", ())] == 2
    # Started in both processes, ended twice in the second: the sum over processes, even
    # those that exited.
    assert got[("kookoo_live_calls", ())] == 0
