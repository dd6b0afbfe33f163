"""The HTML gate report: one self-contained page, written by fixgate itself.

Built for the person deciding at 3 a.m.: the decision first (large, coloured,
with its reason, environment, target, commit, time and duration, and the
gate outcome counts); then one gate table, failing gates first; the
comparison with the last promoted release, when one was made; shared
evidence such as a load run's charts, once, with the gates it feeds; the
not-configured gates in a short table of their own; each gate's evidence
(``Evidence.details`` rendered generically: tables for lists of records,
links for the log files named under ``logs``), open unless the gate
passed; the test environment folded at the end.

It is rendered from the redacted verdict (the same data as the JSON) plus
the HTML fragments gates attached (``gate.attach_html``), so it needs no
other plugin: ``-p no:html`` cannot lose it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    import pytest

    from pytest_fixgate.outcomes.model import GateResult

__all__ = [
    "EXTRAS_ATTRIBUTE",
    "OUTCOME_ORDER",
    "SHARED_PREFIX",
    "attach_evidence",
    "order_key",
    "render_html",
    "why_not_configured",
]

#: The TestReport attribute carrying a gate's HTML fragments to the controller (xdist
#: serialises plain report attributes).
EXTRAS_ATTRIBUTE = "fixgate_html"

#: Fragments named so (``"load run 03:12:09 UTC"``) are one shared run's evidence: drawn
#: once, unfolded, with the gates they feed; so is any fragment several gates attach.
SHARED_PREFIX = "load run"

#: Failing gates first: the order a reader must see them in.
OUTCOME_ORDER = ("FAIL", "ERROR", "INCONCLUSIVE", "WARN", "PASS")

_COLOURS = {
    "PASS": "#116329",
    "WARN": "#7d4e00",
    "INCONCLUSIVE": "#6639ba",
    "FAIL": "#b3141f",
    "ERROR": "#82071e",
    "PROMOTE": "#116329",
    "HOLD": "#a33b00",
    "ROLLBACK": "#82071e",
}
_DECISION_MEANING = {
    "PROMOTE": "every required gate passed: the release may go on",
    "HOLD": "do not promote this release",
    "ROLLBACK": "roll the release back now",
}
_MAX_ROWS = 200  # rows of one evidence table before "... n more"
_MAX_DEPTH = 3  # nested evidence deeper than this is shown as JSON text
_CI = re.compile(r"^(?P<value>.*?)\s*\((?P<ci>\d+% CI [^)]*)\)\s*$")

_CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: #1f2328; background: #fff; }
main { max-width: 1400px; margin: 0 auto; padding: 0 24px 48px; }
#fixgate-decision { color: #fff; padding: 20px 24px 18px; margin: 0 -24px 20px; }
#fixgate-decision h2 { margin: 0; font-size: 60px; line-height: 1.05; letter-spacing: .02em; }
#fixgate-decision .meaning { font-size: 22px; font-weight: 600; margin: 2px 0 8px; }
#fixgate-decision .reason { font-size: 20px; margin: 0 0 12px; overflow-wrap: anywhere; }
#fixgate-decision .meta { font-size: 16px; margin: 0 0 12px; opacity: .95; }
#fixgate-decision .meta b { font-weight: 700; }
.counts { display: flex; flex-wrap: wrap; gap: 8px; margin: 0; padding: 0; list-style: none; }
.counts li { background: #fff; color: #1f2328; border-radius: 6px; padding: 4px 12px;
  font-size: 17px; font-weight: 700; }
.counts li.zero { background: rgba(255,255,255,.16); color: #fff !important; font-weight: 400; }
.counts .n { font-size: 22px; margin-right: 6px; }
h3 { font-size: 22px; margin: 28px 0 8px; }
h4 { font-size: 18px; margin: 18px 0 6px; }
table { border-collapse: collapse; width: 100%; table-layout: auto; }
th, td { border: 1px solid #d0d7de; padding: 6px 10px; text-align: left; vertical-align: top;
  overflow-wrap: anywhere; }
th { background: #f6f8fa; font-size: 15px; white-space: nowrap; }
#fixgate-gates td.gate { width: 20%; }
#fixgate-gates td.gate code { font-size: 15px; font-weight: 600; }
#fixgate-gates td.gate a { color: inherit; }
#fixgate-gates td.measured { width: 20%; }
#fixgate-gates td.threshold { width: 18%; }
#fixgate-gates td.samples { text-align: right; white-space: nowrap; }
#fixgate-gates tr.failing td { background: #fff8f7; }
.title { display: block; color: #57606a; font-size: 14px; }
.ci { display: block; color: #57606a; font-size: 14px; }
.tag { display: inline-block; font-size: 13px; border: 1px solid #8c959f; border-radius: 4px;
  padding: 0 5px; color: #57606a; margin-left: 4px; }
.badge { display: inline-block; color: #fff; border-radius: 5px; padding: 2px 8px;
  font-weight: 700; font-size: 15px; white-space: nowrap; }
.muted { color: #57606a; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f6f8fa; padding: 8px;
  border-radius: 6px; font-size: 14px; margin: 4px 0; }
details { margin: 6px 0; }
details > summary { cursor: pointer; font-size: 17px; padding: 4px 0; }
.evidence { border-left: 5px solid #d0d7de; padding: 2px 0 2px 14px; margin: 10px 0 18px; }
.evidence table { width: auto; min-width: 50%; }
.evidence th { width: 12em; }
.shared { border: 1px solid #d0d7de; border-radius: 8px; padding: 4px 16px 12px;
  margin: 12px 0 20px; }
.shared .charts { display: flex; flex-wrap: wrap; gap: 12px; }
.shared .charts > * { flex: 1 1 560px; min-width: 0; }
.shared svg { max-width: 100%; height: auto; }
.missing { color: #b3141f; }
#fixgate-not-configured td, #fixgate-not-configured th { padding: 2px 10px; font-size: 15px; }
"""


