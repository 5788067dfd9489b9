"""A stand-in for a desktop's notification daemon, for the tests: owns org.freedesktop.Notifications
on the session bus ($DBUS_SESSION_BUS_ADDRESS) and appends each Notify call as one JSON line.

usage: notifyd.py RECORD_FILE    (prints `ready` once it owns the name)
"""

from __future__ import annotations

import json
import sys

from jeepney import HeaderFields, MessageType, new_method_return
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

NAME = "org.freedesktop.Notifications"


def main() -> int:
    record = sys.argv[1]
    with open_dbus_connection(bus="SESSION") as conn:
        reply = conn.send_and_get_reply(message_bus.RequestName(NAME, 4))  # DO_NOT_QUEUE
        if reply.body[0] != 1:  # PRIMARY_OWNER
            print(f"cannot own {NAME}: {reply.body}", flush=True)
            return 1
        print("ready", flush=True)
        next_id = 1
        while True:
            msg = conn.receive()
            fields = msg.header.fields
            if msg.header.message_type != MessageType.method_call or fields.get(HeaderFields.interface) != NAME:
                continue
            member = fields.get(HeaderFields.member)
            if member == "Notify":
                app, _replaces, icon, summary, body, _actions, hints, expire = msg.body
                with open(record, "a") as fh:
                    fh.write(json.dumps({"app": app, "icon": icon, "summary": summary, "body": body,
                                         "hints": {k: v[1] for k, v in hints.items()}, "expire": expire}) + "\n")
                conn.send(new_method_return(msg, "u", (next_id,)))
                next_id += 1
            elif member == "GetServerInformation":
                conn.send(new_method_return(msg, "ssss", ("notifyd", "renderd-tests", "0", "1.2")))


if __name__ == "__main__":
    sys.exit(main())
