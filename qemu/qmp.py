#!/usr/bin/env python3
"""Sends one command to a running QEMU over its QMP socket and prints the reply.

Usage: qmp.py SOCKET COMMAND [ARG=VALUE...]
  e.g. qmp.py target/guest/hotplug.qmp device_del id=e1
       qmp.py target/guest/hotplug.qmp device_add driver=edu bus=rp1 id=e1
Exits non-zero if QEMU answers with an error. Values are strings (what device_add and device_del
take).
"""
import json
import socket
import sys


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    path, command, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    arguments = dict(a.split("=", 1) for a in args)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    stream = sock.makefile("rw")

    def reply() -> dict:
        # Skip asynchronous events; the reply is the next line with "return" or "error".
        while True:
            line = stream.readline()
            if not line:
                raise SystemExit("qmp: connection closed")
            msg = json.loads(line)
            if "return" in msg or "error" in msg:
                return msg

    json.loads(stream.readline())  # the greeting
    stream.write(json.dumps({"execute": "qmp_capabilities"}) + "\n")
    stream.flush()
    reply()
    stream.write(json.dumps({"execute": command, "arguments": arguments}) + "\n")
    stream.flush()
    msg = reply()
    print(json.dumps(msg))
    return 1 if "error" in msg else 0


if __name__ == "__main__":
    sys.exit(main())