def attach_evidence(
    report: pytest.TestReport, result: GateResult, html_extras: Sequence[tuple[str, str]] = ()
) -> None:
    """Carry the gate's HTML fragments (charts, tables) on its report to the writer.

    The result itself travels in ``user_properties``; the fragments, which can be large
    and have no place in the JUnit XML, in a plain report attribute.
    """
    del result  # the verdict has it; kept in the signature for the plugin's glue
    if html_extras:
        setattr(report, EXTRAS_ATTRIBUTE, [[name, html] for name, html in html_extras])


def _badge(word: str) -> str:
    colour = _COLOURS.get(word, "#57606a")
    return f"<span class='badge' style='background:{colour}'>{escape(word)}</span>"


def order_key(gate: Mapping[str, Any]) -> tuple[int, int, str]:
    """Failing gates first (OUTCOME_ORDER), required before optional, then by id."""
    outcome = gate.get("outcome", "ERROR")
    rank = OUTCOME_ORDER.index(outcome) if outcome in OUTCOME_ORDER else 0
    return (rank, 0 if gate.get("required", True) else 1, str(gate.get("id", "")))


def _when(started: str, finished: str) -> str:
    """``2026-11-29 03:18:09 to 03:18:19 UTC (10 s)``: the run's span, in UTC."""
    try:
        start = datetime.fromisoformat(started).astimezone(UTC)
        end = datetime.fromisoformat(finished).astimezone(UTC)
    except (TypeError, ValueError):
        return f"{started} to {finished}"
    seconds = round((end - start).total_seconds())
    took = f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"
    end_text = end.strftime("%H:%M:%S" if end.date() == start.date() else "%Y-%m-%d %H:%M:%S")
    return f"{start:%Y-%m-%d %H:%M:%S} to {end_text} UTC ({took})"


