"""Shared plumbing of the smtp/mllp/webhook peer receivers: announce the port the way
`peers/mod.rs` expects (`LISTENING <port>`), append records as JSON lines, and never outlive
the test (`--max-seconds`; the test also kills us when done)."""

import json
import os
import threading


def announce(port: int) -> None:
    print(f"LISTENING {port}", flush=True)


def recorder(path: str):
    lock = threading.Lock()

    def record(entry: dict) -> None:
        with lock, open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")
            f.flush()

    return record


def add_common_args(parser) -> None:
    parser.add_argument("--record", required=True, help="JSON-lines file of what was received")
    parser.add_argument("--max-seconds", type=float, default=300)


def exit_after(seconds: float) -> None:
    timer = threading.Timer(seconds, lambda: os._exit(0))
    timer.daemon = True
    timer.start()
