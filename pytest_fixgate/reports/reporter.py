"""The gate reporter: collects results on the controller and writes every report.

Built like pytest's ``LogXML``: a plain object, registered as a plugin in
``pytest_configure`` on the controller only; its methods are the hooks.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pytest_fixgate.gate_run import (
    NOT_CONFIGURED_PROPERTY,
    RESULT_PROPERTY,
    GateRun,
    NotConfigured,
    ReportPaths,
    current_commit,
)
from pytest_fixgate.outcomes.model import Evidence, GateInfo, GateResult, Outcome
from pytest_fixgate.redaction import Redactor
from pytest_fixgate.release.baseline import apply_baseline
from pytest_fixgate.reports.environment import environment_rows
from pytest_fixgate.reports.html import EXTRAS_ATTRIBUTE, render_html, why_not_configured
from pytest_fixgate.reports.junit import render_junit
from pytest_fixgate.reports.markdown import render_markdown
from pytest_fixgate.reports.verdict import build_verdict, verdict_text, write_text

__all__ = ["GateReporter"]

# pytest's own meanings that a decision must not hide.
_KEEP_EXIT = {
    pytest.ExitCode.INTERRUPTED,
    pytest.ExitCode.INTERNAL_ERROR,
    pytest.ExitCode.USAGE_ERROR,
}


def _unrecorded_failure(report: pytest.TestReport, redactor: Redactor) -> GateResult:
    text = redactor.text(str(report.longrepr or "")).strip().splitlines()
    return GateResult(
        GateInfo(id=report.nodeid, title="a gate that ended without a result"),
        Outcome.ERROR,
        Evidence(reason=f"no gate result: {text[-1] if text else 'the test failed'}"[:300]),
        nodeid=report.nodeid,
    )


class GateReporter:
    PLUGIN_NAME = "fixgate-reporter"

    def __init__(
        self, config: pytest.Config, run: GateRun, paths: ReportPaths, step_summary: Path | None
    ) -> None:
        self.config = config
        self.run = run
        self.paths = paths
        self.step_summary = step_summary
        self.verdict: dict[str, Any] | None = None
        self.write_error: str | None = None
        self.collect_errors: list[str] = []
        # HTML fragments gates attached (charts), by node id; shipped on the report.
        self.extras: dict[str, list[tuple[str, str]]] = {}
        self.environment: list[tuple[str, str]] = []

    @classmethod
    def for_config(cls, config: pytest.Config, run: GateRun) -> GateReporter:
        folder = config.invocation_params.dir / config.getoption("gate_report_dir")
        paths = ReportPaths.for_run(folder, run.env.name, run.started)
        # fixgate writes its JUnit and HTML itself (reports/junit.py, reports/html.py), so
        # that `-p no:junitxml` or `-p no:html` cannot lose them. A path the user named
        # with --junitxml or --html is where ours go; pytest's own writers stay idle
        # (this hook runs before theirs read the option).
        xmlpath = getattr(config.option, "xmlpath", None)
        if xmlpath:
            paths = replace(paths, junit=config.invocation_params.dir / xmlpath)
            config.option.xmlpath = None
        htmlpath = getattr(config.option, "htmlpath", None)
        if htmlpath:
            paths = replace(paths, html=config.invocation_params.dir / htmlpath)
            config.option.htmlpath = None
        run.reports = paths
        run.commit = current_commit(config.rootpath)
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        reporter = cls(config, run, paths, Path(summary) if summary else None)
        reporter.environment = environment_rows(config)
        return reporter

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        fragments = getattr(report, EXTRAS_ATTRIBUTE, None)
        if fragments:
            self.extras[report.nodeid] = [(str(n), str(h)) for n, h in fragments]
        names = {name for name, _ in report.user_properties}
        if report.failed and not names & {RESULT_PROPERTY, NOT_CONFIGURED_PROPERTY}:
            # A failure no gate recorded: an xdist worker that crashed mid-gate, a plugin
            # error. It must count against the release, never vanish.
            self.run.add(_unrecorded_failure(report, self.run.redactor))
        for name, value in report.user_properties:
            if name == RESULT_PROPERTY:
                result = GateResult.from_dict(json.loads(value))
                self.run.add(result)
                self.config.hook.pytest_fixgate_gate_result(result=result, config=self.config)
            elif name == NOT_CONFIGURED_PROPERTY:
                data = json.loads(value)
                entry = NotConfigured(
                    GateResult.from_dict({**data, "outcome": "INCONCLUSIVE", "reason": ""}).info,
                    data["missing"],
                )
                self.run.not_configured[report.nodeid] = entry

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collect_errors.append(report.nodeid or "(rootdir)")

    @pytest.hookimpl(tryfirst=True)  # the decision first; the exit status is set last
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        incomplete = None
        if self.collect_errors:
            incomplete = f"gates that could not be collected: {', '.join(self.collect_errors)}"
        elif session.shouldstop or session.exitstatus in _KEEP_EXIT:
            incomplete = f"stopped early ({session.shouldstop or 'interrupted'})"
        self._compare_with_baseline()
        decision = self.run.finish(incomplete)
        self.verdict = build_verdict(self.run)
        self.write_error = self._write_reports(self.verdict)
        self.config.hook.pytest_fixgate_decision(
            decision=decision, verdict=self.verdict, config=self.config
        )

    def _compare_with_baseline(self) -> None:
        # Regressions against the last promoted release, before deciding.

        apply_baseline(
            self.run,
            pinned=self.config.getoption("gate_baseline", None),
            report_dir=self.paths.json.parent,
            repo=self.config.invocation_params.dir,
        )

    @pytest.hookimpl(trylast=True, specname="pytest_sessionfinish")
    def pytest_sessionfinish_exit_status(self, session: pytest.Session) -> None:
        # pytest only reads hook implementations whose names start with "pytest_".
        decision = self.run.decision
        if decision is None or session.exitstatus in _KEEP_EXIT:
            return
        if self.write_error is not None and not self.run.advisory:
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
            return
        session.exitstatus = 0 if self.run.advisory else decision.exit_code

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        decision = self.run.decision
        if decision is None:
            return
        tr = terminalreporter
        colour = {"PROMOTE": "green", "HOLD": "yellow", "ROLLBACK": "red"}[decision.kind.value]
        advisory = " [advisory: exit 0]" if self.run.advisory else ""
        tr.write_sep("=", "fixgate", **{colour: True, "bold": True})
        for entry in self.run.not_configured.values():
            why = why_not_configured(entry.missing, self.run.env.name)
            tr.write_line(f"not configured: {entry.info.id} ({why})")
        for note in self.run.redaction_notes:
            tr.write_line(f"fixgate redaction: {note}")
        if (self.run.baseline or {}).get("configured"):
            tr.write_line(f"fixgate baseline: {self.run.baseline['reason']}")  # type: ignore[index]
        tr.write_line(
            f"fixgate: {decision.kind.value} ({decision.reason}){advisory}",
            **{colour: True, "bold": True},
        )
        if self.write_error:
            tr.write_line(f"fixgate: ERROR {self.write_error}", red=True, bold=True)
            return
        for label, path in (
            ("html", self.paths.html),
            ("json", self.paths.json),
            ("junit", self.paths.junit),
            ("latest", self.paths.latest),
        ):
            tr.write_line(f"fixgate report ({label}): {path}")

    def _write_reports(self, verdict: dict[str, Any]) -> str | None:
        """Write every report; what went wrong, or None. A gate run whose verdict was not
        filed is no PROMOTE (exit 3), and no report path is printed for a missing file."""
        redact = self.run.redactor.text
        try:
            # Every report is rendered before any is written, and the JSON verdict is
            # written last: a writer that fails leaves no PROMOTE verdict on disk for
            # `fixgate release tag` (it reads <env>-latest.json) or a baseline to trust.
            verdict_json = verdict_text(verdict)
            html = render_html(
                verdict,
                extras=self.extras,
                environment=self.environment,
                report_dir=self.paths.json.parent,
                html_dir=self.paths.html.parent,
            )
            junit = render_junit(verdict, RESULT_PROPERTY)
            summary = render_markdown(verdict) if self.step_summary is not None else None
            write_text(self.paths.html, redact(html))
            write_text(self.paths.junit, redact(junit))
            if summary is not None and self.step_summary is not None:
                with self.step_summary.open("a", encoding="utf-8") as fh:
                    fh.write(redact(summary))
            write_text(self.paths.json, verdict_json)
            write_text(self.paths.latest, verdict_json)
        except OSError as exc:
            return f"cannot write reports: {exc.strerror} ({exc.filename})"
        except Exception as exc:  # a bug in a writer must not pass for a filed verdict
            return f"cannot render reports: {type(exc).__name__}: {redact(str(exc))}"[:300]
        missing = [str(p) for p in self._report_files() if not p.is_file()]
        return f"reports not written: {', '.join(missing)}" if missing else None

    def _report_files(self) -> list[Path]:
        return [self.paths.html, self.paths.json, self.paths.junit, self.paths.latest]
