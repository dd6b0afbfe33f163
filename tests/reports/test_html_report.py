"""The gate reports a person reads: HTML (checked in headless Chromium), JUnit, and that
a gate run files them itself whatever pytest plugins are disabled."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import shutil
import stat
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from gaterun import REPO, run_gate, staging_config

from pytest_fixgate.reports.html import render_html
from pytest_fixgate.reports.junit import render_junit

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WINDOW = (1280, 900)
_DECISION_RGB = {"PROMOTE": (0x11, 0x63, 0x29), "HOLD": (0xA3, 0x3B, 0x00)}


def _gate(gate_id: str, outcome: str, **more: Any) -> dict[str, Any]:
    return {
        "id": gate_id,
        "title": f"title of {gate_id}",
        "severity": "critical",
        "required": True,
        "outcome": outcome,
        "measured": None,
        "threshold": None,
        "samples": 0,
        "reason": f"reason of {gate_id}",
        "evidence": {"method": f"method of {gate_id}"},
        "nodeid": f"gates/test_x.py::test[{gate_id}]",
        "duration_s": 0.5,
        **more,
    }


def _verdict(gates: list[dict[str, Any]], decision: str = "HOLD") -> dict[str, Any]:
    counts = {o: sum(g["outcome"] == o for g in gates) for o in ("PASS", "WARN", "INCONCLUSIVE")}
    counts |= {o: sum(g["outcome"] == o for g in gates) for o in ("FAIL", "ERROR")}
    return {
        "schema": "pytest-fixgate/verdict@1",
        "env": "staging",
        "target": "https://staging.example.com",
        "commit": "0123456789abcdef0123",
        "started": "2026-11-29T03:00:00+00:00",
        "finished": "2026-11-29T03:01:05+00:00",
        "decision": decision,
        "reason": "2 of 4 required gates not passed: a FAIL, b ERROR",
        "blocking": [],
        "advisory": False,
        "config": "fixgate.toml",
        "counts": counts,
        "gates": gates,
        "not_configured": [
            {
                "id": "redis.ping",
                "title": "Redis answers PING",
                "severity": "major",
                "required": True,
                "missing": "redis_url_env",
            },
            {
                "id": "load",
                "title": "Threshold holds under load",
                "severity": "critical",
                "required": True,
                "missing": "load",
            },
        ],
        "reports": {},
        "sha256": "f" * 64,
    }


def _rows(html: str) -> list[tuple[str, str]]:
    return re.findall(r"<tr class='[a-z]+' data-outcome='(\w+)' data-gate='([^']+)'", html)


def test_html_puts_the_decision_first_and_failing_gates_before_passing_ones(
    tmp_path: Path,
) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "build.log").write_text("ok\n")
    gates = [
        _gate("a.pass", "PASS", measured="4.1 ms (95% CI 3.9 to 4.3 ms)", samples=700),
        _gate("b.error", "ERROR", threshold="HTTP 200 with JSON ⊇ {'ready': true}"),
        _gate("c.warn", "WARN", measured="1.3 s"),
        _gate("d.fail", "FAIL", measured="HTTP 503", threshold="HTTP 200"),
        _gate("e.inconclusive", "INCONCLUSIVE", required=False),
        _gate(
            "f.audit",
            "FAIL",
            evidence={
                "method": "pip-audit",
                "findings": [
                    {"package": "jinja2", "id": "GHSA-h5c8", "fix": "3.1.5"},
                    {"package": "urllib3", "id": "GHSA-34jh"},
                ],
                "logs": ["logs/build.log", "logs/never.log", "../../etc/passwd"],
            },
        ),
    ]
    html = render_html(_verdict(gates), report_dir=tmp_path)
    # The decision comes before anything else on the page, with its facts.
    assert html.index("id='fixgate-decision'") < html.index("id='fixgate-gates'")
    banner = html[html.index("id='fixgate-decision'") : html.index("</header>")]
    assert ">HOLD</h2>" in banner and "2 of 4 required gates not passed" in banner
    when = "2026-11-29 03:00:00 to 03:01:05 UTC (1 min 5 s)"
    for fact in ("staging", "https://staging.example.com", "0123456789ab", when):
        assert fact in banner
    # Gate outcome counts where the reader looks; no pytest counters at all.
    assert re.search(r"<span class='n'>2</span>FAIL", banner)
    assert re.search(r"<span class='n'>1</span>ERROR", banner)
    assert "Errors" not in html and "No log output captured" not in html
    # One table, failing first, in the documented order; required before optional.
    assert [o for o, _ in _rows(html)] == ["FAIL", "FAIL", "ERROR", "INCONCLUSIVE", "WARN", "PASS"]
    # An ERROR row says what could not be measured, and keeps its threshold.
    error_row = html[html.index("data-gate='b.error'") :].split("</tr>", 1)[0]
    assert "not measured" in error_row and "could not measure: method of b.error" in error_row
    assert "HTTP 200 with JSON ⊇ {&#x27;ready&#x27;: true}" in error_row
    # A long method is cut in the table (it is whole in the evidence below).
    long_gate = _gate("g.error", "ERROR", evidence={"method": "GET http://x/ " + "word " * 80})
    long_html = render_html(_verdict([long_gate]))
    long_row = long_html[long_html.index("data-gate='g.error'") :].split("</tr>", 1)[0]
    assert " …</span>" in long_row and len(long_row) < 1000
    # Each gate's row links to its evidence.
    assert "<a href='#evidence-d.fail'><code>d.fail</code></a>" in html
    # The interval sits under the measured value.
    assert "4.1 ms<span class='ci'>95% CI 3.9 to 4.3 ms</span>" in html
    # Not-configured gates in their own table, saying what is missing, no internal paths.
    table = html[html.index("id='fixgate-not-configured'") :].split("</table>", 1)[0]
    assert "redis.ping" in table and "<code>env.staging.redis_url_env</code> is not set" in table
    assert "no <code>[env.staging.load]</code> table" in table
    assert "plugin.py" not in html and "Skipped" not in html
    # Evidence details: a list of records is a table; logs are links inside the report dir.
    assert "<th>package</th><th>id</th><th>fix</th>" in html
    assert "<a href='logs/build.log'>" in html
    assert "<a href='logs/never.log'><code>logs/never.log</code></a> <span class='missing'>" in html
    assert "href='../../etc/passwd'" not in html
    # Evidence is open for every gate that is not a plain PASS.
    assert "id='evidence-d.fail' open>" in html and "id='evidence-a.pass'>" in html
    assert "id='evidence-c.warn' open>" in html  # folded only when green


def test_shared_fragments_are_drawn_once_with_the_gates_they_feed() -> None:
    gates = [_gate(f"load.p({q})", "PASS") for q in (95, 99)] + [_gate("load.error_rate", "FAIL")]
    chart = "<svg id='the-chart'></svg>"
    extras = {g["nodeid"]: [("load run started 03:00:00 UTC", chart)] for g in gates}
    extras[gates[0]["nodeid"]].append(("own table", "<table id='own'></table>"))
    html = render_html(_verdict(gates), extras=extras)
    assert html.count("the-chart") == 1
    section = html[html.index("class='shared fixgate-chartset'") :].split("</section>", 1)[0]
    assert all(g["id"] in section for g in gates)
    assert html.count("id='own'") == 1  # a gate's own fragment stays with its evidence
    # Each of the run's gates links to the one chart set from its row.
    rows = html[html.index("id='fixgate-gates'") :].split("</table>", 1)[0]
    assert rows.count("<a class='tag' href='#shared-0'>charts</a>") == 3
    assert html.index("class='shared fixgate-chartset'") < html.index("<h3>Evidence</h3>")


def test_junit_has_one_testcase_per_gate_and_the_decision() -> None:
    gates = [
        _gate("a", "PASS"),
        _gate("b", "FAIL"),
        _gate("c", "ERROR"),
        _gate("d", "INCONCLUSIVE"),
        _gate("e", "WARN"),
    ]
    root = ET.fromstring(render_junit(_verdict(gates)))
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("7", "2", "1")
    assert suite.get("skipped") == "2"
    props = {p.get("name"): p.get("value") for p in suite.find("properties") or ()}
    assert props["fixgate.decision"] == "HOLD" and props["fixgate.env"] == "staging"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["b"].find("failure") is not None and cases["c"].find("error") is not None
    assert cases["a"].find("failure") is None and cases["redis.ping"].find("skipped") is not None
    # The gate's result is a suite property: junit-10.xsd allows no <properties> in a testcase.
    assert not [c for c in cases.values() if c.find("properties") is not None]
    result = json.loads(props["fixgate.result.c"])  # type: ignore[arg-type]
    assert result["outcome"] == "ERROR" and result["id"] == "c"
    assert json.loads(props["fixgate.result.a"])["outcome"] == "PASS"  # type: ignore[arg-type]
    # Says what is missing as the HTML does: a key not set, or a whole table absent.
    skipped = {n: cases[n].find("skipped").get("message") for n in ("redis.ping", "load")}  # type: ignore[union-attr]
    assert skipped == {
        "redis.ping": "not configured: env.staging.redis_url_env is not set",
        "load": "not configured: no [env.staging.load] table",
    }


# -- end to end -------------------------------------------------------------------------


@pytest.fixture
def healthy(reference: Any, mongo: Any, redis_srv: Any) -> tuple[str, dict[str, str]]:
    config = staging_config(
        reference.base_url, mongodb_uri_env="T_MONGO_URI", redis_url_env="T_REDIS_URL"
    )
    return config, {"T_MONGO_URI": mongo.uri, "T_REDIS_URL": redis_srv.url}


def _printed_reports(output: str) -> dict[str, Path]:
    return {k: Path(v) for k, v in re.findall(r"fixgate report \((\w+)\): (\S+)", output)}


@pytest.mark.parametrize(
    "disabled",
    [["-p", "no:html"], ["-p", "no:junitxml"], ["-p", "no:html", "-p", "no:junitxml", "-n", "2"]],
    ids=["no-html", "no-junitxml", "both-xdist"],
)
def test_disabled_report_plugins_cannot_lose_a_report(
    tmp_path: Path, healthy: Any, disabled: list[str]
) -> None:
    config, environ = healthy
    run = run_gate(tmp_path, config, *disabled, environ=environ)
    assert run.exit_code == 0, run.output
    assert run.verdict["decision"] == "PROMOTE"
    printed = _printed_reports(run.output)
    assert set(printed) == {"html", "json", "junit", "latest"}
    umask = os.umask(0o022)
    os.umask(umask)
    for path in printed.values():
        assert path.is_file(), path
        # Readable as any other file the user makes (a CI artifact, a web server).
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path
    assert "id='fixgate-decision'" in printed["html"].read_text()
    root = ET.parse(printed["junit"]).getroot()
    expected = len(run.verdict["gates"]) + len(run.verdict["not_configured"])
    assert len(list(root.iter("testcase"))) == expected
    assert {p.get("name"): p.get("value") for p in root.iter("property")}[
        "fixgate.decision"
    ] == "PROMOTE"


def test_named_report_paths_are_where_fixgate_writes(tmp_path: Path, healthy: Any) -> None:
    config, environ = healthy
    # --html exists only where pytest-html is installed (fixgate does not need it).
    html = ["--html=mine/h.html"] if importlib.util.find_spec("pytest_html") else []
    run = run_gate(tmp_path, config, "--junitxml=mine/j.xml", *html, environ=environ)
    assert run.exit_code == 0, run.output
    printed = _printed_reports(run.output)
    assert printed["junit"] == tmp_path / "mine" / "j.xml"
    assert ET.parse(printed["junit"]).getroot().find("testsuite/properties") is not None
    assert run.verdict["reports"]["junit"] == str(printed["junit"])
    if html:
        assert printed["html"] == tmp_path / "mine" / "h.html"
        assert "id='fixgate-decision'" in printed["html"].read_text()  # ours, not pytest-html's


def test_an_unwritable_report_is_exit_3_never_promote(tmp_path: Path, healthy: Any) -> None:
    config, environ = healthy
    (tmp_path / "taken").write_text("a file where a folder must go")
    run = run_gate(tmp_path, config, "--junitxml=taken/j.xml", environ=environ)
    assert run.exit_code == 3, run.output
    assert "fixgate report (" not in run.output
    assert "fixgate: ERROR cannot write reports" in run.output
    # No PROMOTE verdict left behind for `fixgate release tag` (it reads -latest.json) or a
    # later run's baseline to trust: the JSON is written only after every other report.
    assert not list(run.report_dir.glob("staging-*.json")), list(run.report_dir.iterdir())


# -- in a browser, as a person reads it ------------------------------------------------------


def _chromium(html: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--window-size={WINDOW[0]},{WINDOW[1]}",
            *args,
            html.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def _screenshot(html: Path, png: Path) -> Any:
    from PIL import Image

    done = _chromium(html, f"--screenshot={png}")
    assert png.is_file(), done.stderr[-2000:]
    return Image.open(png).convert("RGB")


def _load_config(base_url: str, **keys: str) -> str:
    return staging_config(
        base_url,
        f"""
