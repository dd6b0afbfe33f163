"""The state of one gate run: the environment, the results so far, the decision.

Kept in ``config.stash`` by the plugin; knows nothing of pytest, so the
report writers and the demo can use it as plain data.
"""

from __future__ import annotations

import datetime as _dt
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from pytest_fixgate import timing
from pytest_fixgate.config.schema import EnvConfig
from pytest_fixgate.decision import Decision, DecisionKind, decide
from pytest_fixgate.kinds import GateKind
from pytest_fixgate.outcomes.model import Evidence, GateInfo, GateResult, Outcome
from pytest_fixgate.redaction import Redactor
from pytest_fixgate.release.signing import SigningKey

__all__ = [
    "NOT_CONFIGURED_PROPERTY",
    "RESULT_PROPERTY",
    "GateRun",
    "NotConfigured",
    "ReportPaths",
]

#: ``user_properties`` names that carry results from xdist workers to the controller
#: (and into the JUnit XML).
RESULT_PROPERTY = "fixgate.result"
NOT_CONFIGURED_PROPERTY = "fixgate.not_configured"


@dataclass(frozen=True)
class NotConfigured:
    """A gate left out because its environment does not configure what it needs."""

    info: GateInfo
    missing: str

    def as_dict(self) -> dict[str, object]:
        return {**self.info.as_dict(), "missing": self.missing}


@dataclass(frozen=True)
class ReportPaths:
    html: Path
    json: Path
    junit: Path
    latest: Path

    @classmethod
    def for_run(cls, folder: Path, env: str, started: _dt.datetime) -> ReportPaths:
        stem = f"{env}-{started.strftime('%Y%m%dT%H%M%SZ')}"
        return cls(
            html=folder / f"{stem}.html",
            json=folder / f"{stem}.json",
            junit=folder / f"{stem}.xml",
            latest=folder / f"{env}-latest.json",
        )


@dataclass
class GateRun:
    env: EnvConfig
    config_path: Path
    redactor: Redactor
    advisory: bool = False
    started: _dt.datetime = field(default_factory=timing.utcnow)
    finished: _dt.datetime | None = None
    results: dict[str, GateResult] = field(default_factory=dict)  # by pytest node id
    not_configured: dict[str, NotConfigured] = field(default_factory=dict)
    decision: Decision | None = None
    reports: ReportPaths | None = None
    commit: str = ""
    # The comparison with the last promoted release (release/baseline.py).
    baseline: dict[str, object] | None = None
    kinds: tuple[GateKind, ...] = ()
    # "gate" (a promotion decision) or "watch" (a post-promotion confirmation): only a
    # gate run's PROMOTE may be tagged or serve as a baseline.
    mode: str = "gate"
    # What the session's redactor left unmasked and why (names only), for the terminal.
    redaction_notes: tuple[str, ...] = ()
    # Signs the verdict (HMAC-SHA256) when a key is configured.
    signing_key: SigningKey | None = field(default=None, repr=False)

    def add(self, result: GateResult) -> None:
        # A later phase (teardown) may only make a result worse, never better.
        previous = self.results.get(result.nodeid)
        if previous is None or result.outcome.rank >= previous.outcome.rank:
            self.results[result.nodeid] = result

    def finish(self, incomplete: str | None = None) -> Decision:
        """Decide. ``incomplete`` says why the run did not finish (interrupted, collection
        errors): then it is a HOLD whatever the gates that did run say."""
        self.finished = timing.utcnow()
        self.add_missing_gates()
        results = self.ordered_results()
        # A watch gate names the SEV-1/SEV-2 alerts that fired: they make a ROLLBACK.
        alerts = [a for r in results for a in r.evidence.details.get("rollback_alerts", ())]
        decision = decide(results, rollback_alerts=alerts)
        if incomplete is not None and decision.kind is not DecisionKind.ROLLBACK:
            decision = Decision(
                DecisionKind.HOLD, f"the gate run did not finish: {incomplete}", decision.blocking
            )
        self.decision = decision
        return self.decision

    def add_missing_gates(self) -> list[str]:
        """The completeness rule: every gate the config implies has a result. One that was
        deselected, skipped at import, stopped by ``-x`` or never reached is ERROR "did not
        run", so no command-line option turns a partial run into a PROMOTE."""
        seen = {result.info.id for result in self.results.values()}
        missing = [gate_id for gate_id in self.env.implied_gates if gate_id not in seen]
        for gate_id in missing:
            override = self.env.gates.get(gate_id)
            info = GateInfo(
                id=gate_id,
                title="a gate the config implies",
                required=override.required
                if override is not None and override.required is not None
                else True,
            )
            reason = (
                "did not run: the config implies this gate, but the run never reached it "
                "(deselected, a file or test named on the command line, skipped at import, "
                "or stopped early)"
            )
            self.results[f"<did not run>::{gate_id}"] = GateResult(
                info, Outcome.ERROR, Evidence(reason=reason), nodeid=f"<did not run>::{gate_id}"
            )
        return missing

    def ordered_results(self) -> list[GateResult]:
        return sorted(self.results.values(), key=lambda r: (r.info.id, r.nodeid))


def current_commit(cwd: Path) -> str:
    """The commit being gated: ``$GITHUB_SHA``/``$CI_COMMIT_SHA``, else ``git rev-parse``."""
    for name in ("FIXGATE_COMMIT", "GITHUB_SHA", "CI_COMMIT_SHA"):
        if os.environ.get(name):
            return os.environ[name]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""
