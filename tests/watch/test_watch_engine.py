"""The watch's rule engine: property tests of the time rules on generated sample streams."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_fixgate.config.thresholds import BUILTIN_METRICS, MetricKind, MetricSpec
from pytest_fixgate.config.thresholds import compile_threshold as _compile
from pytest_fixgate.watch.engine import Count, Dist, Engine, Level, Rate, Rule, RuleState, Tick

METRICS = {
    **BUILTIN_METRICS,
    "ready": MetricSpec(MetricKind.ANY),
    "fails": MetricSpec(MetricKind.COUNT),
}
ERR = _compile("error_rate > 5%", METRICS)

# A tick's condition: True (bad), False (good), None (no data: the source failed).
conds = st.lists(st.sampled_from([True, False, None]), min_size=1, max_size=60)
intervals = st.sampled_from([0.5, 1.0, 15.0])


def _ticks(pattern: list[bool | None], interval: float) -> list[Tick]:
    out = []
    for i, cond in enumerate(pattern):
        readings = {} if cond is None else {"probe": {"error_rate": Rate(int(cond), 1)}}
        errors = {"probe": "connect refused"} if cond is None else {}
        out.append(Tick(i * interval, readings, errors))
    return out


def _states(rule: Rule, ticks: list[Tick]) -> list[RuleState]:
    engine = Engine([rule])
    return [engine.step(t).statuses[0].state for t in ticks]


@settings(max_examples=300, deadline=None)
@given(pattern=conds, steps=st.integers(1, 8), interval=intervals, fire=st.booleans())
def test_for_fires_exactly_when_held_at_every_tick_for_the_duration(
    pattern: list[bool | None], steps: int, interval: float, fire: bool
) -> None:
    rule = Rule(
        "r", "SEV-1", ERR, for_s=steps * interval, on_no_data="fire" if fire else "inconclusive"
    )
    states = _states(rule, _ticks(pattern, interval))
    run = 0  # consecutive ticks the condition held, ending here
    for i, cond in enumerate(pattern):
        held = cond is True or (cond is None and fire)
        run = run + 1 if held else 0
        # held at ticks i-run+1 .. i: for (run - 1) intervals
        expected = held and (run - 1) >= steps
        assert (states[i] is RuleState.FIRING) == expected, (i, pattern[: i + 1])
        if held and not expected:
            assert states[i] is RuleState.PENDING
        if not held:
            assert states[i] in (RuleState.OK, RuleState.NO_DATA)


def test_one_false_tick_resets_for() -> None:
    rule = Rule("r", "SEV-1", ERR, for_s=3)
    states = _states(rule, _ticks([True, True, True, False, True, True, True, True], 1.0))
    assert states.index(RuleState.FIRING) == 7  # not 3: the false tick at 3 reset it


@settings(max_examples=300, deadline=None)
@given(pattern=conds, k=st.integers(1, 5), span=st.integers(1, 10), interval=intervals)
def test_count_fires_on_the_kth_bad_tick_within_the_span_not_the_k_minus_1th(
    pattern: list[bool | None], k: int, span: int, interval: float
) -> None:
    rule = Rule("r", "SEV-1", ERR, count=k, within_s=span * interval)
    states = _states(rule, _ticks(pattern, interval))
    for i in range(len(pattern)):
        # bad ticks in the trailing span: ticks j with i - j < span
        hits = sum(1 for j in range(max(0, i - span + 1), i + 1) if pattern[j] is True)
        assert (states[i] is RuleState.FIRING) == (hits >= k), (i, hits, k)


def test_readiness_failing_once_does_not_fire_twice_within_does() -> None:
    rule = Rule("ready", "SEV-1", ERR, count=2, within_s=3)
    assert RuleState.FIRING not in _states(rule, _ticks([True, False, False, True], 1.0))
    assert _states(rule, _ticks([True, False, True], 1.0))[-1] is RuleState.FIRING


rates = st.lists(
    st.one_of(
        st.none(), st.integers(0, 50).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n)))
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(stream=rates, span=st.integers(1, 10))
def test_window_rate_is_a_ratio_of_sums(stream: list[tuple[int, int] | None], span: int) -> None:
    rule = Rule("r", "SEV-1", ERR, window_s=span)
    engine = Engine([rule])
    for i, entry in enumerate(stream):
        readings = {} if entry is None else {"probe": {"error_rate": Rate(*entry)}}
        status = engine.step(Tick(float(i), readings)).statuses[0]
        inside = [e for e in stream[max(0, i - span + 1) : i + 1] if e is not None]
        bad, total = sum(b for b, _ in inside), sum(n for _, n in inside)
        if total == 0:
            assert status.value is None
            assert status.state is RuleState.NO_DATA
        else:
            assert status.value == bad / total
            assert status.samples == total
            assert (status.state is RuleState.FIRING) == (bad / total > 0.05)


def test_window_rate_differs_from_a_mean_of_ratios() -> None:
    # 1 of 1 failed, then 0 of 99: the mean of ratios is 50%, the ratio of sums 1%.
    rule = Rule("r", "SEV-1", ERR, window_s=10)
    engine = Engine([rule])
    engine.step(Tick(0.0, {"probe": {"error_rate": Rate(1, 1)}}))
    status = engine.step(Tick(1.0, {"probe": {"error_rate": Rate(0, 99)}})).statuses[0]
    assert status.value == pytest.approx(0.01)
    assert status.state is RuleState.OK


def test_window_quantile_of_merged_samples() -> None:
    rule = Rule("p95", "SEV-2", _compile("p(95) > 1500ms", METRICS), window_s=3)
    engine = Engine([rule])
    engine.step(Tick(0.0, {"probe": {"latency": Dist(tuple([100.0] * 19))}}))
    status = engine.step(Tick(1.0, {"probe": {"latency": Dist((2000.0,))}})).statuses[0]
    assert status.value == 100.0  # rank ceil(.95*20)=19 of the merged 20 samples
    status = engine.step(Tick(2.0, {"probe": {"latency": Dist((2000.0,))}})).statuses[0]
    assert status.value == 2000.0 and status.state is RuleState.FIRING


def test_count_and_level_windows() -> None:
    fails = Rule("m", "SEV-1", _compile("fails > 0", METRICS), source="mongo", window_s=60)
    engine = Engine([fails])
    engine.step(Tick(0.0, {"mongo": {"fails": Count(0)}}))
    assert engine.step(Tick(15.0, {"mongo": {"fails": Count(1)}})).fired
    ready = Rule("r", "SEV-1", _compile("ready == false", METRICS), for_s=1)
    engine = Engine([ready])
    states = [
        engine.step(Tick(float(i), {"probe": {"ready": Level(v)}})).statuses[0].state
        for i, v in enumerate([True, False, False])
    ]
    assert states == [RuleState.OK, RuleState.PENDING, RuleState.FIRING]


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 40),
    mode=st.sampled_from(["window", "for", "count"]),
    on_no_data=st.sampled_from(["inconclusive", "ok"]),
)
def test_no_data_never_fires_and_never_confirms(n: int, mode: str, on_no_data: str) -> None:
    kw = {
        "window": {"window_s": 2.0},
        "for": {"for_s": 2.0},
        "count": {"count": 1, "within_s": 2.0},
    }
    rule = Rule("r", "SEV-1", ERR, on_no_data=on_no_data, **kw[mode])  # type: ignore[arg-type]
    engine = Engine([rule])
    for tick in _ticks([None] * n, 1.0):
        assert not engine.step(tick).fired
    verdict = engine.verdict(finished=True)
    assert verdict.decision == "HOLD"


def test_no_data_fires_when_asked() -> None:
    rule = Rule("r", "SEV-1", ERR, for_s=2, on_no_data="fire")
    assert _states(rule, _ticks([None, None, None], 1.0))[-1] is RuleState.FIRING


@settings(max_examples=200, deadline=None)
@given(pattern=conds)
def test_verdict_is_promote_only_with_data_and_no_rollback(pattern: list[bool | None]) -> None:
    rule = Rule("r", "SEV-1", ERR, for_s=3)
    engine = Engine([rule])
    for tick in _ticks(pattern, 1.0):
        engine.step(tick)
    verdict = engine.verdict(finished=True)
    gaps = pattern.count(None)
    if engine.alerts:
        assert verdict.decision == "ROLLBACK"
    elif gaps / len(pattern) > 0.1:
        assert verdict.decision == "HOLD"
    else:
        assert verdict.decision == "PROMOTE"
    assert engine.verdict(finished=False).decision in ("ROLLBACK", "HOLD")


def test_sev3_fired_is_a_warning_not_a_rollback() -> None:
    rule = Rule("q", "SEV-3", ERR, for_s=1)
    engine = Engine([rule])
    for tick in _ticks([True, True, False], 1.0):
        engine.step(tick)
    verdict = engine.verdict(finished=True)
    assert (verdict.decision, verdict.outcome) == ("PROMOTE", "WARN")
    assert [(t.previous.value, t.state.value) for t in engine.transitions] == [
        ("ok", "pending"),
        ("pending", "firing"),
        ("firing", "ok"),
    ]


def test_rule_needs_exactly_one_mode() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Rule("r", "SEV-1", ERR, window_s=1, for_s=1)
    with pytest.raises(ValueError, match="exactly one"):
        Rule("r", "SEV-1", ERR, count=2)


def test_ticks_must_move_forward() -> None:
    engine = Engine([Rule("r", "SEV-1", ERR, for_s=1)])
    engine.step(Tick(1.0))
    with pytest.raises(ValueError, match="not after"):
        engine.step(Tick(1.0))


def test_engine_imports_no_pytest() -> None:
    code = (
        "import sys, pytest_fixgate.watch.engine as e; "
        "sys.exit('pytest' in sys.modules or 'time' in dir(e))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_live_line_shows_time_left_values_and_states() -> None:
    from pytest_fixgate.watch.live import format_line

    rules = [
        Rule("errors", "SEV-1", ERR, for_s=5),
        Rule("ready", "SEV-1", _compile("ready == false", METRICS), count=1, within_s=5),
    ]
    engine = Engine(rules)
    tick = Tick(
        75.0,
        {"probe": {"error_rate": Rate(1, 1), "ready": Level(True), "latency": Dist((42.0,))}},
        {"mongo": "refused"},
    )
    line = format_line("production", engine.step(tick), tick, 1800)
    assert line.startswith("watch production: 28m45s left | ")
    assert "probe: error_rate 1/1 latency 42ms ready true" in line
    assert "mongo: gap" in line
    assert "errors pending since 75s" in line and "ready ok" in line


def test_samples_file_never_appends_to_another_watch(tmp_path) -> None:
    from pytest_fixgate.watch.samples import SamplesWriter, read_samples

    path = tmp_path / "production-20260101T000000Z.samples.jsonl"
    first = SamplesWriter.create(path, {"env": "production"})
    second = SamplesWriter.create(path, {"env": "production"})
    first.append(Tick(0.0, {"probe": {"ready": Level(True)}}))
    second.close()
    first.close()
    assert second.path.name == "production-20260101T000000Z-2.samples.jsonl"
    assert len(read_samples(path).ticks) == 1 and read_samples(second.path).ticks == []


def test_resume_drops_a_partial_last_line_then_appends(tmp_path) -> None:
    from pytest_fixgate.watch.samples import SamplesWriter, iter_ticks, read_samples

    path = tmp_path / "w.samples.jsonl"
    writer = SamplesWriter.create(path, {"env": "production"})
    writer.append(Tick(0.0, {"probe": {"error_rate": Rate(0, 1)}}))
    writer.close()
    with path.open("ab") as fh:
        fh.write(b'{"t": 1.0, "readings": {"pro')  # killed mid-write
    existing = read_samples(path)
    assert existing.partial and [t.t for t in existing.ticks] == [0.0]
    assert [t.t for t in iter_ticks(path)] == [0.0]
    writer = SamplesWriter.resume(existing)
    writer.append(Tick(1.0, {"probe": {"error_rate": Rate(1, 1)}}))
    writer.close()
    again = read_samples(path)
    assert not again.partial
    assert [(t.t, t.reading("probe", "error_rate")) for t in again.ticks] == [
        (0.0, Rate(0, 1)),
        (1.0, Rate(1, 1)),
    ]


latencies = st.lists(
    st.one_of(st.none(), st.lists(st.integers(1, 5000).map(float), max_size=5)),
    min_size=1,
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(stream=latencies, span=st.integers(1, 8), q=st.sampled_from([50, 95, 99]))
def test_window_quantile_is_the_nearest_rank_of_the_merged_samples(
    stream: list[list[float] | None], span: int, q: int
) -> None:
    import math

    rule = Rule("p", "SEV-2", _compile(f"p({q}) > 1500ms", METRICS), window_s=span)
    engine = Engine([rule])
    for i, values in enumerate(stream):
        readings = {} if values is None else {"probe": {"latency": Dist(tuple(values))}}
        status = engine.step(Tick(float(i), readings)).statuses[0]
        merged = sorted(v for entry in stream[max(0, i - span + 1) : i + 1] if entry for v in entry)
        if not merged:
            assert status.value is None and status.state is RuleState.NO_DATA
            continue
        expected = merged[max(1, math.ceil(q / 100 * len(merged))) - 1]
        assert (status.value, status.samples) == (expected, len(merged))
        assert (status.state is RuleState.FIRING) == (expected > 1500)


class _FakeClock:
    """The injected clock: sleeping moves time, nothing waits."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


