"""A real HL7 v2 MLLP listener for Herald's hl7-mllp plugin tests. Each framed message
(0x0B ... 0x1C 0x0D) is parsed with the `hl7` package and answered with the next ACK code of a
scripted sequence (e.g. `AE,AA`; `NONE` = no answer, to test the ACK timeout; afterwards AA).
With --cert/--key it speaks MLLP over TLS.

Every message is recorded as a JSON line: framing check, MSH-10, the ACK code given, and every
segment's fields as python-hl7 unescapes them."""

import argparse
import asyncio
import ssl
import sys
import time

import hl7

from common import add_common_args, announce, exit_after, recorder

START, END = b"\x0b", b"\x1c\x0d"


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--script", default="")
    p.add_argument("--cert", help="serve MLLP over TLS with this certificate (and --key)")
    p.add_argument("--key")
    add_common_args(p)
    return p.parse_args()


def fields_of(message, segment):
    # Field 0 is the segment name; python-hl7 numbers MSH fields as HL7 does (MSH-1 = '|').
    return [message.unescape(str(f)) for f in segment]


def ack(control_id: str, code: str, n: int) -> bytes:
    ts = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    text = {"AA": "accepted", "AE": "application error, try again", "AR": "rejected"}.get(code, "")
    body = (
        f"MSH|^~\\&|PEER|HOSPITAL|HERALD||{ts}||ACK^Z01|ack-{n}|P|2.5\r"
        f"MSA|{code}|{control_id}|{text}\r"
    )
    return START + body.encode() + END


async def main():
    args = parse_args()
    exit_after(args.max_seconds)
    record = recorder(args.record)
    script = [c for c in args.script.split(",") if c]
    count = 0

    async def serve(reader, writer):
        nonlocal count
        buf = b""
        try:
            while True:
                try:
                    chunk = await reader.read(65536)
                except (ConnectionError, ssl.SSLError):
                    return  # e.g. a client that refused our certificate
                if not chunk:
                    return
                buf += chunk
                while END in buf:
                    frame, buf = buf.split(END, 1)
                    count += 1
                    code = script.pop(0) if script else "AA"
                    framed = frame.startswith(START)
                    text = frame[1:].decode("utf-8") if framed else frame.decode("utf-8")
                    message = hl7.parse(text)
                    control_id = str(message.segment("MSH")[10])
                    segments = {}
                    for seg in message:
                        segments.setdefault(str(seg[0]), []).append(fields_of(message, seg))
                    record({
                        "framed": framed,
                        "control_id": control_id,
                        "message_type": str(message.segment("MSH")[9]),
                        "ack": code,
                        "raw": text,
                        "segments": segments,
                        "at": time.time(),
                    })
                    if code != "NONE":
                        writer.write(ack(control_id, code, count))
                        await writer.drain()
        finally:
            writer.close()

    tls = None
    if args.cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.cert, args.key)
    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=tls)
    announce(server.sockets[0].getsockname()[1])
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
