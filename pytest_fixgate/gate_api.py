"""What a gate test sees: the ``gate`` marker, the ``gate`` fixture's recorder,
and the rules that turn a finished pytest test into a :class:`GateResult`.

A gate test measures, judges and records::

    @pytest.mark.gate(id="mongo.ping", title="MongoDB answers ping", needs="mongodb_uri_env")
    def test_mongo_ping(gate, gate_env):
        gate.measuring(f"pymongo ping {uri}")
        gate.record(judge_ping(mongo_ping(uri, timeout_s=...)))

A ProbeError raised by the test becomes ERROR with its message; any other
exception ERROR ("gate crashed"); an AssertionError FAIL; a skip
INCONCLUSIVE; a test that records nothing INCONCLUSIVE. Nothing becomes PASS
unless a judge said so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from pytest_fixgate.config.schema import EnvConfig
from pytest_fixgate.errors import ProbeError
from pytest_fixgate.outcomes.model import SEVERITIES, Evidence, Finding, GateInfo, Outcome
from pytest_fixgate.redaction import Redactor

__all__ = ["GateMarker", "GateRecorder", "finding_from_call", "gate_marker"]

_MARKER_KEYS = {"id", "title", "severity", "required", "needs"}


@dataclass(frozen=True)
class GateMarker:
    """The arguments of ``@pytest.mark.gate(...)``, checked when the test is collected."""

    id: str
    title: str
    severity: str
    required: bool
    needs: tuple[str, ...]  # EnvConfig attributes that must be set for the gate to run

    def info_for(self, item: pytest.Item, env: EnvConfig | None) -> GateInfo:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if env is not None and self.missing_config(env):
            # Not configured: there is no parameter to name it by, only its family.
            gate_id = self.id.split("{", 1)[0].rstrip(".") or self.id
        else:
            try:
                gate_id = self.id.format(**params)
            except (KeyError, AttributeError, IndexError) as exc:
                raise pytest.UsageError(
                    f"{item.nodeid}: gate id {self.id!r} names {exc}, not a parameter"
                ) from None
        override = env.gates.get(gate_id) if env is not None else None
        required = self.required
        severity = self.severity
        if override is not None:
            required = override.required if override.required is not None else required
            severity = override.severity or severity
        return GateInfo(id=gate_id, title=self.title, severity=severity, required=required)

    def missing_config(self, env: EnvConfig) -> str | None:
        """The first config key this gate needs that the environment leaves unset."""
        for name in self.needs:
            if not env.needed(name):
                return name
        return None


def gate_marker(item: pytest.Item) -> GateMarker | None:
    """The item's gate marker, validated; ``None`` for a test that is not a gate."""
    mark = item.get_closest_marker("gate")
    if mark is None:
        return None
    if mark.args:
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.gate takes keyword arguments only")
    unknown = set(mark.kwargs) - _MARKER_KEYS
    if unknown:
        raise pytest.UsageError(
            f"{item.nodeid}: @pytest.mark.gate got unknown argument(s) {sorted(unknown)}; "
            f"known: {sorted(_MARKER_KEYS)}"
        )
    gate_id = mark.kwargs.get("id")
    if not isinstance(gate_id, str) or not gate_id:
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.gate needs id='...'")
    severity = mark.kwargs.get("severity", "critical")
    if severity not in SEVERITIES:
        raise pytest.UsageError(
            f"{item.nodeid}: gate severity {severity!r} is not one of {', '.join(SEVERITIES)}"
        )
    needs = mark.kwargs.get("needs", ())
    if isinstance(needs, str):
        needs = (needs,)
    doc = (getattr(item, "obj", None).__doc__ or "").strip().splitlines()  # type: ignore[union-attr]
    return GateMarker(
        id=gate_id,
        title=mark.kwargs.get("title") or (doc[0] if doc else item.name),
        severity=severity,
        required=bool(mark.kwargs.get("required", True)),
        needs=tuple(needs),
    )


class GateRecorder:
    """The ``gate`` fixture: where a gate test records its finding."""

    def __init__(self, info: GateInfo, redactor: Redactor) -> None:
        self.info = info
        self._redactor = redactor
        self.method = ""
        self.threshold: str | None = None
        self.finding: Finding | None = None
        self.html_extras: list[tuple[str, str]] = []  # (name, self-contained HTML)

    def measuring(self, method: str, *, threshold: str | None = None) -> None:
        """Say how the gate measures (a request, query or command) and against what,
        before it starts, so that even an ERROR carries it. Secrets are redacted."""
        self.method = self._redactor.text(method)
        self.threshold = threshold

    def attach_html(self, name: str, html: str) -> None:
        """Add a self-contained HTML fragment (a chart, a table) to this gate's evidence
        in the HTML report."""
        self.html_extras.append((name, self._redactor.text(html)))

    def record(self, finding: Finding) -> None:
        """Record the gate's finding; recording twice keeps the worse one."""
        if self.finding is None or finding.outcome.rank >= self.finding.outcome.rank:
            self.finding = finding


def finding_from_call(
    recorder: GateRecorder | None, call: pytest.CallInfo[Any], redactor: Redactor
) -> Finding:
    """Turn how a gate test ended (and what it recorded) into one Finding."""
    method = recorder.method if recorder else ""
    threshold = recorder.threshold if recorder else None
    excinfo = call.excinfo
    if excinfo is not None:
        exc = excinfo.value
        if isinstance(exc, ProbeError):
            return Finding.error(
                redactor.text(str(exc)),
                method=method,
                threshold=threshold,  # the report says what could not be measured, and against what
                error=type(exc).__name__,
            )
        if isinstance(exc, pytest.skip.Exception):
            return Finding.inconclusive(
                f"gate skipped: {redactor.text(str(exc.msg))}", method=method, threshold=threshold
            )
        if isinstance(exc, AssertionError):
            text = redactor.text(str(exc).splitlines()[0] if str(exc) else "assertion failed")
            return Finding(Outcome.FAIL, Evidence(reason=text, method=method, threshold=threshold))
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            return Finding.error("gate interrupted", method=method, threshold=threshold)
        return Finding.error(
            f"gate crashed: {type(exc).__name__}: {redactor.text(str(exc))}"[:500],
            method=method,
            threshold=threshold,
        )
    if recorder is None or recorder.finding is None:
        return Finding.inconclusive(
            "the gate recorded no outcome (it must call gate.record(...))",
            method=method,
            threshold=threshold,
        )
    finding = recorder.finding
    if method and not finding.evidence.method:
        finding = Finding(finding.outcome, _with_method(finding.evidence, method))
    return finding


def _with_method(evidence: Evidence, method: str) -> Evidence:
    return Evidence(
        reason=evidence.reason,
        measured=evidence.measured,
        threshold=evidence.threshold,
        samples=evidence.samples,
        method=method,
        details=evidence.details,
    )
