#!/usr/bin/env bash
# `wg show` reports what happened: the peer, its endpoint (configured on one
# side, learned on the other), a recent non-zero latest handshake, and transfer
# counters that grow with the traffic. Checked on both ends, so a vpnd end is
# always checked, and wireguard-go keeps the checks honest.
. "$(dirname "$0")/lib.sh"

BURST=20      # pings in the burst
PAYLOAD=1000  # bytes of ICMP payload each

# check_side NS IF PEERNAME WANT_ENDPOINT MYPORT MYNAME
check_side() {
	local ns=$1 ifn=$2 peer=$3 want=$4 port=$5 me=$6 p out t now rx0 tx0 rx1 tx1 min
	p=$(pub "$peer")
	out=$(wgn "$ns" show "$ifn" 2>&1) || fail "wg show $ifn failed: $out"
	assert "$ifn: wg show lists the peer" grep -qF "peer: $p" <<<"$out"
	assert "$ifn: wg show reports our public key" grep -qF "public key: $(pub "$me")" <<<"$out"
	assert "$ifn: wg show reports listening port $port" grep -qF "listening port: $port" <<<"$out"
	assert "$ifn: wg show prints the endpoint $want" grep -qF "endpoint: $want" <<<"$out"
	assert "$ifn: wg show prints a latest handshake line" grep -Eq "latest handshake: (Now|.* ago)" <<<"$out"
	assert "$ifn: wg show prints a transfer line" grep -q "transfer: .* received, .* sent" <<<"$out"
	assert "$ifn: wg show prints the allowed ips" grep -q "allowed ips: " <<<"$out"
	assert "$ifn: endpoints view is $want" [ "$(endpoint_of "$ns" "$ifn" "$p")" = "$want" ]
	t=$(latest_hs "$ns" "$ifn" "$p") || fail "$ifn: no latest-handshakes line for the peer"
	now=$(date +%s)
	assert "$ifn: latest handshake is non-zero ($t)" [ "$t" -gt 0 ]
	assert "$ifn: latest handshake is recent (now-$((now - t)) s)" [ $((now - t)) -ge -2 -a $((now - t)) -le 60 ]
	read -r rx0 tx0 < <(peer_field "$ns" "$ifn" "$p" transfer) || fail "$ifn: no transfer line"
	assert "$ifn: transfer counters are numbers ($rx0 $tx0)" [ "$rx0" -ge 0 -a "$tx0" -ge 0 ]
	# A burst in the direction that makes this side both receive and send.
	[ "$(ping_count "$ns" "$([ "$peer" = a ] && echo "$IN4_A" || echo "$IN4_B")" "$BURST" 0.02 2 -s "$PAYLOAD")" = "$BURST" ] \
		|| fail "$ifn: ping burst lost packets"
	read -r rx1 tx1 < <(peer_field "$ns" "$ifn" "$p" transfer) || fail "$ifn: no transfer line"
	min=$((BURST * PAYLOAD))
	assert "$ifn: rx grew by >= $min bytes ($rx0 -> $rx1)" [ $((rx1 - rx0)) -ge $min ]
	assert "$ifn: tx grew by >= $min bytes ($tx0 -> $tx1)" [ $((tx1 - tx0)) -ge $min ]
	# A plausibility bound: the counters count this traffic, not 10x of it.
	assert "$ifn: rx grew by < $((min * 3)) bytes" [ $((rx1 - rx0)) -lt $((min * 3)) ]
	out=$(wgn "$ns" showconf "$ifn" 2>&1) || fail "wg showconf $ifn failed: $out"
	assert "$ifn: wg showconf has the peer" grep -qF "PublicKey = $p" <<<"$out"
	assert "$ifn: wg showconf has the endpoint" grep -qF "Endpoint = $want" <<<"$out"
	assert "$ifn: wg showconf has the listen port" grep -qF "ListenPort = $port" <<<"$out"
}

run() {
	setup_pair
	# Only A is told B's endpoint: B's endpoint for A must be learned.
	peer_pair 4 0 a
	assert "B knows no endpoint for A before any handshake" \
		[ "$(endpoint_of "$NS_B" "$IF_B" "$(pub a)")" = "(none)" ]
	assert_not "A has no handshake before any traffic" handshake_done "$NS_A" "$IF_A" "$(pub b)"
	wait_ping "$NS_A" "$IN4_B" 10 || fail "no handshake within 10 s"
	check_side "$NS_A" "$IF_A" b "$OUT4_B:$PORT_B" "$PORT_A" a
	check_side "$NS_B" "$IF_B" a "$OUT4_A:$PORT_A" "$PORT_B" b
}

run_pairings run
