#!/usr/bin/env bash
# Interoperability: handshake, ping both ways over IPv4 and IPv6 inner
# addresses, over IPv4 and IPv6 outer endpoints, with and without a preshared
# key; a preshared key on one side only must prevent the handshake; an iperf3
# TCP run of ~3 s completes each way with non-zero throughput.
. "$(dirname "$0")/lib.sh"

IPERF_SECONDS=${IPERF_SECONDS:-3}

# one_case OUTER PSK: fresh peers on both sides (so a new handshake happens
# under this case's settings), then ping every direction and family.
one_case() {
	local outer=$1 psk=$2 what="outer IPv$1, psk=$2"
	wgn "$NS_A" set "$IF_A" peer "$(pub b)" remove 2>/dev/null
	wgn "$NS_B" set "$IF_B" peer "$(pub a)" remove 2>/dev/null
	assert_not "$what: no stale peer on A" has_peer "$NS_A" "$IF_A" "$(pub b)"
	peer_pair "$outer" "$psk"
	assert_not "$what: fresh peer has no handshake yet" handshake_done "$NS_A" "$IF_A" "$(pub b)"
	wait_ping "$NS_A" "$IN4_B" 10 || fail "$what: no handshake / first ping A->B within 10 s"
	assert "$what: A has a handshake with B" handshake_done "$NS_A" "$IF_A" "$(pub b)"
	assert "$what: B has a handshake with A" handshake_done "$NS_B" "$IF_B" "$(pub a)"
	assert "$what: ping A->B inner IPv4" ping_all "$NS_A" "$IN4_B" 5
	assert "$what: ping B->A inner IPv4" ping_all "$NS_B" "$IN4_A" 5
	assert "$what: ping A->B inner IPv6" ping_all "$NS_A" "$IN6_B" 5
	assert "$what: ping B->A inner IPv6" ping_all "$NS_B" "$IN6_A" 5
	local want
	if [ "$outer" = 6 ]; then want="[$OUT6_B]:$PORT_B"; else want="$OUT4_B:$PORT_B"; fi
	assert "$what: A's endpoint for B is $want" [ "$(endpoint_of "$NS_A" "$IF_A" "$(pub b)")" = "$want" ]
}

# psk_mismatch: a preshared key on A only; no handshake may complete.
psk_mismatch() {
	wgn "$NS_A" set "$IF_A" peer "$(pub b)" remove
	wgn "$NS_B" set "$IF_B" peer "$(pub a)" remove
	peer_pair 4 0
	gen_psk only_a
	wgn "$NS_A" set "$IF_A" peer "$(pub b)" preshared-key "$WORK/only_a.psk" || fail "set psk on A"
	assert "psk on one side only: no ping A->B" ping_none "$NS_A" "$IN4_B" 4
	assert "psk on one side only: no ping B->A" ping_none "$NS_B" "$IN4_A" 4
	assert_not "psk on one side only: A has no handshake" handshake_done "$NS_A" "$IF_A" "$(pub b)"
	assert_not "psk on one side only: B has no handshake" handshake_done "$NS_B" "$IF_B" "$(pub a)"
}

iperf_both_ways() {
	local bps
	peer_pair 4 1
	wait_ping "$NS_A" "$IN4_B" 10 || fail "no ping before iperf3"
	iperf_server "$NS_B" "$IN4_B"
	bps=$(iperf_bps "$NS_A" "$IN4_B" "$IPERF_SECONDS") || fail "iperf3 A->B did not complete"
	assert "iperf3 TCP A->B completed: $((bps / 1000000)) Mbit/s" [ "$bps" -gt 0 ]
	bps=$(iperf_bps "$NS_A" "$IN4_B" "$IPERF_SECONDS" -R) || fail "iperf3 B->A did not complete"
	assert "iperf3 TCP B->A completed: $((bps / 1000000)) Mbit/s" [ "$bps" -gt 0 ]
}

run() {
	setup_pair
	one_case 4 0
	one_case 4 1
	one_case 6 0
	one_case 6 1
	psk_mismatch
	wgn "$NS_A" set "$IF_A" peer "$(pub b)" remove
	wgn "$NS_B" set "$IF_B" peer "$(pub a)" remove
	iperf_both_ways
	assert "both daemons still running" eval 'daemon_alive "$IF_A" && daemon_alive "$IF_B"'
}

run_pairings run
