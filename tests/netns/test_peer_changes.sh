#!/usr/bin/env bash
# Peer changes on a live interface (A = IMPL_A is the side being changed):
#  - `wg set A peer B remove` stops B's traffic at once, both ways, and A sends
#    nothing more to B; adding B back restores it.
#  - a new private key on A forces a new handshake: traffic stops until B is
#    told A's new public key, then resumes, and the latest handshake moves.
#  - a peer whose public key equals A's own is ignored, as wireguard-go does:
#    `wg set` succeeds, `wg show` does not list it, it claims no allowed-ips,
#    and the real peer keeps working.
. "$(dirname "$0")/lib.sh"

run() {
	local n hs0 hs1 rc out
	setup_pair
	peer_pair 4 0
	wait_ping "$NS_A" "$IN4_B" 10 || fail "no handshake within 10 s"
	assert "A->B works before the changes" ping_all "$NS_A" "$IN4_B" 3

	# --- removal
	cap_start rm "$NS_A" o0 "udp and src host $OUT4_A and dst host $OUT4_B"
	wgn "$NS_A" set "$IF_A" peer "$(pub b)" remove || fail "wg set peer remove"
	assert "B->A dead at once after removal (first ping lost too)" ping_none "$NS_B" "$IN4_A" 5
	assert "A->B dead at once after removal" ping_none "$NS_A" "$IN4_B" 5
	mark_udp "$NS_A" "$OUT4_A" "$OUT4_B" 9
	cap_stop rm
	n=$(cap_count rm "udp dst port 9")
	assert "control: the capture saw the marker datagram ($n)" [ "$n" -eq 1 ]
	n=$(cap_count rm "not udp dst port 9")
	assert "A sent nothing to B after the removal ($n packets)" [ "$n" -eq 0 ]
	assert_not "wg show no longer lists B" has_peer "$NS_A" "$IF_A" "$(pub b)"
	assert "B's allowed-ips are gone from A" eval '! wgn "$NS_A" show "$IF_A" allowed-ips | grep -qF "$IN4_B/32"'
	wgn "$NS_A" set "$IF_A" peer "$(pub b)" endpoint "$OUT4_B:$PORT_B" allowed-ips "$IN4_B/32,$IN6_B/128" \
		|| fail "re-add B"
	wait_ping "$NS_A" "$IN4_B" 10 || fail "re-added B: no handshake within 10 s"
	assert "re-added B: A->B works again" ping_all "$NS_A" "$IN4_B" 3

	# --- private key change
	sleep 1.1   # latest-handshake has one-second resolution
	hs0=$(latest_hs "$NS_B" "$IF_B" "$(pub a)") || fail "no handshake on B"
	gen_key a2
	wgn "$NS_A" set "$IF_A" private-key "$WORK/a2.key" || fail "set new private key on A"
	assert "A reports its new public key" [ "$(wgn "$NS_A" show "$IF_A" public-key)" = "$(pub a2)" ]
	assert "A->B stops: the old session is not used with the new key" ping_none "$NS_A" "$IN4_B" 4
	wgn "$NS_B" set "$IF_B" peer "$(pub a)" remove \
		peer "$(pub a2)" endpoint "$OUT4_A:$PORT_A" allowed-ips "$IN4_A/32,$IN6_A/128" || fail "give B A's new key"
	wait_ping "$NS_A" "$IN4_B" 15 || fail "no traffic within 15 s after B learned A's new key"
	assert "A->B works with the new key" ping_all "$NS_A" "$IN4_B" 3
	assert "B->A works with the new key" ping_all "$NS_B" "$IN4_A" 3
	hs1=$(latest_hs "$NS_B" "$IF_B" "$(pub a2)") || fail "B has no handshake with A's new key"
	assert "B completed a new handshake with A's new key ($hs0 -> $hs1)" [ "$hs1" -gt "$hs0" ]
	hs1=$(latest_hs "$NS_A" "$IF_A" "$(pub b)")
	assert "A's latest handshake moved ($hs0 -> $hs1)" [ "$hs1" -gt "$hs0" ]

	# --- a peer with our own public key
	out=$(wgn "$NS_A" set "$IF_A" peer "$(pub a2)" allowed-ips 198.18.0.77/32 2>&1)
	rc=$?
	assert "wg set with our own public key succeeds, as with wireguard-go (rc=$rc: $out)" [ "$rc" -eq 0 ]
	assert_not "wg show does not list our own key as a peer" has_peer "$NS_A" "$IF_A" "$(pub a2)"
	assert "the ignored peer claims no allowed-ips" eval '! wgn "$NS_A" show "$IF_A" allowed-ips | grep -qF 198.18.0.77/32'
	assert "A has exactly one peer" [ "$(wgn "$NS_A" show "$IF_A" peers | wc -l)" -eq 1 ]
	assert "the real peer still works" ping_all "$NS_A" "$IN4_B" 3
	assert "both daemons still running" eval 'daemon_alive "$IF_A" && daemon_alive "$IF_B"'
}

run_pairings run
