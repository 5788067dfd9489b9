"""One duration type: a bare number is seconds everywhere; units s, m, h, d, w and combinations."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from renderd.duration import POSITIVE, Duration, DurationError, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("90s", 90.0), ("5m", 300.0), ("2h", 7200.0), ("7d", 604800.0), ("1w", 604800.0),
     ("1h30m", 5400.0), ("1.5h", 5400.0), (" 2 h ", 7200.0), ("0.25", 0.25), ("10 minutes", 600.0)],
)
def test_durations_parse_to_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "-5", "nan", "inf", "5x", "1h1h", "5m 3", "1e9999"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(DurationError, match=r"duration|longer"):
        parse_duration(text)


@given(st.integers(0, 10**8))
def test_formatted_durations_read_back(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


def test_the_click_type_takes_toml_numbers_and_refuses_booleans_and_zero() -> None:
    assert POSITIVE.convert(90, None, None) == 90.0
    assert Duration().convert("0", None, None) == 0.0
    for bad in (True, 0, "0s", float("nan"), -1):
        with pytest.raises(click.BadParameter):
            POSITIVE.convert(bad, None, None)
    with pytest.raises(click.BadParameter, match="at most 1h"):
        Duration(maximum=3600).convert("2h", None, None)


def test_an_option_error_is_one_line_with_exit_2() -> None:
    @click.command()
    @click.option("--lease", type=POSITIVE, default="60s")
    def cmd(lease: float) -> None:
        click.echo(repr(lease))

    runner = CliRunner()
    assert runner.invoke(cmd, ["--lease", "2m"]).output == "120.0\n"
    assert runner.invoke(cmd, []).output == "60.0\n"
    bad = runner.invoke(cmd, ["--lease", "soon"])
    assert bad.exit_code == 2 and "is not a duration" in bad.output and "Traceback" not in bad.output
