#!/usr/bin/env bash
# The source address follows a newly preferred route, as in the kernel's
# selftest: A reaches B's endpoint through o0 by a route with its own source
# address; a better route (lower metric) through another interface, o1,
# with another source address appears; the very next ping from A must leave
# from the new address, so B's endpoint for A switches to it.  IPv4 and
# IPv6.  Then the other half: a routing change that does not touch the way
# to B must not move a source A was given on purpose (B sends to A's second
# address; A keeps answering from it).  A (IMPL_A) is the end under test;
# the pairings put wireguard-go there too, as the control (for IPv4: it
# does not move its IPv6 source, and what it did is printed as a note).
. "$(dirname "$0")/lib.sh"

EP4_B=203.0.113.2   EP6_B=2001:db8:3::2            # B's endpoint, on its lo
O0_4A=192.0.2.1     O0_4B=192.0.2.2                 # the first way
O1_4A=198.51.100.3  O1_4B=198.51.100.2  O1_4A2=198.51.100.4   # the better one
O0_6A=2001:db8:1::1 O0_6B=2001:db8:1::2
O1_6A=2001:db8:2::3 O1_6B=2001:db8:2::2

ep_at_b() { endpoint_of "$NS_B" "$IF_B" "$(pub a)"; }

# one_ping: exactly one echo request A->B (the "next ping"), answered.
one_ping() { [ "$(ping_count "$NS_A" "$IN4_B" 1 0.2 2)" = 1 ]; }

