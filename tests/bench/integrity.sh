#!/usr/bin/env bash
# tests/bench/integrity.sh: bulk TCP through the tunnel, byte for byte.
#
# The offloads (TSO cutting on the sending side, UDP GSO/GRO between the
# daemons, coalescing into TUN super-packets on the receiving side) move
# whole bursts of packets at once and rewrite their headers; a merged packet
# goes to the kernel with its TCP checksum still to be done, so a mistake
# would not be caught by TCP. This sends random data each way, over IPv4 and
# IPv6 outer and inner addresses, one stream and several at once, and
# compares SHA-256 digests on both ends. It ends with "integrity: N passed,
# N failed".
#
#   sudo tests/bench/integrity.sh
#   PAIRINGS=vpnd:vpnd MBYTES=64 sudo tests/bench/integrity.sh
#   OUTER_MTU=1400 sudo tests/bench/integrity.sh   # datagrams larger than the
#                       link: UDP GSO is refused and everything is fragmented
set -u
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

passed=0
failed=0

# transfer NS_FROM NS_TO DST STREAMS LABEL
transfer() {
	local from=$1 to=$2 dst=$3 n=$4 what=$5 ready="$WORK/ready.$RANDOM" got sent pid
	local size=$((MBYTES * 1024 * 1024 / n))
	ip netns exec "$to" "$PYTHON" -c "$RECV_PY" "$dst" 5301 "$n" "$ready" >"$WORK/got" 2>"$WORK/recv.err" &
	pid=$!
	HELPER_PIDS+=("$pid")
	wait_for "[ -e '$ready' ]" 5 || fail "$what: receiver did not start"
	sent=$(timeout 120 ip netns exec "$from" "$PYTHON" -c "$SEND_PY" "$dst" 5301 "$n" "$size" 2>"$WORK/send.err")
	wait "$pid"
	got=$(cat "$WORK/got")
	if [ -n "$sent" ] && [ "$sent" = "$got" ]; then
		ok "$what: $n x $((size / 1024)) KiB identical"
		echo pass >>"$WORK/tally"
	else
		log "FAIL - $what: digests differ"
		printf '    sent: %s\n    got:  %s\n' "$sent" "$got"
		cat "$WORK/send.err" "$WORK/recv.err" | sed 's/^/    | /'
		echo fail >>"$WORK/tally"
	fi
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