class _Source:
    method = "fake"

    def __init__(self, name: str, values: list[object], clock: _FakeClock, cost_s: float) -> None:
        self.name, self.values, self.clock, self.cost_s = name, list(values), clock, cost_s

    def sample(self) -> dict:
        self.clock.now += self.cost_s  # sampling takes time
        value = self.values.pop(0)
        if isinstance(value, Exception):
            raise value
        return {"error_rate": value}

    def close(self) -> None:
        pass


def _loop(tmp_path, values: list[object], duration: float, cost_s: float = 0.2):
    from pytest_fixgate.redaction import Redactor
    from pytest_fixgate.watch.sampler import run_loop
    from pytest_fixgate.watch.samples import SamplesWriter, read_samples

    clock = _FakeClock()
    engine = Engine([Rule("r", "SEV-1", ERR, for_s=2)])
    writer = SamplesWriter.create(tmp_path / "w.samples.jsonl", {"env": "x"})
    result = run_loop(
        engine=engine,
        sources={"probe": _Source("probe", values, clock, cost_s)},
        writer=writer,
        duration_s=duration,
        interval_s=1.0,
        redactor=Redactor(["s3cret"]),
        clock=clock,
    )
    writer.close()
    return result, read_samples(writer.path).ticks, clock


def test_live_loop_ticks_on_schedule_with_an_injected_clock(tmp_path) -> None:
    ok = Rate(0, 1)
    result, ticks, clock = _loop(tmp_path, [ok, ok, RuntimeError("no s3cret here"), ok, ok], 4.0)
    assert (result.finished, result.rolled_back) == (True, False)
    assert [t.t for t in ticks] == [0.0, 1.0, 2.0, 3.0, 4.0]  # due times: no drift
    assert clock.slept == [0.8, 0.8, 0.8, 0.8]  # each tick's 0.2 s of sampling is absorbed
    assert ticks[2].errors == {"probe": "no *** here"}  # a gap, redacted
    assert ticks[2].readings == {}


