"""The spool format: info files round-trip, the parser refuses hostile bytes with a reason, names sort,
and the spool marker is set up only where it should be."""

from __future__ import annotations

import json
import os
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from renderd.errors import BadInfoFile, SpoolError
from renderd.format import FORMAT
from renderd.format.info import MAX_INFO_BYTES, ChunkInfo
from renderd.format.names import ClaimName, QueueDir, chunk_id, job_of_chunk
from renderd.spool import LAYOUT, MARKER, Spool


def make_info(**over: Any) -> ChunkInfo:
    base: dict[str, Any] = {
        "job": "shot-1a2b3c4d",
        "chunk": "shot-1a2b3c4d-0001",
        "index": 1,
        "kind": "command",
        "argv": ["convert", "in_1.png", "out 1.png", "--frames=1,2,3"],
        "start": 1,
        "end": 3,
        "step": 1,
    }
    base.update(over)
    return ChunkInfo(**base)


# --------------------------------------------------------------------------- round trips


def test_full_info_round_trips_through_bytes() -> None:
    info = make_info(
        cwd="shots/010",
        env={"OCIO": "/studio/ocio/config.ocio", "LANG": "C.UTF-8"},
        priority=70,
        owner="ton",
        uid=1000,
        created=1_700_000_000.125,
        timeout=3600.0,
        attempts=1,
        max_attempts=5,
        requeues=2,
        failed_hosts=["ws-03"],
    )
    info.note("queued")
    info.note("failed", "ws-03", reason="exit code 3 — ünïcode kept")
    again = ChunkInfo.from_bytes(info.to_bytes(), f"{info.chunk}.info")
    assert again == info


def test_info_file_is_human_readable_json_with_the_format_first() -> None:
    raw = make_info().to_bytes()
    text = raw.decode()
    assert text.startswith('{\n "format": 1,')
    assert text.endswith("}\n")
    assert json.loads(text)["argv"][2] == "out 1.png"


def test_history_is_bounded_oldest_dropped() -> None:
    info = make_info()
    for i in range(100):
        info.note("requeued", "h", n=i)
    assert len(info.history) == 40
    assert info.history[0]["n"] == 60 and info.history[-1]["n"] == 99


def test_frames_and_run_number() -> None:
    info = make_info(start=10, end=37, step=3, attempts=1, requeues=1)
    assert info.frames == [10, 13, 16, 19, 22, 25, 28, 31, 34, 37]
    assert info.run_number == 3


# --------------------------------------------------------------------------- the parser refuses, with a reason


def _raw(**over: Any) -> bytes:
    data = json.loads(make_info().to_bytes())
    for key, value in over.items():
        if value is _DELETE:
            del data[key]
        else:
            data[key] = value
    return json.dumps(data).encode()


_DELETE = object()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "not JSON"),
        (b'{"format": 1, "job": "a", ', "not JSON"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "not JSON"),
        (b"[1, 2, 3]", "not a JSON object"),
        (b"[" * 200_000, "not JSON"),
        (b'{"format": 1, "index": ' + b"9" * 5000 + b"}", "not JSON"),
        (b" " * (MAX_INFO_BYTES + 1), "larger than"),
        (_raw(format=2), "newer renderd"),
        (_raw(format=0), "unknown format"),
        (_raw(format=True), "wrong type"),
        (_raw(format=_DELETE), "missing field 'format'"),
        (_raw(job="../../etc", chunk="../../etc-0001"), "not a safe name"),
        (_raw(chunk="other-0001"), "not a safe name"),
        (_raw(chunk="shot-1a2b3c4d-0001/../../x"), "not a safe name"),
        (_raw(kind="shell"), "unknown kind"),
        (_raw(argv=[]), "needs a program"),
        (_raw(argv="rm -rf /"), "wrong type"),
        (_raw(argv=["a\u0000b"]), "list of strings"),
        (_raw(start=5, end=1), "bad frame range"),
        (_raw(step=0), "bad frame range"),
        (_raw(cwd="../../.."), "escapes the spool"),
        (_raw(cwd="shots/../../x"), "escapes the spool"),
        (_raw(env={"BAD KEY": "x"}), "bad environment entry"),
        (_raw(env={"OK": 1}), "bad environment entry"),
        (_raw(priority=1000), "priority"),
        (_raw(attempts=-1), "'attempts' is -1, outside 0-1000"),
        (_raw(max_attempts=10**9), "'max_attempts' is 1000000000, outside 0-100"),
        (_raw(requeues=10**18), "'requeues' is 1000000000000000000, outside 0-1000"),
        (_raw().replace(b'"requeues": 0', b'"requeues": ' + b"7" * 4300), "too many digits"),
        (_raw(uid=2**40), "'uid' outside"),
        (_raw(owner="x" * 300), "'owner'"),
        (_raw(history=[1]), "history"),
        (_raw(timeout=0), "timeout must be positive"),
        (_raw(timeout=10**400), "too many digits"),
        (_raw(timeout=1e300), "timeout longer than"),
        (_raw(kind="blender"), "blender"),
        (b'{"format": 1, "created": NaN}', "not JSON"),
        (b'{"format": 1, "created": 1e400}', "not JSON"),
        (_raw(argv=["\ud800"]), "not valid Unicode"),
        (_raw(created=1e300), "created"),
        (_raw(created=-5), "created"),
    ],
)
def test_parser_refuses_hostile_content_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(BadInfoFile) as err:
        ChunkInfo.from_bytes(raw)
    assert reason in err.value.message


