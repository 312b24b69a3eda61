#!/usr/bin/env bash
# A flood of handshake initiations with a valid MAC1 (and no MAC2) puts the
# daemon under load: it must answer with cookie replies (type 3, 64 bytes,
# addressed to the flood's sender indexes; seen both by the flooder and by
# tcpdump), and the established session keeps carrying traffic meanwhile.
# The flood ramps up from 5000 initiations/s until the daemon is under load
# (whatever its threshold), then holds that rate while 30 pings cross.
# Each daemon of the pairing is flooded in turn.
. "$(dirname "$0")/lib.sh"

FLOOD_SECONDS=${FLOOD_SECONDS:-5}
PINGS=30            # at 0.1 s, while the flood runs
MIN_ANSWERED=27     # 90%: one UDP socket carries both the flood and the session
# vpnd's limit per source under load (RATELIMITER_PACKETS_BURST + _PER_SECOND
# a second, vpnd/ratelimiter.h), over the flood and its drain.
COOKIE_CAP=$((5 + 20 * (FLOOD_SECONDS + 2)))

# flood_at NAME TARGET_NS TARGET_ADDR TARGET_PORT TARGET_PUBNAME FROM_NS FROM_ADDR
flood_at() {
	local name=$1 tns=$2 taddr=$3 tport=$4 tpub=$5 fns=$6 faddr=$7 fpid got out cookies n
	local tif c0=0 c1
	tif=$([ "$name" = A ] && echo "$IF_A" || echo "$IF_B")
	if is_vpnd "${DAEMON_IMPL[$tif]}"; then
		c0=$(vpnd_stat "$tif" cookies_sent) || fail "$tif: no cookies_sent in vpnd's stats=1 reply"
	fi
	cap_start "cookie$name" "$tns" o0 "udp and src host $taddr and src port $tport and dst host $faddr"
	ip netns exec "$fns" "$PYTHON" "$WGTOOL" flood --src "$faddr" --dst "$taddr" --port "$tport" \
		--pubkey "$(pub "$tpub")" --duration "$FLOOD_SECONDS" --ramp >"$WORK/flood$name.out" 2>&1 &
	fpid=$!
	HELPER_PIDS+=("$fpid")
	# The flooder doubles its rate until the first cookie reply shows the
	# daemon is under load, then holds that rate: measure from then on.
	wait_for "grep -q 'under load' '$WORK/flood$name.out'" "$FLOOD_SECONDS" \
		|| fail "$name: no cookie reply within $FLOOD_SECONDS s of flooding: $(cat "$WORK/flood$name.out")"
	# The session's traffic, across the flooded daemon, while the flood runs.
	got=$(ping_count "$fns" "$([ "$name" = A ] && echo "$IN4_A" || echo "$IN4_B")" $PINGS 0.1 2)
	wait "$fpid" || fail "flooder failed: $(cat "$WORK/flood$name.out")"
	cap_stop "cookie$name"
	out=$(cat "$WORK/flood$name.out")
	note "$name: $(tr "\n" " " <<<"$out")"
	cookies=$(grep -oE 'cookie_replies_matching=[0-9]+' <<<"$out" | cut -d= -f2)
	n=$(cap_count "cookie$name" "udp[8] = 3 and udp[4:2] = 72")
	assert "$name: the flooder received cookie replies to its own initiations (${cookies:-0})" [ "${cookies:-0}" -ge 1 ]
	assert "$name: tcpdump saw 64-byte type-3 cookie replies from the daemon ($n)" [ "$n" -ge 1 ]
	n=$(cap_count "cookie$name" "udp[8] = 2")
	assert "$name: no handshake response was sent for the flood's initiations ($n)" [ "$n" -eq 0 ]
	assert "$name: session carried traffic during the flood ($got/$PINGS pings answered)" [ "$got" -ge $MIN_ANSWERED ]
	assert "$name: daemon still running" daemon_alive "$tif"
	if is_vpnd "${DAEMON_IMPL[$tif]}"; then
		c1=$(vpnd_stat "$tif" cookies_sent) || fail "$tif: no cookies_sent in vpnd's stats=1 reply"
		assert "$name: vpnd's cookies_sent counter grew ($c0 -> $c1)" [ "$c1" -gt "$c0" ]
		# One flooding address earns at most the rate limiter's burst and
		# rate in cookie replies, not one per initiation.
		assert "$name: vpnd sent the flood's one source at most $COOKIE_CAP cookie replies ($((c1 - c0)))" \
			[ $((c1 - c0)) -le "$COOKIE_CAP" ]
	fi
	assert "$name: session still works after the flood" ping_all "$NS_A" "$IN4_B" 3
}

run() {
	setup_pair
	peer_pair 4 0
	wait_ping "$NS_A" "$IN4_B" 10 || fail "no handshake within 10 s"
	assert "A->B works before the flood" ping_all "$NS_A" "$IN4_B" 3
	flood_at A "$NS_A" "$OUT4_A" "$PORT_A" a "$NS_B" "$OUT4_B"
	flood_at B "$NS_B" "$OUT4_B" "$PORT_B" b "$NS_A" "$OUT4_A"
}

run_pairings run
