"""The reports' schemas, and validation of every report the suite's gate runs write.

- JUnit: ``tests/schemas/junit-10.xsd``, the schema pytest validates its own
  ``--junitxml`` output against: a verbatim copy of
  ``testing/example_scripts/junit-10.xsd`` in pytest's repository
  (github.com/pytest-dev/pytest, commit df87db7b0462fb764ef73fa00561adf8ad047572,
  MIT licence, header kept), checked with ``xmlschema``.
- The JSON verdict: ``pytest_fixgate/reports/verdict.schema.json`` (shipped in the
  package), checked with ``jsonschema``.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from pytest_fixgate.reports.verdict import SCHEMA_PATH

JUNIT_XSD = Path(__file__).with_name("schemas") / "junit-10.xsd"


@functools.cache
def _junit_schema() -> Any:
    import xmlschema

    return xmlschema.XMLSchema(str(JUNIT_XSD))


@functools.cache
def _verdict_validator() -> Any:
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def junit_errors(text: str) -> list[str]:
    """Why a JUnit text is not valid against junit-10.xsd (empty: it is)."""
    return [f"{e.path}: {e.reason}" for e in _junit_schema().iter_errors(text)]


def verdict_errors(verdict: Any) -> list[str]:
    """Why a verdict is not valid against its JSON Schema (empty: it is)."""
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
        for e in _verdict_validator().iter_errors(verdict)
    ]


def check_report_file(path: Path, origin: str = "") -> None:
    """Raise AssertionError naming every schema error of a .json verdict or a .xml JUnit file."""
    text = path.read_text(encoding="utf-8")
    errors = verdict_errors(json.loads(text)) if path.suffix == ".json" else junit_errors(text)
    if errors:
        raise AssertionError(
            f"{origin or path} is not valid against its schema:\n  " + "\n  ".join(errors[:20])
        )
