#!/usr/bin/env bash
# The allowed-IPs source filter, and ICMP unreachable for unrouted destinations.
#
# A (IMPL_A, under test) has two peers, B and C (IMPL_B), each reached over a
# veth of its own. B sends packets whose inner source belongs to C, or to no
# peer at all: A must not deliver them (tcpdump on A's tunnel interface sees
# none, while B's genuine packets in the same capture do arrive).
# Then A pings an address routed into its tunnel that no peer's allowed-ips
# cover: vpnd must answer with ICMP destination unreachable, as the kernel's
# WireGuard does. wireguard-go drops such packets silently, so that check is
# vpnd-only and reported as not applicable (not as passed) when A is
# wireguard-go.
. "$(dirname "$0")/lib.sh"

OUT4_A2=198.51.100.1 OUT4_C=198.51.100.3
UNROUTED4=198.19.0.7 UNROUTED6=2001:db8:aa::7

run() {
	local n good
	make_ns NS_A a
	make_ns NS_B b
	make_ns NS_C c
	link_veth "$NS_A" o0 "$NS_B" o0
	link_veth "$NS_A" o1 "$NS_C" o0
	addr "$NS_A" o0 "$OUT4_A/24"
	addr "$NS_B" o0 "$OUT4_B/24"
	addr "$NS_A" o1 "$OUT4_A2/24"
	addr "$NS_C" o0 "$OUT4_C/24"
	IF_A=$(ifname a) IF_B=$(ifname b) IF_C=$(ifname c)
	gen_key a; gen_key b; gen_key c
	start_impl "$NS_A" "$IMPL_A" "$IF_A"
	start_impl "$NS_B" "$IMPL_B" "$IF_B"
	start_impl "$NS_C" "$IMPL_B" "$IF_C"
	wgn "$NS_A" set "$IF_A" listen-port "$PORT_A" private-key "$WORK/a.key" \
		peer "$(pub b)" endpoint "$OUT4_B:$PORT_B" allowed-ips "$IN4_B/32,$IN6_B/128" \
		peer "$(pub c)" endpoint "$OUT4_C:$PORT_C" allowed-ips "$IN4_C/32,$IN6_C/128" || fail "configure A"
	wgn "$NS_B" set "$IF_B" listen-port "$PORT_B" private-key "$WORK/b.key" \
		peer "$(pub a)" endpoint "$OUT4_A:$PORT_A" allowed-ips "198.18.0.0/24,2001:db8:ff::/64" || fail "configure B"
	wgn "$NS_C" set "$IF_C" listen-port "$PORT_C" private-key "$WORK/c.key" \
		peer "$(pub a)" endpoint "$OUT4_A2:$PORT_A" allowed-ips "198.18.0.0/24,2001:db8:ff::/64" || fail "configure C"
	tun_up "$NS_A" "$IF_A" "$IN4_A" "$IN6_A"
	tun_up "$NS_B" "$IF_B" "$IN4_B" "$IN6_B"
	tun_up "$NS_C" "$IF_C" "$IN4_C" "$IN6_C"

	wait_ping "$NS_B" "$IN4_A" 10 || fail "B<->A: no handshake within 10 s"
	wait_ping "$NS_C" "$IN4_A" 10 || fail "C<->A: no handshake within 10 s"
	assert "B->A works with B's own source" ping_all "$NS_B" "$IN4_A" 3
	assert "C->A works with C's own source" ping_all "$NS_C" "$IN4_A" 3
	assert "B->A works over IPv6" ping_all "$NS_B" "$IN6_A" 3

	# B claims C's addresses, and an address that belongs to no peer.
	ip -n "$NS_B" addr add "$IN4_C/32" dev "$IF_B" || fail "add C's address on B"
	ip -n "$NS_B" addr add 198.18.0.99/32 dev "$IF_B" || fail "add a stray address on B"
	ip -n "$NS_B" addr add "$IN6_C/128" dev "$IF_B" nodad || fail "add C's IPv6 address on B"
	cap_start inner "$NS_A" "$IF_A" "icmp or icmp6"
	cap_start outer "$NS_A" o0 "udp and src host $OUT4_B and udp[8] = 4"
	ping_count "$NS_B" "$IN4_A" 5 0.1 1 -I "$IN4_C" >/dev/null
	ping_count "$NS_B" "$IN4_A" 5 0.1 1 -I 198.18.0.99 >/dev/null
	ping_count "$NS_B" "$IN6_A" 5 0.1 1 -I "$IN6_C" >/dev/null
	good=$(ping_count "$NS_B" "$IN4_A" 5 0.1 1)   # control, same capture
	cap_stop inner
	cap_stop outer
	assert "control: B's genuine pings answered during the capture ($good/5)" [ "$good" = 5 ]
	n=$(cap_count inner "src host $IN4_B and icmp[icmptype] = icmp-echo")
	assert "control: A's tunnel capture shows B's genuine pings ($n)" [ "$n" -ge 5 ]
	n=$(cap_count outer)
	assert "B did encrypt and send the spoofed packets to A ($n data messages)" [ "$n" -ge 20 ]
	n=$(cap_count inner "src host $IN4_C")
	assert "IPv4 with C's source from B: none delivered by A ($n)" [ "$n" -eq 0 ]
	n=$(cap_count inner "src host 198.18.0.99")
	assert "IPv4 with no peer's source from B: none delivered by A ($n)" [ "$n" -eq 0 ]
	n=$(cap_count inner "src host $IN6_C")
	assert "IPv6 with C's source from B: none delivered by A ($n)" [ "$n" -eq 0 ]
	assert "C->A still works" ping_all "$NS_C" "$IN4_A" 3

	# Unrouted destinations.
	ip -n "$NS_A" route add 198.19.0.0/24 dev "$IF_A" || fail "route 198.19.0.0/24 into A's tunnel"
	ip -n "$NS_A" route add 2001:db8:aa::/64 dev "$IF_A" || fail "route 2001:db8:aa::/64 into A's tunnel"
	cap_start unreach "$NS_A" "$IF_A" "icmp or icmp6"
	local out4 out6
	out4=$(ip netns exec "$NS_A" ping -n -c 2 -i 0.3 -W 1 "$UNROUTED4" 2>&1)
	out6=$(ip netns exec "$NS_A" ping -n -c 2 -i 0.3 -W 1 "$UNROUTED6" 2>&1)
	cap_stop unreach
	local icmp4 icmp6
	icmp4=$(cap_count unreach "icmp[icmptype] = icmp-unreach")
	icmp6=$(cap_count unreach "icmp6 and ip6[40] = 1")
	if is_vpnd "$IMPL_A"; then
		assert "IPv4 to an unrouted address: ping reports unreachable" grep -qi "unreachable" <<<"$out4"
		assert "IPv4 to an unrouted address: ICMP type 3 on A's tunnel ($icmp4)" [ "$icmp4" -ge 1 ]
		assert "IPv6 to an unrouted address: ping reports unreachable" grep -qi "unreachable" <<<"$out6"
		assert "IPv6 to an unrouted address: ICMPv6 type 1 on A's tunnel ($icmp6)" [ "$icmp6" -ge 1 ]
	else
		note "NOT APPLICABLE (not counted as a pass): ICMP unreachable is a vpnd-only check;" \
			"$IMPL_A answered ${icmp4} ICMP and ${icmp6} ICMPv6 unreachable"
		assert "no ping to an unrouted address is answered" eval '! grep -q "bytes from" <<<"$out4$out6"'
	fi
	assert "all daemons still running" eval 'daemon_alive "$IF_A" && daemon_alive "$IF_B" && daemon_alive "$IF_C"'
}

run_pairings run
