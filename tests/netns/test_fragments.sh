#!/usr/bin/env bash
# IP fragments through the tunnel.  A UDP datagram of 1400 bytes needs 1428
# bytes of IPv4 (1448 of IPv6), more than the tunnel's MTU of 1420, so the
# sender's kernel hands the TUN device a long first fragment and a short
# later one, and a batch read there alternates long and short.  vpnd sends
# a batch made only of fragments with its first fragments before its later
# ones, so that UDP GSO takes each group as one run (vpnd/fragment.h).
#
# For each pairing, inner IPv4 and IPv6, each way: 2,048 numbered datagrams
# of 1400 bytes in bursts of 32 all arrive whole and in the order sent (the
# receiver checks every byte).  The bursts come faster than a daemon reads
# them, so a batch holds up to 16 datagrams' fragments; the outer link is
# captured each way, and where the sender is vpnd some message must carry a
# run of first fragments, longer than two data messages of a full packet
# (1456 bytes each) could be.  Without the new order the longest is one
# first and one later fragment (1516 bytes).  So the datagrams were checked
# after that reordering, by wireguard-go as well as by vpnd (whose messages'
# counters are then out of order within a batch); wireguard-go's own
# longest message is logged as the control.
. "$(dirname "$0")/lib.sh"

COUNT=2048
BURST=32
LEN=1400
FULL_MSG=1456	# 32 bytes of header and tag around a 1424-byte padded packet

# receive NS ADDR PORT OUT: a receiver that expects COUNT datagrams of LEN
# bytes numbered 0.., checks each one's bytes and the order, and writes a
# one-line verdict to OUT when all came or 10 s have passed.
receive() {
	ip netns exec "$1" "$PYTHON" -c '
import socket, struct, sys
addr, port, count, length, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind((addr, port))
open(out + ".ready", "w").close()
s.settimeout(10)
pattern = bytes(range(256)) * 8
got, last, bad, disorder = 0, -1, 0, 0
try:
    while got < count:
        d = s.recv(65536)
        n = struct.unpack("!I", d[:4])[0]
        want = struct.pack("!I", n) + pattern[n % 256:n % 256 + length - 4]
        if d != want:
            bad += 1
        if n <= last:
            disorder += 1
        last = n
        got += 1
except socket.timeout:
    pass
open(out, "w").write("%d %d %d\n" % (got, bad, disorder))
' "$2" "$3" "$COUNT" "$LEN" "$4"
}

# send NS ADDR PORT: COUNT datagrams in bursts of BURST, 10 ms apart.
send() {
	ip netns exec "$1" "$PYTHON" -c '
import socket, struct, sys, time
addr, port, count, length, burst = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
pattern = bytes(range(256)) * 8
for n in range(count):
    s.sendto(struct.pack("!I", n) + pattern[n % 256:n % 256 + length - 4], (addr, port))
    if n % burst == burst - 1:
        time.sleep(0.01)
' "$2" "$3" "$COUNT" "$LEN" "$BURST" || fail "sender in $1 failed"
}

# datagrams FROM_NS TO_NS TO_ADDR LABEL: the numbered run, checked at the far end.
datagrams() {
	local out="$WORK/recv.${4// /_}" pid got bad disorder
	start_bg pid receive "$2" "$3" 7000 "$out"
	wait_for "[ -e '$out.ready' ]" 5 || fail "$4: receiver did not start"
	send "$1" "$3" 7000
	wait_for "[ -s '$out' ]" 15 || fail "$4: receiver gave no verdict"
	read -r got bad disorder <"$out"
	log "$4: $got of $COUNT datagrams, $bad with wrong bytes, $disorder out of order"
	assert "$4: all $COUNT datagrams of $LEN bytes arrived" [ "$got" = "$COUNT" ]
	assert "$4: every byte as sent" [ "$bad" = 0 ]
	assert "$4: in the order sent" [ "$disorder" = 0 ]
}

# longest_message CAP: the longest UDP length in the capture.
longest_message() {
	tcpdump -n -r "${CAP_FILE[$1]}" 2>/dev/null |
		awk '{ for (i = 1; i < NF; i++) if ($i == "length") print $(i+1) }' | sort -n | tail -1
}

# runs_of_first_fragments CAP SENDER_IMPL LABEL
runs_of_first_fragments() {
	local longest
	longest=$(longest_message "$1")
	log "$3: longest message on the outer link ${longest:-none} bytes"
	[ -n "$longest" ] || fail "$3: the capture is empty"
	is_vpnd "$2" || return 0
	assert "$3: first fragments left in runs (a message over 2 x $FULL_MSG bytes)" \
		[ "$longest" -gt $((2 * FULL_MSG)) ]
}

run() {
	setup_pair
	peer_pair 4 0 both
	wait_ping "$NS_A" "$IN4_B" 10 || fail "no handshake within 10 s"
	cap_start ab "$NS_B" o0 "udp and src host $OUT4_A and dst port $PORT_B"
	datagrams "$NS_A" "$NS_B" "$IN4_B" "IPv4 A->B"
	datagrams "$NS_A" "$NS_B" "$IN6_B" "IPv6 A->B"
	cap_stop ab
	cap_start ba "$NS_A" o0 "udp and src host $OUT4_B and dst port $PORT_A"
	datagrams "$NS_B" "$NS_A" "$IN4_A" "IPv4 B->A"
	datagrams "$NS_B" "$NS_A" "$IN6_A" "IPv6 B->A"
	cap_stop ba
	runs_of_first_fragments ab "$IMPL_A" "A->B"
	runs_of_first_fragments ba "$IMPL_B" "B->A"
}

run_pairings run
