"""The decision rule, with Hypothesis: PROMOTE only when every required gate passed."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pytest_fixgate.decision import DecisionKind, decide
from pytest_fixgate.outcomes.model import Evidence, GateInfo, GateResult, Outcome


def result(gate_id: str, outcome: Outcome, required: bool = True) -> GateResult:
    return GateResult(
        GateInfo(gate_id, gate_id, "critical", required), outcome, Evidence(reason="r")
    )


results = st.lists(
    st.builds(
        result, st.text(min_size=1, max_size=8), st.sampled_from(list(Outcome)), st.booleans()
    ),
    max_size=12,
)


def test_all_passed_promotes() -> None:
    decision = decide([result("a", Outcome.PASS), result("b", Outcome.WARN)])
    assert decision.kind is DecisionKind.PROMOTE
    assert decision.exit_code == 0
    assert "1 with warnings" in decision.reason


def test_hold_names_the_gates() -> None:
    decision = decide(
        [
            result("health.x", Outcome.FAIL),
            result("mongo.ping", Outcome.ERROR),
            result("ok", Outcome.PASS),
        ]
    )
    assert decision.kind is DecisionKind.HOLD
    assert decision.exit_code == 1
    assert decision.reason == ("2 of 3 required gates not passed: health.x FAIL, mongo.ping ERROR")
    assert decision.blocking == ("health.x", "mongo.ping")


def test_nothing_ran_is_a_hold() -> None:
    assert decide([]).kind is DecisionKind.HOLD
    assert decide([result("opt", Outcome.PASS, required=False)]).kind is DecisionKind.HOLD


def test_optional_failures_do_not_hold() -> None:
    decision = decide([result("a", Outcome.PASS), result("b", Outcome.FAIL, required=False)])
    assert decision.kind is DecisionKind.PROMOTE


def test_rollback_alert_wins() -> None:
    decision = decide([result("a", Outcome.PASS)], rollback_alerts=["error_rate SEV-1"])
    assert decision.kind is DecisionKind.ROLLBACK
    assert decision.exit_code == 10


@given(results)
def test_promote_iff_required_all_passing(rs: list[GateResult]) -> None:
    required = [r for r in rs if r.info.required]
    promote = bool(required) and all(r.outcome in (Outcome.PASS, Outcome.WARN) for r in required)
    assert (decide(rs).kind is DecisionKind.PROMOTE) is promote


@given(results, st.sampled_from([Outcome.FAIL, Outcome.ERROR, Outcome.INCONCLUSIVE]))
def test_adding_a_bad_required_result_never_promotes(rs: list[GateResult], bad: Outcome) -> None:
    assert decide([*rs, result("new", bad)]).kind is DecisionKind.HOLD


@given(results)
def test_order_does_not_matter(rs: list[GateResult]) -> None:
    assert decide(rs).kind is decide(list(reversed(rs))).kind
