"""A real SMTP receiver for Herald's email plugin tests: aiosmtpd with STARTTLS (or implicit
TLS) using the certificate the test generated, AUTH required (only over TLS), and a scripted
sequence of DATA replies (e.g. `451,250`: the first mail is deferred, the second accepted).

Every DATA is recorded as a JSON line: the reply given, envelope, AUTH login, whether TLS was
on, all headers and every MIME part as Python's email parser sees them."""

import argparse
import asyncio
import email
import email.policy
import socket
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from common import add_common_args, announce, exit_after, recorder

REPLIES = {
    "250": "250 2.0.0 OK queued as {n}",
    "421": "421 4.3.2 Service shutting down",
    "451": "451 4.3.0 Temporary failure, try again later",
    "452": "452 4.3.1 Insufficient system storage",
    "550": "550 5.1.1 Mailbox unavailable",
    "554": "554 5.7.1 Message rejected",
}


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--mode", choices=["starttls", "implicit", "plain"], default="starttls")
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--script", default="", help="comma-separated DATA replies; then 250")
    add_common_args(p)
    return p.parse_args()


class Handler:
    def __init__(self, script, record):
        self.script = list(script)
        self.record = record
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        code = self.script.pop(0) if self.script else "250"
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        headers = {}
        for name, value in message.items():
            headers.setdefault(name.lower(), []).append(str(value))
        parts = []
        for part in message.walk():
            if part.is_multipart():
                continue
            parts.append({"content_type": part.get_content_type(), "body": part.get_content()})
        self.record({
            "reply": code,
            "accepted": code.startswith("2"),
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "auth_login": session.auth_data.decode() if isinstance(session.auth_data, bytes) else session.auth_data,
            # session.ssl covers STARTTLS; the transport's ssl_object covers implicit TLS.
            "tls": session.ssl is not None
            or server.transport.get_extra_info("ssl_object") is not None,
            "top_content_type": message.get_content_type(),
            "headers": headers,
            "parts": parts,
            "at": time.time(),
        })
        return REPLIES.get(code, code + " scripted reply").format(n=self.count)


def main():
    args = parse_args()
    exit_after(args.max_seconds)
    record = recorder(args.record)

    def authenticator(server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword) and auth_data.login.decode() == args.user \
                and auth_data.password.decode() == args.password:
            return AuthResult(success=True, auth_data=auth_data.login)
        return AuthResult(success=False, handled=False)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    kwargs = dict(authenticator=authenticator, auth_required=True)
    server_kwargs = {}
    if args.mode != "plain":
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.cert, args.key)
    if args.mode == "starttls":
        kwargs.update(tls_context=ctx, require_starttls=True, auth_require_tls=True)
    elif args.mode == "implicit":
        # The whole connection is TLS; aiosmtpd's auth_require_tls only knows about STARTTLS.
        server_kwargs["ssl_context"] = ctx
        kwargs.update(auth_require_tls=False)
    else:
        # A relay that offers no STARTTLS at all: Herald must refuse to talk to it.
        kwargs.update(auth_require_tls=False)
    controller = Controller(
        Handler([c for c in args.script.split(",") if c], record),
        hostname="127.0.0.1",
        port=port,
        **server_kwargs,
        **kwargs,
    )
    controller.start()
    announce(port)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    sys.exit(main())
