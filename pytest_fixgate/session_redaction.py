"""The gate run's one redactor, built when the run is configured (on the xdist controller
and on every worker alike), before any gate runs.

It knows every secret the config can name: the values of the environment variables
its ``*_env`` keys and ``secret_env`` lists name, and the values of the dotenv files
its sections read (:attr:`~pytest_fixgate.kinds.GateKind.secret_files`). A gate that
prints one of those values, whichever gate runs first and on whichever worker, is
masked in its log, the terminal and every report.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pytest_fixgate.config.schema import EnvConfig
from pytest_fixgate.errors import ProbeError
from pytest_fixgate.kinds import GateKind
from pytest_fixgate.measurements.dotenv import DOTENV_MAX_BYTES, DotenvError, read_dotenv
from pytest_fixgate.measurements.files import FileReadError, read_text
from pytest_fixgate.redaction import MIN_FOUND, Redactor, maskable_values

__all__ = ["SessionSecrets", "session_secrets"]


@dataclass(frozen=True)
class SessionSecrets:
    redactor: Redactor
    #: What the run should say about its redaction (no value in them, only names).
    notes: tuple[str, ...] = ()


def session_secrets(
    env: EnvConfig, kinds: Iterable[GateKind], environ: Mapping[str, str] | None = None
) -> SessionSecrets:
    """The run's redactor, and notes on the file values it leaves unmasked."""
    environ = os.environ if environ is None else environ
    redactor = Redactor.from_env(env.secret_env_names(), environ)
    notes: list[str] = []
    weak = [
        name
        for name in env.secret_env_names()
        if environ.get(name) and not maskable_values([environ[name]])[0]
    ]
    if weak:
        # Named as secrets: masked whatever they are (the verdict's structure never is).
        notes.append(
            f"the values of {', '.join(weak)} are shorter than {MIN_FOUND} characters or a "
            "common word: masked wherever they appear, which garbles report text"
        )
    for kind in kinds:
        section = env.section(kind.section) if kind.section else None
        if section is None:
            continue
        for secret_file in kind.secret_files(section):
            try:
                values = read_dotenv(secret_file.path, label=secret_file.label)
            except DotenvError:
                # Unparsable: its gate ends ERROR naming the file and line; meanwhile every
                # line's value part is masked anyway, as a line-wise reading sees it.
                values = _values_of_a_bad_file(secret_file.path)
            except ProbeError:
                continue  # missing or unreadable: nothing to learn; its gate ends ERROR
            masked, skipped = maskable_values(values.values(), secret_file.public)
            redactor.add(masked)
            if skipped:
                names = sorted(k for k, v in values.items() if v.strip() and v not in masked)
                notes.append(
                    f"{secret_file.label}: the values of {', '.join(names)} are not masked "
                    f"(shorter than {MIN_FOUND} characters, a common word such as ERROR "
                    "or true, or a public placeholder): they are not secrets"
                )
    # A file's path may hold a value too (the tests plant one there).
    return SessionSecrets(redactor, tuple(redactor.text(note) for note in notes))


def _values_of_a_bad_file(path: Path) -> dict[str, str]:
    """What a dotenv file that does not parse may hold: each line's text after ``=``, and
    the line itself, unquoted (a value may span lines). Only to mask, never to judge."""
    try:
        text = read_text(path, max_bytes=DOTENV_MAX_BYTES)
    except (FileReadError, OSError):
        return {}
    out: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        out[f"line {number}"] = stripped.strip("\"'`")
        if "=" in stripped:
            out[f"line {number} value"] = stripped.split("=", 1)[1].strip().strip("\"'`")
    return out
