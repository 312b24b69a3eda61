#!/usr/bin/env bash
# Persistent keepalive keeps a session alive through a NAT whose UDP mapping
# times out sooner than the session stays idle.
#
#   A (IMPL_A, public) --o0-- R (masquerade, conntrack UDP timeout 2 s) --o1-- B (IMPL_B, private)
#
# B knows A's endpoint and sends the keepalives; A knows no endpoint for B and
# learns R's mapped address. After an idle period longer than the NAT timeout,
# A (the side whose view of the endpoint is not refreshed by anything it does)
# pings B.
#  - control case, no keepalive: the mapping expired, A's pings die at R;
#  - keepalive 1 s: the mapping lives on, A's pings reach B.
. "$(dirname "$0")/lib.sh"

NAT_TIMEOUT=${NAT_TIMEOUT:-2}
IDLE=${IDLE:-5}
R_PUB=192.0.2.254 R_PRIV=198.51.100.254 B_PRIV=198.51.100.2

topology() {
	make_ns NS_A a
	make_ns NS_R r
	make_ns NS_B b
	link_veth "$NS_A" o0 "$NS_R" o0
	link_veth "$NS_R" o1 "$NS_B" o0
	addr "$NS_A" o0 "$OUT4_A/24"
	addr "$NS_R" o0 "$R_PUB/24"
	addr "$NS_R" o1 "$R_PRIV/24"
	addr "$NS_B" o0 "$B_PRIV/24"
	ip -n "$NS_B" route add default via "$R_PRIV" || fail "B's default route"
	ip netns exec "$NS_R" sysctl -qw net.ipv4.ip_forward=1 || fail "forwarding on R"
	ip netns exec "$NS_R" nft -f - <<-EOF || fail "nftables masquerade on R"
		table ip nat {
			chain post {
				type nat hook postrouting priority srcnat; policy accept;
				oifname "o0" masquerade
			}
		}
	EOF
	# Per-namespace conntrack timeouts, both for unreplied and for streams.
	ip netns exec "$NS_R" sysctl -qw net.netfilter.nf_conntrack_udp_timeout="$NAT_TIMEOUT" \
		net.netfilter.nf_conntrack_udp_timeout_stream="$NAT_TIMEOUT" \
		|| fail "cannot set the conntrack UDP timeouts in R's namespace"
	[ "$(ip netns exec "$NS_R" sysctl -n net.netfilter.nf_conntrack_udp_timeout_stream)" = "$NAT_TIMEOUT" ] \
		|| fail "conntrack UDP timeout did not stick"
	assert "A has no route to B's private network" eval '! ip -n "$NS_A" route get "$B_PRIV" >/dev/null 2>&1'
	assert "B reaches A through R" ping_all "$NS_B" "$OUT4_A" 1

	IF_A=$(ifname a) IF_B=$(ifname b)
	gen_key a; gen_key b
	start_impl "$NS_A" "$IMPL_A" "$IF_A"
	start_impl "$NS_B" "$IMPL_B" "$IF_B"
	wgn "$NS_A" set "$IF_A" listen-port "$PORT_A" private-key "$WORK/a.key" \
		peer "$(pub b)" allowed-ips "$IN4_B/32" || fail "configure A"
	wgn "$NS_B" set "$IF_B" listen-port "$PORT_B" private-key "$WORK/b.key" \
		peer "$(pub a)" endpoint "$OUT4_A:$PORT_A" allowed-ips "$IN4_A/32" || fail "configure B"
	tun_up "$NS_A" "$IF_A" "$IN4_A" "$IN6_A"
	tun_up "$NS_B" "$IF_B" "$IN4_B" "$IN6_B"
}

# nat_case KEEPALIVE: 0 is the control case.
nat_case() {
	local ka=$1 ep
	topology
	[ "$ka" -gt 0 ] && { wgn "$NS_B" set "$IF_B" peer "$(pub a)" persistent-keepalive "$ka" || fail "set keepalive"; }
	wait_ping "$NS_B" "$IN4_A" 10 || fail "keepalive=$ka: no handshake through the NAT within 10 s"
	ep=$(endpoint_of "$NS_A" "$IF_A" "$(pub b)")
	assert "keepalive=$ka: A sees B behind the NAT ($ep)" [ "${ep%:*}" = "$R_PUB" ]
	assert "keepalive=$ka: A->B works right away" ping_all "$NS_A" "$IN4_B" 2
	note "keepalive=$ka: idle for $IDLE s (NAT UDP timeout $NAT_TIMEOUT s)"
	sleep "$IDLE"
	if [ "$ka" -gt 0 ]; then
		assert "keepalive=$ka: after the idle time A->B still works" ping_all "$NS_A" "$IN4_B" 3
		assert "keepalive=$ka: endpoint unchanged" [ "$(endpoint_of "$NS_A" "$IF_A" "$(pub b)")" = "$ep" ]
	else
		assert "control (no keepalive): after the idle time A->B fails, the NAT timeout is real" \
			[ "$(ping_count "$NS_A" "$IN4_B" 2 0.3 1)" = 0 ]
	fi
}

run() {
	need_cmd nft
	subcase nat_case 0
	subcase nat_case 1
}

run_pairings run
