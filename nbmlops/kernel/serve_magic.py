"""`%nbmlops serve ...` in a notebook: serve a model URI or a Graph from the kernel's namespace in the background,
on this kernel's process; the servers stop with the kernel.

    %nbmlops serve graph --port 8080          # a Graph variable of the notebook, or churn@production, mod:graph
    %nbmlops serve churn@production --token T
    %nbmlops serve list                       # the servers this kernel runs
    %nbmlops serve stop [PORT]                # one of them, or all
"""

from __future__ import annotations

import argparse
import atexit
import shlex
import sys
from typing import Any

from nbmlops.errors import NbmlopsError

_SERVERS: dict[int, Any] = {}  # port -> BackgroundServer


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise NbmlopsError(f"%nbmlops serve: {message}\n{self.format_usage().strip()}")


def _parser() -> _Parser:
    parser = _Parser(prog="%nbmlops serve", add_help=False)
    parser.add_argument("target", help="a Graph variable, a model URI (churn@production) or module:graph")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--token", default=None)
    parser.add_argument("--max-pending", type=int, default=None)
    parser.add_argument("--poll", type=float, default=None)
    parser.add_argument("--no-log", action="store_true")
    return parser


def _stop_all() -> None:
    for port in list(_SERVERS):
        _SERVERS.pop(port).stop(10)


atexit.register(_stop_all)  # the kernel's end stops its servers after flushing their logs


def run(line: str, user_ns: dict[str, Any] | None = None) -> Any:
    """Handle the words after `%nbmlops serve`; returns the server started (shown by the notebook), or None."""
    words = shlex.split(line)
    if not words or words[0] in ("-h", "--help", "help"):
        print(__doc__.split("\n\n", 1)[1].rstrip())
        return None
    if words[0] == "list":
        for _port, server in sorted(_SERVERS.items()):
            print(f"{server.url}  {server.graph!r}  {server.graph.model_version or 'loading'}")
        if not _SERVERS:
            print("no servers running in this kernel")
        return None
    if words[0] == "stop":
        ports = [int(w) for w in words[1:]] if len(words) > 1 else list(_SERVERS)
        for port in ports:
            server = _SERVERS.pop(port, None)
            if server is None:
                raise NbmlopsError(
                    f"%nbmlops serve stop: no server of this kernel on port {port} "
                    f"(running: {', '.join(map(str, _SERVERS)) or 'none'})"
                )
            server.stop(10)
            print(f"stopped {server.url}")
        return None
    args = _parser().parse_args(words)
    from nbmlops.serving import Graph, serve

    target = (user_ns or {}).get(args.target, args.target)
    if not isinstance(target, Graph | str):
        raise NbmlopsError(f"%nbmlops serve: '{args.target}' is a {type(target).__name__}, not a Graph")
    options = {
        "token": args.token,
        "max_pending": args.max_pending,
        "poll_s": args.poll,
        "log_predictions": not args.no_log,
    }
    server = serve(
        target, host=args.host, port=args.port, wait=False, **{k: v for k, v in options.items() if v is not None}
    )
    _SERVERS[server.port] = server
    print(
        f"nbmlops: serving {server.graph!r} on {server.url} (stop: %nbmlops serve stop {server.port})", file=sys.stdout
    )
    return server