def _decision(verdict: Mapping[str, Any]) -> str:
    decision = str(verdict["decision"])
    colour = _COLOURS.get(decision, "#57606a")
    commit = str(verdict.get("commit") or "")
    commit_html = (
        f"<code title='{escape(commit)}'>{escape(commit[:12])}</code>" if commit else "unknown"
    )
    started, finished = str(verdict["started"]), str(verdict["finished"])
    advisory = (
        " · <b>advisory run: exits 0 whatever the decision</b>" if verdict.get("advisory") else ""
    )
    counts = verdict.get("counts", {})
    chips = "".join(
        f"<li class='{'zero' if not counts.get(o) else ''}' style='color:{_COLOURS[o]}'>"
        f"<span class='n'>{int(counts.get(o, 0))}</span>{o}</li>"
        for o in OUTCOME_ORDER
    )
    skipped = len(verdict.get("not_configured", ()))
    chips += (
        f"<li class='{'zero' if not skipped else ''}'><span class='n'>{skipped}</span>"
        "not configured</li>"
    )
    return (
        f"<header id='fixgate-decision' style='background:{colour}'>"
        f"<h2>{escape(decision)}</h2>"
        f"<p class='meaning'>{escape(_DECISION_MEANING.get(decision, ''))}</p>"
        f"<p class='reason' title='{escape(str(verdict['reason']))}'>"
        f"{escape(_clip(str(verdict['reason']), 400))}</p>"
        f"<p class='meta'>environment <b>{escape(str(verdict['env']))}</b> · "
        f"target <b>{escape(str(verdict.get('target') or ''))}</b> · commit {commit_html}<br>"
        f"{escape(_when(started, finished))}{advisory}</p>"
        f"<ul class='counts' id='fixgate-counts' aria-label='gate outcomes'>{chips}</ul>"
        "</header>"
    )


def _clip(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word; the whole text is in the evidence."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;: ") + " …"


def _measured_cell(gate: Mapping[str, Any]) -> str:
    measured = gate.get("measured")
    if measured in (None, ""):
        if gate.get("outcome") == "ERROR":
            method = str((gate.get("evidence") or {}).get("method") or "")
            what = f": {_clip(method, 90)}" if method else ""
            return (
                f"<b>not measured</b><span class='ci' title='{escape(method)}'>"
                f"could not measure{escape(what)}</span>"
            )
        return "<span class='muted'>not measured</span>"
    match = _CI.match(str(measured))
    if match is None:
        return escape(str(measured))
    return f"{escape(match['value'])}<span class='ci'>{escape(match['ci'])}</span>"


def _gate_row(gate: Mapping[str, Any], shared: Mapping[str, str]) -> str:
    outcome = str(gate["outcome"])
    optional = "" if gate.get("required", True) else "<span class='tag'>optional</span>"
    # The run's charts are drawn once, further down: each of its gates links to them.
    optional += "".join(
        f" <a class='tag' href='#{anchor}'>charts</a>" for anchor in shared.values()
    )
    threshold = gate.get("threshold")
    threshold_html = (
        escape(str(threshold)) if threshold else "<span class='muted'>none stated</span>"
    )
    failing = outcome not in ("PASS", "WARN")
    return (
        f"<tr class='{'failing' if failing else 'passing'}' data-outcome='{escape(outcome)}' "
        f"data-gate='{escape(str(gate['id']))}'>"
        f"<td class='gate'><a href='#{escape(quote('evidence-' + str(gate['id'])))}'>"
        f"<code>{escape(str(gate['id']))}</code></a>{optional}"
        f"<span class='title'>{escape(str(gate.get('title') or ''))}</span></td>"
        f"<td>{_badge(outcome)}</td>"
        f"<td class='measured'>{_measured_cell(gate)}</td>"
        f"<td class='threshold'>{threshold_html}</td>"
        f"<td class='samples'>{escape(str(gate.get('samples', 0)))}</td>"
        f"<td>{escape(str(gate.get('reason') or ''))}</td></tr>"
    )


