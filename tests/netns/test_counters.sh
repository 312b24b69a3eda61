#!/usr/bin/env bash
# Transfer counters count every message exchanged with a peer, handshake
# messages included, as the kernel's own selftest (netns.sh) expects: on a
# fresh pair, B pings A ten times (flood mode), which starts the handshake,
# and then
#   B (initiator): rx 1372 = response 92 + 10 replies of 128
#                  tx 1428 = initiation 148 + 10 requests of 128
#                  (or 1460, when a keepalive of 32 also went out)
#   A (responder): the mirror, rx 1428|1460, tx 1372.
# A 56-byte ping is an 84-byte IPv4 packet, padded to 96, sealed into a
# 128-byte data message.  Checked on both ends of every pairing, so vpnd and
# wireguard-go face the same figures in the same run.
. "$(dirname "$0")/lib.sh"

run() {
	local rxa txa rxb txb n
	setup_pair
	peer_pair 4 0 both
	read -r rxa txa < <(peer_field "$NS_A" "$IF_A" "$(pub b)" transfer) || fail "A: no transfer line"
	read -r rxb txb < <(peer_field "$NS_B" "$IF_B" "$(pub a)" transfer) || fail "B: no transfer line"
	assert "fresh pair: all counters zero ($rxa $txa $rxb $txb)" [ "$rxa$txa$rxb$txb" = 0000 ]
	ip netns exec "$NS_B" ping -n -q -c 10 -f -W 5 "$IN4_A" >"$WORK/ping.out" 2>&1
	n=$(awk '/packets transmitted/ { for (i = 1; i <= NF; i++) if ($i ~ /^received,?$/) print $(i-1) }' "$WORK/ping.out")
	[ "${n:-0}" -gt 0 ] || fail "no reply to the flood ping B->A"
	# The last replies may still be on their way when ping gives up; the
	# ends agree once everything has landed (no keepalive is due for 10 s).
	wait_for "[ \"\$(peer_field '$NS_A' '$IF_A' '$(pub b)' transfer)\" = \"\$(peer_field '$NS_B' '$IF_B' '$(pub a)' transfer | awk '{ print \$2, \$1 }')\" ]" 3 \
		|| note "the two ends' counters do not mirror each other"
	read -r rxa txa < <(peer_field "$NS_A" "$IF_A" "$(pub b)" transfer) || fail "A: no transfer line"
	read -r rxb txb < <(peer_field "$NS_B" "$IF_B" "$(pub a)" transfer) || fail "B: no transfer line"
	log "figures: A (${IMPL_A}, responder) rx $rxa tx $txa; B (${IMPL_B}, initiator) rx $rxb tx $txb; $n of 10 replies"
	assert "all 10 flood pings answered ($(grep -E 'transmitted|rtt' "$WORK/ping.out" | tr '\n' ' '))" [ "$n" = 10 ]
	assert "B (initiator) received 1372 bytes ($rxb)" [ "$rxb" = 1372 ]
	assert "B (initiator) sent 1428 or 1460 bytes ($txb)" [ "$txb" = 1428 -o "$txb" = 1460 ]
	assert "A (responder) received what B sent ($rxa)" [ "$rxa" = "$txb" ]
	assert "A (responder) sent 1372 bytes ($txa)" [ "$txa" = 1372 ]
	assert "A has a handshake" handshake_done "$NS_A" "$IF_A" "$(pub b)"
}

run_pairings run
