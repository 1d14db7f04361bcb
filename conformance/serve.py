"""Serve a Python implementation over the JSON-lines pipe protocol.

``python -m kmemcg.conformance.serve MOD:FACTORY`` lets the pipe adapter (and so any
other test harness) drive a Python implementation out of process; it is also
the worked example for writing a server in another language.
"""

from __future__ import annotations

import json
import sys

from kmemcg.conformance.adapters import PythonAdapter
from kmemcg.conformance.protocol import VERSION, ProtocolError


def serve(spec: str, stdin=sys.stdin, stdout=sys.stdout) -> int:
    adapter = None
    for line in stdin:
        try:
            req = json.loads(line)
            rid, method, params = req["id"], req["method"], req.get("params", {})
        except (json.JSONDecodeError, KeyError, TypeError):
            stdout.write(json.dumps({"id": None, "error": f"bad request {line[:100]!r}"}) + "\n")
            stdout.flush()
            continue
        try:
            if method == "hello":
                result = {"protocol": VERSION}
            elif method == "reset":
                adapter = PythonAdapter.from_spec(spec, params["tasks"])
                result = None
            elif adapter is None:
                raise ProtocolError("reset first")
            elif method == "start":
                result = adapter.start(params["op"], params["args"])
            elif method == "step":
                result = adapter.step(params["thread"])
            elif method == "read":
                result = adapter.read(params["path"], params["file"])
            elif method == "snapshot":
                result = adapter.snapshot()
            else:
                raise ProtocolError(f"unknown method {method!r}")
            reply = {"id": rid, "result": result}
        except (ProtocolError, KeyError) as e:
            reply = {"id": rid, "error": str(e)}
        stdout.write(json.dumps(reply) + "\n")
        stdout.flush()
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m kmemcg.conformance.serve MOD:FACTORY")
    sys.exit(serve(sys.argv[1]))
