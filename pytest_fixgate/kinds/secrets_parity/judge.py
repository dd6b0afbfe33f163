"""Judging the secrets-parity checks: one Finding per check, with a table of findings by
name and environment (``details["findings"]``, a list of rows). No value, and no
fingerprint of a value, ever appears in a row.
"""

from __future__ import annotations

from typing import Any

from pytest_fixgate.kinds.secrets_parity.measurement import SecretsReading
from pytest_fixgate.outcomes.model import Evidence, Finding, Outcome

__all__ = ["CHECK_RULES", "judge_secrets_check"]

#: What each check holds every environment to (the gate's threshold line).
CHECK_RULES = {
    "missing": "every required name (but optional ones) defined in every environment",
    "extra": "no name outside the manifest (WARN: the manifest or the environment is stale)",
    "empty": "no required or must_differ name set to an empty value",
    "placeholder": "no value that is a listed placeholder of its name (any case) or shaped <...>",
    "must_differ": "each must_differ name (or group of alternatives) set, and different in "
    "every environment",
    "forbidden": "no forbidden name present at all, and no name set to a forbidden value",
    "localhost": "no production URI (no_localhost names) pointing at localhost",
}


def _finding(
    outcome: Outcome, reason: str, check: str, reading: SecretsReading, rows: list[dict[str, Any]]
) -> Finding:
    return Finding(
        outcome,
        Evidence(
            reason=reason,
            measured=f"{len(rows)} finding{'' if len(rows) == 1 else 's'}",
            threshold=CHECK_RULES[check],
            samples=len(reading.envs),
            method=reading.describe(),
            details={
                "findings": rows,
                "environments": [
                    {"environment": e.env, "source": e.source, "names": len(e.names)}
                    for e in reading.envs
                ],
            },
        ),
    )


def _listing(rows: list[dict[str, Any]], limit: int = 6) -> str:
    shown = [f"{r['name']} ({r.get('environment') or r.get('environments')})" for r in rows]
    more = f" and {len(shown) - limit} more" if len(shown) > limit else ""
    return ", ".join(shown[:limit]) + more


def judge_secrets_check(check: str, reading: SecretsReading) -> Finding:
    """The outcome of one check (``secrets.<check>``) on what was read."""
    rows = _ROWS[check](reading)
    envs = ", ".join(e.env for e in reading.envs)
    if check == "must_differ":
        return _judge_must_differ(reading, rows)
    if check == "localhost":
        return _judge_localhost(reading, rows)
    if not rows and not reading.required and check != "forbidden":
        # Empty files (a failed `vercel env pull`) and no manifest: nothing was compared.
        return _finding(
            Outcome.INCONCLUSIVE,
            f"no variable name to check in {envs}: the sources and the manifest define none "
            "(but optional ones)",
            check,
            reading,
            rows,
        )
    if not rows:
        return _finding(Outcome.PASS, f"no {check} finding in {envs}", check, reading, rows)
    outcome = Outcome.WARN if check == "extra" else Outcome.FAIL
    what = {
        "missing": "missing",
        "extra": "defined but not in the manifest",
        "empty": "set to an empty value",
        "placeholder": "set to a placeholder value",
        "forbidden": "forbidden but present",
    }[check]
    return _finding(outcome, f"{len(rows)} {what}: {_listing(rows)}", check, reading, rows)


def _missing(reading: SecretsReading) -> list[dict[str, Any]]:
    return [
        {"name": name, "environment": e.env, "source": e.source, "problem": "not defined"}
        for e in reading.envs
        for name in sorted(reading.required - e.names)
    ]


def _extra(reading: SecretsReading) -> list[dict[str, Any]]:
    if reading.manifest is None:
        return []
    return [
        {"name": name, "environment": e.env, "source": e.source, "problem": "not in the manifest"}
        for e in reading.envs
        if not e.process  # a job's environment holds PATH, HOME, ...: not extras
        # a forbidden name is the forbidden check's finding, not also an extra
        for name in sorted(
            e.names - reading.manifest - set(reading.config.forbidden.get(e.env, ()))
        )
    ]


def _empty(reading: SecretsReading) -> list[dict[str, Any]]:
    judged = reading.required | set(reading.config.must_differ)
    return [
        {"name": name, "environment": e.env, "source": e.source, "problem": "empty value"}
        for e in reading.envs
        for name in sorted(e.empty & judged)
    ]


def _placeholder(reading: SecretsReading) -> list[dict[str, Any]]:
    return [
        {"name": name, "environment": e.env, "source": e.source, "problem": kind}
        for e in reading.envs
        for name, kind in sorted(e.placeholders.items())
    ]