def test_file_name_must_match_the_chunk_inside() -> None:
    raw = make_info().to_bytes()
    with pytest.raises(BadInfoFile, match="does not match"):
        ChunkInfo.from_bytes(raw, "shot-1a2b3c4d-0002.info")
    assert ChunkInfo.from_bytes(raw, "shot-1a2b3c4d-0001.info").chunk == "shot-1a2b3c4d-0001"


# --------------------------------------------------------------------------- property tests

json_leaf = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=30,
)
FIELDS = [*json.loads(make_info().to_bytes()), "env", "blender", "timeout"]


@st.composite
def mutated_infos(draw: st.DrawFn) -> bytes:
    """A valid info whose fields are replaced, dropped or joined by random JSON values."""
    data = json.loads(make_info().to_bytes())
    for key in draw(st.lists(st.sampled_from(FIELDS), max_size=4)):
        if draw(st.booleans()):
            data[key] = draw(json_value)
        else:
            data.pop(key, None)
    data.update(draw(st.dictionaries(st.text(max_size=8), json_value, max_size=3)))
    return json.dumps(data, allow_nan=True).encode()


def _parse_or_reason(raw: bytes) -> ChunkInfo | None:
    try:
        return ChunkInfo.from_bytes(raw, "x.info")
    except BadInfoFile as err:
        assert err.message, "a refusal must say why"
        return None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_never_crash_the_parser(raw: bytes) -> None:
    _parse_or_reason(raw)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=12), json_value, max_size=8))
def test_random_json_objects_never_crash_the_parser(data: dict[str, Any]) -> None:
    _parse_or_reason(json.dumps(data).encode())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_infos())
def test_mutated_infos_parse_or_are_refused_and_what_parses_round_trips(raw: bytes) -> None:
    info = _parse_or_reason(raw)
    if info is not None:
        assert ChunkInfo.from_bytes(info.to_bytes()) == info


names = st.text(string.ascii_letters + string.digits, min_size=1, max_size=1).flatmap(
    lambda first: st.text(string.ascii_letters + string.digits + "_+-", max_size=20).map(lambda rest: first + rest)
)
safe_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=30)


@st.composite
def valid_infos(draw: st.DrawFn) -> ChunkInfo:
    job = draw(names)
    index = draw(st.integers(0, 99_999))
    start = draw(st.integers(-100_000, 100_000))
    step = draw(st.integers(1, 50))
    end = start + step * draw(st.integers(0, 1000))
    info = ChunkInfo(
        job=job,
        chunk=chunk_id(job, index, draw(st.integers(1, 99_999))),
        index=index,
        kind="command",
        argv=draw(st.lists(safe_text, min_size=1, max_size=6)),
        start=start,
        end=end,
        step=step,
        cwd=draw(st.sampled_from(["", ".", "shots/010", "/abs/path"])),
        env=draw(st.dictionaries(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True), safe_text, max_size=4)),
        priority=draw(st.integers(0, 999)),
        owner=draw(safe_text),
        uid=draw(st.integers(-1, 2**31)),
        created=draw(st.floats(0, 4e9)),
        timeout=draw(st.none() | st.floats(0.001, 1e6)),
        attempts=draw(st.integers(0, 10)),
        max_attempts=draw(st.integers(1, 10)),
        requeues=draw(st.integers(0, 10)),
        failed_hosts=draw(st.lists(names, max_size=3)),
    )
    for event in draw(st.lists(st.sampled_from(["queued", "failed", "requeued", "returned"]), max_size=5)):
        info.note(event, draw(names), reason=draw(safe_text))
    return info


