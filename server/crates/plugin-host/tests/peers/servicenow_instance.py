"""A ServiceNow instance stand-in on 127.0.0.1 for the servicenow plugin's tests
(tests/servicenow.rs), standard library only. It implements the documented request and response
shapes of the REST Table API and Import Set API that the plugin uses:

  POST  /api/now/table/{table}             -> 201 {"result": {..., "sys_id", "number"}}
  GET   /api/now/table/{table}?sysparm_query=f=v^g=w&sysparm_limit=N&sysparm_fields=a,b
                                           -> 200 {"result": [...]}
  GET   /api/now/table/{table}/{sys_id}    -> 200 {"result": {...}} | 404
  PATCH /api/now/table/{table}/{sys_id}    -> 200 {"result": {...}} | 404
  POST  /api/now/import/{staging_table}    -> 201 {"import_set", "staging_table", "result": [
            {"transform_map", "table", "display_name", "display_value", "record_link",
             "status": "inserted"|"updated"|"error", "sys_id"}]}
        the transform map copies u_<field> to <field> of --import-target, coalescing on
        u_correlation_id (as a customer's map would).

  POST  /oauth_token.do  (application/x-www-form-urlencoded: grant_type=client_credentials,
        client_id, client_secret[, scope]) -> 200 {"access_token", "scope", "token_type": "Bearer",
        "expires_in": 1799}; wrong client -> 401 {"error": "access_denied", "error_description":
        "access_denied"} (only with --client-id/--client-secret). Issued tokens are accepted as
        Bearer tokens until the stand-in stops.

Errors are {"error": {"message", "detail"}, "status": "failure"}. Auth: Basic (--user/--password)
or Bearer (--token, or a token issued by /oauth_token.do); all are accepted when given. Requests without Accept: application/json,
or bodies without Content-Type: application/json, are refused (406/415). Field limits:
short_description 160, correlation_id 100 characters (400 otherwise, like a strict instance).

    python servicenow_instance.py --user U --password P [--token T] [--import-target incident]

prints `LISTENING <port>`. Control endpoints for the test (no auth):
  GET  /_control/state  -> {"tables": {table: [records]}, "import_rows": [...], "requests": [...]}
  POST /_control/script <- [{"status": 429, "retry_after": "2"}, {"status": 500},
                            {"status": "apply_then_hang", "seconds": 3}, ...]
        scripted answers for the next API requests in order; after them, normal service.
"""

import argparse
import base64
import json
import os
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LIMITS = {"short_description": 160, "correlation_id": 100}

lock = threading.Lock()
tables = {}        # table -> {sys_id: record}
import_rows = []   # staged rows as received
requests = []
script = []
counter = [10000]
issued_tokens = set()


def error(message, detail=""):
    return {"error": {"message": message, "detail": detail}, "status": "failure"}


def now():
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())


def check_limits(fields):
    for name, limit in LIMITS.items():
        value = fields.get(name)
        if isinstance(value, str) and len(value) > limit:
            return f"{name} is longer than {limit} characters"
    return None


def insert(table, fields):
    counter[0] += 1
    record = {k: ("" if v is None else str(v)) for k, v in fields.items()}
    record.update({"sys_id": uuid.uuid4().hex, "number": f"INC{counter[0]:07d}",
                   "sys_created_on": now(), "sys_updated_on": now(), "sys_mod_count": "0"})
    if "work_notes" in record:
        record["work_notes_list"] = [record.pop("work_notes")]
    tables.setdefault(table, {})[record["sys_id"]] = record
    return record


def update(record, fields):
    for k, v in fields.items():
        if k == "work_notes":
            record.setdefault("work_notes_list", []).append(str(v))
        else:
            record[k] = "" if v is None else str(v)
    record["sys_updated_on"] = now()
    record["sys_mod_count"] = str(int(record["sys_mod_count"]) + 1)
    return record


