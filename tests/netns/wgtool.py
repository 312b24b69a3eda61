#!/usr/bin/env python3
"""wgtool.py: packet and socket helpers for the netns integration tests.

Standard library only. Every subcommand is bounded in count and in time, and
only ever sends to the address it is given (the tests give addresses inside
their own network namespaces).

  iperf-bps FILE                    bits/s received, from iperf3 -J output
  pcap-list FILE                    WireGuard messages in a capture, one a line
  fuzz --dst A --port P ...         random and truncated datagrams of every type
  replay --pcap F --dst A --port P  resend captured WireGuard payloads
  flood --dst A --port P --pubkey K initiations with a valid MAC1; counts the
                                    cookie replies that answer them
  uapi-garbage --sock S             garbage on a UAPI socket, checks the replies
  uapi-get --sock S [--stats]       raw `get=1` reply (or vpnd's `stats=1`)
  rl-fill --dst A --port P --pubkey K --net N --count C
                                    initiations from C addresses, each with
                                    the cookie the daemon gave it (MAC2)
  sock-hold --sock S --count N      N connections at once: which the daemon
                                    closed, and whether the others answer
"""

import argparse
import base64
import hashlib
import json
import os
import random
import select
import socket
import struct
import sys
import time

# WireGuard message types and exact sizes (the protocol, not ours).
MSG_INIT, MSG_RESP, MSG_COOKIE, MSG_DATA = 1, 2, 3, 4
SIZES = {MSG_INIT: 148, MSG_RESP: 92, MSG_COOKIE: 64, MSG_DATA: 32}
LABEL_MAC1 = b"mac1----"


def die(msg):
    print("wgtool: " + msg, file=sys.stderr)
    sys.exit(2)


# ------------------------------------------------------------------ sockets

def udp_socket(dst, src=None, sport=0):
    family = socket.AF_INET6 if ":" in dst else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    if src or sport:
        s.bind((src or ("::" if family == socket.AF_INET6 else "0.0.0.0"), sport))
    return s


def send_all(sock, dst, port, payloads, pps=0):
    """Send every payload; tolerate transient errors (ENOBUFS, ECONNREFUSED
    from ICMP of an earlier datagram). Returns the number sent."""
    sent = 0
    gap = 1.0 / pps if pps else 0
    for p in payloads:
        for _ in range(3):
            try:
                sock.sendto(p, (dst, port))
                sent += 1
                break
            except (BlockingIOError, ConnectionRefusedError, OSError):
                time.sleep(0.001)
        if gap:
            time.sleep(gap)
    return sent


# --------------------------------------------------------------------- pcap