run() {
	make_ns NS_A a
	make_ns NS_B b
	link_veth "$NS_A" o0 "$NS_B" o0
	link_veth "$NS_A" o1 "$NS_B" o1
	addr "$NS_A" o0 "$O0_4A/24";  addr "$NS_B" o0 "$O0_4B/24"
	addr "$NS_A" o1 "$O1_4A/24";  addr "$NS_B" o1 "$O1_4B/24"
	addr "$NS_A" o0 "$O0_6A/64";  addr "$NS_B" o0 "$O0_6B/64"
	addr "$NS_A" o1 "$O1_6A/64";  addr "$NS_B" o1 "$O1_6B/64"
	addr "$NS_B" lo "$EP4_B/32";  addr "$NS_B" lo "$EP6_B/128"
	ip -n "$NS_A" route add "$EP4_B/32" via "$O0_4B" dev o0 src "$O0_4A" metric 100 || fail "route to B's endpoint via o0"
	ip -n "$NS_A" -6 route add "$EP6_B/128" via "$O0_6B" dev o0 src "$O0_6A" metric 100 || fail "IPv6 route to B's endpoint via o0"
	IF_A=$(ifname a)
	IF_B=$(ifname b)
	gen_key a
	gen_key b
	start_daemon "$NS_A" "$IMPL_A" "$IF_A"
	start_daemon "$NS_B" "$IMPL_B" "$IF_B"
	wgn "$NS_A" set "$IF_A" listen-port "$PORT_A" private-key "$WORK/a.key" || fail "wg set on $IF_A"
	wgn "$NS_B" set "$IF_B" listen-port "$PORT_B" private-key "$WORK/b.key" || fail "wg set on $IF_B"
	tun_up "$NS_A" "$IF_A" "$IN4_A" "$IN6_A"
	tun_up "$NS_B" "$IF_B" "$IN4_B" "$IN6_B"
	wait_for "ip netns exec '$NS_A' ping -c1 -W1 '$EP4_B' && ip netns exec '$NS_A' ping -c1 -W1 '$EP6_B'" 5 \
		|| fail "outer links A<->B not working"
	# Only A knows B's endpoint; B learns A's from what arrives.
	wgn "$NS_A" set "$IF_A" peer "$(pub b)" endpoint "$EP4_B:$PORT_B" allowed-ips "$IN4_B/32,$IN6_B/128" \
		|| fail "wg set peer B on $IF_A"
	wgn "$NS_B" set "$IF_B" peer "$(pub a)" allowed-ips "$IN4_A/32,$IN6_A/128" || fail "wg set peer A on $IF_B"

	# IPv4.
	wait_ping "$NS_A" "$IN4_B" 10 || fail "no handshake within 10 s"
	assert "ping B->A (A learns where B reaches it)" ping_all "$NS_B" "$IN4_A" 2
	assert "B sees A at $O0_4A:$PORT_A (the route's source)" [ "$(ep_at_b)" = "$O0_4A:$PORT_A" ]
	ip -n "$NS_A" route add "$EP4_B/32" via "$O1_4B" dev o1 src "$O1_4A" metric 50 || fail "better route via o1"
	assert "the next ping A->B after the better route appeared is answered" one_ping
	assert "B sees A at $O1_4A:$PORT_A after that one ping (got $(ep_at_b))" [ "$(ep_at_b)" = "$O1_4A:$PORT_A" ]
	assert "ping both ways over the new way" eval 'ping_all "$NS_A" "$IN4_B" 2 && ping_all "$NS_B" "$IN4_A" 2'
	assert "B still sees A at $O1_4A:$PORT_A" [ "$(ep_at_b)" = "$O1_4A:$PORT_A" ]

	# IPv6.
	wgn "$NS_A" set "$IF_A" peer "$(pub b)" endpoint "[$EP6_B]:$PORT_B" || fail "IPv6 endpoint for B on $IF_A"
	assert "ping A->B to the IPv6 endpoint" ping_all "$NS_A" "$IN4_B" 2
	assert "ping B->A over IPv6" ping_all "$NS_B" "$IN4_A" 2
	assert "B sees A at [$O0_6A]:$PORT_A (the route's source)" [ "$(ep_at_b)" = "[$O0_6A]:$PORT_A" ]
	ip -n "$NS_A" -6 route add "$EP6_B/128" via "$O1_6B" dev o1 src "$O1_6A" metric 50 || fail "better IPv6 route via o1"
	assert "the next ping A->B after the better IPv6 route appeared is answered" one_ping
	if is_vpnd "$IMPL_A"; then
		assert "B sees A at [$O1_6A]:$PORT_A after that one ping (got $(ep_at_b))" [ "$(ep_at_b)" = "[$O1_6A]:$PORT_A" ]
	else
		# Debian's wireguard-go keeps its IPv6 source here (it
		# re-checks IPv4 sources only); the kernel and vpnd move.
		note "not checked for $IMPL_A: B sees A at $(ep_at_b) (the kernel and vpnd: [$O1_6A]:$PORT_A)"
	fi

	# A source chosen by the peer survives a change elsewhere in the table.
	wgn "$NS_A" set "$IF_A" peer "$(pub b)" endpoint "$EP4_B:$PORT_B" || fail "IPv4 endpoint for B on $IF_A"
	addr "$NS_A" o1 "$O1_4A2/24"
	wgn "$NS_B" set "$IF_B" peer "$(pub a)" endpoint "$O1_4A2:$PORT_A" || fail "B sends to A's second address"
	assert "ping B->A to A's second address" ping_all "$NS_B" "$IN4_A" 2
	assert "B sees A at $O1_4A2:$PORT_A" [ "$(ep_at_b)" = "$O1_4A2:$PORT_A" ]
	ip -n "$NS_A" route add 192.0.2.128/25 via "$O0_4B" dev o0 || fail "an unrelated route"
	ip -n "$NS_A" -6 route add 2001:db8:99::/64 via "$O0_6B" dev o0 || fail "an unrelated IPv6 route"
	assert "the next ping A->B after unrelated changes is answered" one_ping
	assert "B still sees A at $O1_4A2:$PORT_A (got $(ep_at_b))" [ "$(ep_at_b)" = "$O1_4A2:$PORT_A" ]
}

run_pairings run
