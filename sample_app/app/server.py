#!/usr/bin/env python3
"""Sample web app for the CodeDeploy hooks: standard library only.

GET /        200, the version (from the VERSION file of the revision) and the deployment id
GET /health  200 "ok" when ready; 503 "starting" during SAMPLE_APP_STARTUP_DELAY and "draining" after SIGTERM

On SIGTERM (or SIGINT) /health turns 503 at once, the app keeps serving for SAMPLE_APP_DRAIN_SECONDS so a load
balancer can take it out, then it exits 0. Settings: --host/--port or SAMPLE_APP_HOST (127.0.0.1),
SAMPLE_APP_PORT (8080), SAMPLE_APP_STARTUP_DELAY (0), SAMPLE_APP_DRAIN_SECONDS (2), SAMPLE_APP_VERSION_FILE.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))


class AppState:
    def __init__(self, version: str, ready_at: float) -> None:
        self.version = version
        self.ready_at = ready_at
        self.draining = threading.Event()

    def health(self):
        if self.draining.is_set():
            return 503, "draining"
        if time.monotonic() < self.ready_at:
            return 503, "starting"
        return 200, "ok"


def make_handler(state: AppState):
    class Handler(BaseHTTPRequestHandler):
        server_version = "sample-app/" + state.version

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path.split("?", 1)[0] == "/health":
                status, text = state.health()
            elif self.path.split("?", 1)[0] == "/":
                deployment = os.environ.get("SAMPLE_APP_DEPLOYMENT_ID", "-")
                status, text = 200, f"sample-app {state.version} (deployment {deployment})"
            else:
                status, text = 404, "not found"
            body = (text + "\n").encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
            sys.stderr.write("{} {}\n".format(time.strftime("%Y-%m-%d %H:%M:%S"), format % args))

    return Handler


def read_version(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip() or "unknown"
    except OSError:
        return "unknown"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default=os.environ.get("SAMPLE_APP_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("SAMPLE_APP_PORT", "8080")))
    args = parser.parse_args(argv)
    delay = float(os.environ.get("SAMPLE_APP_STARTUP_DELAY", "0"))
    drain = float(os.environ.get("SAMPLE_APP_DRAIN_SECONDS", "2"))
    version_file = os.environ.get("SAMPLE_APP_VERSION_FILE", os.path.join(HERE, os.pardir, "VERSION"))
    state = AppState(read_version(version_file), time.monotonic() + delay)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(state))
    server.daemon_threads = True

    def begin_drain(signum: int, frame: object) -> None:
        if state.draining.is_set():
            return
        state.draining.set()
        print(f"signal {signum}: /health now 503, stopping in {drain:g}s", file=sys.stderr, flush=True)
        threading.Timer(drain, server.shutdown).start()

    signal.signal(signal.SIGTERM, begin_drain)
    signal.signal(signal.SIGINT, begin_drain)
    print(
        f"sample-app {state.version} listening on {args.host}:{args.port} "
        f"(pid {os.getpid()}, ready in {delay:g}s)",
        file=sys.stderr,
        flush=True,
    )
    server.serve_forever(poll_interval=0.1)
    server.server_close()
    print("sample-app stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
