"""``python -m benchmarks``: kookoo side by side with the alternatives, in one run.

Parts: 1 builder, 2 one request in-process, 3 call state, 4 served by gunicorn, 5 flow replay,
6 memory.  Prints one table; ``--json FILE`` also writes every measurement and a ``"targets"``
object (see :data:`benchmarks.report.TARGET_HELP`).  Speed is measured here, never in tests.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import cases
from benchmarks.report import TARGET_HELP, TARGET_LIMITS, Table, fmt_bytes, target
from benchmarks.runner import Settings, Timing, measure_group

PARTS = (1, 2, 3, 4, 5, 6, 7)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=(
            "Benchmark kookoo against hand-written Werkzeug + lxml, Flask + twilio-python, "
            "Flask + plivo and a raw WSGI floor, all in one run on this machine. "
            "Comparisons need `pip install 'kookoo[bench]'`; wrk and redis-server are used "
            "when installed."
        ),
    )
    parser.add_argument("--quick", action="store_true", help="a short run (about a minute)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    parser.add_argument(
        "--parts",
        default=",".join(map(str, PARTS)),
        help="comma-separated parts to run (default: all): 1 builder, 2 request, "
        "3 call state, 4 served, 5 flow, 6 memory, 7 SQLite and Redis at 1 k / 100 k (/ 1 M) "
        "calls",
    )
    return parser


def _timings_json(timings: dict[str, Timing]) -> list[dict[str, Any]]:
    return [t.as_json() for t in timings.values()]


def _ratio(timings: dict[str, Timing], num: str, den: str) -> float | str:
    if num not in timings or den not in timings:
        missing = ", ".join(cases.missing_comparisons()) or "a comparison"
        return f"skipped: {missing} not installed"
    return timings[num].median_ns / timings[den].median_ns


# The state cases that others are compared with (no state), and cases that stand alone.
_STATE_BASES = ("state.none", "state.dtmf_none", "state.dtmf_werkzeug")
_STATE_ALONE = ("state.redis_ping", "state.sqlite_commit")


def _state_base(key: str) -> str:
    """The case without state that state case ``key`` is compared with."""
    if key.startswith("state.dtmf_werkzeug"):
        return "state.dtmf_werkzeug"
    return "state.dtmf_none" if key.startswith("state.dtmf_") else "state.none"


def _verdict(entry: dict[str, Any], limit_text: str) -> str:
    if isinstance(entry["value"], str):
        return f"target {limit_text}: {entry['value']}"
    return f"target {limit_text}: {'met' if entry['met'] else 'MISSED'}"


def main(argv: list[str] | None = None) -> int:
    """Run the selected parts, print the table, write the JSON; exit status 0."""
    args = _parser().parse_args(argv)
    # kookoo apps log one INFO line per request by default (kookoo.web.logs), and the
    # hand-written apps the same line (benchmarks.apps.request_log): in-process, both logs
    # stay off, as a logging config of the user's would turn them off. Served (gunicorn),
    # both write their line to the server's stderr.
    logging.getLogger("kookoo").setLevel(logging.WARNING)
    logging.getLogger("handwritten").setLevel(logging.WARNING)
    try:
        parts = {int(p) for p in args.parts.split(",") if p.strip()}
    except ValueError:
        _parser().error(f"--parts takes numbers from {PARTS}, got {args.parts!r}")
    settings = Settings.quick() if args.quick else Settings.full()
    started = time.monotonic()
    missing = cases.missing_comparisons()
    from benchmarks.served import load_tool

    meta: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "settings": {
            "rounds": settings.rounds,
            "round_seconds": settings.round_seconds,
            "served_rounds": settings.served_rounds,
            "served_seconds": settings.served_seconds,
        },
        "missing_comparisons": missing,
        "load_tool": load_tool(),
        "versions": _versions(),
        "targets_help": TARGET_HELP,
    }
    results: dict[str, Any] = {}
    targets: dict[str, dict[str, Any]] = {}
    table = Table()
    table.lines.append(
        f"kookoo benchmarks ({meta['mode']}): Python {meta['python']}, {meta['cpus']} CPUs, "
        f"{platform.system()} {platform.machine()}"
    )
    table.lines.append(
        f"median of {settings.rounds} interleaved rounds per case; spread = (max - min) / median; "
        "ratio = kookoo ÷ comparison (time: < 1 means kookoo is faster)"
    )
    if missing:
        table.lines.append(f"comparisons skipped, not installed: {', '.join(missing)}")
    columns = f"  {'case':<34}{'median':>12}{'spread':>12}{'ratio':>12}"

    with tempfile.TemporaryDirectory(prefix="kookoo-bench-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)

        # 1. builder
        if 1 in parts:
            builder = measure_group(cases.builder_cases(), settings)
            results["builder"] = _timings_json(builder)
            value = _ratio(builder, "builder.kookoo", "builder.lxml")
            targets["builder_vs_lxml"] = target(value, 1.25, at_most=True)
            table.section("1. Builder: build and serialise the menu document", columns)
            table.timings(
                builder,
                "builder.kookoo",
                {"builder.lxml": _verdict(targets["builder_vs_lxml"], "<= 1.25x")},
            )

        # 2. one request in-process
        if 2 in parts:
            request = measure_group(cases.request_cases(), settings)
            results["request"] = _timings_json(request)
            targets["request_vs_werkzeug"] = target(
                _ratio(request, "request.kookoo", "request.werkzeug"), 1.2, at_most=True
            )
            targets["request_vs_flask_twilio"] = target(
                _ratio(request, "request.flask_twilio", "request.kookoo"), 3.5, at_most=False
            )
            secret_us = (
                request["request.kookoo_secret"].median_ns - request["request.kookoo"].median_ns
            ) / 1000
            targets["secret_overhead_us"] = target(secret_us, 3.0, at_most=True)
            table.section(
                "2. One request in-process (WSGI call, no socket): NewCall -> menu", columns
            )
            table.timings(
                request,
                "request.kookoo",
                {
                    "request.werkzeug": _verdict(targets["request_vs_werkzeug"], "<= 1.20x"),
                    "request.flask_twilio": _verdict(
                        targets["request_vs_flask_twilio"], "<= 0.29x (3.5x faster)"
                    ),
                    "request.kookoo_secret": f"+{secret_us:.2f} µs; "
                    + _verdict(targets["secret_overhead_us"], "<= +3 µs"),
                },
            )

        # 3. call state
        if 3 in parts:
            trips: dict[str, float] = {}
            state_cases, skipped = cases.state_cases(stack, workdir, trips)
            state = measure_group(state_cases, settings)
            overhead = {
                k: (t.median_ns - state[_state_base(k)].median_ns) / 1000
                for k, t in state.items()
                if k not in _STATE_BASES and k not in _STATE_ALONE
            }
            commit_us = state["state.sqlite_commit"].median_ns / 1000
            by_hand = _ratio(state, "state.dtmf_sqlite", "state.dtmf_werkzeug_sqlite")
            results["state"] = {
                "cases": _timings_json(state),
                "overhead_us_over_no_state": overhead,
                "skipped": skipped,
                "redis_commands_per_dtmf": trips,
                "sqlite_commit_us": commit_us,
                "sqlite_vs_handwritten": by_hand,
            }
            targets["sqlite_state_overhead_us"] = target(
                overhead["state.dtmf_sqlite"], 25.0, at_most=True
            )
            targets["memory_state_overhead_us"] = target(
                overhead["state.dtmf_memory"], 15.0, at_most=True
            )
            if "warm" in trips:
                targets["redis_round_trips_warm"] = target(trips["warm"], 1.0, at_most=True)
            else:
                targets["redis_round_trips_warm"] = target(
                    skipped.get("state.redis", "not run"), 1.0, at_most=True
                )
            notes = {k: f"+{v:.1f} µs over no state" for k, v in overhead.items()}
            notes["state.dtmf_sqlite"] += (
                f" (SQLite's UPDATE + commit alone: {commit_us:.1f} µs); "
                + _verdict(targets["sqlite_state_overhead_us"], "<= +25 µs")
            )
            notes["state.dtmf_werkzeug_sqlite"] += (
                " by hand (SELECT + UPDATE, stdlib json); kookoo + SQLite takes "
                + (f"{by_hand:.2f}x its time" if isinstance(by_hand, float) else by_hand)
            )
            notes["state.sqlite_commit"] = "the floor of any save to a shared SQLite file"
            notes["state.dtmf_memory"] += "; " + _verdict(
                targets["memory_state_overhead_us"], "<= +15 µs"
            )
            if "state.redis_ping" in state:
                ping = state["state.redis_ping"].median_ns
                for key in ("state.redis", "state.dtmf_redis"):
                    if key in state:
                        count = overhead[key] * 1000 / ping
                        results["state"][f"{key}_overhead_in_round_trips"] = count
                        notes[key] += f" = {count:.1f} PINGs"
            if "warm" in trips:
                notes["state.dtmf_redis"] += (
                    f"; {trips['warm']:.1f} commands warm, {trips['cold']:.1f} cold"
                )
            table.section(
                "3. Call state: NewCall (new sid) and GotDTMF (a live call this process "
                "served last), kookoo with each store",
                columns,
            )
            table.timings(state, "state.none", notes)
            for key, reason in skipped.items():
                table.row(key.replace("state.", "kookoo + ").replace("redis", "RedisStore"), reason)
            stack.close()

        # 4. served
        if 4 in parts:
            _served(settings, workdir, results, targets, table, missing)

        # 5. flow
        if 5 in parts:
            flow = measure_group(cases.flow_cases(), settings)
            results["flow"] = _timings_json(flow)
            last_ms = flow["flow.last_step"].median_ns / 1e6
            targets["flow_last_step_ms"] = target(last_ms, 1.0, at_most=True)
            targets["flow_step_200_ms"] = target(
                flow["flow.kept_step_200"].median_ns / 1e6, 0.15, at_most=True
            )
            table.section(
                "5. Flows (MemoryStore): the last request of a 50-step flow replayed; "
                "steps 200-220 of a live flow the worker keeps",
                columns,
            )
            table.timings(
                flow,
                "flow.last_step",
                {
                    "flow.last_step": _verdict(targets["flow_last_step_ms"], "<= 1 ms"),
                    "flow.kept_step_200": _verdict(targets["flow_step_200_ms"], "<= 0.15 ms"),
                },
            )

        # 6. memory
        if 6 in parts:
            _memory(settings, workdir, results, table)

        # 7. SQLite at scale
        if 7 in parts:
            _scale(args.quick, workdir, results, targets, table)

    # Every target key is always present, so a partial run still has the documented shape.
    for key, limit, at_most in TARGET_LIMITS:
        targets.setdefault(key, target("not run", limit, at_most=at_most))
    table.section("Targets", f"  {'key':<34}{'value':>12}{'limit':>12}{'met':>12}")
    for key, entry in targets.items():
        value = entry["value"]
        shown = f"{value:.2f}" if not isinstance(value, str) else value
        table.row(key, shown, f"{entry['limit']:g}", "yes" if entry["met"] else "NO")
    meta["seconds"] = round(time.monotonic() - started, 1)
    table.lines.append("")
    table.lines.append(f"finished in {meta['seconds']} s")
    print(table)
    if args.json:
        document = {"meta": meta, "results": results, "targets": targets}
        Path(args.json).write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return 0


def _served(
    settings: Settings,
    workdir: Path,
    results: dict[str, Any],
    targets: dict[str, dict[str, Any]],
    table: Table,
    missing: list[str],
) -> None:
    import importlib.util

    from benchmarks.served import CONNECTIONS, WORKERS, run_served

    title = "4. Served: gunicorn -w 2, loopback load"
    if importlib.util.find_spec("gunicorn") is None:
        reason = "skipped: gunicorn not installed"
        results["served"] = {"skipped": reason}
        targets["served_vs_werkzeug"] = target(reason, 0.9, at_most=False)
        table.section(title)
        table.note(reason)
        return
    apps = [
        ("served.kookoo", "kookoo (no state)", "benchmarks.apps:kookoo_app"),
        ("served.werkzeug", "hand-written Werkzeug + lxml", "benchmarks.apps:werkzeug_app"),
    ]
    if not missing:
        apps.append(
            ("served.flask_twilio", "Flask + twilio", "benchmarks.thirdparty:flask_twilio_app")
        )
    rows, tool = run_served(
        apps, rounds=settings.served_rounds, seconds=settings.served_seconds, workdir=workdir
    )
    by_key = {r.key: r for r in rows}
    value = by_key["served.kookoo"].rps / by_key["served.werkzeug"].rps
    targets["served_vs_werkzeug"] = target(value, 0.9, at_most=False)
    load = (
        f"wrk -t1 -c{CONNECTIONS}"
        if tool == "wrk"
        else f"Python load generator, {CONNECTIONS} threads"
    )
    results["served"] = {
        "workers": WORKERS,
        "load": load,
        "runs_per_app": settings.served_rounds,
        "seconds_per_run": settings.served_seconds,
        "apps": [r.as_json() for r in rows],
    }
    table.section(
        f"{title} ({load}; median of {settings.served_rounds} runs of "
        f"{settings.served_seconds:g} s per app)",
        f"  {'case':<34}{'req/s':>12}{'spread':>12}{'p50':>12}{'p99':>12}{'ratio':>12}",
    )
    table.served(rows, "served.kookoo")
    table.note(
        f"kookoo req/s ÷ Werkzeug req/s = {value:.2f}; "
        + _verdict(targets["served_vs_werkzeug"], ">= 0.90")
    )

    from benchmarks.served_state import served_state_cpu

    state = served_state_cpu(workdir, rounds=settings.served_rounds, requests=3000)
    results["served_state"] = state
    targets["served_sqlite_cpu_overhead_us"] = target(
        state["sqlite_cpu_overhead_us"], 60.0, at_most=True
    )
    cpu, p99 = state["median_cpu_us"], state["median_p99_ms"]
    table.note(
        f"server CPU per request (calls of NewCall + 4 GotDTMF, Python load, 4 connections): "
        f"no state {cpu['none']:.0f} µs, SQLite {cpu['sqlite']:.0f} µs "
        f"(+{state['sqlite_cpu_overhead_us']:.0f} µs; "
        + _verdict(targets["served_sqlite_cpu_overhead_us"], "<= +60 µs")
        + f"); p99 {p99['none']:.2f} ms vs {p99['sqlite']:.2f} ms"
    )
    table.note(
        f"the same by hand (Werkzeug + lxml): no state {cpu['handwritten']:.0f} µs, sqlite3 "
        f"{cpu['handwritten_sqlite']:.0f} µs (+{state['handwritten_sqlite_cpu_overhead_us']:.0f}"
        f" µs); kookoo + SQLite uses {state['sqlite_cpu_vs_handwritten']:.2f}x its CPU"
    )


def _scale(
    quick: bool,
    workdir: Path,
    results: dict[str, Any],
    targets: dict[str, dict[str, Any]],
    table: Table,
) -> None:
    from benchmarks import scale

    sizes = [1_000, 100_000] if quick else [1_000, 100_000, 1_000_000]
    seconds = 1.5 if quick else 3.0
    rounds = 3
    runs = scale.scale_results(workdir, sizes, seconds, rounds)
    rows = scale.summarise(runs)
    results["scale"] = {
        "sizes": sizes,
        "seconds_per_mode": seconds,
        "rounds": rounds,
        "rows": rows,
        "runs": runs,
    }
    largest = [r for r in rows if r["size"] == sizes[-1] and r["housekeeping"] == "background"]
    targets["sqlite_max_stall_ms"] = target(largest[0]["max_ms"], 5.0, at_most=True)
    table.section(
        f"7. SQLite at scale: saves of live calls, {rounds} interleaved rounds of {seconds:g} s "
        f"per row, clean-up due every {scale.CLEANUP_EVERY:g} s (medians of the rounds; worst: "
        "the median round's worst save, every round's in brackets)",
        f"  {'calls':>9}  {'housekeeping':<12}{'saves':>8}{'median':>10}{'p99':>10}"
        f"{'p99.9':>10}{'worst':>10}{'> 5 ms':>8}{'file/call':>11}  worst per round",
    )
    for r in rows:
        per_round = " ".join(f"{ms:.1f}" for ms in r["max_ms_rounds"])
        table.lines.append(
            f"  {r['size']:>9,}  {r['housekeeping']:<12}{r['saves']:>8,}"
            f"{r['median_us']:>8.1f}µs{r['p99_us']:>8.0f}µs{r['p999_us']:>8.0f}µs"
            f"{r['max_ms']:>8.1f}ms{r['over_5ms']:>8}{r['file_bytes_per_call']:>9.0f} B"
            f"  [{per_round}] ms"
        )
    _scale_redis(sizes, 2.0 if quick else 5.0, workdir, results, table)


def _scale_redis(
    sizes: list[int], seconds: float, workdir: Path, results: dict[str, Any], table: Table
) -> None:
    from benchmarks import scale_redis

    reason = scale_redis.unavailable()
    if reason is None:
        try:
            rows = scale_redis.scale_results(workdir, sizes, seconds)
        except Exception as exc:  # a benchmark part failing must not lose the others
            reason = f"failed: {exc}"
    if reason is not None:
        results["scale_redis"] = {"skipped": reason}
        table.section(scale_redis.title(seconds))
        table.note(f"Redis: {reason}")
        return
    table.section(scale_redis.title(seconds), scale_redis.COLUMNS)
    results["scale_redis"] = {"sizes": sizes, "seconds_per_size": seconds, "runs": rows}
    for r in rows:
        table.lines.append(scale_redis.format_row(r))
    table.note(
        "used/call: used_memory growth over the fill ÷ calls; key usage: median MEMORY USAGE "
        f"of {scale_redis.MEMORY_SAMPLE} keys"
    )


def _memory(settings: Settings, workdir: Path, results: dict[str, Any], table: Table) -> None:
    from benchmarks import memory
    from benchmarks.procs import redis_binary

    table.section("6. Memory")
    out: dict[str, Any] = {}
    try:
        rss = memory.worker_rss(settings.memory_calls, workdir)
    except Exception as exc:  # a benchmark part failing must not lose the others
        rss = {"skipped": f"failed: {exc}"}
    out["worker"] = rss
    if "skipped" in rss:
        table.note(f"worker RSS: {rss['skipped']}")
    else:
        table.note(
            f"gunicorn worker (kookoo + SQLiteStore) RSS after warm-up "
            f"{fmt_bytes(rss['rss_start_bytes'])}, after {rss['calls']:,} calls "
            f"{fmt_bytes(rss['rss_end_bytes'])} (+{fmt_bytes(rss['rss_growth_bytes'])})"
        )
        sq = rss["sqlite"]
        table.note(
            f"SQLite: {sq['payload_bytes_per_call']:.0f} B of JSON per call, "
            f"{sq['file_bytes_per_call']:.0f} B of file per call"
        )
    if redis_binary() is None:
        out["redis"] = {"skipped": "skipped: redis-server not installed"}
        table.note("Redis: skipped: redis-server not installed")
    else:
        calls = 2_000
        try:
            rd = memory.redis_bytes_per_call(calls, workdir)
        except Exception as exc:
            rd = {"skipped": f"failed: {exc}"}
        out["redis"] = rd
        if "skipped" in rd:
            table.note(f"Redis: {rd['skipped']}")
        else:
            table.note(
                f"Redis: {rd['payload_bytes_per_call']:.0f} B of JSON per call, "
                f"{rd['memory_usage_bytes_per_call']:.0f} B MEMORY USAGE per key, "
                f"{rd['used_memory_growth_per_call']:.0f} B used_memory growth per call "
                f"({calls:,} calls)"
            )
    results["memory"] = out


def _versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, str | None] = {}
    for dist in ("kookoo", "werkzeug", "lxml", "flask", "twilio", "plivo", "gunicorn", "redis"):
        try:
            found[dist] = version(dist)
        except PackageNotFoundError:
            found[dist] = None
    return found


if __name__ == "__main__":
    sys.exit(main())
