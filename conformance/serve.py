"""Serve a Python implementation over the JSON-lines protocol (version 2).

``kmemcg serve [--impl MOD:FACTORY]`` lets the pipe adapter (and so any other
test harness) drive a Python implementation out of process; it is also the
worked example for writing a server in another language: read a request line,
answer one line with the same ``id``, never write anything else to stdout.
A client of another protocol version is refused with an error reply that says
so, and the server goes on reading.
"""

from __future__ import annotations

import json
import sys

from kmemcg.conformance.adapters import REFERENCE, PythonAdapter
from kmemcg.conformance.protocol import VERSION, Blocked, Done, ProtocolError, encode
from kmemcg.model.config import Config


class _Session:
    """One client's conversation: its version, then the booted machine."""

    def __init__(self, spec: str):
        self.spec = spec
        self.adapter: PythonAdapter | None = None
        self.greeted = False

    def answer(self, method: str, params: dict):
        if method == "hello":
            theirs = params.get("protocol")
            if theirs != VERSION:
                raise ProtocolError(
                    f"this server speaks kmemcg protocol {VERSION}; the client speaks "
                    f"{'version 1 (it sent no version)' if theirs is None else repr(theirs)}. "
                    f"Protocol 1 clients cannot drive it: version 2 boots the machine from "
                    f"the whole configuration (reset with 'config') and adds the kernel "
                    f"paths, the workqueue, slabinfo and hidden()")
            self.greeted = True
            return {"protocol": VERSION, "capabilities": ["steps", "call"]}
        if not self.greeted:
            raise ProtocolError(f"say hello with {{\"protocol\": {VERSION}}} first")
        if method == "reset":
            if "config" not in params:
                raise ProtocolError("reset wants the configuration ('config', as "
                                    "Config.to_json writes it); a 'tasks' list is protocol 1's")
            try:
                cfg = Config.from_json(params["config"])
            except (KeyError, TypeError, ValueError) as e:
                raise ProtocolError(f"reset: not a configuration: {e}") from None
            if self.adapter is not None:
                self.adapter.close()
            self.adapter = PythonAdapter.from_spec(self.spec, cfg)
            return None
        a = self.adapter
        if a is None:
            raise ProtocolError("reset first")
        if method == "start":
            return a.start(params["op"], params["args"])
        if method == "call":  # a whole operation: its steps run here, unseen
            thread = a.start(params["op"], params["args"])
            while not isinstance(reply := a.step(thread), Done):
                if isinstance(reply, Blocked):
                    raise ProtocolError(f"call: {params['op']} blocked on {reply.lock}, "
                                        f"with no other thread to run")
            return reply.result
        if method == "step":
            return encode(a.step(params["thread"]))
        if method == "queued":
            return a.queued()
        if method == "read":
            return a.read(params["path"], params["file"])
        if method == "memcg_state":
            return a.memcg_state(params["path"])
        if method == "slabinfo":
            return a.slabinfo()
        if method == "snapshot":
            return a.snapshot()
        if method == "hidden":
            return a.hidden()
        raise ProtocolError(f"unknown method {method!r}")


def serve(spec: str = REFERENCE, stdin=sys.stdin, stdout=sys.stdout) -> int:
    """Answer requests on ``stdin`` until it closes; 0."""
    session = _Session(spec)
    for line in stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            rid, method, params = req["id"], req["method"], req.get("params") or {}
        except (json.JSONDecodeError, KeyError, TypeError):
            reply = {"id": None, "error": f"bad request {line[:100]!r}"}
        else:
            try:
                reply = {"id": rid, "result": session.answer(method, params)}
            except (ProtocolError, KeyError, TypeError) as e:
                reply = {"id": rid, "error": str(e) if isinstance(e, ProtocolError)
                         else f"{method}: missing or bad parameter {e}"}
        stdout.write(json.dumps(reply) + "\n")
        stdout.flush()
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 2:
        sys.exit("usage: python -m kmemcg.conformance.serve [MOD:FACTORY]")
    sys.exit(serve(*sys.argv[1:]))