def matches(record, query):
    for term in filter(None, query.split("^")):
        field, _, value = term.partition("=")
        if record.get(field) != value:
            return False
    return True


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    basic = None
    token = None
    client_id = None
    client_secret = None
    import_target = "incident"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body=None, headers=()):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if body is not None:
            self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def control(self, raw):
        if self.command == "GET" and self.path == "/_control/state":
            with lock:
                state = {"tables": {t: list(r.values()) for t, r in tables.items()},
                         "import_rows": list(import_rows), "requests": list(requests)}
            self.reply(200, state)
        elif self.command == "POST" and self.path == "/_control/script":
            with lock:
                script.extend(json.loads(raw))
            self.reply(204)
        else:
            self.reply(404, error("no such control endpoint"))

    def oauth_token(self, raw):
        """ServiceNow's OAuth token endpoint, client credentials grant only."""
        if "application/x-www-form-urlencoded" not in (self.headers.get("Content-Type") or ""):
            return self.reply(400, {"error": "invalid_request",
                                    "error_description": "form-encoded body required"})
        form = urllib.parse.parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        first = lambda k: (form.get(k) or [""])[0]
        if first("grant_type") != "client_credentials":
            return self.reply(400, {"error": "unsupported_grant_type",
                                    "error_description": first("grant_type")})
        if not self.client_id or first("client_id") != self.client_id \
                or first("client_secret") != self.client_secret:
            return self.reply(401, {"error": "access_denied", "error_description": "access_denied"})
        token = "sn-" + uuid.uuid4().hex
        with lock:
            issued_tokens.add(token)
        self.reply(200, {"access_token": token, "scope": first("scope") or "useraccount",
                         "token_type": "Bearer", "expires_in": 1799})

    def handle_any(self):
        raw = self.body()
        if self.path.startswith("/_control/"):
            return self.control(raw)
        with lock:
            requests.append({"method": self.command, "path": self.path,
                             "headers": {k.lower(): v for k, v in self.headers.items()},
                             "body": raw.decode("utf-8", "replace")})
            step = None if self.path == "/oauth_token.do" else (script.pop(0) if script else None)
        if self.path == "/oauth_token.do" and self.command == "POST":
            return self.oauth_token(raw)
        if step is not None and isinstance(step.get("status"), int):
            headers = [("Retry-After", step["retry_after"])] if "retry_after" in step else []
            return self.reply(step["status"], error("scripted failure", str(step["status"])),
                              headers)
        auth = self.headers.get("Authorization") or ""
        if not ((self.basic and auth == f"Basic {self.basic}")
                or (self.token and auth == f"Bearer {self.token}")
                or (auth.startswith("Bearer ") and auth[7:] in issued_tokens)):
            return self.reply(401, error("User Not Authenticated",
                                         "Required to provide Auth information"))
        if "application/json" not in (self.headers.get("Accept") or ""):
            return self.reply(406, error("Accept must be application/json"))
        fields = None
        if self.command in ("POST", "PATCH", "PUT"):
            if "application/json" not in (self.headers.get("Content-Type") or ""):
                return self.reply(415, error("Content-Type must be application/json"))
            try:
                fields = json.loads(raw)
            except ValueError as e:
                return self.reply(400, error("Exception while reading request", str(e)))
            if not isinstance(fields, dict):
                return self.reply(400, error("Request body must be a JSON object"))
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        query = urllib.parse.parse_qs(url.query)
        with lock:
            if parts[:3] == ["api", "now", "table"] and len(parts) in (4, 5):
                status, body = self.table(parts[3], parts[4] if len(parts) == 5 else None,
                                          query, fields)
            elif parts[:3] == ["api", "now", "import"] and len(parts) == 4 \
                    and self.command == "POST":
                status, body = self.import_set(parts[3], fields)
            else:
                status, body = 400, error("Requested URI does not represent any resource",
                                          self.path)
        if step is not None and step.get("status") == "apply_then_hang":
            time.sleep(step.get("seconds", 3))  # applied, but the answer is lost
            self.close_connection = True
            return
        self.reply(status, body)

    def table(self, table, sys_id, query, fields):
        records = tables.setdefault(table, {})
        if self.command == "POST" and sys_id is None:
            problem = check_limits(fields)
            if problem:
                return 400, error("Invalid field value", problem)
            return 201, {"result": insert(table, fields)}
        if self.command == "GET" and sys_id is None:
            wanted = query.get("sysparm_query", [""])[0]
            limit = int(query.get("sysparm_limit", ["10000"])[0])
            rows = [r for r in records.values() if matches(r, wanted)][:limit]
            field_list = query.get("sysparm_fields", [""])[0]
            if field_list:
                names = field_list.split(",")
                rows = [{k: r.get(k, "") for k in names} for r in rows]
            return 200, {"result": rows}
        if sys_id is not None and self.command in ("GET", "PATCH", "PUT"):
            record = records.get(sys_id)
            if record is None:
                return 404, error("No Record found",
                                  "Record doesn't exist or ACL restricts the record retrieval")
            if self.command == "GET":
                return 200, {"result": record}
            problem = check_limits(fields)
            if problem:
                return 400, error("Invalid field value", problem)
            return 200, {"result": update(record, fields)}
        return 405, error("Method not supported", self.command)

    def import_set(self, staging, fields):
        import_rows.append({"staging_table": staging, "row": fields})
        target = {k[2:]: v for k, v in fields.items()
                  if k.startswith("u_") and k[2:] in ("short_description", "description",
                                                       "correlation_id", "correlation_display",
                                                       "urgency", "impact", "category",
                                                       "assignment_group")}
        base = {"transform_map": "Herald advisories", "table": self.import_target,
                "display_name": "number"}
        problem = check_limits(target)
        if problem or not target.get("correlation_id"):
            base.update({"status": "error",
                         "error_message": problem or "u_correlation_id is empty"})
            return 201, {"import_set": "ISET0010001", "staging_table": staging, "result": [base]}
        records = tables.setdefault(self.import_target, {})
        found = [r for r in records.values()
                 if r.get("correlation_id") == target["correlation_id"]]
        if found:
            record, status = update(found[0], target), "updated"
        else:
            record, status = insert(self.import_target, target), "inserted"
        base.update({"display_value": record["number"], "status": status,
                     "sys_id": record["sys_id"],
                     "record_link": f"/api/now/table/{self.import_target}/{record['sys_id']}"})
        return 201, {"import_set": f"ISET{len(import_rows):07d}", "staging_table": staging,
                     "result": [base]}

    do_GET = do_POST = do_PATCH = do_PUT = handle_any


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--token")
    parser.add_argument("--client-id")
    parser.add_argument("--client-secret")
    parser.add_argument("--import-target", default="incident")
    parser.add_argument("--max-seconds", type=float, default=300,
                        help="exit after this long even if nobody stops us")
    args = parser.parse_args()
    if args.user:
        Handler.basic = base64.b64encode(f"{args.user}:{args.password}".encode()).decode()
    Handler.token = args.token
    Handler.client_id = args.client_id
    Handler.client_secret = args.client_secret
    Handler.import_target = args.import_target
    threading.Timer(args.max_seconds, lambda: os._exit(0)).start()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"LISTENING {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
