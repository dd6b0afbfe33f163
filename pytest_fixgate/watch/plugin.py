"""pytest glue of the watch: ``--watch``, ``--watch-resume``, ``--watch-replay``.

With one of them (and ``--gate=ENV``) the gate run is the watch alone: the
``watch`` gate (``gates/test_watch.py``) is the one gate the run implies,
every other gate is deselected. Without them the watch gate is deselected,
so a plain gate run never waits 30 minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_fixgate.config.durations import parse_duration
from pytest_fixgate.errors import ConfigError
from pytest_fixgate.kinds import GateKind
from pytest_fixgate.run_state import current_gate_run, option_group
from pytest_fixgate.watch.rules import KIND, default_watch, with_duration
from pytest_fixgate.watch.samples import read_header

__all__ = ["WATCH_GATE_ID", "WatchGate"]

WATCH_GATE_ID = "watch"


@dataclass(frozen=True)
class _Mode:
    duration_s: float | None
    resume: Path | None
    replay: Path | None


_MODE_KEY = pytest.StashKey[_Mode]()
_CFG_KEY = pytest.StashKey[Any]()


def _mode(config: pytest.Config) -> _Mode | None:
    return config.stash.get(_MODE_KEY, None)


def _watch_duration(value: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r}: expected {exc}") from None


def pytest_addoption(parser: pytest.Parser) -> None:
    group = option_group(parser)
    group.addoption(
        "--watch",
        metavar="DURATION",
        type=_watch_duration,
        default=None,
        help="with --gate=ENV: run the post-promotion watch for DURATION (e.g. 30m) instead "
        "of the gate suite: PROMOTE (0), HOLD (1) or ROLLBACK (10)",
    )
    group.addoption(
        "--watch-resume",
        metavar="FILE",
        type=Path,
        default=None,
        help="continue an interrupted watch from its samples file (.samples.jsonl); the "
        "time already watched counts",
    )
    group.addoption(
        "--watch-replay",
        metavar="FILE",
        type=Path,
        default=None,
        help="re-evaluate a recorded watch (.samples.jsonl) with the current rules; "
        "samples nothing (what `fixgate replay` runs)",
    )


def pytest_fixgate_gate_kinds() -> list[GateKind]:
    """The ``[env.X.watch]`` kind joins as every gate kind does."""
    return [KIND]


@pytest.hookimpl(trylast=True)  # after the main plugin built the gate run
def pytest_configure(config: pytest.Config) -> None:
    duration = config.getoption("watch", None)
    resume = config.getoption("watch_resume", None)
    replay = config.getoption("watch_replay", None)
    if duration is None and resume is None and replay is None:
        return
    if not config.getoption("gate", None):
        raise pytest.UsageError(
            "fixgate: --watch, --watch-resume and --watch-replay need --gate=ENV"
        )
    if resume is not None and replay is not None:
        raise pytest.UsageError("fixgate: --watch-resume and --watch-replay exclude each other")
    for option, path in (("--watch-resume", resume), ("--watch-replay", replay)):
        if path is None:
            continue
        try:
            header = read_header(path)
        except (OSError, ValueError) as exc:
            raise pytest.UsageError(f"fixgate: {option} {path}: {exc}") from None
        if header.get("env") != config.getoption("gate"):
            raise pytest.UsageError(
                f"fixgate: {option} {path}: recorded for env {header.get('env')!r}, "
                f"not {config.getoption('gate')!r}"
            )
    mode = _Mode(duration, resume, replay)
    config.stash[_MODE_KEY] = mode
    run = current_gate_run(config)
    if run is not None:
        # The watch alone: its gate is the one the run must have a result for.
        run.env = dataclasses.replace(run.env, implied_gates=(WATCH_GATE_ID,))
        run.mode = "watch"
        try:
            config.stash[_CFG_KEY] = effective_watch(run.env, mode)
        except ConfigError as exc:
            raise pytest.UsageError(f"fixgate: {exc}") from None


def _is_watch(item: pytest.Item) -> bool:
    mark = item.get_closest_marker("gate")
    return mark is not None and mark.kwargs.get("id") == WATCH_GATE_ID


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    watching = _mode(config) is not None
    keep = [i for i in items if _is_watch(i) == watching]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep


def effective_watch(env: Any, mode: _Mode) -> Any:
    """The watch this run makes: ``[env.X.watch]`` (or the runbook's defaults), with a
    recorded file's schedule and ``--watch``'s duration applied."""
    cfg = env.section("watch")
    if cfg is None:
        raw: dict[str, Any] = {
            "mongodb_uri_env": env.mongodb_uri_env,
            "redis_url_env": env.redis_url_env,
        }
        if env.section("sentry") is not None:
            raw["sentry"] = {}
        cfg = default_watch(raw)
    recorded = mode.replay or mode.resume
    if recorded is not None:
        header = read_header(recorded)
        # The recording's own schedule, unless --watch says otherwise.
        try:
            interval_s, duration_s = float(header["interval_s"]), float(header["duration_s"])
        except (KeyError, TypeError, ValueError):
            interval_s = duration_s = math.nan
        if not (0 < interval_s < math.inf and 0 < duration_s < math.inf):
            raise ConfigError(
                f"{recorded}: its header has no usable interval_s and duration_s "
                f"({header.get('interval_s')!r}, {header.get('duration_s')!r})",
                key="watch samples file",
            )
        cfg = dataclasses.replace(cfg, interval_s=interval_s)
        cfg = with_duration(cfg, duration_s)
    if mode.duration_s is not None:
        cfg = with_duration(cfg, mode.duration_s)
    if cfg.interval_s > cfg.duration_s:
        raise ConfigError(
            f"the watch interval ({cfg.interval_s:g} s) is longer than its duration "
            f"({cfg.duration_s:g} s)",
            key=f"env.{env.name}.watch.interval",
        )
    return cfg


class WatchGate:
    """The ``gate_watch`` fixture: everything the watch gate test needs, built from
    the config and the command line."""

    def __init__(self, config: pytest.Config, mode: _Mode) -> None:
        run = current_gate_run(config)
        if run is None:
            pytest.skip("a gate: run it with --gate=ENV")
        self.config = config
        self.run = run
        self.mode = mode
        self.cfg = config.stash[_CFG_KEY]

    def run_watch(self) -> Any:
        # deferred: the watch's machinery loads only for --watch
        from pytest_fixgate.watch.live import LiveLine
        from pytest_fixgate.watch.session import WatchRequest, run_watch

        run = self.run
        plugins: dict[str, Any] = {}
        for found in self.config.hook.pytest_fixgate_watch_sources():
            for kind in found or ():
                plugins[kind.name] = kind
        folder = self.config.invocation_params.dir / self.config.getoption("gate_report_dir")
        request = WatchRequest(
            env=run.env,
            cfg=self.cfg,
            redactor=run.redactor,
            report_dir=folder,
            started=run.started,
            resume=self.mode.resume,
            replay=self.mode.replay,
            plugin_sources=plugins,
        )
        with self._terminal() as stream:
            line = LiveLine(run.env.name, self.cfg.duration_s, stream)
            notifier = self._builtin_notifiers(stream)
            on_alert, on_tick = self._notifier(stream), line
            if notifier is not None:
                on_alert, on_tick = (
                    _also(on_alert, notifier.on_alert),
                    _also(line, notifier.on_tick),
                )
            try:
                report = run_watch(request, on_tick=on_tick, on_alert=on_alert)
            except BaseException:
                if notifier is not None:
                    notifier.close(wait_s=5.0)  # what was queued still goes out, bounded
                raise
            finally:
                line.close()
            rollback = report.finding.evidence.details.get("rollback")
            if rollback is not None and not rollback["ok"]:
                # Loud, at once: someone has to roll back by hand.
                stream.write(f"fixgate: {report.finding.evidence.reason}\n")
                stream.flush()
            if notifier is not None:
                details = report.finding.evidence.details
                try:
                    notifier.on_decision(
                        report.verdict.decision,
                        report.finding.evidence.reason,
                        details.get("rollback"),
                    )
                    details["notifications"] = run.redactor.data(notifier.close())
                except Exception as exc:
                    # The decision and the rollback stand whatever the notifiers do.
                    problem = run.redactor.text(f"{type(exc).__name__}: {exc}")
                    stream.write(f"fixgate: NOTIFY FAILED: {problem[:300]}\n")
                    stream.flush()
            return report

    def _builtin_notifiers(self, stream: Any) -> Any:
        """Slack / PagerDuty of ``[watch.slack]`` / ``[watch.pagerduty]``; none in a replay
        (a re-evaluation tells nobody)."""
        if self.mode.replay is not None or (self.cfg.slack is None and self.cfg.pagerduty is None):
            return None
        # deferred: the watch's machinery loads only for --watch
        from pytest_fixgate.notify.watch import WatchNotifier

        return WatchNotifier(self.cfg, self.run.env, self.run.redactor, stream)

    def _notifier(self, stream: Any) -> Any:
        """The alert hook, called so that a notifier that raises (a chat service down)
        cannot stop the watch: a SEV-1 must still end in ROLLBACK and run the rollback."""

        def notify(alert: Any) -> None:
            try:
                self.config.hook.pytest_fixgate_alert(alert=alert, config=self.config)
            except Exception as exc:
                problem = self.run.redactor.text(f"{type(exc).__name__}: {exc}")
                stream.write(f"fixgate: the pytest_fixgate_alert hook failed for {alert.rule}: ")
                stream.write(f"{problem[:300]}\n")
                stream.flush()

        return notify

    @contextlib.contextmanager
    def _terminal(self) -> Iterator[Any]:
        # Past pytest's capture, to the real stderr (under xdist, the worker's, which
        # is the controller's terminal).
        capman = self.config.pluginmanager.get_plugin("capturemanager")
        with capman.global_and_fixture_disabled() if capman else contextlib.nullcontext():
            yield sys.stderr


def _also(first: Any, then: Any) -> Any:
    """Call ``first``, then ``then``; a built-in notifier that raises is reported by its
    outbox, never into the watch."""

    def both(*args: Any) -> None:
        first(*args)
        try:
            then(*args)
        except Exception as exc:
            sys.stderr.write(f"fixgate: a notifier failed: {type(exc).__name__}\n")

    return both


@pytest.fixture
def gate_watch(request: pytest.FixtureRequest) -> WatchGate:
    """The watch of ``--gate=ENV --watch=DURATION`` (or a resume / replay of one)."""
    mode = _mode(request.config)
    if mode is None:
        pytest.skip("the watch runs with --watch=DURATION")
    return WatchGate(request.config, mode)