def pcap_udp_payloads(path):
    """Yield (src, dst, sport, dport, payload) for every UDP packet in a
    classic pcap file (Ethernet, Linux cooked v1/v2 or raw IP link types)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    else:
        die("%s: not a classic pcap file" % path)
    linktype = struct.unpack(end + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack(end + "I", data[off + 8:off + 12])[0]
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if linktype == 1:  # Ethernet
            if len(pkt) < 14:
                continue
            etype = struct.unpack(">H", pkt[12:14])[0]
            ip = pkt[14:]
            if etype == 0x8100 and len(pkt) >= 18:
                etype = struct.unpack(">H", pkt[16:18])[0]
                ip = pkt[18:]
        elif linktype == 113:  # Linux cooked v1
            etype = struct.unpack(">H", pkt[14:16])[0]
            ip = pkt[16:]
        elif linktype == 276:  # Linux cooked v2
            etype = struct.unpack(">H", pkt[0:2])[0]
            ip = pkt[20:]
        elif linktype in (12, 101):  # raw IP
            ip = pkt
            etype = 0x0800 if ip and ip[0] >> 4 == 4 else 0x86DD
        else:
            die("unsupported pcap link type %d" % linktype)
        if etype == 0x0800 and len(ip) >= 20:
            ihl = (ip[0] & 15) * 4
            if ip[9] != 17:
                continue
            src, dst = socket.inet_ntop(socket.AF_INET, ip[12:16]), socket.inet_ntop(socket.AF_INET, ip[16:20])
            udp = ip[ihl:]
        elif etype == 0x86DD and len(ip) >= 40:
            if ip[6] != 17:
                continue
            src, dst = socket.inet_ntop(socket.AF_INET6, ip[8:24]), socket.inet_ntop(socket.AF_INET6, ip[24:40])
            udp = ip[40:]
        else:
            continue
        if len(udp) < 8:
            continue
        sport, dport, ulen = struct.unpack(">HHH", udp[:6])
        yield src, dst, sport, dport, udp[8:ulen]


def cmd_pcap_list(a):
    for src, dst, sport, dport, p in pcap_udp_payloads(a.file):
        t = p[0] if p else -1
        idx = p[4:8].hex() if len(p) >= 8 else "-"
        print("%s %d %s %d type=%d len=%d idx=%s" % (src, sport, dst, dport, t, len(p), idx))


# --------------------------------------------------------------------- iperf

def cmd_iperf_bps(a):
    try:
        with open(a.file) as f:
            j = json.load(f)
    except (OSError, ValueError) as e:
        die("cannot read iperf3 JSON %s: %s" % (a.file, e))
    if j.get("error"):
        die("iperf3 error: %s" % j["error"])
    try:
        bps = j["end"]["sum_received"]["bits_per_second"]
    except KeyError:
        die("iperf3 JSON has no end.sum_received")
    print(int(bps))


# ---------------------------------------------------------------------- fuzz

def fuzz_payloads(count, index=None, rnd=random):
    """A mix of datagrams covering every message type: exact sizes with random
    bodies, truncated, oversized, wrong type for the size, data messages with a
    real receiver index and garbage ciphertext, unknown types, empty ones."""
    out = []
    kinds = 0
    while len(out) < count:
        k = kinds % 9
        kinds += 1
        t = rnd.choice((MSG_INIT, MSG_RESP, MSG_COOKIE, MSG_DATA))
        if k == 0:    # exact size, random body, reserved zero
            p = bytes([t, 0, 0, 0]) + os.urandom(SIZES[t] - 4)
        elif k == 1:  # truncated: every length below the exact size is fair game
            n = rnd.randrange(0, SIZES[t])
            p = (bytes([t, 0, 0, 0]) + os.urandom(SIZES[t]))[:n]
        elif k == 2:  # oversized handshake messages, long data messages
            n = SIZES[t] + rnd.randrange(1, 200)
            if t == MSG_DATA:
                n = rnd.randrange(33, 1500)
            p = bytes([t, 0, 0, 0]) + os.urandom(n - 4)
        elif k == 3:  # exact size of one type, type byte of another
            other = rnd.choice([x for x in SIZES if x != t])
            p = bytes([t, 0, 0, 0]) + os.urandom(SIZES[other] - 4)
        elif k == 4:  # reserved bytes not zero
            p = bytes([t]) + os.urandom(SIZES[t] - 1)
        elif k == 5:  # data message for a real session: valid index, garbage
            idx = index if index else os.urandom(4)
            n = rnd.choice((32, 48, 64, 96, 128, 1024, 1452))
            ctr = struct.pack("<Q", rnd.randrange(0, 1 << 64))
            p = bytes([MSG_DATA, 0, 0, 0]) + idx + ctr + os.urandom(n - 16)
        elif k == 6:  # unknown types
            p = bytes([rnd.choice((0, 5, 6, 0x7F, 0x80, 0xFF)), 0, 0, 0]) + os.urandom(rnd.randrange(0, 200))
        elif k == 7:  # empty and tiny
            p = os.urandom(rnd.randrange(0, 4))
        else:         # pure noise of any length
            p = os.urandom(rnd.randrange(0, 1500))
        out.append(p)
    return out


def cmd_fuzz(a):
    index = bytes.fromhex(a.index) if a.index else None
    payloads = fuzz_payloads(a.count, index)
    s = udp_socket(a.dst, a.src)
    n = send_all(s, a.dst, a.port, payloads, a.pps)
    print("fuzz: sent %d of %d datagrams to %s:%d" % (n, len(payloads), a.dst, a.port))
    if n < len(payloads) * 9 // 10:
        die("could send only %d datagrams" % n)


# -------------------------------------------------------------------- replay

def cmd_replay(a):
    types = {int(x) for x in a.types.split(",")}
    payloads = [p for _, _, _, _, p in pcap_udp_payloads(a.pcap) if p and p[0] in types]
    if a.forge:
        # Authenticated-looking data messages that are not: the captured
        # receiver index, a counter far ahead, one ciphertext bit flipped.
        forged = []
        for p in payloads:
            if p[0] == MSG_DATA and len(p) >= 32:
                ctr = struct.unpack("<Q", p[8:16])[0] + 1000
                body = bytearray(p[16:])
                body[0] ^= 1
                forged.append(p[:8] + struct.pack("<Q", ctr) + bytes(body))
        payloads = forged
    if not payloads:
        die("no payloads of types %s in %s" % (a.types, a.pcap))
    s = udp_socket(a.dst, a.src, a.sport)
    n = 0
    for _ in range(a.repeat):
        n += send_all(s, a.dst, a.port, payloads)
    print("replay: sent %d datagrams (%d distinct, types %s%s) to %s:%d" %
          (n, len(payloads), a.types, ", forged" if a.forge else "", a.dst, a.port))


# --------------------------------------------------------------------- flood

def mac1_key(pub):
    return hashlib.blake2s(LABEL_MAC1 + pub).digest()


def initiation(key, sender):
    body = bytes([MSG_INIT, 0, 0, 0]) + sender + os.urandom(32 + 48 + 28)
    mac1 = hashlib.blake2s(body, digest_size=16, key=key).digest()
    return body + mac1 + bytes(16)  # MAC2 zero: we never had a cookie


def cmd_flood(a):
    """Send initiations with a valid MAC1 for a.duration seconds. With --ramp,
    start at 5000/s and double the rate every quarter second until the first
    cookie reply shows the daemon is under load, then hold that rate; the
    moment is printed at once (flushed) so a test can measure during it."""
    pub = base64.b64decode(a.pubkey)
    if len(pub) != 32:
        die("bad public key")
    key = mac1_key(pub)
    senders = [os.urandom(4) for _ in range(1024)]
    pool = [initiation(key, s) for s in senders]
    sset = set(senders)
    s = udp_socket(a.dst, a.src)
    s.setblocking(False)
    sent = replies = matched = 0
    start = time.monotonic()
    deadline = start + a.duration
    pps = a.pps if a.pps else (5000 if a.ramp else 0)
    window_end = start + 0.25
    loaded_at = None
    next_t = start
    i = 0

    def drain():
        nonlocal replies, matched
        while True:
            try:
                r = s.recv(2048)
            except (BlockingIOError, ConnectionRefusedError, OSError):
                return
            replies += 1
            if len(r) == 64 and r[:4] == bytes([MSG_COOKIE, 0, 0, 0]) and r[4:8] in sset:
                matched += 1

    while time.monotonic() < deadline and sent < a.max:
        try:
            s.sendto(pool[i % len(pool)], (a.dst, a.port))
            sent += 1
            i += 1
        except (BlockingIOError, ConnectionRefusedError, OSError):
            select.select([], [s], [], 0.001)
            continue
        if i % 64:
            continue
        drain()
        now = time.monotonic()
        if matched and loaded_at is None:
            loaded_at = now - start
            print("flood: under load (first cookie reply) after %.2f s at %s initiations/s" %
                  (loaded_at, pps or "max"), flush=True)
        if a.ramp and loaded_at is None and now >= window_end:
            window_end = now + 0.25
            if pps:
                pps *= 2
                if pps > 200000:
                    pps = 0  # as fast as we can
        if pps:
            next_t = max(next_t + 64.0 / pps, now - 0.05)
            d = next_t - time.monotonic()
            if d > 0:
                time.sleep(d)
    end = time.monotonic() + 0.5
    while time.monotonic() < end:
        rl, _, _ = select.select([s], [], [], 0.1)
        if rl:
            drain()
    print("flood: sent=%d replies=%d cookie_replies_matching=%d" % (sent, replies, matched), flush=True)


# ------------------------------------------------------------ rate limiter

IP_PKTINFO = 8          # Linux; the socket module does not name it
LABEL_COOKIE = b"cookie--"


def xchacha_open(key, nonce, box, aad):
    """XChaCha20-Poly1305 decryption through libsodium (the daemon's own
    library, not its code): the standard library has no XChaCha."""
    import ctypes
    lib = ctypes.CDLL("libsodium.so.23")
    out = ctypes.create_string_buffer(len(box))
    outlen = ctypes.c_ulonglong(0)
    r = lib.crypto_aead_xchacha20poly1305_ietf_decrypt(
        out, ctypes.byref(outlen), None, box, ctypes.c_ulonglong(len(box)),
        aad, ctypes.c_ulonglong(len(aad)), nonce, key)
    return out.raw[:outlen.value] if r == 0 else None


def cmd_rl_fill(a):
    """From a.count local addresses a.net + 1, + 2, ... (on the test's own
    link; sent with IP_PKTINFO from one socket), send handshake messages
    with a valid MAC1 until each address has been answered with a cookie
    (the daemon must be under load for that), then for a.duration s the
    same with the MAC2 each address's cookie makes valid: every address is
    a source the daemon's rate limiter must track.  Bodies are random: no
    handshake can complete."""
    pub = base64.b64decode(a.pubkey)
    mac1k = mac1_key(pub)
    cookie_key = hashlib.blake2s(LABEL_COOKIE + pub).digest()
    base = struct.unpack("!I", socket.inet_aton(a.net))[0]
    srcs = [socket.inet_aton(socket.inet_ntoa(struct.pack("!I", base + 1 + i))) for i in range(a.count)]
    # Handshake responses: they pass the same MAC and rate-limit checks as
    # initiations, then name no handshake of the daemon's (a random
    # receiver index) and are dropped before any Diffie-Hellman, so the
    # daemon keeps up and each address stays a live source.
    msgs = []
    for i in range(a.count):
        body = bytes([MSG_RESP, 0, 0, 0]) + struct.pack("<I", i + 1) + os.urandom(4 + 32 + 16)
        msgs.append(body + hashlib.blake2s(body, digest_size=16, key=mac1k).digest())
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", a.sport))
    s.setblocking(False)
    cookies = {}
    sent = 0

    def send(i, m):
        nonlocal sent
        info = struct.pack("=i4s4s", 0, srcs[i], bytes(4))
        try:
            s.sendmsg([m], [(socket.IPPROTO_IP, IP_PKTINFO, info)], 0, (a.dst, a.port))
            sent += 1
        except BlockingIOError:
            select.select([], [s], [], 0.01)
        except OSError as e:
            die("sendmsg from %s: %s" % (socket.inet_ntoa(srcs[i]), e))

    def drain():
        while True:
            try:
                r = s.recv(2048)
            except (BlockingIOError, OSError):
                return
            if len(r) != 64 or r[0] != MSG_COOKIE:
                continue
            i = struct.unpack("<I", r[4:8])[0] - 1
            if 0 <= i < a.count and i not in cookies:
                c = xchacha_open(cookie_key, r[8:32], r[32:64], msgs[i][60:76])
                if c:
                    cookies[i] = c

    deadline = time.monotonic() + a.timeout
    while len(cookies) < a.count and time.monotonic() < deadline:
        for i in range(a.count):
            if i not in cookies:
                send(i, msgs[i] + bytes(16))
            if i % 256 == 255:
                drain()
        drain()
    print("rl-fill: %d of %d addresses have a cookie" % (len(cookies), a.count), flush=True)
    if len(cookies) < a.count:
        die("no cookie for %d addresses within %.0f s" % (a.count - len(cookies), a.timeout))
    with_mac2 = [m + hashlib.blake2s(m, digest_size=16, key=cookies[i]).digest()
                 for i, m in enumerate(msgs)]
    rounds = 0
    fastest = None
    end = time.monotonic() + a.duration
    while time.monotonic() < end:
        t0 = time.monotonic()
        for i in range(a.count):
            send(i, with_mac2[i])
            if i % 256 == 255:
                drain()
        rounds += 1
        took = time.monotonic() - t0
        fastest = took if fastest is None else min(fastest, took)
    print("rl-fill: %d rounds over every address, the fastest in %.2f s; %d datagrams" %
          (rounds, fastest, sent), flush=True)


# ---------------------------------------------------------------------- UAPI

def uapi_exchange(path, data, timeout=2.0):
    """Send data on a fresh connection; return (reply bytes, note)."""
    note = ""
    # Like wg, wait for the daemon to accept: with a timeout set, a full
    # listen backlog makes connect() fail with EAGAIN instead of waiting.
    give_up = time.monotonic() + 3.0
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(path)
            break
        except BlockingIOError as e:
            s.close()
            if time.monotonic() > give_up:
                return None, "connect failed for 3 s: %s" % e
            time.sleep(0.05)
        except OSError as e:
            s.close()
            return None, "connect failed: %s" % e
    try:
        s.sendall(data)
    except OSError as e:
        note = "send stopped: %s" % e.strerror
    reply = b""
    try:
        while not reply.endswith(b"\n\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
    except socket.timeout:
        note += " (no complete reply within %.0fs)" % timeout
    except OSError as e:
        note += " (recv: %s)" % e.strerror
    s.close()
    return reply, note.strip()


def reply_errno(reply):
    if not reply:
        return None
    for line in reply.decode("latin-1").splitlines():
        if line.startswith("errno="):
            try:
                return int(line[6:])
            except ValueError:
                return None
    return None


def cmd_uapi_get(a):
    reply, note = uapi_exchange(a.sock, b"stats=1\n\n" if a.stats else b"get=1\n\n")
    if reply is None:
        die(note)
    sys.stdout.write(reply.decode("latin-1"))


def cmd_uapi_garbage(a):
    peer = base64.b64decode(a.peer).hex() if a.peer else "00" * 32
    rnd = random.Random(a.seed)
    rb = lambda n: bytes(rnd.randrange(256) for _ in range(n))
    # (label, bytes, expectation) with expectation one of:
    #   "err": a reply with errno other than 0; "ok": errno=0; None: anything,
    #   including no reply or a closed connection, as long as the daemon lives.
    cases = [
        ("random bytes", rb(4096), None),
        ("random lines", b"\n".join(rb(rnd.randrange(1, 80)) for _ in range(64)) + b"\n\n", None),
        ("NUL bytes", bytes(1000), None),
        ("blank lines only", b"\n\n\n\n", None),
        ("unknown operation", b"frobnicate=1\n\n", None),
        ("get with trailing junk", b"get=1" + b"x" * 100000 + b"\n\n", None),
        ("get=2", b"get=2\n\n", None),
        ("overlong private_key line", b"set=1\nprivate_key=" + b"a" * 1000000 + b"\n\n", "err"),
        ("unknown key", b"set=1\nno_such_key=1\n\n", "err"),
        ("line without =", b"set=1\nprivate_key\n\n", "err"),
        ("listen_port out of range", b"set=1\nlisten_port=70000\n\n", "err"),
        ("listen_port negative", b"set=1\nlisten_port=-1\n\n", "err"),
        ("listen_port not a number", b"set=1\nlisten_port=12ab\n\n", "err"),
        ("private_key not hex", b"set=1\nprivate_key=zz\n\n", "err"),
        ("private_key short", b"set=1\nprivate_key=" + b"ab" * 31 + b"\n\n", "err"),
        ("public_key not hex", b"set=1\npublic_key=" + b"g" * 64 + b"\n\n", "err"),
        ("bad allowed_ip", ("set=1\npublic_key=%s\nupdate_only=true\nallowed_ip=999.1.1.1/33\n\n" % peer).encode(), "err"),
        ("bad allowed_ip mask", ("set=1\npublic_key=%s\nupdate_only=true\nallowed_ip=198.18.0.2/99\n\n" % peer).encode(), "err"),
        ("keepalive out of range", ("set=1\npublic_key=%s\nupdate_only=true\npersistent_keepalive_interval=999999\n\n" % peer).encode(), "err"),
        ("bad endpoint", ("set=1\npublic_key=%s\nupdate_only=true\nendpoint=nonsense\n\n" % peer).encode(), "err"),
        ("bad protocol_version", ("set=1\npublic_key=%s\nupdate_only=true\nprotocol_version=2\n\n" % peer).encode(), "err"),
        ("peer key before public_key", b"set=1\nendpoint=192.0.2.9:1\n\n", "err"),
        ("set without terminator", b"set=1\nlisten_port=", None),
        ("binary in value", b"set=1\nfwmark=\xff\xfe\x00\n\n", "err"),
    ]
    bad = 0
    for label, data, want in cases:
        # A bad `set` must be answered; garbage may simply be waited on.
        reply, note = uapi_exchange(a.sock, data, 2.0 if want else 0.7)
        e = reply_errno(reply)
        verdict = "ok"
        if want == "err" and (e is None or e == 0):
            verdict = "WRONG (wanted errno != 0)"
            bad += 1
        print("  uapi %-28s -> errno=%s %s %s" % (label, e, verdict, note))
    # Many connections that say nothing, then hang up.
    for _ in range(100):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2.0)
        try:
            s.connect(a.sock)
        except OSError:
            pass
        s.close()
    reply, note = uapi_exchange(a.sock, b"get=1\n\n")
    e = reply_errno(reply)
    ok = e == 0 and b"listen_port=" in (reply or b"")
    print("  uapi %-28s -> errno=%s %s %s" % ("valid get afterwards", e, "ok" if ok else "WRONG", note))
    if not ok:
        bad += 1
    if bad:
        die("%d UAPI replies were not what a wireguard-go user expects" % bad)


def cmd_sock_hold(a):
    """Open a.count connections to a UNIX stream socket and keep them. After
    a.settle s, a connection the daemon closed reads as EOF (or a reset);
    one it keeps reads as nothing yet. Print "held=N closed=M", touch
    a.ready, wait a.hold s, then send a.request on every held connection
    and count complete replies carrying errno=0 ("answered=K")."""
    conns = []
    for _ in range(a.count):
        # As wg does: a full listen backlog (the daemon has not come round
        # to accepting yet) is EAGAIN, to be tried again.
        give_up = time.monotonic() + 3.0
        while True:
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.settimeout(3.0)
            try:
                c.connect(a.sock)
                break
            except BlockingIOError as e:
                c.close()
                if time.monotonic() > give_up:
                    die("connect %d failed for 3 s: %s" % (len(conns) + 1, e))
                time.sleep(0.02)
            except OSError as e:
                die("connect %d failed: %s" % (len(conns) + 1, e))
        conns.append(c)
    time.sleep(a.settle)
    held, closed = [], 0
    for c in conns:
        c.setblocking(False)
        try:
            data = c.recv(4096)
            if data:
                die("unexpected bytes on a fresh connection: %r" % data[:80])
            closed += 1
            c.close()
        except BlockingIOError:
            held.append(c)
        except ConnectionResetError:
            closed += 1
            c.close()
    print("held=%d closed=%d" % (len(held), closed), flush=True)
    if a.ready:
        open(a.ready, "w").close()
    time.sleep(a.hold)
    request = a.request.encode().decode("unicode_escape").encode()
    answered = 0
    for c in held:
        c.settimeout(3.0)
        reply = b""
        try:
            c.sendall(request)
            while not reply.endswith(b"\n\n"):
                chunk = c.recv(65536)
                if not chunk:
                    break
                reply += chunk
        except OSError:
            pass
        if reply_errno(reply) == 0:
            answered += 1
        c.close()
    print("answered=%d" % answered, flush=True)


# ---------------------------------------------------------------------- main

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("iperf-bps"); s.add_argument("file"); s.set_defaults(fn=cmd_iperf_bps)
    s = sub.add_parser("pcap-list"); s.add_argument("file"); s.set_defaults(fn=cmd_pcap_list)

    s = sub.add_parser("fuzz")
    s.add_argument("--dst", required=True); s.add_argument("--port", type=int, required=True)
    s.add_argument("--src"); s.add_argument("--count", type=int, default=3000)
    s.add_argument("--index", help="hex receiver index of a live session")
    s.add_argument("--pps", type=int, default=0)
    s.set_defaults(fn=cmd_fuzz)

    s = sub.add_parser("replay")
    s.add_argument("--pcap", required=True)
    s.add_argument("--dst", required=True); s.add_argument("--port", type=int, required=True)
    s.add_argument("--src"); s.add_argument("--sport", type=int, default=0)
    s.add_argument("--types", default="1,2,3,4")
    s.add_argument("--repeat", type=int, default=1)
    s.add_argument("--forge", action="store_true")
    s.set_defaults(fn=cmd_replay)

    s = sub.add_parser("flood")
    s.add_argument("--dst", required=True); s.add_argument("--port", type=int, required=True)
    s.add_argument("--pubkey", required=True, help="responder public key, base64")
    s.add_argument("--src"); s.add_argument("--duration", type=float, default=4.0)
    s.add_argument("--max", type=int, default=400000); s.add_argument("--pps", type=int, default=0)
    s.add_argument("--ramp", action="store_true")
    s.set_defaults(fn=cmd_flood)

    s = sub.add_parser("uapi-garbage")
    s.add_argument("--sock", required=True); s.add_argument("--peer", help="an existing peer, base64")
    s.add_argument("--seed", type=int, default=1)
    s.set_defaults(fn=cmd_uapi_garbage)

    s = sub.add_parser("uapi-get"); s.add_argument("--sock", required=True)
    s.add_argument("--stats", action="store_true", help="vpnd's stats=1 operation instead of get=1")
    s.set_defaults(fn=cmd_uapi_get)

    s = sub.add_parser("rl-fill")
    s.add_argument("--dst", required=True); s.add_argument("--port", type=int, required=True)
    s.add_argument("--pubkey", required=True, help="responder public key, base64")
    s.add_argument("--net", required=True, help="first address minus one, IPv4")
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--sport", type=int, default=40000)
    s.add_argument("--timeout", type=float, default=15.0)
    s.add_argument("--duration", type=float, default=3.0)
    s.set_defaults(fn=cmd_rl_fill)

    s = sub.add_parser("sock-hold")
    s.add_argument("--sock", required=True); s.add_argument("--count", type=int, required=True)
    s.add_argument("--request", default="get=1\\n\\n", help="sent on each held connection, with \\n escapes")
    s.add_argument("--settle", type=float, default=1.0)
    s.add_argument("--hold", type=float, default=0.0)
    s.add_argument("--ready", help="a file to create once the connections are counted")
    s.set_defaults(fn=cmd_sock_hold)

    a = p.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
