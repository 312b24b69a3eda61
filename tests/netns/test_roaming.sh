#!/usr/bin/env bash
# Roaming: B changes its outer port, then its outer address (and port), then
# its address only (a NAT rebinding, by an SNAT rule in B's namespace); A's endpoint for
# B follows after one authenticated packet (a single ping from B, whose reply
# only reaches B if A already uses the new endpoint). Unauthenticated packets
# from a new address change nothing: random datagrams, a forged data message
# (real receiver index, bad tag), a replayed captured data message (valid tag,
# old counter) and a replayed handshake initiation. And A, once it has two
# addresses, answers B from the one B sent to (as wireguard-go and the kernel
# do), so B's view of A does not wander.
# A (IMPL_A) is the side whose endpoint tracking is under test.
. "$(dirname "$0")/lib.sh"

NEW_PORT=51831 NEW_PORT2=51832
NAT4_A=203.0.113.1 NAT4_B=203.0.113.2
NEW4_A=198.51.100.1 NEW4_B=198.51.100.2 EVIL4=198.51.100.66

ep_is() { [ "$(endpoint_of "$NS_A" "$IF_A" "$(pub b)")" = "$1" ]; }

run() {
	local ep n
	setup_pair
	cap_start hs "$NS_A" o0 "udp port $PORT_A"
	peer_pair 4 0 b      # only B knows A's endpoint; A learns B's
	assert "A knows no endpoint for B yet" ep_is "(none)"
	wait_ping "$NS_B" "$IN4_A" 10 || fail "no handshake within 10 s"
	assert "A learned B's endpoint $OUT4_B:$PORT_B" ep_is "$OUT4_B:$PORT_B"

	# 1. New source port.
	wgn "$NS_B" set "$IF_B" listen-port "$NEW_PORT" || fail "wg set listen-port on B"
	assert "B listens on $NEW_PORT" [ "$(wgn "$NS_B" show "$IF_B" listen-port)" = "$NEW_PORT" ]
	assert "one ping B->A after the port change is answered" ping_all "$NS_B" "$IN4_A" 1
	assert "A's endpoint followed to $OUT4_B:$NEW_PORT" ep_is "$OUT4_B:$NEW_PORT"
	assert "ping A->B works at the new port" ping_all "$NS_A" "$IN4_B" 3

	# 2. New source address: B loses 192.0.2.2 and reaches A from 198.51.100.2.
	# wireguard-go pins the source address it last used (sticky sockets) and
	# only forgets it when its socket is rebound, so B's port moves as well.
	addr "$NS_A" o0 "$NEW4_A/24"
	addr "$NS_B" o0 "$NEW4_B/24"
	ip -n "$NS_B" addr del "$OUT4_B/$OUT4_PFX" dev o0 || fail "remove B's old address"
	ip -n "$NS_B" route replace "$OUT4_A/32" dev o0 src "$NEW4_B" || fail "route to A via the new address"
	wgn "$NS_B" set "$IF_B" listen-port "$NEW_PORT2" || fail "wg set listen-port on B"
	assert "one ping B->A after the address change is answered" ping_all "$NS_B" "$IN4_A" 1
	assert "A's endpoint followed to $NEW4_B:$NEW_PORT2" ep_is "$NEW4_B:$NEW_PORT2"
	assert "ping A->B works at the new address" ping_all "$NS_A" "$IN4_B" 3
	assert "ping B->A works at the new address" ping_all "$NS_B" "$IN4_A" 3
	# A now has two addresses; B keeps sending to the first. A must answer
	# from the address B sent to, as wireguard-go and the kernel do (they
	# remember the local address per peer), or B roams to A's other address.
	# Checked at the end, so that the roaming checks above and below run first.
	local sticky
	sticky=$(endpoint_of "$NS_B" "$IF_B" "$(pub a)")
	cap_stop hs
	n=$(cap_count hs "src host $NEW4_B and udp[8] = 4")
	assert "captured $n data messages from B's new address" [ "$n" -ge 3 ]

	# 3. Unauthenticated packets from yet another address change nothing.
	addr "$NS_B" o0 "$EVIL4/24"
	ep="$NEW4_B:$NEW_PORT2"
	cap_start evil "$NS_A" o0 "udp and host $EVIL4"
	ip netns exec "$NS_B" "$PYTHON" "$WGTOOL" fuzz --src "$EVIL4" --dst "$OUT4_A" --port "$PORT_A" --count 500 \
		|| fail "sending random datagrams"
	assert "random datagrams from $EVIL4: endpoint unchanged" ep_is "$ep"
	ip netns exec "$NS_B" "$PYTHON" "$WGTOOL" replay --pcap "${CAP_FILE[hs]}" --src "$EVIL4" \
		--dst "$OUT4_A" --port "$PORT_A" --types 4 --forge || fail "sending forged data messages"
	assert "forged data messages (bad tag) from $EVIL4: endpoint unchanged" ep_is "$ep"
	ip netns exec "$NS_B" "$PYTHON" "$WGTOOL" replay --pcap "${CAP_FILE[hs]}" --src "$EVIL4" \
		--dst "$OUT4_A" --port "$PORT_A" --types 4 || fail "replaying data messages"
	assert "replayed authentic data messages from $EVIL4: endpoint unchanged" ep_is "$ep"
	ip netns exec "$NS_B" "$PYTHON" "$WGTOOL" replay --pcap "${CAP_FILE[hs]}" --src "$EVIL4" \
		--dst "$OUT4_A" --port "$PORT_A" --types 1,2 || fail "replaying handshake messages"
	assert "replayed handshake messages from $EVIL4: endpoint unchanged" ep_is "$ep"
	sleep 0.5
	assert "still unchanged half a second later" ep_is "$ep"
	assert "ping A->B still reaches B at $ep" ping_all "$NS_A" "$IN4_B" 3
	cap_stop evil
	n=$(cap_count evil "src host $EVIL4 and udp")
	assert "control: the capture saw the packets from $EVIL4 ($n)" [ "$n" -ge 500 ]
	n=$(cap_count evil "src host $OUT4_A and udp")
	assert "A sent nothing to $EVIL4 (sent $n)" [ "$n" -eq 0 ]

	# 4. Address only, as a NAT rebinding shows it: B's packets leave with
	# source 203.0.113.2 (same port) through a SNAT rule in B's namespace.
	addr "$NS_A" o0 "$NAT4_A/24"
	addr "$NS_B" o0 "$NAT4_B/24"
	need_cmd nft
	ip netns exec "$NS_B" nft -f - <<-EOF || fail "nft snat rule in B's namespace"
		table ip roam {
			chain post {
				type nat hook postrouting priority srcnat; policy accept;
				udp sport $NEW_PORT2 udp dport $PORT_A snat to $NAT4_B
			}
		}
	EOF
	assert "one ping B->A after the NAT rebinding is answered" ping_all "$NS_B" "$IN4_A" 1
	assert "A's endpoint followed to $NAT4_B:$NEW_PORT2" ep_is "$NAT4_B:$NEW_PORT2"
	assert "ping A->B works through the rebinding" ping_all "$NS_A" "$IN4_B" 3
	assert "A answered B from the address B sent to (B's endpoint for A stayed $OUT4_A:$PORT_A, is $sticky)" \
		[ "$sticky" = "$OUT4_A:$PORT_A" ]
	assert "both daemons still running" eval 'daemon_alive "$IF_A" && daemon_alive "$IF_B"'
}

run_pairings run
