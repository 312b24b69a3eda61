#!/usr/bin/env bash
# tests/bench/integrity.sh: bulk TCP through the tunnel, byte for byte.
#
# The offloads (TSO cutting on the sending side, UDP GSO/GRO between the
# daemons, coalescing into TUN super-packets on the receiving side) move
# whole bursts of packets at once and rewrite their headers; a merged packet
# goes to the kernel with its TCP checksum still to be done, so a mistake
# would not be caught by TCP. This sends random data each way, over IPv4 and
# IPv6 outer and inner addresses, one stream and several at once (STREAMS,
# default 4) one way, then STREAMS each way at the same time, and compares
# SHA-256 digests on both ends. By default it runs vpnd against vpnd and
# against wireguard-go both ways round, and wireguard-go against itself as the
# control (a failure there means the method, not vpnd, is at fault). It ends
# with "integrity: N passed, N failed".
#
#   sudo tests/bench/integrity.sh
#   PAIRINGS=vpnd:vpnd MBYTES=64 sudo tests/bench/integrity.sh
#   OUTER_MTU=1400 sudo tests/bench/integrity.sh   # datagrams larger than the
#                       link: UDP GSO is refused and everything is fragmented
set -u
PAIRINGS=${PAIRINGS:-vpnd:vpnd vpnd:wireguard-go wireguard-go:vpnd wireguard-go:wireguard-go}
. "$(dirname "$0")/../netns/lib.sh"
TEST_NAME=integrity

MBYTES=${MBYTES:-24}
STREAMS=${STREAMS:-4}
DAEMON_LOG_LEVEL=${DAEMON_LOG_LEVEL:-error}

# The receiver: accepts STREAMS connections, prints one digest per stream in
# the order of the senders' first bytes (each sender opens with its number).
RECV_PY='
import hashlib, socket, sys, threading
addr, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port)); s.listen(n)
open(sys.argv[4], "w").close()
out = {}
def take(c):
    h = hashlib.sha256(); first = None; total = 0
    while True:
        b = c.recv(1 << 16)
        if not b: break
        if first is None: first = b[0]
        h.update(b); total += len(b)
    out[first] = "%s %d" % (h.hexdigest(), total)
ts = []
for _ in range(n):
    c, _ = s.accept()
    t = threading.Thread(target=take, args=(c,)); t.start(); ts.append(t)
for t in ts: t.join()
for k in sorted(out): print(out[k])
'

# The senders: STREAMS connections at once, each random bytes in writes of
# varying sizes (so that PSH falls anywhere), each opening with its number.
SEND_PY='
import hashlib, os, random, socket, sys, threading
addr, port, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
out = {}
def send(i):
    c = socket.create_connection((addr, port), timeout=60)
    h = hashlib.sha256(); rnd = random.Random(i); left = size; first = True
    while left:
        k = min(left, rnd.choice((1, 100, 1368, 4096, 65536, 200000)))
        b = os.urandom(k)
        if first: b = bytes([i]) + b[1:]; first = False
        c.sendall(b); h.update(b); left -= k
    c.shutdown(socket.SHUT_WR); c.recv(1); c.close()
    out[i] = "%s %d" % (h.hexdigest(), size)
ts = [threading.Thread(target=send, args=(i,)) for i in range(n)]
for t in ts: t.start()
for t in ts: t.join()
for k in sorted(out): print(out[k])
'

# recv_start NS ADDR PORT STREAMS TAG: a receiver in NS, digests into
# $WORK/got.TAG; returns once it listens, its PID in RECV_PID. Bounded in
# time, so that a sender that never connects cannot hang the run.
recv_start() {
	local ready="$WORK/ready.$5"
	rm -f "$ready"   # left by the previous transfer with this tag
	timeout 180 ip netns exec "$1" "$PYTHON" -c "$RECV_PY" "$2" "$3" "$4" "$ready" \
		>"$WORK/got.$5" 2>"$WORK/recv.$5.err" &
	RECV_PID=$!
	HELPER_PIDS+=("$RECV_PID")
	wait_for "[ -e '$ready' ]" 5 || fail "receiver in $1 on port $3 did not start"
}

# send_run NS ADDR PORT STREAMS BYTES TAG: the senders, digests into $WORK/sent.TAG.
send_run() {
	timeout 120 ip netns exec "$1" "$PYTHON" -c "$SEND_PY" "$2" "$3" "$4" "$5" \
		>"$WORK/sent.$6" 2>"$WORK/send.$6.err"
}

