"""Reading environment sources: dotenv files (what ``vercel env pull`` writes) or this
job's own environment (``"process:"``).

The grammar accepted, one assignment per line, read as the application's own
dotenv library reads it (Next.js loads ``.env*`` files with ``@next/env``, which
uses the npm package ``dotenv``)::

    # a comment                     blank lines and comments are skipped
    NAME=value                      unquoted: trimmed; the value ends at the first "#",
                                    so NAME=abc#def is "abc" and NAME= # TODO is empty
    export NAME=value               the shell's export prefix is allowed
    NAME="va\\"lue\\n"                double quotes: \\n \\r \\t \\" \\\\ escapes; may span lines
    NAME='value'  NAME=`value`      single quotes or backticks: literal, may span lines

Anything else (no ``=``, a name that is not ``[A-Za-z_][A-Za-z0-9_.-]*``, an
unterminated quote, text after a closing quote) is a :class:`DotenvError`
naming the file and the line number, never the line: it may hold a secret.
A name defined twice keeps its last value, as dotenv loaders do. Where this
differs from dotenv, it is stricter: a line dotenv would skip silently is an
error here, and in double quotes ``\\t``, ``\\"`` and ``\\\\`` are unescaped (what
``vercel env pull`` writes) where dotenv expands only ``\\n`` and ``\\r``.
``${VAR}`` expansion (dotenv-expand, which ``@next/env`` applies) is not done.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pytest_fixgate.errors import ProbeError
from pytest_fixgate.measurements.files import FileReadError, read_text

__all__ = [
    "PROCESS_SOURCE",
    "DotenvError",
    "EnvSource",
    "SourceMissing",
    "manifest_sections",
    "parse_dotenv",
    "read_dotenv",
    "read_dotenv_text",
    "read_source",
]

#: The source spelling for "this job's own environment variables".
PROCESS_SOURCE = "process:"

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\", "$": "$"}
# A dotenv file is kilobytes; a larger one is refused rather than loaded whole.
DOTENV_MAX_BYTES = 4 * 1024 * 1024


class DotenvError(ProbeError):
    """A dotenv line that cannot be parsed; the message names file and line, not content."""


class SourceMissing(ProbeError):
    """A dotenv file the config names does not exist or cannot be read."""


@dataclass(frozen=True)
class EnvSource:
    """What one source defines: names and values (values are secrets: never print them)."""

    label: str  # the file as configured, or "process:"
    values: Mapping[str, str]

    def __repr__(self) -> str:  # values stay out of any traceback or log
        return f"EnvSource({self.label!r}, {len(self.values)} names)"


def _bad(label: str, line: int, why: str) -> DotenvError:
    return DotenvError(f"{label}: line {line}: cannot parse ({why}; the line is not shown)")


def _strip_comment(raw: str) -> str:
    # dotenv (the application's loader) ends an unquoted value at the first "#", with or
    # without a space before it: `A=abc#def` is "abc", `NAME= # TODO` is empty.
    # (python-dotenv and bash need a space before "#": "abc#def"; both read `# TODO` as
    # empty too.)
    return raw.partition("#")[0].strip()


def parse_dotenv(text: str, *, label: str) -> dict[str, str]:
    """The names and values ``text`` defines; ``label`` names the file in errors."""
    out: dict[str, str] = {}
    # Lines end at "\n" (or "\r\n") only: str.splitlines would also cut a quoted value
    # at \u2028, \x1c and the like.
    lines = text.replace("\r\n", "\n").split("\n")
    i = 0
    while i < len(lines):
        number = i + 1
        line = lines[i].lstrip("\ufeff") if i == 0 else lines[i]
        i += 1
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("export ") or stripped.startswith("export\t"):
            stripped = stripped[len("export") :].lstrip()
        name, eq, rest = stripped.partition("=")
        name = name.strip()
        if not eq:
            raise _bad(label, number, "expected NAME=value")
        if not _NAME.fullmatch(name):
            raise _bad(label, number, "the name is not a variable name")
        rest = rest.lstrip()
        if rest[:1] in ('"', "'", "`"):
            quote = rest[0]
            body = rest[1:]
            value, after, consumed = _quoted(body, quote, lines, i)
            if value is None:
                raise _bad(label, number, f"unterminated {quote} quote")
            i += consumed
            if after.strip() and not after.strip().startswith("#"):
                raise _bad(label, number, "text after the closing quote")
            out[name] = value
        else:
            out[name] = _strip_comment(rest)
    return out


def _quoted(
    body: str, quote: str, lines: list[str], next_index: int
) -> tuple[str | None, str, int]:
    """Read a quoted value that may continue on following lines.

    Returns (value or None if unterminated, text after the closing quote, lines consumed)."""
    chunks: list[str] = []
    consumed = 0
    text = body
    while True:
        j = 0
        while j < len(text):
            ch = text[j]
            if quote == '"' and ch == "\\" and j + 1 < len(text):
                nxt = text[j + 1]
                chunks.append(_ESCAPES.get(nxt, "\\" + nxt))
                j += 2
                continue
            if ch == quote:
                return "".join(chunks), text[j + 1 :], consumed
            chunks.append(ch)
            j += 1
        if next_index + consumed >= len(lines):
            return None, "", consumed
        chunks.append("\n")
        text = lines[next_index + consumed]
        consumed += 1


def read_dotenv(path: Path, *, label: str | None = None) -> dict[str, str]:
    """Parse the dotenv file at ``path``; a missing or unreadable file is :class:`SourceMissing`."""
    shown = label or str(path)
    return parse_dotenv(read_dotenv_text(path, label=shown), label=shown)


def read_dotenv_text(path: Path, *, label: str | None = None) -> str:
    """The text of the dotenv file at ``path`` (bounded read); errors as :func:`read_dotenv`."""
    shown = label or str(path)
    try:
        text = read_text(path, max_bytes=DOTENV_MAX_BYTES)
    except FileNotFoundError:
        raise SourceMissing(f"{shown}: no such file ({path})") from None
    except FileReadError as exc:  # a FIFO, over the cap, not read in time, not UTF-8
        raise DotenvError(f"{shown}: {exc.problem}") from None
    except OSError as exc:
        raise SourceMissing(
            f"{shown}: cannot read ({exc.strerror or type(exc).__name__})"
        ) from None
    return text


# A banner rule "# =====" (10 or more), and a sub-header "# === TITLE ===".
_RULE = re.compile(r"^#\s*={10,}\s*$")
_SUBHEADER = re.compile(r"^#\s*={3}\s*(.+?)\s*={3}\s*$")
_ASSIGNED = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.\-]*)\s*=")


def manifest_sections(text: str) -> dict[str, tuple[str, ...]]:
    """name -> the titles of the comment headers it is under, as a ``.env.example`` lays
    them out: a banner (a ``# ====`` rule, a ``# TITLE`` line, a rule) opens a section,
    a ``# === TITLE ===`` line a sub-section of it. A name under a sub-section is in
    both; a name defined twice is in the sections of both places."""
    out: dict[str, tuple[str, ...]] = {}
    banner = sub = ""
    opening = False  # between a banner's first rule and its title
    in_banner = False  # between a banner's title and its closing rule
    for line in text.replace("\r\n", "\n").split("\n"):
        stripped = line.strip()
        if _RULE.match(stripped):
            if in_banner:
                in_banner = False
            else:
                opening = True  # a rule right after a rule opens again
            continue
        if opening and stripped.startswith("#"):
            title = stripped.lstrip("#").strip()
            if title:
                banner, sub, opening, in_banner = title, "", False, True
            continue
        if in_banner and stripped.startswith("#"):
            continue  # more lines of the banner's text, up to its closing rule
        opening = in_banner = False
        if (m := _SUBHEADER.match(stripped)) is not None:
            sub = m.group(1)
            continue
        if (m := _ASSIGNED.match(line)) is not None:
            titles = tuple(t for t in (banner, sub) if t)
            out[m.group(1)] = tuple(dict.fromkeys((*out.get(m.group(1), ()), *titles)))
    return out


def read_source(spec: str, base_dir: Path, environ: Mapping[str, str] | None = None) -> EnvSource:
    """One configured source: ``"process:"`` (this job's environment) or a dotenv file,
    relative to ``base_dir`` (the config file's folder)."""
    if spec == PROCESS_SOURCE:
        env = os.environ if environ is None else environ
        return EnvSource(spec, dict(env))
    path = Path(spec)
    if not path.is_absolute():
        path = base_dir / path
    return EnvSource(spec, read_dotenv(path, label=spec))
