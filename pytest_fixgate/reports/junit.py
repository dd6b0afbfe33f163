"""The JUnit XML of a gate run, written by fixgate itself from the verdict.

Not pytest's ``junitxml`` plugin: a gate run must file its reports whatever
other plugins are enabled (``-p no:junitxml`` cannot lose the file), and a
gate that never became a test (one that "did not run") must still appear.

One ``testsuite`` per run; one ``testcase`` per gate result and per
not-configured gate. FAIL and INCONCLUSIVE are ``<failure>``, ERROR is
``<error>`` (it could not measure), not-configured is ``<skipped>``; PASS and
WARN pass (WARN says so in ``system-out``). The decision is in the suite's
properties ``fixgate.decision``, ``fixgate.reason``, ``fixgate.env``; each
gate's result (the verdict's gate entry, as JSON) is the suite property
``fixgate.result.<gate id>``.

The file is valid against the JUnit schema pytest checks its own output with
(``junit-10.xsd``; a copy is in tests/schemas/), which allows ``<properties>``
in a ``<testsuite>`` only, not in a ``<testcase>``.
"""

from __future__ import annotations

import json
import socket
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from pytest_fixgate.reports.html import why_not_configured

__all__ = ["render_junit"]

_FAILURE = {"FAIL", "INCONCLUSIVE"}


def _props(parent: ET.Element, values: Mapping[str, str]) -> None:
    props = ET.SubElement(parent, "properties")
    for name, value in values.items():
        ET.SubElement(props, "property", name=name, value=value)


def _classname(gate_id: str) -> str:
    # CI tools group test cases by class name: the gate family ("health", "load").
    return "fixgate." + gate_id.split(".", 1)[0]


def render_junit(verdict: Mapping[str, Any], result_property: str = "fixgate.result") -> str:
    """The JUnit XML text of a (redacted) verdict."""
    gates: list[dict[str, Any]] = list(verdict["gates"])
    skipped: list[dict[str, Any]] = list(verdict.get("not_configured", ()))
    counts = {"failures": 0, "errors": 0}
    for gate in gates:
        if gate["outcome"] == "ERROR":
            counts["errors"] += 1
        elif gate["outcome"] in _FAILURE:
            counts["failures"] += 1
    total_time = sum(float(g.get("duration_s") or 0.0) for g in gates)
    root = ET.Element("testsuites", name="fixgate")
    suite = ET.SubElement(
        root,
        "testsuite",
        name=f"fixgate.{verdict['env']}",
        tests=str(len(gates) + len(skipped)),
        failures=str(counts["failures"]),
        errors=str(counts["errors"]),
        skipped=str(len(skipped)),
        time=f"{total_time:.3f}",
        timestamp=str(verdict["started"]),
        hostname=socket.gethostname(),
    )
    _props(
        suite,
        {
            "fixgate.decision": verdict["decision"],
            "fixgate.reason": verdict["reason"],
            "fixgate.env": verdict["env"],
            "fixgate.target": str(verdict.get("target") or ""),
            "fixgate.commit": str(verdict.get("commit") or ""),
            **{
                f"{result_property}.{gate['id']}": json.dumps(gate, ensure_ascii=False, default=str)
                for gate in gates
            },
        },
    )
    for gate in gates:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=_classname(gate["id"]),
            name=gate["id"],
            time=f"{float(gate.get('duration_s') or 0.0):.3f}",
        )
        outcome = gate["outcome"]
        optional = "" if gate.get("required", True) else " (optional: does not block)"
        message = f"{outcome}: {gate['reason']}{optional}"
        body = "\n".join(
            f"{label}: {value}"
            for label, value in (
                ("measured", gate.get("measured")),
                ("threshold", gate.get("threshold")),
                ("samples", gate.get("samples")),
                ("method", (gate.get("evidence") or {}).get("method")),
            )
            if value not in (None, "")
        )
        if outcome == "ERROR":
            ET.SubElement(case, "error", message=message, type=outcome).text = body
        elif outcome in _FAILURE:
            ET.SubElement(case, "failure", message=message, type=outcome).text = body
        else:
            ET.SubElement(case, "system-out").text = f"{message}\n{body}"
    for entry in skipped:
        case = ET.SubElement(
            suite, "testcase", classname=_classname(entry["id"]), name=entry["id"], time="0.000"
        )
        ET.SubElement(
            case,
            "skipped",
            type="not configured",
            message="not configured: "
            + why_not_configured(str(entry.get("missing") or "?"), str(verdict["env"])),
        )
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