def test_live_loop_stops_at_the_rollback_tick(tmp_path) -> None:
    bad = Rate(1, 1)
    result, ticks, _ = _loop(tmp_path, [Rate(0, 1), bad, bad, bad, bad, bad], 30.0)
    assert result.rolled_back and result.last_t == 3.0  # bad from t=1, held 2 s
    assert len(ticks) == 4


@pytest.mark.parametrize("on_no_data", ["ok", "fire"])
def test_a_source_that_never_answered_never_confirms(on_no_data: str) -> None:
    # on_no_data covers a source that answered without the metric, not one that failed:
    # the probe unreachable at every tick while mongo answers is not a PROMOTE.
    rules = [
        Rule("errors", "SEV-3", ERR, for_s=60, on_no_data=on_no_data),
        Rule("fails", "SEV-1", _compile("fails > 3", METRICS), source="mongo", window_s=2),
    ]
    engine = Engine(rules)
    for i in range(10):
        engine.step(Tick(float(i), {"mongo": {"fails": Count(0)}}, {"probe": "refused"}))
    verdict = engine.verdict(finished=True)
    assert (verdict.decision, verdict.outcome) == ("HOLD", "INCONCLUSIVE")
    assert "errors: source probe answered at 0 of 10 ticks" in verdict.reason
    # The source answering with no requests (no error_rate) is what "ok" is for.
    engine = Engine([Rule("errors", "SEV-1", ERR, window_s=2, on_no_data="ok"), rules[1]])
    for i in range(10):
        engine.step(Tick(float(i), {"probe": {}, "mongo": {"fails": Count(0)}}))
    assert engine.verdict(finished=True).decision == "PROMOTE"


def test_too_few_of_the_ticks_due_never_confirm() -> None:
    # A sampler suspended for most of the watch (its missed ticks are not in the file)
    # sampled 2 of the 31 ticks due: every rule had data at each, yet nothing was watched.
    engine = Engine([Rule("r", "SEV-1", ERR, for_s=60)])
    for t in (0.0, 1800.0):
        engine.step(Tick(t, {"probe": {"error_rate": Rate(0, 10)}}))
    verdict = engine.verdict(finished=True, expected_ticks=31)
    assert (verdict.decision, verdict.outcome) == ("HOLD", "INCONCLUSIVE")
    assert "2 of the 31 ticks due were sampled" in verdict.reason
    assert engine.verdict(finished=True, expected_ticks=2).decision == "PROMOTE"
