"""The demo application's lint: every JSON file parses and every pin is exact.

A stand-in for the real application's ``pnpm lint``; ``fixgate demo`` runs it as
the command gate ``command.lint`` (exit 0 clean, exit 1 with one line per problem).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(folder: Path) -> int:
    problems = []
    files = sorted(folder.rglob("*.json"))
    for path in files:
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            problems.append(f"{path.relative_to(folder)}: not JSON ({exc})")
    for n, line in enumerate((folder / "requirements.txt").read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if line and "==" not in line:
            problems.append(f"requirements.txt:{n}: {line!r} is not pinned with ==")
    for problem in problems:
        print(problem)
    print(f"lint: {len(files) + 1} files, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path.cwd()))
