#!/usr/bin/env bash
# The TUN interface moved to another network namespace (how a container is
# given a WireGuard interface as its only way out): the daemon keeps running
# in its own namespace with its UDP socket and its UAPI socket, and the
# tunnel works from the namespace the interface was moved into.  A's
# interface goes from NS_A to NS_C (which has no other link at all); then
#  - A's daemon is still alive, its socket where it was, `wg show` answers
#    (from NS_C and from NS_A), `wg set` still applies;
#  - pings from NS_C through the tunnel reach B (IPv4 and IPv6), and the
#    outer packets leave by NS_A's link;
#  - vpnd only: an MTU lowered in NS_C holds at once (Debian's wireguard-go
#    cannot read the MTU of a moved interface and pads to the old one);
#  - the interface moved back to NS_A still works; deleting it there ends
#    the daemon, as a deletion always did.
# A (IMPL_A) is the end under test; wireguard-go there is the control.
. "$(dirname "$0")/lib.sh"

MTU_C=1277

run() {
	local n out sizes
	setup_pair
	peer_pair 4 0 both
	wait_ping "$NS_A" "$IN4_B" 10 || fail "no handshake within 10 s"
	make_ns NS_C c

	ip -n "$NS_A" link set "$IF_A" netns "$NS_C" || fail "move $IF_A to $NS_C"
	sleep 1.5   # past a housekeeping round, which used to check by name
	assert "the daemon is still running" daemon_alive "$IF_A"
	assert "$IF_A is gone from $NS_A" eval '! ip -n "$NS_A" link show "$IF_A" >/dev/null 2>&1'
	assert "$IF_A is in $NS_C" eval 'ip -n "$NS_C" link show "$IF_A" >/dev/null'
	assert "its UAPI socket is where it was" [ -S "$RUN_DIR/$IF_A.sock" ]
	assert_not "the daemon did not take the move for a deletion" grep -qi "deleted" "${DAEMON_LOG[$IF_A]}"
	tun_up "$NS_C" "$IF_A" "$IN4_A" "$IN6_A"
	assert_not "control: $NS_C has no route to B's outer address" \
		eval 'ip netns exec "$NS_C" ping -c1 -W1 "$OUT4_B" >/dev/null 2>&1'

	cap_start moved "$NS_A" o0 "udp and src host $OUT4_A and src port $PORT_A"
	wait_ping "$NS_C" "$IN4_B" 10 || fail "no ping from $NS_C through the tunnel within 10 s"
	assert "ping $NS_C -> B over IPv4 through the tunnel" ping_all "$NS_C" "$IN4_B" 5
	assert "ping $NS_C -> B over IPv6 through the tunnel" ping_all "$NS_C" "$IN6_B" 5
	assert "ping B -> $NS_C through the tunnel" ping_all "$NS_B" "$IN4_A" 5
	cap_stop moved
	n=$(cap_count moved "udp[8] = 4")
	assert "the tunnel's packets left by $NS_A's link ($n data messages)" [ "$n" -ge 15 ]

	out=$(wgn "$NS_C" show "$IF_A" 2>&1) || fail "wg show $IF_A in $NS_C: $out"
	assert "wg show in $NS_C lists the peer" grep -qF "peer: $(pub b)" <<<"$out"
	assert "wg show in $NS_C shows a handshake" handshake_done "$NS_C" "$IF_A" "$(pub b)"
	assert "wg show in $NS_A answers too" eval 'wgn "$NS_A" show "$IF_A" | grep -qF "peer: $(pub b)"'
	wgn "$NS_C" set "$IF_A" peer "$(pub b)" persistent-keepalive 25 || fail "wg set from $NS_C"
	assert "wg set from $NS_C applied" [ "$(peer_field "$NS_C" "$IF_A" "$(pub b)" persistent-keepalive)" = 25 ]

	if is_vpnd "$IMPL_A"; then
		cap_start mtu "$NS_A" o0 "udp and src host $OUT4_A and dst port $PORT_B"
		ip -n "$NS_C" link set "$IF_A" mtu "$MTU_C" || fail "set MTU in $NS_C"
		n=$(ping_count "$NS_C" "$IN4_B" 3 0.05 2 -M do -s $((MTU_C - 28)))
		cap_stop mtu
		sizes=$(tcpdump -n -r "${CAP_FILE[mtu]}" "udp[8] = 4" 2>/dev/null |
			awk '{ for (i = 1; i < NF; i++) if ($i == "length") print $(i+1) }')
		log "MTU $MTU_C set in $NS_C: data message sizes: $(echo $sizes)"
		assert "MTU $MTU_C in $NS_C: the pings were answered" [ "$n" = 3 ]
		assert "MTU $MTU_C in $NS_C: messages padded to it ($((MTU_C + 32)) bytes), none longer" \
			eval '[ "$(printf "%s\n" $sizes | awk -v w=$((MTU_C + 32)) "\$1 == w" | wc -l)" -ge 3 ] &&
			      [ "$(printf "%s\n" $sizes | awk -v w=$((MTU_C + 32)) "\$1 > w" | wc -l)" = 0 ]'
		ip -n "$NS_C" link set "$IF_A" mtu "$TUN_MTU" || fail "restore the MTU in $NS_C"
	else
		# Debian's wireguard-go asks for the MTU in its own namespace
		# ("no such device") and keeps padding to the old one.
		note "MTU after the move not checked for $IMPL_A (it cannot read it there)"
	fi

	# And back home.
	ip -n "$NS_C" link set "$IF_A" netns "$NS_A" || fail "move $IF_A back to $NS_A"
	tun_up "$NS_A" "$IF_A" "$IN4_A" "$IN6_A"
	wait_ping "$NS_A" "$IN4_B" 10 || fail "no ping from $NS_A after the move back"
	assert "ping $NS_A -> B after the move back" ping_all "$NS_A" "$IN4_B" 3
	assert "the daemon is still running" daemon_alive "$IF_A"

	ip -n "$NS_A" link del "$IF_A" || fail "delete $IF_A"
	assert "deleting the interface ends the daemon" wait_for "! daemon_alive '$IF_A'" 5
}

run_pairings run
