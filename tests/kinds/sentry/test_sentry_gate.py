"""The Sentry error-rate gate: its judge, its client against a local stand-in for
Sentry's API, and `pytest --gate` end to end (a subprocess, its files, its terminal)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gaterun import GATES, GateRunResult, run_gate, staging_config
from hypothesis import given, settings
from hypothesis import strategies as st
from sentry_standin import SentryStandin, StandinState, sentry_standin

from pytest_fixgate.config.loader import load_config, select_env
from pytest_fixgate.config.thresholds import compile_threshold
from pytest_fixgate.errors import ProbeBadResponse, ProbeConnectError, ProbeError, ProbeTimeout
from pytest_fixgate.kinds.sentry.judge import judge_sentry_threshold
from pytest_fixgate.kinds.sentry.measurement import (
    SentryAuthError,
    SentryErrorRate,
    SentryNotFound,
    SentryQuery,
    SentryRateLimited,
    SentryStatusError,
    read_sentry_error_rate,
    sentry_query,
    stats_period,
)
from pytest_fixgate.measurements.secrets import MissingSecret
from pytest_fixgate.measurements.stats import ErrorRate
from pytest_fixgate.outcomes.model import Outcome
from pytest_fixgate.reference import free_port

TOKEN = "sntrys_Planted-Qx7v9K2m"
LIMIT = compile_threshold("error_rate < 1%")
SUITE = GATES / "test_sentry.py"


@pytest.fixture(scope="module")
def _standin() -> Iterator[SentryStandin]:
    with sentry_standin(token=TOKEN) as server:
        yield server


@pytest.fixture
def sentry(_standin: SentryStandin) -> SentryStandin:
    """The stand-in, back to its defaults: org acme, projects backend=4505 and frontend=4506."""
    _standin.reset(StandinState(token=TOKEN))
    return _standin


# -- the judge -------------------------------------------------------------------------


def reading(failure_rate: float, count: int, **more: Any) -> SentryErrorRate:
    url = "https://sentry.example/api/0/organizations/acme/events/?project=4505"
    fields = {
        "url": url,
        "org": "acme",
        "project": "backend",
        "project_id": "4505",
        "environment": "staging",
        "period": "5m",
        "failure_rate": failure_rate,
        "count": count,
        "method": f"GET {url} with header Authorization: Bearer ***",
        **more,
    }
    return SentryErrorRate(**fields)


def test_half_a_percent_of_5000_passes_with_its_interval() -> None:
    finding = judge_sentry_threshold(LIMIT, reading(0.005, 5000), min_samples=100)
    ev = finding.evidence
    assert finding.outcome is Outcome.PASS
    assert ev.measured == "0.50% of 5000 transactions (95% CI 0.34% to 0.74%)"
    assert ev.threshold == "error_rate < 1%" and ev.samples == 5000
    assert ev.reason.startswith("25 of 5000 transactions failed in the last 5m in 'staging'")
    assert "Bearer ***" in ev.method and "Wilson 95%" in ev.method
    assert ev.details["project_id"] == "4505" and ev.details["failure_rate"] == 0.005
    assert ev.details["error_rate"]["failures"] == 25


def test_three_percent_of_5000_fails() -> None:
    finding = judge_sentry_threshold(LIMIT, reading(0.03, 5000), min_samples=100)
    assert finding.outcome is Outcome.FAIL
    assert (
        "150 of 5000" in finding.evidence.reason and "outside the limit" in finding.evidence.reason
    )


@pytest.mark.parametrize(
    ("failure_rate", "count", "min_samples", "words"),
    [
        (0.009, 1000, 100, "lies inside the 95% interval"),
        (0.011, 2000, 100, "lies inside the 95% interval"),
        (0.0, 50, 100, "only 50 transactions"),
        (0.005, 99, 100, "fewer than min_samples = 100"),
        (0.0, 0, 100, "no transactions"),
    ],
    ids=["just-under", "just-over", "few-clean", "few-undecided", "none"],
)
def test_undecidable_rates_are_inconclusive(
    failure_rate: float, count: int, min_samples: int, words: str
) -> None:
    finding = judge_sentry_threshold(LIMIT, reading(failure_rate, count), min_samples=min_samples)
    assert finding.outcome is Outcome.INCONCLUSIVE
    assert words in finding.evidence.reason
    assert finding.evidence.samples == count


@pytest.mark.parametrize("count", [3, 30, 99])
def test_a_proven_failure_is_fail_whatever_min_samples(count: int) -> None:
    # Every transaction failed: the Wilson interval lies wholly over 1% at any count.
    finding = judge_sentry_threshold(LIMIT, reading(1.0, count), min_samples=100)
    assert finding.outcome is Outcome.FAIL, finding.evidence.reason
    assert finding.evidence.measured is not None
    assert finding.evidence.measured.startswith(f"100.00% of {count} transactions")
    assert "outside the limit" in finding.evidence.reason


def test_rate_limited_is_inconclusive_never_pass() -> None:
    limited = SentryRateLimited("https://sentry.example/x", "30", method="GET x")
    finding = judge_sentry_threshold(LIMIT, limited, min_samples=1)
    assert finding.outcome is Outcome.INCONCLUSIVE
    assert finding.evidence.reason.startswith("rate-limited by Sentry: HTTP 429 (Retry-After: 30)")
    assert finding.evidence.details["status"] == 429


def test_count_threshold_is_an_exact_point_value() -> None:
    at_least = compile_threshold("count >= 1000")
    assert judge_sentry_threshold(at_least, reading(0.5, 1000), min_samples=5000).outcome is (
        Outcome.PASS
    )
    under = judge_sentry_threshold(at_least, reading(0.0, 999), min_samples=1)
    assert under.outcome is Outcome.FAIL
    assert under.evidence.measured == "999 transactions"


def test_a_count_of_zero_is_inconclusive_whatever_the_limit() -> None:
    # "count < 100" would hold for 0, which is also what a wrong environment name gives.
    for text in ("count < 100", "count >= 1"):
        finding = judge_sentry_threshold(compile_threshold(text), reading(0.0, 0), min_samples=1)
        assert finding.outcome is Outcome.INCONCLUSIVE, text
        assert "a wrong project or environment reads the same" in finding.evidence.reason


def test_equality_on_an_error_rate_is_an_error_not_a_guess() -> None:
    finding = judge_sentry_threshold(
        compile_threshold("error_rate == 1%"), reading(0.01, 5000), min_samples=1
    )
    assert finding.outcome is Outcome.ERROR
    assert "cannot be judged on an interval" in finding.evidence.reason


def test_failures_are_the_rounded_product() -> None:
    assert reading(0.0123, 1500).failures == 18  # 18.45
    assert reading(1 / 3, 3).failures == 1


@settings(max_examples=200, deadline=None)
@given(count=st.integers(1, 20_000), data=st.data())
def test_a_pass_or_fail_is_backed_by_the_whole_interval(count: int, data: Any) -> None:
    failures = data.draw(st.integers(0, count))
    finding = judge_sentry_threshold(LIMIT, reading(failures / count, count), min_samples=1)
    er = ErrorRate.from_counts(failures, count)
    expected = {True: Outcome.PASS, False: Outcome.FAIL, None: Outcome.INCONCLUSIVE}
    assert finding.outcome is expected[LIMIT.holds_for_interval(er.low, er.high)]
    if finding.outcome is Outcome.PASS:
        assert er.high < 0.01
    if finding.outcome is Outcome.FAIL:
        assert er.low >= 0.01


# -- the client against the stand-in ---------------------------------------------------


def query(base_url: str, project: str = "4505", **more: Any) -> SentryQuery:
    fields = {
        "base_url": base_url,
        "org": "acme",
        "project": project,
        "environment": "staging",
        "period": "5m",
        "timeout_s": 2.0,
        "token_env": "T_SENTRY_TOKEN",
        "token": TOKEN,
        **more,
    }
    return SentryQuery(**fields)


@pytest.mark.parametrize(
    ("seconds", "period"),
    [(300, "5m"), (3600, "1h"), (86_400, "1d"), (90, "90s"), (5400, "90m"), (0.5, "1s")],
)
def test_stats_period(seconds: float, period: str) -> None:
    assert stats_period(seconds) == period


def test_numeric_project_is_one_documented_request(sentry: SentryStandin) -> None:
    sentry.set(failure_rate=0.0123, count=1500)
    result = read_sentry_error_rate(query(sentry.base_url))
    assert isinstance(result, SentryErrorRate)
    assert (result.failure_rate, result.count, result.project_id) == (0.0123, 1500, "4505")
    [seen] = sentry.requests
    assert seen.path == "/api/0/organizations/acme/events/" and seen.authorized
    assert seen.query == {
        "field": ["failure_rate()", "count()"],
        "project": ["4505"],
        "environment": ["staging"],
        "statsPeriod": ["5m"],
        "dataset": ["transactions"],
    }
    assert result.url == (
        f"{sentry.base_url}/api/0/organizations/acme/events/?field=failure_rate()"
        "&field=count()&project=4505&environment=staging&statsPeriod=5m&dataset=transactions"
    )
    assert TOKEN not in result.method and "Authorization: Bearer ***" in result.method


def test_project_slug_is_resolved_to_its_id_first(sentry: SentryStandin) -> None:
    sentry.set(failure_rate=0.01, count=300)
    result = read_sentry_error_rate(query(sentry.base_url, project="frontend"))
    assert isinstance(result, SentryErrorRate)
    assert (result.project, result.project_id) == ("frontend", "4506")
    lookup, events = sentry.requests
    assert lookup.path == "/api/0/projects/acme/frontend/" and lookup.status == 200
    assert events.query["project"] == ["4506"] and events.status == 200
    assert "/api/0/projects/acme/frontend/ (id 4506), then GET" in result.method


@pytest.mark.parametrize(
    ("fault", "error", "words"),
    [
        ("401", SentryAuthError, "Sentry rejected the token in T_SENTRY_TOKEN"),
        ("403", SentryAuthError, "Sentry refused the token in T_SENTRY_TOKEN access"),
        ("404", SentryNotFound, "Sentry knows no organization 'acme'"),
        ("500", SentryStatusError, "Sentry failed: "),
        ("garbage", ProbeBadResponse, "a body that is not JSON (text/html"),
        ("wrong_shape", ProbeBadResponse, "'count()' is 'lots'"),
    ],
)
def test_error_answers_raise_one_clear_sentence(
    sentry: SentryStandin, fault: str, error: type[ProbeError], words: str
) -> None:
    sentry.set(fault=fault)
    with pytest.raises(error) as raised:
        read_sentry_error_rate(query(sentry.base_url))
    message = str(raised.value)
    assert words in message, message
    assert TOKEN not in message and "\n" not in message
    if isinstance(raised.value, SentryStatusError):
        assert raised.value.status == int(fault)


def test_a_server_repeating_the_token_is_masked_by_the_client_itself(
    sentry: SentryStandin,
) -> None:
    sentry.set(fault="echo_token")
    with pytest.raises(SentryAuthError) as raised:
        read_sentry_error_rate(query(sentry.base_url))
    assert "Invalid token: ***" in str(raised.value)
    assert TOKEN not in str(raised.value)


def test_429_is_a_reading_not_an_error(sentry: SentryStandin) -> None:
    sentry.set(fault="429", retry_after="17")
    result = read_sentry_error_rate(query(sentry.base_url, project="backend"))
    assert result == SentryRateLimited(
        f"{sentry.base_url}/api/0/projects/acme/backend/", "17", method=result.method
    )


@pytest.mark.parametrize(
    ("project", "environment", "error", "words"),
    [
        ("nosuch", "staging", SentryNotFound, "no project 'nosuch' in organization 'acme'"),
        ("999", "staging", SentryAuthError, "access to organization 'acme', project 999"),
        ("4505", "qa", SentryNotFound, "or environment 'qa'"),
    ],
    ids=["unknown-slug", "foreign-project-id", "unknown-environment"],
)
def test_sentry_validates_what_the_client_asks(
    sentry: SentryStandin, project: str, environment: str, error: type[ProbeError], words: str
) -> None:
    with pytest.raises(error, match=words):
        read_sentry_error_rate(query(sentry.base_url, project=project, environment=environment))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"data": []}, (0.0, 0)),
        ({"data": [{"failure_rate()": 0, "count()": 0}]}, (0.0, 0)),
        ({"data": [{"failure_rate()": None, "count()": 0}]}, (0.0, 0)),
        ({"data": [{"failure_rate()": 1, "count()": 1500.0}]}, (1.0, 1500)),
        ({"data": [{"failure_rate()": 1.5, "count()": 10}]}, "expected a proportion in [0, 1]"),
        ({"data": [{"failure_rate()": True, "count()": 10}]}, "'failure_rate()' is True"),
        ({"data": [{"failure_rate()": None, "count()": 10}]}, "'failure_rate()' is None"),
        ({"data": [{"count()": 10}]}, "'failure_rate()' is None"),
        ({"data": [{"failure_rate()": 0.1, "count()": -1}]}, "non-negative integer"),
        ({"data": [{}, {}]}, "expected one row"),
        ({"rows": []}, "expected an object with a 'data' list"),
        ([1, 2], "expected an object with a 'data' list"),
    ],
)
def test_only_the_documented_shape_is_read(
    sentry: SentryStandin, body: Any, expected: tuple[float, int] | str
) -> None:
    sentry.set(raw_events=body)
    if isinstance(expected, str):
        with pytest.raises(ProbeBadResponse, match="not the documented events table") as raised:
            read_sentry_error_rate(query(sentry.base_url))
        assert expected in str(raised.value)
        return
    result = read_sentry_error_rate(query(sentry.base_url))
    assert isinstance(result, SentryErrorRate)
    assert (result.failure_rate, result.count) == expected


def test_slow_sentry_times_out(sentry: SentryStandin) -> None:
    sentry.set(fault="slow", slow_s=3.0)
    with pytest.raises(ProbeTimeout, match=r"gave no answer within 0\.3 s"):
        read_sentry_error_rate(query(sentry.base_url, timeout_s=0.3))


def test_unreachable_sentry_is_a_connect_error() -> None:
    with pytest.raises(ProbeConnectError, match="cannot connect to Sentry at"):
        read_sentry_error_rate(query(f"http://127.0.0.1:{free_port()}"))


def test_the_token_stays_out_of_repr_and_unusable_tokens_are_not_echoed() -> None:
    assert TOKEN not in repr(query("https://sentry.example"))
    with pytest.raises(ProbeError, match="T_SENTRY_TOKEN holds spaces") as raised:
        query("https://sentry.example", token="tok en\n")
    assert "tok en" not in str(raised.value)


def test_query_from_config_reads_the_named_variables(tmp_path: Path) -> None:
    path = tmp_path / "fixgate.toml"
    path.write_text(
        staging_config(
            "http://127.0.0.1:1",
            '[env.staging.sentry]\nbase_url = "https://sentry.example/"\n'
            'org_env = "T_ORG"\nproject_env = "T_PROJECT"\ntoken_env = "T_TOKEN"\n'
            'period = "1h"\n',
        )
    )
    env = select_env(load_config(path), "staging")
    environ = {"T_ORG": "acme", "T_PROJECT": "backend", "T_TOKEN": f"{TOKEN}\n"}
    made = sentry_query(env, environ)
    assert (made.base_url, made.org, made.project) == ("https://sentry.example", "acme", "backend")
    assert (made.environment, made.period, made.token) == ("staging", "1h", TOKEN)
    with pytest.raises(MissingSecret, match=r"T_TOKEN \(named by env.staging.sentry.token_env\)"):
        sentry_query(env, {**environ, "T_TOKEN": ""})


# -- end to end: pytest --gate -----------------------------------------------------------


def sentry_config(base_url: str, target: str | None = None, **keys: str) -> str:
    """A staging env whose [sentry] table points at ``base_url`` (the health gates' target:
    ``target``, default the same)."""
    table = {
        "base_url": base_url,
        "org_env": "T_SENTRY_ORG",
        "project_env": "T_SENTRY_PROJECT",
        "token_env": "T_SENTRY_TOKEN",
        "timeout": "2s",
        **keys,
    }
    lines = "".join(f'{k} = "{v}"\n' for k, v in table.items())
    return staging_config(target or base_url, "[env.staging.sentry]\n" + lines)


def gate_run(
    tmp_path: Path, config: str, *args: str, suite: Path = SUITE, **environ: str
) -> GateRunResult:
    """Only the Sentry gates run (the health gates the config implies end "did not run"),
    unless ``suite`` names the whole gate suite."""
    env = {"T_SENTRY_ORG": "acme", "T_SENTRY_PROJECT": "backend", "T_SENTRY_TOKEN": TOKEN}
    return run_gate(tmp_path, config, *args, environ={**env, **environ}, suite=suite)


def test_gate_passes_at_half_a_percent_and_promotes(
    tmp_path: Path, sentry: SentryStandin, reference: Any
) -> None:
    sentry.set(failure_rate=0.005, count=5000)
    # The whole suite: the health gates the config implies must run too for a PROMOTE.
    config = sentry_config(sentry.base_url, target=reference.base_url)
    run = gate_run(tmp_path, config, suite=GATES)
    assert run.exit_code == 0, run.output
    assert run.verdict["decision"] == "PROMOTE"
    gate = run.gate("sentry.error_rate")
    assert gate["outcome"] == "PASS" and gate["samples"] == 5000
    assert gate["measured"] == "0.50% of 5000 transactions (95% CI 0.34% to 0.74%)"
    assert gate["threshold"] == "error_rate < 1%"
    ev = gate["evidence"]
    assert "Authorization: Bearer ***" in ev["method"]
    assert "project=4505&environment=staging&statsPeriod=5m" in ev["method"]
    assert (ev["org"], ev["project"], ev["project_id"], ev["period"]) == (
        "acme",
        "backend",
        "4505",
        "5m",
    )
    assert (ev["failure_rate"], ev["count"]) == (0.005, 5000)
    # The slug was resolved before the query, and every request carried the token.
    assert [r.path for r in sentry.requests] == [
        "/api/0/projects/acme/backend/",
        "/api/0/organizations/acme/events/",
    ]
    assert all(r.authorized for r in sentry.requests)


def test_gate_fails_at_three_percent_and_holds(tmp_path: Path, sentry: SentryStandin) -> None:
    sentry.set(failure_rate=0.03, count=5000)
    config = sentry_config(sentry.base_url, period="1h", environment="production")
    run = gate_run(tmp_path, config, T_SENTRY_PROJECT="4506")
    assert run.exit_code == 1, run.output
    assert run.verdict["decision"] == "HOLD"
    assert "sentry.error_rate FAIL" in run.verdict["reason"]
    gate = run.gate("sentry.error_rate")
    assert gate["outcome"] == "FAIL" and "150 of 5000" in gate["reason"]
    assert [r.query["project"] for r in sentry.requests] == [["4506"]]  # an id: no lookup
    assert sentry.requests[0].query["environment"] == ["production"]
    assert sentry.requests[0].query["statsPeriod"] == ["1h"]


def test_one_gate_per_threshold(tmp_path: Path, sentry: SentryStandin) -> None:
    sentry.set(failure_rate=0.005, count=800)
    config = sentry_config(sentry.base_url).replace(
        'timeout = "2s"\n', 'timeout = "2s"\nthresholds = ["error_rate < 2%", "count >= 1000"]\n'
    )
    run = gate_run(tmp_path, config)
    sentry_gates = {k: v for k, v in run.outcomes().items() if k.startswith("sentry.")}
    assert sentry_gates == {"sentry.error_rate": "PASS", "sentry.count": "FAIL"}


@pytest.mark.parametrize(
    ("state", "min_samples", "words"),
    [
        ({"failure_rate": 0.009, "count": 1000}, "100", "lies inside the 95% interval"),
        ({"failure_rate": 0.0, "count": 1500}, "2000", "fewer than min_samples = 2000"),
        ({"fault": "429", "retry_after": "60"}, "100", "rate-limited by Sentry"),
        ({"fault": "empty", "fault_on": "events"}, "100", "no transactions"),
    ],
    ids=["near-limit", "min-samples", "rate-limited", "empty-window"],
)
def test_gate_inconclusive_holds(
    tmp_path: Path, sentry: SentryStandin, state: dict[str, Any], min_samples: str, words: str
) -> None:
    sentry.set(**state)
    config = sentry_config(sentry.base_url).replace(
        'timeout = "2s"\n', f'timeout = "2s"\nmin_samples = {min_samples}\n'
    )
    run = gate_run(tmp_path, config)
    assert run.exit_code == 1, run.output
    gate = run.gate("sentry.error_rate")
    assert gate["outcome"] == "INCONCLUSIVE", gate
    assert words in gate["reason"]
    assert gate["evidence"]["method"]


@pytest.mark.parametrize(
    ("fault", "environ", "words", "error"),
    [
        ("401", {}, "Sentry rejected the token in T_SENTRY_TOKEN", "SentryAuthError"),
        ("403", {}, "Sentry refused the token in T_SENTRY_TOKEN access", "SentryAuthError"),
        ("404", {}, "Sentry knows no project 'backend'", "SentryNotFound"),
        ("500", {}, "answered HTTP 500", "SentryStatusError"),
        ("garbage", {}, "a body that is not JSON", "ProbeBadResponse"),
        # A numeric project: no lookup, the events answer itself is wrong.
        (
            "wrong_shape",
            {"T_SENTRY_PROJECT": "4505"},
            "not the documented events",
            "ProbeBadResponse",
        ),
        ("slow", {}, "gave no answer within 1 s", "ProbeTimeout"),
        ("unreachable", {}, "cannot connect to Sentry", "ProbeConnectError"),
        (None, {"T_SENTRY_TOKEN": ""}, "T_SENTRY_TOKEN (named by", "MissingSecret"),
        (None, {"T_SENTRY_ORG": ""}, "T_SENTRY_ORG (named by", "MissingSecret"),
    ],
    ids=[
        "401",
        "403",
        "404",
        "500",
        "garbage",
        "wrong-shape",
        "slow",
        "unreachable",
        "unset-token",
        "unset-org",
    ],
)
def test_gate_errors_fail_closed(
    tmp_path: Path,
    sentry: SentryStandin,
    fault: str | None,
    environ: dict[str, str],
    words: str,
    error: str,
) -> None:
    sentry.set(failure_rate=0.0, count=5000)  # figures that would pass
    base_url = sentry.base_url
    if fault == "unreachable":
        base_url = f"http://127.0.0.1:{free_port()}"
    elif fault is not None:
        sentry.set(fault=fault, slow_s=4.0)
    config = sentry_config(base_url, timeout="1s")
    run = gate_run(tmp_path, config, **environ)
    assert run.exit_code == 1, run.output
    assert run.verdict["decision"] == "HOLD"
    gate = run.gate("sentry.error_rate")
    assert gate["outcome"] == "ERROR", gate
    assert words in gate["reason"], gate["reason"]
    assert gate["evidence"]["error"] == error
    assert "\n" not in gate["reason"] and TOKEN not in gate["reason"]
    if error != "MissingSecret":
        assert "Authorization: Bearer ***" in gate["evidence"]["method"]


def test_without_a_sentry_table_the_gate_is_not_configured(tmp_path: Path) -> None:
    run = run_gate(tmp_path, staging_config(f"http://127.0.0.1:{free_port()}"), suite=SUITE)
    assert run.exit_code == 1, run.output  # nothing ran: a HOLD, never a PROMOTE
    missing = {g["id"]: g["missing"] for g in run.verdict["not_configured"]}
    assert missing == {"sentry": "sentry"}
    # The health gates the config implies did not run (only test_sentry.py was named).
    assert run.verdict["gates"]
    assert all(g["reason"].startswith("did not run") for g in run.verdict["gates"])


def _artifacts(run: GateRunResult, summary: Path) -> dict[str, str]:
    texts = {"terminal": run.output, "summary": summary.read_text()}
    for path in run.report_dir.rglob("*"):
        if path.is_file():
            texts[str(path)] = path.read_text(errors="replace")
    return texts


@pytest.mark.parametrize(
    ("fault", "workers"),
    [("echo_token", []), (None, ["-n", "2"])],
    ids=["serial-echoed-token", "xdist-pass"],
)
def test_planted_token_appears_nowhere(
    tmp_path: Path, sentry: SentryStandin, fault: str | None, workers: list[str]
) -> None:
    sentry.set(failure_rate=0.005, count=5000, fault=fault)
    summary = tmp_path / "summary.md"
    # The whole gate suite: the health gates point nowhere and end in ERROR too.
    config = sentry_config(sentry.base_url, target=f"http://127.0.0.1:{free_port()}")
    run = run_gate(
        tmp_path,
        config,
        "-rA",
        "-vv",
        "-l",
        *workers,
        environ={
            "T_SENTRY_ORG": "acme",
            "T_SENTRY_PROJECT": "backend",
            "T_SENTRY_TOKEN": TOKEN,
            "GITHUB_STEP_SUMMARY": str(summary),
        },
    )
    assert run.exit_code == 1, run.output
    expected = "ERROR" if fault else "PASS"
    assert run.outcomes()["sentry.error_rate"] == expected
    assert sentry.requests and all(r.authorized for r in sentry.requests)
    texts = _artifacts(run, summary)
    assert len(texts) >= 6  # terminal, summary, html, json, xml, latest
    for name, text in texts.items():
        for secret in (TOKEN, TOKEN[8:], TOKEN[:-4]):
            assert secret not in text, f"{secret!r} leaked into {name}"
