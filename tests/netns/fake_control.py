#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A fake vpnd control socket, for testing vpnctl without a daemon.

It listens on a UNIX stream socket and answers the protocol of
docs/control.md with canned replies, one per operation, read from a JSON
file at every request (so a test can change them while it runs):

    {
      "up":      {"keys": [["state", "connected"], ["server", "se-sto-01"]],
                  "errno": 0, "message": "...", "delay": 0.2},
      "status":  {"action": "close"},
      "servers": {"raw": "not the protocol\\n\\n"},
      "down":    {"exit": true}
    }

Per operation:
  keys     [key, value] pairs, sent in order before message= and errno=.
           Values may hold raw bytes as lone surrogates ("\\udcff" is 0xff).
  errno    0 (default) or a negative errno.
  message  a message= line, sent when given.
  delay    seconds to wait before replying.
  action   "reply" (default), "close" (close without a reply) or "hang"
           (never reply).
  raw      text sent verbatim instead of a reply built from the above.
  close    after replying, close the connection (default: false).
  exit     after replying, remove the socket and exit (default: true for
           down, as vpnd does, false otherwise).

An operation the file does not name is answered errno=-22, as vpnd answers
an unknown one.  Every request is appended, byte for byte, to --log; the
process writes its PID to --pidfile once the socket listens.
"""
import argparse
import json
import os
import socketserver
import sys
import threading
import time

LINE_MAX = 4096


def encode(text):
    return text.encode("utf-8", "surrogateescape")


def build_reply(spec):
    if "raw" in spec:
        return encode(spec["raw"])
    # Joined, not appended to: replies run to hundreds of thousands of lines.
    out = [encode(key) + b"=" + encode(value) + b"\n"
           for key, value in spec.get("keys", [])]
    if "message" in spec:
        out.append(b"message=" + encode(spec["message"]) + b"\n")
    out.append(b"errno=%d\n\n" % spec.get("errno", 0))
    return b"".join(out)


class Fake:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()

    def config(self):
        with open(self.args.config, encoding="utf-8") as f:
            return json.load(f)

    def log(self, request):
        with self.lock, open(self.args.log, "ab") as f:
            f.write(request)

    def exit(self):
        # The PID file goes too, so that no one kills a reused PID later.
        for path in (self.args.socket, self.args.pidfile):
            try:
                if path:
                    os.unlink(path)
            except FileNotFoundError:
                pass
        sys.stdout.flush()
        os._exit(0)


def read_request(rfile):
    """The lines of one request up to its empty line, or None at EOF."""
    raw = b""
    while True:
        line = rfile.readline(LINE_MAX + 1)
        if not line:
            return None
        raw += line
        if line == b"\n":
            return raw


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        fake = self.server.fake
        while True:
            raw = read_request(self.rfile)
            if raw is None:
                return
            fake.log(raw)
            if not self.answer(fake, raw):
                return

    def answer(self, fake, raw):
        """Replies to one request; False when the connection must end."""
        first = raw.split(b"\n", 1)[0].decode("utf-8", "replace")
        op = first.split("=", 1)[0]
        spec = fake.config().get(op)
        if spec is None or not first.endswith("=1"):
            self.wfile.write(b"message=unknown operation %s\nerrno=-22\n\n"
                             % encode(first))
            return True
        time.sleep(spec.get("delay", 0))
        action = spec.get("action", "reply")
        if action == "close":
            return False
        if action == "hang":
            time.sleep(3600)
            return False
        self.wfile.write(build_reply(spec))
        self.wfile.flush()
        if spec.get("exit", op == "down"):
            self.request.close()
            fake.exit()
        return not spec.get("close", False)


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--socket", required=True)
    p.add_argument("--config", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--pidfile")
    p.add_argument("--mode", type=lambda s: int(s, 8), default=0o600,
                   help="socket file mode, octal (default 600)")
    args = p.parse_args()

    # A socket left by a dead daemon is replaced, as vpnd replaces it.
    try:
        os.unlink(args.socket)
    except FileNotFoundError:
        pass
    server = Server(args.socket, Handler)
    server.fake = Fake(args)
    os.chmod(args.socket, args.mode)
    if args.pidfile:
        with open(args.pidfile + ".tmp", "w") as f:
            f.write("%d\n" % os.getpid())
        os.rename(args.pidfile + ".tmp", args.pidfile)
    server.serve_forever()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