def _gate_table(gates: Sequence[Mapping[str, Any]], refs: Mapping[str, Mapping[str, str]]) -> str:
    if not gates:
        return "<p><b>No gate ran.</b> Nothing shows this release is safe.</p>"
    head = "".join(
        f"<th>{h}</th>" for h in ("gate", "outcome", "measured", "threshold", "samples", "reason")
    )
    rows = "".join(_gate_row(g, refs.get(str(g.get("nodeid") or ""), {})) for g in gates)
    return f"<table id='fixgate-gates'><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def why_not_configured(missing: str, env: str, code: Callable[[str], str] = str) -> str:
    """Why a gate is not configured, in words (``code`` marks up the config names)."""
    # A gate kind is left out for want of its table; a built-in gate for want of a key.
    if missing.endswith("_env") or not missing.isidentifier():
        return f"{code(f'env.{env}.{missing}')} is not set"
    return f"no {code(f'[env.{env}.{missing}]')} table"


def _why_not_configured(missing: str, env: str) -> str:
    return why_not_configured(missing, env, lambda name: f"<code>{escape(name)}</code>")


def _not_configured(entries: Sequence[Mapping[str, Any]], env: str) -> str:
    if not entries:
        return ""
    rows = "".join(
        f"<tr><td title='{escape(str(e.get('title') or ''))}'><code>{escape(str(e['id']))}</code>"
        f"</td><td>{_why_not_configured(str(e.get('missing') or ''), env)}</td></tr>"
        for e in entries
    )
    return (
        "<h3>Not configured (not run, not counted)</h3>"
        "<table id='fixgate-not-configured' style='width:auto'>"
        f"<thead><tr><th>gate</th><th>why</th></tr></thead><tbody>{rows}</tbody></table>"
    )


# -- evidence details, rendered generically ----------------------------------------------


def _scalar(value: Any) -> str:
    if value is None:
        return "<span class='muted'>none</span>"
    if isinstance(value, float):
        return escape(f"{value:.6g}")
    return escape(str(value))


#: (the report folder that log paths are relative to, the folder the HTML is written to)
_Dirs = tuple[Path | None, Path | None]


def _log_link(path: Any, report_dir: Path | None, html_dir: Path | None) -> str:
    text = str(path)
    rel = PurePosixPath(text.replace("\\", "/"))
    # Only files inside the report folder are linked: the report travels with its logs.
    if rel.is_absolute() or ".." in rel.parts or ":" in text.split("/", 1)[0]:
        return f"<code>{escape(text)}</code>"
    exists = report_dir is None or (report_dir / rel).is_file()
    missing = "" if exists else " <span class='missing'>(file not written)</span>"
    href = rel.as_posix()
    if report_dir is not None and html_dir is not None and html_dir != report_dir:
        # The HTML went elsewhere (--html=PATH): link back into the report folder.
        href = Path(os.path.relpath(report_dir / rel, html_dir)).as_posix()
    return f"<a href='{escape(quote(href))}'><code>{escape(text)}</code></a>{missing}"