@settings(max_examples=300, deadline=None)
@given(valid_infos())
def test_valid_infos_round_trip(info: ChunkInfo) -> None:
    raw = info.to_bytes()
    assert ChunkInfo.from_bytes(raw, f"{info.chunk}.info") == info
    assert ChunkInfo.from_bytes(raw).to_bytes() == raw


# --------------------------------------------------------------------------- names


def test_claim_name_round_trips_and_refuses_foreign_names() -> None:
    claim = ClaimName("shot-1a2b-0007", "ws-03", 4242, "0badcafe")
    assert claim.filename == "shot-1a2b-0007.info@ws-03.4242.0badcafe"
    assert ClaimName.parse(claim.filename) == claim
    assert claim.job == "shot-1a2b"
    fresh = ClaimName.new("shot-1a2b-0007", "ws-03")
    assert fresh.pid == os.getpid() and ClaimName.parse(fresh.filename) == fresh
    for foreign in (
        "shot-1a2b-0007.info",
        "shot-1a2b-0007.info@ws-03.4242.0badcafe.hb",
        "shot-1a2b-0007.info@ws-03.x.0badcafe",
        "shot-1a2b-0007.info@ws-03.4242.XYZ12345",
        ".nfs000000000123abcd00000001",
        "../x.info@h.1.0badcafe",
    ):
        assert ClaimName.parse(foreign) is None, foreign


def test_queue_dir_sorts_by_priority_then_submission() -> None:
    high_old = QueueDir.build("a", 90, 1_700_000_000_000)
    high_new = QueueDir.build("b", 90, 1_700_000_000_500)
    low_old = QueueDir.build("c", 10, 1_600_000_000_000)
    assert high_old.name == "909-1700000000000-a"
    for q in (high_old, high_new, low_old):
        assert QueueDir.parse(q.name) == q
    assert sorted([low_old.name, high_new.name, high_old.name]) == [high_old.name, high_new.name, low_old.name]
    for foreign in ("909-1700000000000", "9-1700000000000-a", "909-17-a", ".nfs1234", "909-1700000000000-..", "x~"):
        assert QueueDir.parse(foreign) is None, foreign


def test_chunk_ids_are_zero_padded_so_names_sort_in_index_order() -> None:
    assert chunk_id("j", 7, 3) == "j-0007"
    assert chunk_id("j", 7, 12345) == "j-00007"
    ids = [chunk_id("job-ab12", i, 20_000) for i in range(1, 20_001)]
    assert sorted(ids) == ids
    assert {job_of_chunk(c) for c in ids} == {"job-ab12"}


# --------------------------------------------------------------------------- the spool marker


def test_folder_with_other_things_but_no_marker_is_set_up_on_create(tmp_path: Path) -> None:
    (tmp_path / "shots").mkdir()
    (tmp_path / "shots" / "010.blend").write_bytes(b"BLENDER")
    (tmp_path / "notes.txt").write_text("keep me")
    spool = Spool.open(tmp_path, create=True)
    assert spool.created_layout
    assert (tmp_path / MARKER).is_file()
    assert all((tmp_path / sub).is_dir() for sub in LAYOUT)
    assert (tmp_path / "notes.txt").read_text() == "keep me"
    assert (tmp_path / "shots" / "010.blend").read_bytes() == b"BLENDER"
    again = Spool.open(tmp_path, create=True)
    assert not again.created_layout


def test_read_only_open_refuses_a_folder_without_marker_and_creates_nothing(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(SpoolError) as err:
        Spool.open(tmp_path)
    assert "not a renderd spool" in str(err.value) and MARKER in str(err.value)
    assert sorted(os.listdir(tmp_path)) == ["notes.txt"]
    with pytest.raises(SpoolError, match="does not exist"):
        Spool.open(tmp_path / "missing")


def test_marker_with_a_newer_format_is_refused(tmp_path: Path) -> None:
    (tmp_path / MARKER).write_text(f"format = {FORMAT + 1}\n")
    for create in (False, True):
        with pytest.raises(SpoolError) as err:
            Spool.open(tmp_path, create=create)
        assert f"spool format {FORMAT + 1}" in str(err.value) and "upgrade renderd" in str(err.value)
    assert os.listdir(tmp_path) == [MARKER]


@pytest.mark.parametrize("text", ["", "format = 'one'\n", "format = true\n", "\xff\xfe garbage", "format = [\n"])
def test_unreadable_marker_is_refused_with_a_reason(tmp_path: Path, text: str) -> None:
    (tmp_path / MARKER).write_bytes(text.encode("latin-1"))
    with pytest.raises(SpoolError, match="marker"):
        Spool.open(tmp_path)
