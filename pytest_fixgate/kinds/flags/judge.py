"""Judging feature flags against the intended rollout.

The effective state of a flag is the application's: an override variable that
maps to the flag wins, else the live state the service reports. A flag whose
effective state differs from ``intended`` FAILs ``flags.rollout`` (with the
intended and live states and the override that caused it); an intended flag
the service does not know FAILs too. A variable declared in ``direct`` with a
flag (read directly by other code) FAILs ``flags.rollout`` when the state its
reader gives it differs from the flag's intended state. An override that maps
to no known flag (the application silently ignores it) FAILs
``flags.overrides``, unless it is declared in ``direct``: mapped to a flag the
service knows, or ignored with a reason. HTTP 429 is INCONCLUSIVE for both.
"""

from __future__ import annotations

from typing import Any

from pytest_fixgate.kinds.flags.config import FlagsConfig
from pytest_fixgate.kinds.flags.measurement import FlagsRateLimited, LiveFlags, Override
from pytest_fixgate.outcomes.model import Evidence, Finding, Outcome

__all__ = ["judge_flags_overrides", "judge_flags_rollout", "rollout_rule"]


def _on(state: bool | None) -> str:
    return "unknown" if state is None else ("on" if state else "off")


def rollout_rule(config: FlagsConfig) -> str:
    return "effective state = intended for " + ", ".join(
        f"{flag} {_on(state)}" for flag, state in config.intended.items()
    )


def _rate_limited(reading: FlagsRateLimited, method: str, threshold: str) -> Finding:
    wait = f" (Retry-After: {reading.retry_after})" if reading.retry_after else ""
    return Finding.inconclusive(
        f"rate-limited: {reading.url} answered HTTP 429{wait}; no flags to judge, run the "
        "gate again later",
        method=method,
        threshold=threshold,
    )


def _finding(
    outcome: Outcome,
    reason: str,
    measured: str,
    threshold: str,
    samples: int,
    method: str,
    details: dict[str, Any],
) -> Finding:
    evidence = Evidence(
        reason=reason,
        measured=measured,
        threshold=threshold,
        samples=samples,
        method=method,
        details=details,
    )
    return Finding(outcome, evidence)


def _known_overrides(live: LiveFlags, overrides: list[Override]) -> dict[str, Override]:
    # Later variables (sorted by name) win, as one Map.set after another would.
    return {o.flag: o for o in overrides if o.flag in live.flags}


def _direct_states(config: FlagsConfig, overrides: list[Override]) -> dict[str, list[str]]:
    """flag -> the direct variables that switch it away from its intended state."""
    present = {o.variable: o for o in overrides}
    out: dict[str, list[str]] = {}
    for variable, direct in config.direct.items():
        if direct.flag is None or direct.flag not in config.intended:
            continue
        seen = present.get(variable)
        state = seen.direct_state if seen is not None else direct.state(None)
        if state is None or state == config.intended[direct.flag]:
            continue
        where = seen.source if seen is not None else "not set"
        read_by = f", read directly by {direct.reason}" if direct.reason else ", read directly"
        out.setdefault(direct.flag, []).append(
            f"{variable} ({where}{read_by}) turns it {_on(state)}"
        )
    return out


def judge_flags_rollout(
    config: FlagsConfig,
    reading: LiveFlags | FlagsRateLimited,
    overrides: list[Override],
    method: str,
) -> Finding:
    threshold = rollout_rule(config)
    if isinstance(reading, FlagsRateLimited):
        return _rate_limited(reading, method, threshold)
    by_flag = _known_overrides(reading, overrides)
    direct = _direct_states(config, overrides)
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    for flag, intended in config.intended.items():
        live = reading.flags.get(flag)
        override = by_flag.get(flag)
        effective = override.enabled if override is not None else live
        if live is None:
            result = "unknown to the service"
            problems.append(f"{flag}: intended {_on(intended)}, unknown to the service")
        elif flag in direct:
            result = "differs where read directly"
            problems.append(f"{flag}: intended {_on(intended)}, " + "; ".join(direct[flag]))
        elif effective != intended:
            result = "differs"
            cause = (
                f"{override.variable} ({override.source}) turns it {_on(override.enabled)}"
                if override is not None
                else "no override"
            )
            problems.append(f"{flag}: intended {_on(intended)}, live {_on(live)}, {cause}")
        else:
            result = "as intended"
        rows.append(
            {
                "flag": flag,
                "intended": _on(intended),
                "live": _on(live),
                "override": f"{override.variable} ({override.source})" if override else "",
                "effective": _on(effective) if live is not None else "unknown",
                "direct": "; ".join(direct.get(flag, [])),
                "result": result,
            }
        )
    details = {
        "flags": rows,
        "shape": reading.shape,
        "live_flags": len(reading.flags),
        "overrides_applied": len(by_flag),
    }
    measured = f"{len(problems)} of {len(rows)} intended flags off target"
    if problems:
        return _finding(
            Outcome.FAIL,
            "; ".join(problems),
            measured,
            threshold,
            len(rows),
            method,
            details,
        )
    return _finding(
        Outcome.PASS,
        f"all {len(rows)} intended flags are as intended (live state and overrides)",
        measured,
        threshold,
        len(rows),
        method,
        details,
    )


_ORPHAN = "no such flag"


def _override_result(config: FlagsConfig, reading: LiveFlags, override: Override) -> str:
    if override.flag in reading.flags:
        return "known flag"
    direct = config.direct.get(override.variable)
    if direct is None:
        return f"{_ORPHAN}: ignored by the flag registry, and not declared in direct"
    if direct.flag is None:
        return f"declared ignored: {direct.reason}"
    if direct.flag not in reading.flags:
        return f"{_ORPHAN}: declared for {direct.flag}, which the service does not know"
    return f"declared: read directly for {direct.flag}"


def judge_flags_overrides(
    config: FlagsConfig,
    reading: LiveFlags | FlagsRateLimited,
    overrides: list[Override],
    method: str,
) -> Finding:
    threshold = f"every {config.override_prefix}* variable names a flag the service knows"
    if isinstance(reading, FlagsRateLimited):
        return _rate_limited(reading, method, threshold)
    rows = [
        {
            "variable": o.variable,
            "source": o.source,
            "maps_to": o.flag,
            "sets": _on(o.enabled),
            "result": _override_result(config, reading, o),
        }
        for o in overrides
    ]
    orphans = [r for r in rows if r["result"].startswith(_ORPHAN)]
    details = {"overrides": rows, "live_flags": sorted(reading.flags)}
    measured = f"{len(orphans)} of {len(rows)} overrides name no flag"
    if orphans:
        listed = ", ".join(f"{r['variable']} -> {r['maps_to']}" for r in orphans)
        return _finding(
            Outcome.FAIL,
            f"{len(orphans)} override(s) map to no flag the service knows, so the "
            f"application silently ignores them: {listed} (declare one read directly by "
            "other code in direct, with its flag or a reason to ignore it)",
            measured,
            threshold,
            len(rows),
            method,
            details,
        )
    return _finding(
        Outcome.PASS,
        f"all {len(rows)} override(s) map to known flags"
        if rows
        else f"no {config.override_prefix}* override in {', '.join(config.env_sources)}",
        measured,
        threshold,
        len(rows),
        method,
        details,
    )
