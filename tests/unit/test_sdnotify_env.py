"""What the notifier reads from systemd's environment (the protocol itself: tests/integration/test_sdnotify.py)."""

from __future__ import annotations

import os

from renderd.sdnotify import Notifier


def test_pings_at_half_the_watchdog_time_and_hides_the_socket_from_children() -> None:
    env = {"NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_USEC": "30000000", "PATH": "/bin"}
    n = Notifier(env)
    assert n.address == "/run/systemd/notify" and n.watchdog_interval == 15.0
    assert n.interval == 2.0  # the status line is refreshed more often than the watchdog needs
    assert env == {"PATH": "/bin"}


def test_a_short_watchdog_sets_the_pace() -> None:
    n = Notifier({"NOTIFY_SOCKET": "@notify", "WATCHDOG_USEC": "600000", "WATCHDOG_PID": str(os.getpid())})
    assert n.address == b"\0notify" and n.interval == 0.3


def test_a_watchdog_meant_for_another_process_or_nonsense_is_ignored() -> None:
    assert Notifier({"NOTIFY_SOCKET": "/s", "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}).watchdog_interval is None
    assert Notifier({"NOTIFY_SOCKET": "/s", "WATCHDOG_USEC": "soon"}).watchdog_interval is None


def test_outside_systemd_nothing_is_sent_and_the_loop_is_not_woken() -> None:
    n = Notifier({})
    assert not n.enabled and n.interval == float("inf") and n.send("READY=1") is False
    assert Notifier({"NOTIFY_SOCKET": "vsock:2:1234"}).address is None