[env.staging.load]
locustfile = "{REPO / "locustfiles/ready.py"}"
users = 4
spawn_rate = 4
duration = "4s"
min_samples = 100
thresholds = ["p(95) < 1500ms", "p(99) < 2500ms", "error_rate < 5%"]
""",
        **keys,
    )


@pytest.mark.xdist_group("load")
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")
@pytest.mark.parametrize("decision", ["PROMOTE", "HOLD"])
def test_a_reader_sees_the_decision_failures_and_one_chart_set(
    tmp_path: Path, reference: Any, mongo: Any, redis_srv: Any, decision: str
) -> None:
    if decision == "HOLD":
        reference.set_faults(mongo_down=True)  # readiness 503: load errors, db gates fail
    environ = {
        "T_MONGO_URI": mongo.uri,
        "T_REDIS_URL": redis_srv.url,
        "FIXGATE_READY_WAIT_MIN_S": "0",  # flat out: enough samples to bound p99
        "FIXGATE_READY_WAIT_MAX_S": "0",
    }
    config = _load_config(
        reference.base_url, mongodb_uri_env="T_MONGO_URI", redis_url_env="T_REDIS_URL"
    )
    # The HOLD run goes through xdist: the chart set must still arrive once.
    workers = ["-n", "2"] if decision == "HOLD" else []
    run = run_gate(tmp_path / "run", config, *workers, environ=environ)
    assert run.verdict["decision"] == decision, run.output
    html_path = run.files["html"]
    png = _screenshot(html_path, tmp_path / f"{decision}-top.png")
    # The decision fills the top of the first screenful, in its colour...
    expected = _DECISION_RGB[decision]
    top_band = [png.getpixel((x, 20)) for x in range(10, WINDOW[0] - 10, 50)]
    assert all(_close(p, expected) for p in top_band), top_band[:3]
    # ...and ends inside it, leaving room for the first gates.
    rows = [y for y in range(0, WINDOW[1]) if _close(png.getpixel((WINDOW[0] // 2, y)), expected)]
    assert rows and max(rows) < WINDOW[1] * 0.5, max(rows or [0])
    dom = _chromium(html_path, "--dump-dom").stdout
    assert f">{decision}</h2>" in dom
    outcomes = [o for o, _ in _rows(dom.replace('"', "'"))]
    assert outcomes, dom[:2000]
    if decision == "HOLD":
        first_pass = outcomes.index("PASS")
        assert outcomes[0] == "FAIL" and all(o != "PASS" for o in outcomes[:first_pass])
        assert "PASS" not in outcomes[: outcomes.count("FAIL")]
    else:
        assert set(outcomes) == {"PASS"}
    # One chart set for the one load run, drawing all three load gates' figures.
    assert dom.count("fixgate-chartset") == 1
    chartset = dom[dom.index("fixgate-chartset") :].split("</section>", 1)[0]
    assert chartset.count("<svg") == 3
    for gate_id in ("load.p(95)", "load.p(99)", "load.error_rate"):
        assert gate_id in chartset
    assert "p(99) &lt; 2500ms" in chartset  # the p99 gate's own figure, against its limit
    if decision == "PROMOTE":  # and, with latencies to show, p99 over time and in the histogram
        assert "p(99) threshold 2500 ms" in chartset and "p99 over the run" in chartset
    # The whole page, for a person to look at (kept under tmp_path).
    _chromium(
        html_path,
        f"--screenshot={tmp_path / f'{decision}-page.png'}",
        f"--window-size={WINDOW[0]},6000",
    )


def _close(pixel: tuple[int, int, int], rgb: tuple[int, int, int], tol: int = 12) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(pixel, rgb, strict=True))


def test_step_summary_lists_failing_gates_first_with_counts() -> None:
    from pytest_fixgate.reports.markdown import render_markdown

    gates = [_gate("a.pass", "PASS"), _gate("b.error", "ERROR"), _gate("c.fail", "FAIL")]
    text = render_markdown(_verdict(gates))
    assert text.index("`c.fail`") < text.index("`b.error`") < text.index("`a.pass`")
    assert "❌ FAIL 1 · 💥 ERROR 1 · ❔ INCONCLUSIVE 0 · ⚠️ WARN 0 · ✅ PASS 1" in text
    assert "`load` (no [env.staging.load] table)" in text


def test_log_links_point_into_the_report_folder_from_an_html_elsewhere(tmp_path: Path) -> None:
    reports, elsewhere = tmp_path / "reports", tmp_path / "mine" / "html"
    (reports / "logs").mkdir(parents=True)
    (reports / "logs" / "audit.log").write_text("ok\n")
    gate = _gate("audit.python", "FAIL", evidence={"method": "m", "logs": ["logs/audit.log"]})
    html = render_html(_verdict([gate]), report_dir=reports, html_dir=elsewhere)
    assert "<a href='../../reports/logs/audit.log'><code>logs/audit.log</code></a>" in html
    assert "file not written" not in html
    # One path, not in a list (a third-party gate kind): one link, not one per character.
    gate["evidence"]["logs"] = "logs/audit.log"
    html = render_html(_verdict([gate]), report_dir=reports, html_dir=elsewhere)
    assert html.count("<a href='../../reports/logs/audit.log'>") == 1
    assert "<a href='l'>" not in html


def test_chart_set_draws_every_gate_and_says_when_the_load_stopped_early(tmp_path: Path) -> None:
    import dataclasses

    from loadruns import two_worker_run

    from pytest_fixgate.config.thresholds import compile_threshold
    from pytest_fixgate.kinds.load.config import LoadCheck
    from pytest_fixgate.kinds.load.evidence import load_run_charts
    from pytest_fixgate.kinds.load.results import LoadAbort

    run = two_worker_run(tmp_path)
    checks = [
        LoadCheck(compile_threshold(t))
        for t in ("p(95) < 1500ms", "p(99) < 2500ms", "error_rate < 1%")
    ]
    html = load_run_charts(run, checks)
    assert html.count("<svg") == 3 and "Stopped early" not in html
    for drawn in ("load.p(95)", "load.p(99)", "load.error_rate", "p99 over the run 234.0 ms"):
        assert drawn in html
    assert "p(99) threshold 2500 ms" in html and "threshold 1%" in html
    # An interval the samples cannot bound is drawn open-ended, and says so.
    from pytest_fixgate.kinds.load.charts import JudgedFigure, judged_svg

    figure = JudgedFigure("load.p(99)", "p(99) < 2500ms", "latency", 7.1, 6.3, math.inf, 2500)
    assert "no upper bound" in judged_svg([figure])
    # A limit at an end of its axis is labelled inwards, not across the spine.
    near_zero = JudgedFigure("load.error_rate", "error_rate < 1%", "ratio", 1.0, 0.94, 1.0, 0.01)
    assert re.search(r"text-anchor: start[^>]*>limit 1%<", judged_svg([near_zero]))
    # HTTP 429 is neither a success nor a failure: it has its own stack in the throughput.
    assert "rate-limited (429) /s" in html and "succeeded /s" in html
    stopped = dataclasses.replace(run, aborted=LoadAbort(6.5, "the error rate is certain"))
    html = load_run_charts(stopped, checks)
    assert "<b>Stopped early</b> at 6.5 s of 10 s: the error rate is certain" in html
    assert "load stopped early (FAIL certain)" in html
    # No request succeeded: the latency axes have no legend, yet the shading is explained.
    from pytest_fixgate.kinds.load.charts import timeseries_svg

    (tmp_path / "failed").mkdir()
    failed_run = two_worker_run(tmp_path / "failed", with_latencies=False)
    failed_run = dataclasses.replace(
        failed_run, spec=dataclasses.replace(failed_run.spec, warmup_s=2)
    )
    failed = timeseries_svg(failed_run, None, 0.01)
    assert "no successful request: no latency over time" in failed
    assert "warm-up (not judged)" in failed


def test_a_chart_that_cannot_be_drawn_is_said_and_changes_no_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loadruns import two_worker_run

    from pytest_fixgate.gate_api import GateRecorder
    from pytest_fixgate.kinds.load import evidence as load_evidence
    from pytest_fixgate.outcomes.model import GateInfo
    from pytest_fixgate.redaction import Redactor

    def broken(*_args: object) -> str:
        raise ValueError("no font")

    monkeypatch.setattr(load_evidence, "load_run_charts", broken)
    monkeypatch.setattr(load_evidence, "_drawn", [])
    run = two_worker_run(tmp_path)
    recorder = GateRecorder(GateInfo(id="load.p(95)", title="t"), Redactor())
    load_evidence.attach_load_charts(recorder, run, [])
    [(name, html)] = recorder.html_extras
    assert name == load_evidence.chart_set_name(run)
    assert "could not be drawn (ValueError: no font)" in html
    assert recorder.finding is None  # the judge's finding, not the chart, decides
    # A long message is cut before it is escaped: never in the middle of an entity.
    monkeypatch.setattr(load_evidence, "_drawn", [])

    def long_message(*_args: object) -> str:
        raise ValueError("&" * 300)

    monkeypatch.setattr(load_evidence, "load_run_charts", long_message)
    load_evidence.attach_load_charts(recorder, run, [])
    assert "&amp;" * 200 + ")" in recorder.html_extras[-1][1]


def test_a_baseline_comparison_is_shown_when_one_was_made() -> None:
    verdict = _verdict([_gate("load.p(95)", "WARN")])
    assert "fixgate-baseline" not in render_html({**verdict, "baseline": {"configured": False}})
    verdict["baseline"] = {
        "configured": True,
        "found": True,
        "source": "reports/staging-20261128T010000Z.json",
        "commit": "feedbeef",
        "reason": "1 regression(s) against reports/staging-20261128T010000Z.json: load.p(95)",
        "comparisons": [{"gate": "load.p(95)", "status": "regression", "change": "+42%"}],
    }
    html = render_html(verdict)
    section = html[html.index("id='fixgate-baseline'") :].split("</section>", 1)[0]
    assert "1 regression(s) against" in section and "feedbeef" in section
    assert "<th>gate</th><th>status</th><th>change</th>" in section
