"""Process output bounded in bytes (measurements/process.py): a 50 MB line with no newline
is never held whole, cut in the log with a note of its size, cut in the tail, and never
copied into the reports; the log file stops at its cap and says so; a cut never shows
part of a secret (lines are redacted first)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from gaterun import GATES, run_gate, staging_config

from pytest_fixgate.measurements import process
from pytest_fixgate.measurements.process import (
    LOG_LINE_MAX_BYTES,
    TAIL_LINE_MAX_BYTES,
    TAIL_MAX_BYTES,
    run_process,
)
from pytest_fixgate.redaction import Redactor
from pytest_fixgate.reference import free_port

PIECE = "lorem ipsum " * 83_333 + "dolor"  # 1,000,001 bytes
HUGE = 50 * len(PIECE)
# Prints HUGE bytes of words with no newline, 1 MB at a time (the printer stays small).
PRINT_HUGE = (
    "import sys\n"
    "for _ in range(50): sys.stdout.write('lorem ipsum ' * 83_333 + 'dolor')\n"
    "sys.stdout.write('tail-marker'); sys.stdout.flush(); sys.exit(1)\n"
)


def _py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


@pytest.mark.skipif(not Path("/usr/bin/time").exists(), reason="needs /usr/bin/time")
def test_a_50_mb_line_is_cut_everywhere_and_not_held(tmp_path: Path) -> None:
    run = ", ".join(f"'''{a}'''" for a in _py(PRINT_HUGE))
    table = f'[[env.staging.commands]]\nid = "huge"\nrun = [{run}]\n'
    result = run_gate(
        tmp_path,
        staging_config(f"http://127.0.0.1:{free_port()}", table),
        suite=GATES / "test_commands.py",
        prefix=("/usr/bin/time", "-f", "maxrss_kb=%M"),
        timeout=120,
    )
    gate = result.gate("command.huge")
    assert gate["outcome"] == "FAIL" and result.verdict["decision"] == "HOLD"
    tail = gate["evidence"]["output_tail"]
    assert len(tail.encode()) <= TAIL_MAX_BYTES
    assert tail.endswith("... [cut]") and tail.startswith("lorem ipsum " * 100)
    # Every report is small: the line was not copied into any of them.
    for kind in ("json", "html", "junit"):
        assert result.files[kind].stat().st_size < 200_000, kind
    logs = list((result.report_dir / "logs").glob("*.log"))
    assert len(logs) == 1
    text = logs[0].read_text()
    assert text.rstrip("\n").endswith(f"... [line of {HUGE + len('tail-marker')} bytes cut]")
    assert LOG_LINE_MAX_BYTES - 20 <= len(text.encode()) < LOG_LINE_MAX_BYTES + 100
    # Peak memory of the whole gate run (its largest process): 430 MB before, 53 MB after,
    # as much as a run whose command prints one short line (the README's figures).
    rss_kb = int(re.findall(r"maxrss_kb=(\d+)", result.output)[-1])
    assert rss_kb < 150_000, rss_kb


def test_the_log_file_stops_at_its_cap_and_says_so(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(process, "LOG_MAX_BYTES", 10_000)
    code = "for i in range(5000): print(f'line {i:05d} ' + 'x' * 80)"
    done = run_process(_py(code), timeout_s=30, log_path=tmp_path / "out.log", tail_lines=3)
    text = (tmp_path / "out.log").read_text()
    assert len(text.encode()) < 10_000 + 300
    last = text.splitlines()[-1]
    assert last.startswith("[log cut at 10000 bytes: ") and "more bytes of output" in last
    # The tail still has the real end of the output.
    assert done.tail.splitlines()[-1].startswith("line 04999 ")


def test_a_cut_never_shows_part_of_a_secret(tmp_path: Path) -> None:
    secret = "tok_" + "S3cr3tV4lu3" * 8
    redactor = Redactor([secret])
    # The secret straddles the log line's cap, and again the tail line's cap.
    for offset in (LOG_LINE_MAX_BYTES - 20, TAIL_LINE_MAX_BYTES - 20):
        code = f"print('a' * {offset} + {secret!r} + 'b' * 200_000)"
        done = run_process(
            _py(code), timeout_s=30, log_path=tmp_path / "out.log", redactor=redactor
        )
        text = (tmp_path / "out.log").read_text()
        for shown in (text, done.tail):
            assert "S3cr3t" not in shown and "tok_" not in shown
    assert "***" in text


def test_a_cut_inside_an_unknown_token_drops_the_whole_token(tmp_path: Path) -> None:
    # A token no redactor knows, straddling the tail line's cap: no prefix of it is shown.
    token = "ghp_" + "Zq9" * 30
    code = f"print('word ' * {(TAIL_LINE_MAX_BYTES - 10) // 5} + {token!r})"
    done = run_process(_py(code), timeout_s=30)
    assert done.tail.endswith("word ... [cut]"), done.tail[-60:]
    assert "ghp_" not in done.tail and "Zq9" not in done.tail


def test_a_tools_stdout_is_capped(monkeypatch) -> None:
    monkeypatch.setattr(process, "STDOUT_MAX_BYTES", 1000)
    done = run_process(_py("print('{' + 'x' * 100_000 + '}')"), timeout_s=30, separate_stdout=True)
    assert done.stdout_cut and len(done.stdout) == 1000 and done.exit_code == 0


def test_short_output_is_unchanged(tmp_path: Path) -> None:
    done = run_process(_py("print('one'); print('two')"), timeout_s=30)
    assert done.tail == "one\ntwo"


def test_a_managed_process_tail_reads_only_the_logs_end(tmp_path: Path) -> None:
    from pytest_fixgate.measurements.process import ManagedProcess, read_log_end

    code = "import sys; sys.stdout.write('x' * 5_000_000 + '\\nlast line\\n')"
    proc = ManagedProcess(_py(code), log_path=tmp_path / "child.log")
    assert proc.wait(30) == 0
    proc.stop()
    assert proc.tail(5) == "last line"  # the 5 MB line began before what was read
    assert read_log_end(tmp_path / "child.log", 1000) == "last line\n"
    assert len(read_log_end(tmp_path / "child.log").encode()) <= 1024 * 1024
