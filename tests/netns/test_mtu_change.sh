#!/usr/bin/env bash
# A lowered MTU holds from the moment it is set.  Padding rounds a packet up
# to 16 bytes but never past the interface's MTU, so with a stale (higher)
# MTU a packet of exactly the new MTU would be padded past it, and the outer
# datagram would exceed what the new MTU promises.  A's tunnel MTU goes
# 1420 -> 1341 -> 1277 (neither a multiple of 16); right after each change
# A sends three pings of exactly the new MTU (DF), and the capture on the
# outer link must show each as a data message of 32 + MTU bytes, none
# longer.  A (IMPL_A) is the end under test; wireguard-go there is the control.
. "$(dirname "$0")/lib.sh"

# data_sizes CAP: UDP payload lengths of A's data messages (type 4) to B.
data_sizes() {
	tcpdump -n -r "${CAP_FILE[$1]}" "src host $OUT4_A and udp and udp[8] = 4" 2>/dev/null |
		awk '{ for (i = 1; i < NF; i++) if ($i == "length") print $(i+1) }'
}

check_mtu() {
	local mtu=$1 want n sizes
	want=$((mtu + 32))
	cap_start "mtu$mtu" "$NS_A" o0 "udp and src host $OUT4_A and dst port $PORT_B"
	# The change and the pings back to back: no time for a periodic re-read.
	ip -n "$NS_A" link set "$IF_A" mtu "$mtu" || fail "set MTU $mtu on $IF_A"
	n=$(ping_count "$NS_A" "$IN4_B" 3 0.05 2 -M do -s $((mtu - 28)))
	cap_stop "mtu$mtu"
	sizes=$(data_sizes "mtu$mtu" | sort -n | uniq -c | awk '{ printf "%s x %s; ", $1, $2 }')
	log "MTU $mtu: A's data messages (count x UDP payload): ${sizes:-none}"
	assert "MTU $mtu: the 3 pings of $mtu bytes were answered" [ "$n" = 3 ]
	assert "MTU $mtu: 3 data messages of $want bytes (padded to the new MTU, no further)" \
		[ "$(data_sizes "mtu$mtu" | awk -v w="$want" '$1 == w' | wc -l)" -ge 3 ]
	assert "MTU $mtu: none longer than $want bytes" \
		[ "$(data_sizes "mtu$mtu" | awk -v w="$want" '$1 > w' | wc -l)" = 0 ]
}

run() {
	setup_pair
	peer_pair 4 0 both
	wait_ping "$NS_A" "$IN4_B" 10 || fail "no handshake within 10 s"
	# Control: at 1420, a 1405-byte packet is padded to 1408.
	cap_start mtu1420 "$NS_A" o0 "udp and src host $OUT4_A and dst port $PORT_B"
	[ "$(ping_count "$NS_A" "$IN4_B" 2 0.05 2 -M do -s 1377)" = 2 ] || fail "pings at MTU 1420"
	cap_stop mtu1420
	assert "control: at MTU 1420 a 1405-byte packet leaves padded to 1408 (1440-byte messages)" \
		[ "$(data_sizes mtu1420 | awk '$1 == 1440' | wc -l)" -ge 2 ]
	check_mtu 1341
	check_mtu 1277
}

run_pairings run
