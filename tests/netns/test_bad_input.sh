#!/usr/bin/env bash
# Bad input against both daemons of an established session:
#  - a few thousand random, truncated, oversized and mistyped UDP datagrams of
#    every message type (including the exact sizes 148/92/64/32 and data
#    messages carrying the live session's receiver index), over IPv4 and IPv6;
#  - every captured handshake and data message replayed, three times;
#  - garbage on the UAPI socket (random bytes, overlong lines, unknown keys,
#    out-of-range numbers), each bad `set` answered with a non-zero errno.
# Afterwards: both daemons run, their configuration (keys, port, peers) and
# their latest handshake are unchanged (a replayed initiation must not start a
# new session), pings flow both ways, and vpnd's dropped-packet counter grew.
. "$(dirname "$0")/lib.sh"

FUZZ_COUNT=${FUZZ_COUNT:-3000}

# vpnd's dropped-packet counter: the total "rx_dropped" of its "stats=1" UAPI
# extension (vpnd/uapisock.c). Override the name with VPND_DROP_COUNTER_KEY.
VPND_DROP_COUNTER_KEY=${VPND_DROP_COUNTER_KEY:-rx_dropped}
drop_counter() { vpnd_stat "$1" "$VPND_DROP_COUNTER_KEY"; }

# snapshot NS IF PEER: what must not change.
snapshot() {
	printf 'pub=%s port=%s peers=%s hs=%s\n' "$(wgn "$1" show "$2" public-key)" \
		"$(wgn "$1" show "$2" listen-port)" "$(wgn "$1" show "$2" peers | sort | tr '\n' ,)" \
		"$(latest_hs "$1" "$2" "$3")"
}

# session_index PCAP DSTADDR DSTPORT: receiver index (hex) of data messages
# sent to DSTADDR:DSTPORT, i.e. that daemon's own index for the session.
session_index() {
	"$PYTHON" "$WGTOOL" pcap-list "$1" | awk -v d="$2" -v p="$3" \
		'$3 == d && $4 == p && $5 == "type=4" { sub(/^idx=/, "", $7); i = $7 } END { if (i == "") exit 1; print i }'
}

attack() { # NS_FROM SRC4 SRC6 DST4 DST6 PORT INDEX IFNAME PEERPUB
	local ns=$1 s4=$2 s6=$3 d4=$4 d6=$5 port=$6 idx=$7 ifn=$8 peer=$9
	ip netns exec "$ns" "$PYTHON" "$WGTOOL" fuzz --src "$s4" --dst "$d4" --port "$port" \
		--count "$FUZZ_COUNT" --index "$idx" || fail "fuzzing $d4:$port"
	ip netns exec "$ns" "$PYTHON" "$WGTOOL" fuzz --src "$s6" --dst "$d6" --port "$port" \
		--count $((FUZZ_COUNT / 3)) --index "$idx" || fail "fuzzing [$d6]:$port"
	ip netns exec "$ns" "$PYTHON" "$WGTOOL" replay --pcap "${CAP_FILE[hs]}" --src "$s4" \
		--dst "$d4" --port "$port" --repeat 3 || fail "replaying to $d4:$port"
	"$PYTHON" "$WGTOOL" uapi-garbage --sock "$RUN_DIR/$ifn.sock" --peer "$peer" \
		|| fail "$ifn: UAPI answers to garbage differ from wireguard-go's"
}

run() {
	local idx_a idx_b snap_a snap_b d0_a d0_b d1 n
	setup_pair
	cap_start hs "$NS_A" o0 "udp"
	peer_pair 4 0
	wait_ping "$NS_A" "$IN4_B" 10 || fail "no handshake within 10 s"
	assert "A->B works" ping_all "$NS_A" "$IN4_B" 3
	assert "B->A works" ping_all "$NS_B" "$IN4_A" 3
	cap_stop hs
	n=$(cap_count hs "udp[8] = 1 or udp[8] = 2")
	assert "captured the handshake ($n messages)" [ "$n" -ge 2 ]
	idx_a=$(session_index "${CAP_FILE[hs]}" "$OUT4_A" "$PORT_A") || fail "no data message to A in the capture"
	idx_b=$(session_index "${CAP_FILE[hs]}" "$OUT4_B" "$PORT_B") || fail "no data message to B in the capture"

	sleep 1.1   # so that a new handshake would show in latest-handshakes
	snap_a=$(snapshot "$NS_A" "$IF_A" "$(pub b)")
	snap_b=$(snapshot "$NS_B" "$IF_B" "$(pub a)")
	if is_vpnd "$IMPL_A"; then d0_a=$(drop_counter "$IF_A") || fail "$IF_A: no $VPND_DROP_COUNTER_KEY in vpnd's stats=1 reply"; fi
	if is_vpnd "$IMPL_B"; then d0_b=$(drop_counter "$IF_B") || fail "$IF_B: no $VPND_DROP_COUNTER_KEY in vpnd's stats=1 reply"; fi

	attack "$NS_B" "$OUT4_B" "$OUT6_B" "$OUT4_A" "$OUT6_A" "$PORT_A" "$idx_a" "$IF_A" "$(pub b)"
	attack "$NS_A" "$OUT4_A" "$OUT6_A" "$OUT4_B" "$OUT6_B" "$PORT_B" "$idx_b" "$IF_B" "$(pub a)"
	sleep 0.5

	assert "$IMPL_A on A still running" daemon_alive "$IF_A"
	assert "$IMPL_B on B still running" daemon_alive "$IF_B"
	assert "wg show works on A" eval 'wgn "$NS_A" show "$IF_A" >/dev/null'
	assert "wg show works on B" eval 'wgn "$NS_B" show "$IF_B" >/dev/null'
	assert "A: key, port, peers and latest handshake unchanged" [ "$(snapshot "$NS_A" "$IF_A" "$(pub b)")" = "$snap_a" ]
	assert "B: key, port, peers and latest handshake unchanged" [ "$(snapshot "$NS_B" "$IF_B" "$(pub a)")" = "$snap_b" ]
	assert "A->B still works (IPv4)" ping_all "$NS_A" "$IN4_B" 3
	assert "B->A still works (IPv4)" ping_all "$NS_B" "$IN4_A" 3
	assert "A->B still works (IPv6)" ping_all "$NS_A" "$IN6_B" 3
	if is_vpnd "$IMPL_A"; then
		d1=$(drop_counter "$IF_A") || fail "$IF_A: no $VPND_DROP_COUNTER_KEY in vpnd's stats=1 reply"
		assert "vpnd on A counted dropped packets ($d0_a -> $d1)" [ $((d1 - d0_a)) -ge $((FUZZ_COUNT / 2)) ]
	fi
	if is_vpnd "$IMPL_B"; then
		d1=$(drop_counter "$IF_B") || fail "$IF_B: no $VPND_DROP_COUNTER_KEY in vpnd's stats=1 reply"
		assert "vpnd on B counted dropped packets ($d0_b -> $d1)" [ $((d1 - d0_b)) -ge $((FUZZ_COUNT / 2)) ]
	fi
	validation_only && note "no vpnd end: the dropped-packet counter check did not run"
	return 0
}

run_pairings run
