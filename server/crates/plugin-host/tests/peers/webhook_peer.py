"""A real Standard Webhooks receiver for Herald's webhook plugin tests: every POST is verified
with the `standardwebhooks` package against each configured secret (`whsec_...`), recorded as a
JSON line (id, timestamp, signature header, which secrets verified, body), and answered 204 when
at least one secret verifies, else 401."""

import argparse
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

from common import add_common_args, announce, exit_after, recorder


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--secret", action="append", default=[])
    p.add_argument("--port", type=int, default=0)
    add_common_args(p)
    return p.parse_args()


def main():
    args = parse_args()
    exit_after(args.max_seconds)
    record = recorder(args.record)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            verified = []
            errors = []
            for secret in args.secret:
                try:
                    Webhook(secret).verify(body, headers)
                    verified.append(True)
                    errors.append(None)
                except Exception as e:  # the library raises WebhookVerificationError
                    verified.append(False)
                    errors.append(str(e))
            record({
                "id": headers.get("webhook-id"),
                "timestamp": headers.get("webhook-timestamp"),
                "signature": headers.get("webhook-signature"),
                "verified": verified,
                "errors": errors,
                "body": json.loads(body or b"null"),
                "at": time.time(),
            })
            self.send_response(204 if any(verified) else 401)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    announce(server.server_address[1])
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