def _records_table(rows: Sequence[Mapping[str, Any]], depth: int, report_dir: _Dirs) -> str:
    columns: list[str] = []
    for row in rows[:_MAX_ROWS]:
        columns += [str(k) for k in row if str(k) not in columns]
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{_value(row.get(c), depth + 1, report_dir)}</td>" for c in columns)
        + "</tr>"
        for row in rows[:_MAX_ROWS]
    )
    more = (
        f"<p class='muted'>... and {len(rows) - _MAX_ROWS} more (all of them in the JSON)</p>"
        if len(rows) > _MAX_ROWS
        else ""
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def _value(value: Any, depth: int, report_dir: _Dirs) -> str:
    if isinstance(value, Mapping):
        if not value:
            return "<span class='muted'>none</span>"
        if depth >= _MAX_DEPTH:
            return f"<pre>{escape(json.dumps(value, indent=1, default=str))}</pre>"
        return _mapping_table(value, depth, report_dir)
    if isinstance(value, list | tuple):
        if not value:
            return "<span class='muted'>none</span>"
        if all(isinstance(v, Mapping) for v in value) and depth < _MAX_DEPTH:
            return _records_table(value, depth, report_dir)
        if all(not isinstance(v, Mapping | list | tuple) for v in value):
            return ", ".join(_scalar(v) for v in value[:_MAX_ROWS]) + (
                " ..." if len(value) > _MAX_ROWS else ""
            )
        return f"<pre>{escape(json.dumps(value, indent=1, default=str))}</pre>"
    if isinstance(value, str) and "\n" in value:
        return f"<pre>{escape(value)}</pre>"
    return _scalar(value)


def _log_paths(value: Any) -> list[Any]:
    """The paths under ``logs``: a list, a mapping of name to path, or one path."""
    if isinstance(value, Mapping):
        return list(value.values())
    if isinstance(value, list | tuple):
        return list(value)
    return [] if value in (None, "") else [value]


def _mapping_table(data: Mapping[str, Any], depth: int, report_dir: _Dirs) -> str:
    rows = []
    for key, value in data.items():
        if key == "logs":
            cell = "<br>".join(_log_link(p, *report_dir) for p in _log_paths(value)) or "none"
        else:
            cell = _value(value, depth, report_dir)
        rows.append(f"<tr><th>{escape(str(key))}</th><td>{cell}</td></tr>")
    return f"<table>{''.join(rows)}</table>"


def _evidence(
    gate: Mapping[str, Any],
    own_extras: Sequence[tuple[str, str]],
    shared_names: Mapping[str, str],
    report_dir: _Dirs,
) -> str:
    evidence = dict(gate.get("evidence") or {})
    method = evidence.pop("method", "")
    # A load gate's run figures are shown once, in the run's own section.
    shown_elsewhere = [k for k in ("load_run",) if k in evidence]
    for key in shown_elsewhere:
        evidence.pop(key)
    outcome = str(gate["outcome"])
    summary = (
        f"{_badge(outcome)} <code>{escape(str(gate['id']))}</code> "
        f"<span class='muted'>{escape(str(gate.get('title') or ''))}</span>"
    )
    rows = [("method", escape(str(method)) if method else "<span class='muted'>not said</span>")]
    rows += [
        ("reason", escape(str(gate.get("reason") or ""))),
        ("node", f"<code>{escape(str(gate.get('nodeid') or ''))}</code>"),
        ("duration", f"{float(gate.get('duration_s') or 0.0):.3f} s"),
    ]
    table = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    parts = [f"<table>{table}</table>"]
    if evidence:
        parts.append("<h4>details</h4>" + _mapping_table(evidence, 0, report_dir))
    for key in shown_elsewhere:
        parts.append(f"<p class='muted'>{escape(key)}: see the section above.</p>")
    for name in shared_names:
        parts.append(
            f"<p class='muted'>charts: see <a href='#{shared_names[name]}'>"
            f"{escape(name)}</a> above.</p>"
        )
    for name, fragment in own_extras:
        parts.append(f"<h4>{escape(name)}</h4><div class='extra'>{fragment}</div>")
    open_attr = "" if outcome == "PASS" else " open"  # folded only when green
    return (
        f"<details class='gate-evidence' id='evidence-{escape(str(gate['id']))}'{open_attr}>"
        f"<summary>{summary}</summary><div class='evidence'>{''.join(parts)}</div></details>"
    )


def _shared_sections(
    gates: Sequence[Mapping[str, Any]], extras: Mapping[str, Sequence[tuple[str, str]]]
) -> tuple[str, dict[str, dict[str, str]]]:
    """Fragments that several gates attached under the same name (one load run's charts)
    are drawn once, with the gates they belong to. Returns the HTML and, per nodeid, the
    shared fragment names it refers to (name -> anchor)."""
    owners: dict[str, list[Mapping[str, Any]]] = {}
    fragment: dict[str, str] = {}
    for gate in gates:
        for name, html in extras.get(str(gate.get("nodeid") or ""), ()):
            owners.setdefault(name, []).append(gate)
            fragment.setdefault(name, html)
    shared = {
        name for name, who in owners.items() if len(who) > 1 or name.startswith(SHARED_PREFIX)
    }
    refs: dict[str, dict[str, str]] = {}
    out = []
    for index, name in enumerate(n for n in owners if n in shared):
        anchor = f"shared-{index}"
        who = owners[name]
        for gate in who:
            refs.setdefault(str(gate.get("nodeid") or ""), {})[name] = anchor
        badges = " ".join(
            f"{_badge(str(g['outcome']))} <code>{escape(str(g['id']))}</code>" for g in who
        )
        out.append(
            f"<section class='shared fixgate-chartset' id='{anchor}'>"
            f"<h3>{escape(name)}</h3><p>for {badges}</p>{fragment[name]}</section>"
        )
    return "".join(out), refs


def _environment(rows: Sequence[tuple[str, str]]) -> str:
    if not rows:
        return ""
    body = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return (
        "<details id='fixgate-environment'><summary>Test environment "
        "(Python, platform, plugins)</summary>"
        f"<table style='width:auto'>{body}</table></details>"
    )


def _baseline(baseline: Any) -> str:
    """The comparison with the last promoted release (``[env.X.baseline]``), when made."""
    if not isinstance(baseline, Mapping) or not baseline.get("configured"):
        return ""
    facts = {
        k: baseline[k]
        for k in ("source", "commit", "finished", "tolerance", "on_regression")
        if baseline.get(k) not in (None, "", {})
    }
    comparisons = baseline.get("comparisons") or []
    table = _records_table(comparisons, 0, (None, None)) if comparisons else ""
    return (
        "<section id='fixgate-baseline'><h3>Against the last promoted release</h3>"
        f"<p>{escape(str(baseline.get('reason') or ''))}</p>"
        f"{_mapping_table(facts, 1, (None, None)) if facts else ''}{table}</section>"
    )


def render_html(
    verdict: Mapping[str, Any],
    *,
    extras: Mapping[str, Sequence[tuple[str, str]]] | None = None,
    environment: Sequence[tuple[str, str]] = (),
    report_dir: Path | None = None,
    html_dir: Path | None = None,
) -> str:
    """The self-contained HTML report of a (redacted) verdict.

    ``extras``: HTML fragments by gate node id, as gates attached them;
    ``environment``: (name, value) rows for the folded environment table;
    ``report_dir``: the report folder, which evidence ``logs`` paths are relative to (to
    check they exist); ``html_dir``: where this page goes, when elsewhere (``--html``).
    """
    extras = extras or {}
    gates = sorted(verdict.get("gates", ()), key=order_key)
    shared_html, refs = _shared_sections(gates, extras)
    evidence = "".join(
        _evidence(
            g,
            [
                (n, h)
                for n, h in extras.get(str(g.get("nodeid") or ""), ())
                if n not in refs.get(str(g.get("nodeid") or ""), {})
            ],
            refs.get(str(g.get("nodeid") or ""), {}),
            (report_dir, html_dir or report_dir),
        )
        for g in gates
    )
    title = f"fixgate {verdict['decision']}: {verdict['env']} gate report"
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body><main>"
        f"{_decision(verdict)}"
        f"<h3 id='gates'>Gates ({len(gates)}), failing first</h3>{_gate_table(gates, refs)}"
        f"{_baseline(verdict.get('baseline'))}"
        f"{shared_html}"
        f"{_not_configured(verdict.get('not_configured', ()), str(verdict['env']))}"
        f"<h3>Evidence</h3>{evidence or '<p class=muted>none</p>'}"
        f"{_environment(environment)}"
        f"<p class='muted'>Verdict schema {escape(str(verdict.get('schema', '')))}, "
        f"sha256 <code>{escape(str(verdict.get('sha256', '')))}</code> "
        f"(the JSON beside this report is the record).</p>"
        "</main></body></html>\n"
    )
