"""`render wait JOB --notify`: a desktop notification when the job ends (docs/hooks.md).

Through the freedesktop notification service: one `org.freedesktop.Notifications.Notify` call on
the session bus, made with jeepney (a small pure-Python D-Bus client with no dependencies of its
own, so no libdbus/GLib bindings and no `gdbus` program need be installed; imported only here,
only when --notify is given).  The session bus is `$DBUS_SESSION_BUS_ADDRESS`, else
`$XDG_RUNTIME_DIR/bus` (where systemd's user session puts it).  Without one (an ssh login, a
server) or when nobody owns the notification service, the terminal bell rings and one line says
why on stderr — the outcome line `render wait` prints anyway says how the job went.

The job's name is spool text that any artist wrote; notification servers read a subset of HTML
in the body, so the body is made printable, bounded and markup-escaped.
"""

from __future__ import annotations

import html
import os
import stat

from render_frontend import terminal

APP = "renderd"
TIMEOUT = 5.0  # seconds for the bus to answer: a hung notification daemon must not hang `render wait`
MAX_TEXT = 300
SERVICE = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"


class NoNotifier(Exception):
    """No desktop notification could be shown; the message says why, in one sentence."""


def session_bus() -> str:
    """The session bus's address, or NoNotifier."""
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS", "").strip()
    if address:
        return address
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime:
        path = os.path.join(runtime, "bus")
        try:
            if stat.S_ISSOCK(os.stat(path).st_mode):
                return f"unix:path={path}"
        except OSError:
            pass
    raise NoNotifier("no desktop session bus (DBUS_SESSION_BUS_ADDRESS is not set)")


def send(summary: str, body: str, failed: bool) -> int:
    """Show the notification; its id from the service, or NoNotifier."""
    address = session_bus()
    try:
        from jeepney import DBusAddress, new_method_call
        from jeepney.io.blocking import open_dbus_connection
        from jeepney.wrappers import DBusErrorResponse, unwrap_msg
    except ImportError as err:
        raise NoNotifier(f"the jeepney D-Bus library is missing ({err})") from None
    target = DBusAddress(PATH, bus_name=SERVICE, interface=SERVICE)
    hints = {"urgency": ("y", 2 if failed else 1), "category": ("s", "transfer.error" if failed
                                                                 else "transfer.complete")}
    call = new_method_call(target, "Notify", "susssasa{sv}i",
                           (APP, 0, "dialog-error" if failed else "dialog-information", summary, body, [], hints, -1))
    try:
        with open_dbus_connection(bus=address, auth_timeout=TIMEOUT) as conn:
            reply = unwrap_msg(conn.send_and_get_reply(call, timeout=TIMEOUT))
    except DBusErrorResponse as err:
        raise NoNotifier(f"the notification service refused: {err.name}") from None
    except (OSError, RuntimeError, ValueError, TimeoutError, KeyError) as err:
        raise NoNotifier(f"the session bus at {address[:120]} did not answer ({err or type(err).__name__})") from None
    return int(reply[0]) if reply and isinstance(reply[0], int) else 0


def text(job: str, name: str, outcome: str, detail: str) -> tuple[str, str]:
    """(summary, body): plain text summary, markup-escaped body; both printable and bounded."""
    label = terminal.visible(name)[:80] if name and name != job else ""
    summary = {"done": f"{job} is done", "failed": f"{job} failed"}.get(outcome, f"{job}: render wait {outcome}")
    body = (f"{label}: " if label else "") + terminal.visible(detail)[:MAX_TEXT]
    return terminal.visible(summary)[:MAX_TEXT], html.escape(body, quote=False)


def notify(job: str, name: str, outcome: str, detail: str) -> None:
    """The desktop notification, or the bell and one line on stderr."""
    summary, body = text(job, name, outcome, detail)
    try:
        send(summary, body, outcome != "done")
    except NoNotifier as err:
        terminal.bell()  # written as is (terminal.echo would make it visible)
        terminal.echo(f"{job}: {outcome} (no desktop notification: {err})", err=True)