# verdict TAG STREAMS BYTES LABEL: the digests sent and received must agree.
verdict() {
	local sent got
	sent=$(cat "$WORK/sent.$1") got=$(cat "$WORK/got.$1")
	if [ -n "$sent" ] && [ "$sent" = "$got" ]; then
		ok "$4: $2 x $(($3 / 1024)) KiB identical"
		echo pass >>"$WORK/tally"
	else
		log "FAIL - $4: digests differ"
		printf '    sent: %s\n    got:  %s\n' "$sent" "$got"
		cat "$WORK/send.$1.err" "$WORK/recv.$1.err" | sed 's/^/    | /'
		echo fail >>"$WORK/tally"
	fi
}

# transfer NS_FROM NS_TO DST STREAMS LABEL: STREAMS connections one way.
transfer() {
	local from=$1 to=$2 dst=$3 n=$4 size=$((MBYTES * 1024 * 1024 / $4))
	recv_start "$to" "$dst" 5301 "$n" one
	send_run "$from" "$dst" 5301 "$n" "$size" one
	wait "$RECV_PID"
	verdict one "$n" "$size" "$5"
}

# transfer_both ADDR_A ADDR_B STREAMS LABEL: STREAMS connections from A to B
# and as many from B to A, all at once, so that both daemons encrypt and
# decrypt at the same time.
transfer_both() {
	local a=$1 b=$2 n=$3 size=$((MBYTES * 1024 * 1024 / $3)) ra rb sa sb
	recv_start "$NS_B" "$b" 5301 "$n" ab
	rb=$RECV_PID
	recv_start "$NS_A" "$a" 5302 "$n" ba
	ra=$RECV_PID
	send_run "$NS_A" "$b" 5301 "$n" "$size" ab &
	sa=$!
	send_run "$NS_B" "$a" 5302 "$n" "$size" ba &
	sb=$!
	wait "$sa" "$sb" "$rb" "$ra"
	verdict ab "$n" "$size" "$4 A->B while B->A"
	verdict ba "$n" "$size" "$4 B->A while A->B"
}

run_pairing() {
	local outer inner a b
	setup_pair
	if [ -n "${OUTER_MTU:-}" ]; then
		ip -n "$NS_A" link set o0 mtu "$OUTER_MTU" || fail "outer MTU"
		ip -n "$NS_B" link set o0 mtu "$OUTER_MTU" || fail "outer MTU"
	fi
	for outer in 4 6; do
		wgn "$NS_A" set "$IF_A" peer "$(pub b)" remove 2>/dev/null
		wgn "$NS_B" set "$IF_B" peer "$(pub a)" remove 2>/dev/null
		peer_pair "$outer" 0
		wait_ping "$NS_A" "$IN4_B" 10 || fail "outer IPv$outer: no handshake"
		for inner in 4 6; do
			if [ "$inner" = 6 ]; then a=$IN6_A b=$IN6_B; else a=$IN4_A b=$IN4_B; fi
			transfer "$NS_A" "$NS_B" "$b" 1 "outer v$outer inner v$inner A->B"
			transfer "$NS_B" "$NS_A" "$a" 1 "outer v$outer inner v$inner B->A"
			transfer "$NS_A" "$NS_B" "$b" "$STREAMS" "outer v$outer inner v$inner A->B"
			transfer "$NS_B" "$NS_A" "$a" "$STREAMS" "outer v$outer inner v$inner B->A"
			transfer_both "$a" "$b" "$STREAMS" "outer v$outer inner v$inner"
		done
	done
}

[ "$(id -u)" = 0 ] || { echo "integrity: needs root" >&2; exit 1; }
TALLY=$(mktemp /tmp/vpnd-integrity.XXXXXX)
trap 'rm -f "$TALLY"' EXIT
seq=0
for pairing in $PAIRINGS; do
	seq=$((seq + 1))
	(
		IMPL_A=${pairing%%:*} IMPL_B=${pairing##*:} SEQ=$seq PAIR_LABEL="${pairing/:/<->}"
		[ "$pairing" = wireguard-go:wireguard-go ] && PAIR_LABEL+=" (control)"
		reset_state
		trap 'cat "$WORK/tally" >>"$TALLY" 2>/dev/null; cleanup' EXIT
		trap 'exit 130' INT TERM HUP
		check_prereqs
		run_pairing
	) || echo fail >>"$TALLY"
done
passed=$(grep -c pass "$TALLY")
failed=$(grep -c fail "$TALLY")
echo "integrity: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
