"""The manifest's `scheduling` field (format/rules.py), the host record's tags and the blocklist
records: what render writes reads back, hostile values are refused with a sentence, an old
manifest without the field has the default rules."""

from __future__ import annotations

import pytest

from renderd.errors import BadRecord
from renderd.format.blocklist import HostFailures, Unblocked
from renderd.format.host import HostRecord
from renderd.format.manifest import Manifest
from renderd.format.rules import JobRules, Share, parse_tags

BASE = {"format": 1, "job": "j-1", "kind": "command", "argv": ["true"],
        "chunks": [{"chunk": "j-1-0001", "start": 1, "end": 1, "step": 1}]}


def test_rules_round_trip_through_the_manifest() -> None:
    rules = JobRules(tags=frozenset({"gpu", "lighting"}), hosts=frozenset({"ws12"}), max_share=Share(50, True),
                     after=("a-1", "b-2"), block_after=5)
    m = Manifest.from_dict({**BASE, "scheduling": rules.as_dict()})
    assert m.rules == rules
    again = Manifest.from_bytes(m.to_bytes())
    assert again.rules == rules and again.as_dict()["scheduling"]["max_share"] == "50%"


def test_a_manifest_without_rules_has_the_defaults_and_writes_none() -> None:
    m = Manifest.from_dict(dict(BASE))
    assert m.rules == JobRules() and m.rules.block_after == 3
    assert "scheduling" not in m.as_dict()


@pytest.mark.parametrize("bad", [
    {"version": 2}, {"version": 1, "tags": ["-y"]}, {"version": 1, "tags": "gpu"}, {"version": 1, "hosts": []},
    {"version": 1, "max_share": "0%"}, {"version": 1, "max_share": "lots"}, {"version": 1, "after": ["j-1"]},
    {"version": 1, "after": ["x", "x"]}, {"version": 1, "block_after": 0}, {"version": 1, "block_after": True},
    {"tags": []},
])
def test_hostile_rules_are_refused_with_a_sentence(bad: dict[str, object]) -> None:
    with pytest.raises(BadRecord, match=r"manifest scheduling|waits for itself"):
        Manifest.from_dict({**BASE, "scheduling": bad})


def test_shares_and_tags_parse() -> None:
    assert Share.parse("50%").cap(8) == 4 and Share.parse("1%").cap(8) == 1 and Share.parse("3").cap(100) == 3
    for text in ("0", "-1", "101%", "nan%", "x"):
        with pytest.raises(ValueError, match="not a share"):
            Share.parse(text)
    assert parse_tags(" gpu, lighting ,") == {"gpu", "lighting"}
    with pytest.raises(ValueError, match="not a tag"):
        parse_tags("gpu,a b")


def test_host_tags_round_trip_and_are_checked() -> None:
    rec = HostRecord.from_dict({"format": 1, "name": "ws1", "tags": ["gpu"]})
    assert rec.tags == {"gpu"} and HostRecord.from_bytes(rec.to_bytes()).tags == {"gpu"}
    assert "tags" not in HostRecord.from_dict({"format": 1, "name": "ws1"}).as_dict()
    with pytest.raises(BadRecord, match="tags"):
        HostRecord.from_dict({"format": 1, "name": "ws1", "tags": ["\x1b]52;"]})


def test_blocklist_records_round_trip() -> None:
    rec = HostFailures("j-1", "ws1", 3, "j-1-0001", 1.0)
    assert HostFailures.from_bytes(rec.to_bytes(), "failures/ws1.json") == rec
    with pytest.raises(BadRecord, match="names host"):
        HostFailures.from_bytes(rec.to_bytes(), "failures/ws2.json")
    un = Unblocked("j-1", {"ws1": 3}, "me", 2.0)
    assert Unblocked.from_bytes(un.to_bytes()).forgiven("ws1") == 3
    with pytest.raises(BadRecord, match="hosts"):
        Unblocked.from_bytes(b'{"format": 1, "job": "j-1", "hosts": {"ws1": -1}}')
