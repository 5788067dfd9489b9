"""A failure's reason carries the program's own last error line, with a hint for the common ones."""

from __future__ import annotations

from pathlib import Path

from renderd.failreason import error_line, explain, with_error_line

# The end of Debian Blender 3.4's log for a Cycles scene with denoising on (seen on this machine).
BLENDER_OIDN = """\
Fra:1 Mem:9.90M (Peak 10.83M) | Time:00:00.02 | Mem:0.76M, Peak:0.76M | Scene, ViewLayer | Updating Baking
Build without OpenImageDenoiser
No device available to denoise on
Fra:1 Mem:9.90M (Peak 10.83M) | Time:00:00.02 | Scene, ViewLayer | Build without OpenImageDenoiser
Error: Build without OpenImageDenoiser

Blender quit

renderd: exit code 1
"""


def test_blenders_own_error_line_and_a_hint_for_the_missing_denoiser() -> None:
    reason = with_error_line("exit code 1", BLENDER_OIDN)
    assert reason.startswith("exit code 1: Error: Build without OpenImageDenoiser (hint: this Blender has no "
                             "OpenImageDenoiser")
    assert "turn denoising off" in reason


def test_python_tracebacks_and_tool_errors_give_their_last_line() -> None:
    trace = "Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError: frame 7 is broken\n"
    assert error_line(trace) == "ValueError: frame 7 is broken"
    assert error_line("ok\nconvert: error: no such image in.png\nbye\n") == "convert: error: no such image in.png"
    assert error_line("Fra:3 | Error: Cannot read file '/x.png'\n") == "Error: Cannot read file '/x.png'"


def test_no_error_line_keeps_the_reason_and_renderds_own_lines_are_never_taken() -> None:
    assert with_error_line("exit code 2", "all fine\nrenderd: FAILED: error: earlier\n") == "exit code 2"
    assert error_line("x" * 5000 + "\nError: " + "y" * 1000) is not None
    assert len(error_line("Error: " + "y" * 1000) or "") == 300


def test_the_log_is_read_from_its_tail_and_a_fifo_is_not_waited_on(tmp_path: Path) -> None:
    log = tmp_path / "chunk.log"
    log.write_text("noise\n" * 50_000 + "Error: at the end\n")
    assert explain("exit code 1", log) == "exit code 1: Error: at the end"
    import os

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert explain("exit code 1", fifo) == "exit code 1"
    assert explain("exit code 1", tmp_path / "gone") == "exit code 1"
