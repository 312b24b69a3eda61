#!/bin/bash
# test_connect_wggo.sh: the vpnd client connects to a wireguard-go server as
# well as to a vpnd server.
#
#   1. wireguard-go in the server namespace, configured with `wg set` and
#      `ip`, forwarding and an nftables masquerade set up by this test:
#      `vpnctl up wg-go-01`, status, ping/TCP/UDP/DNS to the internet host,
#      the server sees the handshake, `vpnctl down`, the client namespace is
#      as before;
#   2. wireguard-go stopped, a vpnd server (server.conf with nat) in its
#      place: `vpnctl up` (the profile's server), the same traffic, `down`.
CL_TAG=g
. "$(dirname "$0")/connect_lib.sh"

prereqs
command -v "$WG_GO" >/dev/null 2>&1 || die "prerequisite missing: wireguard-go ($WG_GO)"
keys
topology
write_helpers
start_internet
write_servers "$WORK/servers.conf"
write_server_conf "$WORK/server.conf"
write_profile "$WORK/client.conf" "$TUN_C/32" "kill_switch = off"

# connect LABEL SERVER-ID ENDPOINT IFNAME-ON-SERVER [vpnctl up args...]
connect() {
	local label=$1 id=$2 ep=$3 sif=$4 hs
	shift 4
	snapshot "$NS_C" >"$WORK/client.before"
	ctl up "$@" -c "$WORK/client.conf" -i "$IF_C"
	check "$label: vpnctl up exits 0 (got $CTL_RC: $CTL_ERR)" test "$CTL_RC" = 0 || return 1
	contains "$label: up names $id and $ep" "$CTL_OUT" "connected to $id ($ep) in "
	ctl status --json -i "$IF_C"
	contains "$label: status --json: connected to $id at $ep" "$CTL_OUT" \
		'"state":"connected"' "\"server\":\"$id\"" "\"endpoint\":\"$ep\""
	hs=$(in_s wg show "$sif" latest-handshakes | awk '{ print $2 }')
	check "$label: the server ($sif) saw a handshake from the client (latest $hs)" test "${hs:-0}" -gt 0
	traffic_v4 "$label"
	ctl down -i "$IF_C"
	check "$label: vpnctl down exits 0" test "$CTL_RC" = 0
	check "$label: the client daemon has exited" wait_for "! client_pid" 5
	snapshot "$NS_C" >"$WORK/client.after"
	same_snapshot "$label: client namespace after down equals before" "$WORK/client.before" "$WORK/client.after"
}

say "--- wireguard-go server"
printf '%s\n' "$KG" >"$WORK/wggo.key"
ip netns exec "$NS_S" "$WG_GO" -f "$IF_G" >"$WORK/wggo.log" 2>&1 </dev/null &
WGGO_PID=$!
HELPERS+=("$WGGO_PID:$IF_G")
wait_for "in_s wg show $IF_G" 10 || die "wireguard-go did not start: $(tail -5 "$WORK/wggo.log")"
in_s wg set "$IF_G" private-key "$WORK/wggo.key" listen-port $PORT_G \
	peer "$PC" allowed-ips "$TUN_C/32" || die "wg set on wireguard-go"
ip -n "$NS_S" addr add $TUN_S/24 dev "$IF_G" || die "address on $IF_G"
ip -n "$NS_S" link set "$IF_G" up || die "$IF_G up"
in_s sysctl -qw net.ipv4.ip_forward=1 || die "forwarding in the server namespace"
in_s nft -f - <<EOF || die "nftables masquerade"
table ip vctest_nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "$S_UP" ip saddr 10.64.0.0/24 masquerade
	}
}
EOF
connect "wireguard-go" wg-go-01 "$S_ADDR:$PORT_G" "$IF_G" wg-go-01

kill -TERM "$WGGO_PID"
wait_for "! pid_is $WGGO_PID $IF_G" 5 || bad "wireguard-go did not stop"
in_s nft delete table ip vctest_nat
in_s sysctl -qw net.ipv4.ip_forward=0

say "--- vpnd server"
start_vpnd_server "$WORK/server.conf"
connect "vpnd" "$SERVER_ID" "$S_ADDR:$PORT" "$IF_S"
finish
