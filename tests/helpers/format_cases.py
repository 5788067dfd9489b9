"""Shared by tests/unit/test_format_*.py: a record of the checked-in format-1 spool,
changed one field at a time, and the property every reader keeps."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from renderd.errors import RenderdError

V1 = Path(__file__).parent.parent / "fixtures" / "spool_v1"
DELETE = object()

# JSON-ish values a hostile writer may put in any field
hostile_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


def changed(path: Path, **over: Any) -> bytes:
    data = json.loads(path.read_bytes())
    for key, value in over.items():
        if value is DELETE:
            data.pop(key, None)
        else:
            data[key] = value
    return json.dumps(data).encode()


def refuses_or_reads(reader: Callable[[bytes], object], raw: bytes) -> None:
    """Any bytes: a record, or our error with a path-less one-line sentence; never another exception."""
    try:
        reader(raw)
    except RenderdError as err:  # BadRecord, or SpoolError for the marker
        assert err.message and "\n" not in err.message
