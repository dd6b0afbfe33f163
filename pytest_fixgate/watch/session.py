"""One watch, start to end: live, resumed from a samples file, or replayed from one.

Knows nothing of pytest: the gate test (``gates/test_watch.py``) calls
:func:`run_watch` and records the finding it returns. The live watch only
reads the watched system (GET probes, Mongo reads, LLEN, PromQL queries,
Sentry's API); the rollback command is the one thing it runs, and only on a
ROLLBACK of a live or resumed watch, never in a replay.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_fixgate import timing
from pytest_fixgate.measurements.process import run_process
from pytest_fixgate.outcomes.model import Evidence, Finding, Outcome
from pytest_fixgate.watch.engine import Alert, Engine, StepResult, Tick, WatchConclusion
from pytest_fixgate.watch.evidence import series_from_file, watch_html
from pytest_fixgate.watch.sampler import Clock, run_loop
from pytest_fixgate.watch.samples import SamplesWriter, iter_ticks, read_header, read_samples
from pytest_fixgate.watch.sources import open_sources as _open

if TYPE_CHECKING:
    from pytest_fixgate.config.schema import EnvConfig
    from pytest_fixgate.measurements.process import ProcessResult
    from pytest_fixgate.redaction import Redactor
    from pytest_fixgate.watch.rules import WatchConfig
    from pytest_fixgate.watch.sources import Source, WatchSourceKind

__all__ = ["WatchReport", "WatchRequest", "run_watch", "samples_path"]

_EPS = 1e-6


@dataclass(frozen=True)
class WatchRequest:
    env: EnvConfig
    cfg: WatchConfig
    redactor: Redactor
    report_dir: Path
    started: _dt.datetime
    resume: Path | None = None  # continue this samples file
    replay: Path | None = None  # evaluate this samples file, sample nothing
    plugin_sources: Mapping[str, WatchSourceKind] = field(default_factory=dict)


@dataclass(frozen=True)
class WatchReport:
    finding: Finding
    html: str
    verdict: WatchConclusion
    samples: Path


def samples_path(report_dir: Path, env: str, started: _dt.datetime) -> Path:
    return report_dir / f"{env}-{started.strftime('%Y%m%dT%H%M%SZ')}.samples.jsonl"


def run_watch(
    req: WatchRequest,
    *,
    on_tick: Callable[[StepResult, Tick], None] = lambda step, tick: None,
    on_alert: Callable[[Alert], None] = lambda alert: None,
    clock: Clock = timing,
    open_sources: Callable[..., Mapping[str, Source]] | None = None,
) -> WatchReport:
    cfg = req.cfg
    engine = Engine(cfg.rules)
    rolled_back = False
    finished = False
    methods: list[str] = []
    rollback: ProcessResult | None = None
    source_file = req.replay or req.resume
    resumed_ticks = 0
    if source_file is not None:
        # Replay what was recorded, stopping where a live watch would have stopped.
        header = read_header(source_file)
        for tick in iter_ticks(source_file):
            if tick.t > cfg.duration_s + _EPS:
                break
            step = engine.step(tick)
            resumed_ticks += 1
            for alert in step.fired:
                on_alert(alert)
            if step.rollback:
                rolled_back = True
                break
        last_t = engine.last_t
        finished = rolled_back or (last_t is not None and last_t + _EPS >= cfg.duration_s)
        path = source_file
        methods.append(f"samples file {source_file.name} (recorded {header.get('started', '?')})")
    else:
        path = samples_path(req.report_dir, req.env.name, req.started)
    # The rollback's process module is imported with this module: the rollback starts
    # at once when an alert calls for it.
    # A resumed file that already covers the whole watch leaves nothing to sample.
    resumed_complete = req.resume is not None and finished and not rolled_back
    if req.replay is None and not finished:
        rolled_back, finished, path = _sample_live(
            req, engine, path, methods, on_tick, on_alert, clock, open_sources
        )
    verdict = engine.verdict(
        finished=finished, min_coverage=cfg.min_coverage, expected_ticks=expected_ticks(cfg)
    )
    if req.resume is not None and resumed_complete and not rolled_back:
        # Nothing was left to watch, so nothing was sampled now: a PROMOTE here would
        # rest on a file alone (stale, or written by hand), not on the target's health.
        verdict = WatchConclusion(
            "HOLD",
            Outcome.ERROR.value,
            f"nothing to resume: the samples file {source_file.name if source_file else ''} "
            f"already covers the whole watch ({engine.last_t:g} s of {cfg.duration_s:g} s), "
            "so this run sampled nothing and confirms nothing about the target now; start "
            "a new watch (--watch) or re-evaluate the file (--watch-replay)",
            verdict.alerts,
        )
    if verdict.decision == "ROLLBACK" and cfg.rollback_command and req.replay is None:
        rollback = _run_rollback(req)
    return _report(req, engine, verdict, path, methods, rollback, resumed_ticks)


def expected_ticks(cfg: WatchConfig) -> int:
    """The ticks a whole watch is due: one at 0, then one each interval up to its end."""
    return int(cfg.duration_s / cfg.interval_s + _EPS) + 1


def _sample_live(
    req: WatchRequest,
    engine: Engine,
    path: Path,
    methods: list[str],
    on_tick: Callable[[StepResult, Tick], None],
    on_alert: Callable[[Alert], None],
    clock: Clock,
    open_sources: Callable[..., Mapping[str, Source]] | None,
) -> tuple[bool, bool, Path]:
    """Sample until the end or a rollback: (rolled back, finished, the samples file)."""
    cfg = req.cfg
    if open_sources is None:
        open_sources = _open
    if req.resume is not None:
        existing = read_samples(req.resume)
        writer = SamplesWriter.resume(existing)
        start_t = (existing.last_t + cfg.interval_s) if existing.last_t is not None else 0.0
    else:
        header = {
            "env": req.env.name,
            "target": req.env.base_url,
            "started": req.started.isoformat(),
            "interval_s": cfg.interval_s,
            "duration_s": cfg.duration_s,
            "rules": [r.id for r in cfg.rules],
        }
        writer = SamplesWriter.create(path, header)
        path = writer.path
        start_t = 0.0
    try:
        sources = open_sources(cfg, req.env, req.redactor, req.plugin_sources)
        try:
            methods.extend(f"{name}: {s.method}" for name, s in sorted(sources.items()))
            result = run_loop(
                engine=engine,
                sources=sources,
                writer=writer,
                duration_s=cfg.duration_s,
                interval_s=cfg.interval_s,
                redactor=req.redactor,
                start_t=start_t,
                clock=clock,
                on_tick=on_tick,
                on_alert=on_alert,
            )
        finally:
            for source in sources.values():
                source.close()
    finally:
        writer.close()
    return result.rolled_back, result.finished, path


def _run_rollback(req: WatchRequest) -> ProcessResult:
    stem = samples_path(req.report_dir, req.env.name, req.started).name.replace(
        ".samples.jsonl", ".rollback.log"
    )
    return run_process(
        req.cfg.rollback_command,
        timeout_s=req.cfg.rollback_timeout_s,
        log_path=req.report_dir / stem,
        redactor=req.redactor,
    )


def _rollback_details(result: ProcessResult, redactor: Redactor) -> dict[str, Any]:
    return {
        "command": redactor.text(" ".join(result.argv)),
        "exit_code": result.exit_code,
        "timed_out": result.timed_out,
        "start_error": result.start_error,
        "duration_s": round(result.duration_s, 3),
        "tail": result.tail,
        "log": str(result.log_path) if result.log_path else None,
        "ok": result.exit_code == 0,
    }


def _report(
    req: WatchRequest,
    engine: Engine,
    verdict: WatchConclusion,
    path: Path,
    methods: list[str],
    rollback: ProcessResult | None,
    resumed_ticks: int,
) -> WatchReport:
    cfg = req.cfg
    series = series_from_file(path) if path.is_file() else {}
    coverage = engine.coverage()
    details: dict[str, Any] = {
        "watch": {
            "decision": verdict.decision,
            "samples_file": str(path),
            "duration_s": cfg.duration_s,
            "interval_s": cfg.interval_s,
            "watched_s": engine.last_t,
            "ticks": engine.ticks,
            "replayed_ticks": resumed_ticks,
            "mode": "replay" if req.replay else ("resume" if req.resume else "live"),
        },
        "rules": [
            {
                "id": r.id,
                "severity": r.severity,
                "when": r.when.text,
                "how": r.describe(),
                "min_samples": r.min_samples,
                "on_no_data": r.on_no_data,
                "state": engine.statuses[r.id].state.value if r.id in engine.statuses else None,
                "coverage": round(coverage.get(r.id, 0.0), 4),
            }
            for r in cfg.rules
        ],
        "not_configured": [
            {"id": r.id, "severity": r.severity, "when": r.when.text, "why": why}
            for r, why in cfg.not_configured
        ],
        "alerts": [a.as_dict() for a in verdict.alerts],
        "timeline": [t.as_dict() for t in engine.transitions],
        "timeline_dropped": engine.transitions_dropped,
        "series": series,
        "rollback_alerts": list(verdict.rollback_alerts),
    }
    reason = verdict.reason
    if rollback is not None:
        details["rollback"] = _rollback_details(rollback, req.redactor)
        if rollback.exit_code != 0:
            why = rollback.start_error or (
                "timed out" if rollback.timed_out else f"exit code {rollback.exit_code}"
            )
            reason += f"; ROLLBACK COMMAND FAILED ({why}): roll back by hand"
        else:
            reason += "; rollback command ran (exit 0)"
    elif verdict.decision == "ROLLBACK" and req.replay is None:
        reason += "; no rollback_command configured: roll back by hand"
    outcome = Outcome(verdict.outcome)
    finding = Finding(
        outcome,
        Evidence(
            reason=req.redactor.text(reason),
            measured=f"{len(verdict.alerts)} alert(s) fired in {engine.ticks} ticks",
            threshold="no SEV-1/SEV-2 alert for the whole watch",
            samples=engine.ticks,
            method=req.redactor.text("; ".join(methods)),
            details=req.redactor.data(details),
        ),
    )
    html = watch_html(details, engine, series, cfg.duration_s)
    return WatchReport(finding, req.redactor.text(html), verdict, path)
