"""`render add` says at submission what would otherwise fail later, or silently (issue 16, items 3-5, 7, 9, 12)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers.daemons import BIN, render

from renderd.format.manifest import MAX_CHUNKS

BLEND = Path(__file__).parent.parent / "fixtures" / "blend"


def test_a_missing_cwd_is_refused_at_add(spool: Path, tmp_path: Path) -> None:
    out = render(spool, "add", "--frames", "1-3", "--cwd", str(tmp_path / "nope"), "--", "true", check=False)
    assert out.returncode == 1
    missing = tmp_path / "nope"
    assert out.stderr.strip() == f"Error: --cwd {missing}: no such folder (every chunk would fail before it starts)"
    assert not (spool / "queue").exists()


def test_a_name_too_long_for_the_job_id_is_refused_not_cut(spool: Path) -> None:
    out = render(spool, "add", "--frames", "1-3", "--name", "a" * 30, "--", "true", check=False)
    assert out.returncode == 1 and "at most 24 characters" in out.stderr and "this one has 30" in out.stderr
    job = json.loads(render(spool, "add", "--frames", "1", "--name", "b" * 24, "--json", "--", "true").stdout)["job"]
    assert job.startswith("b" * 24 + "-")


def test_a_frame_list_queues_chunks_that_never_span_a_gap(spool: Path) -> None:
    data = json.loads(render(spool, "add", "--frames", "1-3,5,7-20:2", "--chunk", "3", "--json", "--",
                             "echo", "{start}", "{end}", "{step}", cwd=spool).stdout)
    assert [(c["start"], c["end"], c["step"]) for c in data["chunks"]] == [
        (1, 3, 1), (5, 5, 1), (7, 11, 2), (13, 17, 2), (19, 19, 2)]
    manifest = json.loads((spool / "jobs" / data["job"] / "manifest.json").read_text())
    assert manifest["frames"] == 3 + 1 + 7 and manifest["frame_list"] == "1-3,5,7-19:2"


def test_an_absurd_job_is_refused_at_once_dry_run_too(spool: Path) -> None:
    for extra in ([], ["--dry-run"]):
        out = render(spool, "add", "--frames", "1-1000000", "--chunk", "1", *extra, "--", "true", check=False)
        assert out.returncode == 1
        assert f"a job holds at most {MAX_CHUNKS}: use --chunk 10 or more" in out.stderr
    assert not (spool / "queue").exists()


def test_a_cwd_outside_the_spool_and_shared_roots_is_queued_with_a_warning_naming_the_rule(
    spool: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "scratch"
    outside.mkdir()
    out = render(spool, "add", "--frames", "1", "--cwd", str(outside), "--", "true")
    assert "outside the spool" in out.stderr and "the rule .blend jobs follow" in out.stderr
    for quiet in (["--shared-root", str(tmp_path)], ["--local-ok"]):
        out = render(spool, "add", "--frames", "1", "--cwd", str(outside), *quiet, "--", "true")
        assert "Warning" not in out.stderr
    assert "Warning" not in render(spool, "add", "--frames", "1", "--", "true", cwd=spool).stderr


def test_a_dry_run_says_what_the_real_add_will_do_with_a_duplicate(spool: Path) -> None:
    blend = spool / "shots" / "a.blend"
    blend.parent.mkdir()
    shutil.copy(BLEND / "scenes_b34.blend", blend)
    first = json.loads(render(spool, "add", "--json", str(blend)).stdout)["job"]
    for extra in ([], ["--overwrite"]):
        dry = render(spool, "add", str(blend), "--dry-run", *extra, check=False)
        real = render(spool, "add", str(blend), *extra, check=False)
        assert dry.returncode == real.returncode == 1
        assert f"added before as job {first}" in dry.stderr and dry.stderr == real.stderr
    again = json.loads(render(spool, "add", "--json", "--dry-run", "--again", "--overwrite", str(blend)).stdout)
    assert again["job"] == f"{first}.2"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run render as another user")
def test_a_spool_the_user_cannot_write_is_one_line(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir(mode=0o755)
    render(spool, "add", "--frames", "1", "--", "true", cwd=spool)  # root made the spool: others cannot write it
    os.chmod(tmp_path, 0o755)
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv missing")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENDERD")} | {"HOME": "/nonexistent"}
    out = subprocess.run(
        [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", str(BIN / "render"), "--spool", str(spool),
         "add", "--frames", "1", "--", "true"],
        capture_output=True, text=True, timeout=120, cwd="/", env=env,
    )  # fmt: skip
    assert out.returncode == 1, out.stderr
    (line,) = out.stderr.strip().splitlines()
    assert "cannot write the job into the spool" in line and "Permission denied" in line and "uid" in line


@pytest.mark.slow
def test_a_big_add_on_a_terminal_draws_a_progress_bar(spool: Path) -> None:
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child: render add on a terminal, 30 000 chunks (a few seconds of writing)
        os.chdir(spool)
        os.execv(str(BIN / "render"), ["render", "--spool", str(spool), "add", "--frames", "1-30000", "--chunk", "1",
                                       "--", "true"])
    out = b""
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        out += data
    _, status = os.waitpid(pid, 0)
    text = out.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "writing 30000 chunks: [" in text and "queued 30000 chunk(s)" in text