def _forbidden(reading: SecretsReading) -> list[dict[str, Any]]:
    rows = []
    for e in reading.envs:
        for name, value in sorted(e.forbidden_values.items()):
            # The value shown is the config's own forbidden value (public), never a secret.
            rows.append(
                {
                    "name": name,
                    "environment": e.env,
                    "source": e.source,
                    "problem": f"set to {value!r}, a forbidden value",
                }
            )
        for name in reading.config.forbidden.get(e.env, ()):
            if name in e.names:
                rows.append(
                    {
                        "name": name,
                        "environment": e.env,
                        "source": e.source,
                        "problem": "present" + (" (empty)" if name in e.empty else ""),
                    }
                )
    return rows


def _must_differ(reading: SecretsReading) -> list[dict[str, Any]]:
    """Per group (a name, or alternatives such as NEXTAUTH_SECRET or AUTH_SECRET): every
    value set in one environment must differ from every value set in another (across
    the alternatives too), and a group of alternatives must be set in every one."""
    rows: list[dict[str, Any]] = []
    for group in reading.config.must_differ_groups:
        label = " or ".join(group)
        owners: dict[bytes, list[str]] = {}
        defined: list[str] = []
        for e in reading.envs:
            prints = {e.fingerprints[n] for n in group if n in e.fingerprints}
            if prints:
                defined.append(e.env)
            elif len(group) > 1:
                rows.append(
                    {
                        "name": label,
                        "environments": e.env,
                        "problem": "none of the alternatives set (non-empty)",
                    }
                )
            for fingerprint in prints:
                owners.setdefault(fingerprint, []).append(e.env)
        shared = {", ".join(envs) for envs in owners.values() if len(envs) > 1}
        for envs in sorted(shared):
            rows.append({"name": label, "environments": envs, "problem": "same value"})
        if len(defined) < 2 and not any(row["name"] == label for row in rows):
            have = ", ".join(defined) or "no environment"
            rows.append(
                {
                    "name": label,
                    "environments": have,
                    "problem": "not compared: set (non-empty) in fewer than two environments",
                }
            )
    return rows


_NONE_SET = "none of the alternatives set (non-empty)"


def _judge_must_differ(reading: SecretsReading, rows: list[dict[str, Any]]) -> Finding:
    same = [r for r in rows if r["problem"] in ("same value", _NONE_SET)]
    if same:
        return _finding(
            Outcome.FAIL,
            f"{len(same)} must_differ name(s) share a value across environments or are not "
            f"set at all: {_listing(same)}",
            "must_differ",
            reading,
            rows,
        )
    if rows:  # some name could not be compared: that is no proof it differs
        return _finding(
            Outcome.INCONCLUSIVE,
            f"{len(rows)} must_differ name(s) could not be compared: {_listing(rows)}",
            "must_differ",
            reading,
            rows,
        )
    names = ", ".join(reading.config.must_differ)
    return _finding(
        Outcome.PASS, f"{names}: different in every environment", "must_differ", reading, rows
    )


def _localhost(reading: SecretsReading) -> list[dict[str, Any]]:
    rows = []
    for e in reading.envs:
        if e.env not in reading.config.production:
            continue
        for name in reading.config.no_localhost:
            if name in e.local:
                rows.append(
                    {
                        "name": name,
                        "environment": e.env,
                        "source": e.source,
                        "problem": f"points at {e.local[name]}",
                    }
                )
            elif name not in e.names or name in e.empty:
                rows.append(
                    {
                        "name": name,
                        "environment": e.env,
                        "source": e.source,
                        "problem": "not checked: not set",
                    }
                )
    return rows


def _judge_localhost(reading: SecretsReading, rows: list[dict[str, Any]]) -> Finding:
    local = [r for r in rows if r["problem"].startswith("points at")]
    if local:
        return _finding(
            Outcome.FAIL,
            f"{len(local)} production URI(s) point at this machine: {_listing(local)}",
            "localhost",
            reading,
            rows,
        )
    if rows:
        return _finding(
            Outcome.INCONCLUSIVE,
            f"{len(rows)} production URI(s) could not be checked: {_listing(rows)}",
            "localhost",
            reading,
            rows,
        )
    prod = ", ".join(reading.config.production)
    return _finding(
        Outcome.PASS,
        f"{', '.join(reading.config.no_localhost)} in {prod}: not localhost",
        "localhost",
        reading,
        rows,
    )


_ROWS = {
    "missing": _missing,
    "extra": _extra,
    "empty": _empty,
    "placeholder": _placeholder,
    "must_differ": _must_differ,
    "forbidden": _forbidden,
    "localhost": _localhost,
}
