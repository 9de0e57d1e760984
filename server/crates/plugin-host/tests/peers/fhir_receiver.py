"""A FHIR R4 receiver on 127.0.0.1 for the fhir plugin's tests (tests/fhir.rs).

It validates every posted Communication with the `fhir.resources` package (its R4B models: R4B
keeps R4's Communication unchanged) plus the required-binding codes that the models do not check,
stores what it accepted, and supports conditional create (`If-None-Exist: identifier=sys|value`),
answering 200 with the stored resource on a match, as FHIR servers do.

    python fhir_receiver.py --token TOKEN [--client-id ID --client-secret SECRET]

With a client, POST /auth/token is an OAuth 2.0 token endpoint (RFC 6749 4.4, client
credentials, form-encoded client_id/client_secret) that issues TOKEN as a Bearer token; a wrong
client gets 401 {"error": "invalid_client"}.

prints `LISTENING <port>` once it accepts connections. Control endpoints for the test:
  GET  /_control/state   -> {"resources": [...], "requests": [{method, path, headers}]}
  POST /_control/script  <- [{"status": 429, "retry_after": "7"}, {"status": 500},
                             {"status": "store_then_hang", "seconds": 3}, ...]
        scripted answers for the next FHIR requests, in order; after them, normal service.
"""

import argparse
import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    from fhir.resources.R4B.communication import Communication
except ImportError as e:  # pragma: no cover - environment problem, said plainly
    sys.stderr.write(f"fhir_receiver: cannot import fhir.resources.R4B ({e}); "
                     "run scripts/peers-venv or pip install fhir.resources\n")
    sys.exit(3)

STATUS = {"preparation", "in-progress", "not-done", "on-hold", "stopped", "completed",
          "entered-in-error", "unknown"}
PRIORITY = {"routine", "urgent", "asap", "stat"}

lock = threading.Lock()
resources = []  # accepted resources, with the id this server gave them
requests = []
script = []


def outcome(code, text):
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": text}]}


def validate(body):
    """Returns a list of problems (empty when the resource is acceptable)."""
    try:
        resource = json.loads(body)
    except ValueError as e:
        return [f"body is not JSON: {e}"], None
    if not isinstance(resource, dict) or resource.get("resourceType") != "Communication":
        return ["resourceType must be Communication"], None
    try:
        Communication.model_validate(resource)
    except Exception as e:  # pydantic.ValidationError
        return [f"not a valid R4 Communication: {e}"], None
    problems = []
    if resource.get("status") not in STATUS:
        problems.append(f"status {resource.get('status')!r} is not in the required value set")
    if "priority" in resource and resource["priority"] not in PRIORITY:
        problems.append(f"priority {resource['priority']!r} is not in the required value set")
    return problems, resource


def identifier_match(resource, system, value):
    return any(i.get("system") == system and i.get("value") == value
               for i in resource.get("identifier", []))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    token = ""
    client_id = None
    client_secret = None

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body=None, headers=()):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if body is not None:
            self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def record(self):
        with lock:
            requests.append({"method": self.command, "path": self.path,
                             "headers": {k.lower(): v for k, v in self.headers.items()}})

    def oauth_token(self, body):
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        first = lambda k: (form.get(k) or [""])[0]
        ctype = self.headers.get("Content-Type") or ""
        if "application/x-www-form-urlencoded" not in ctype \
                or first("grant_type") != "client_credentials":
            return self.reply(400, {"error": "invalid_request"})
        if first("client_id") != self.client_id or first("client_secret") != self.client_secret:
            return self.reply(401, {"error": "invalid_client"})
        self.reply(200, {"access_token": self.token, "token_type": "bearer",
                         "expires_in": 300, "scope": first("scope")})

    def authorized(self):
        if self.headers.get("Authorization") != f"Bearer {self.token}":
            self.reply(401, outcome("login", "missing or wrong bearer token"),
                       [("WWW-Authenticate", "Bearer")])
            return False
        return True

    def scripted(self):
        with lock:
            return script.pop(0) if script else None

    def do_GET(self):
        if self.path == "/_control/state":
            with lock:
                state = {"resources": list(resources), "requests": list(requests)}
            return self.reply(200, state)
        self.record()
        if not self.authorized():
            return
        if self.path == "/fhir/metadata":
            return self.reply(200, {"resourceType": "CapabilityStatement", "status": "active",
                                    "kind": "instance", "fhirVersion": "4.0.1",
                                    "format": ["json"], "date": "2026-11-01"})
        self.reply(404, outcome("not-found", f"no route {self.path}"))

    def do_POST(self):
        body = self.read_body()
        if self.path == "/_control/script":
            with lock:
                script.extend(json.loads(body))
            return self.reply(204)
        self.record()
        if self.path == "/auth/token" and self.client_id:
            return self.oauth_token(body)
        if self.path != "/fhir/Communication":
            return self.reply(404, outcome("not-found", f"no route {self.path}"))
        step = self.scripted()
        if step is not None and isinstance(step.get("status"), int):
            headers = [("Retry-After", step["retry_after"])] if "retry_after" in step else []
            return self.reply(step["status"], outcome("transient", "scripted failure"), headers)
        if not self.authorized():
            return
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype not in ("application/fhir+json", "application/json"):
            return self.reply(415, outcome("not-supported", f"content type {ctype!r}"))
        problems, resource = validate(body)
        if problems:
            return self.reply(422, outcome("invalid", "; ".join(problems)))
        base = f"http://{self.headers.get('Host')}/fhir"
        with lock:
            condition = self.headers.get("If-None-Exist")
            if condition:
                query = urllib.parse.parse_qs(condition)
                wanted = query.get("identifier", [""])[0]
                system, _, value = wanted.partition("|")
                matches = [r for r in resources if identifier_match(r, system, value)]
                if len(matches) > 1:
                    return self.reply(412, outcome("duplicate", "more than one match"))
                if matches:
                    found = matches[0]
                    return self.reply(200, found,
                                      [("Location", f"{base}/Communication/{found['id']}/_history/1")])
            resource["id"] = str(len(resources) + 1001)
            resource["meta"] = {"versionId": "1"}
            resources.append(resource)
        if step is not None and step.get("status") == "store_then_hang":
            # Stored, but the answer is lost: the sender times out first.
            time.sleep(step.get("seconds", 3))
            self.close_connection = True
            return
        self.reply(201, resource,
                   [("Location", f"{base}/Communication/{resource['id']}/_history/1")])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--token", required=True)
    parser.add_argument("--client-id")
    parser.add_argument("--client-secret")
    parser.add_argument("--max-seconds", type=float, default=300,
                        help="exit after this long even if nobody stops us")
    args = parser.parse_args()
    Handler.token = args.token
    Handler.client_id = args.client_id
    Handler.client_secret = args.client_secret
    threading.Timer(args.max_seconds, lambda: os._exit(0)).start()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"LISTENING {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
