#!/bin/bash
# test_connect_updown.sh: `vpnctl up` then `vpnctl down` against a vpnd server
# (server.conf with nat) leaves the client namespace exactly as it was.
#
# Two profiles: IPv4 only with kill_switch = off, and IPv4 + IPv6 with the
# default kill switch and an explicit MTU. For each:
#   - snapshot of the client namespace (see snapshot() in connect_lib.sh:
#     links, addresses, routes of every table, rules, nftables, IP sysctls,
#     resolv.conf mode and bytes, /etc/netns/NS); the tunnel interface does
#     not exist before `up` (vpnctl starts vpnd) and must not after `down`
#     (vpnd exits), so the dumps are compared whole, byte for byte;
#   - `vpnctl up` prints the server, endpoint, addresses and time;
#   - `vpnctl status` and `status --json`: connected, endpoint, a recent
#     handshake, bytes each way;
#   - resolv.conf names the tunnel resolver while up;
#   - ping, TCP download, UDP and DNS to the internet host through the tunnel
#     (and IPv6 with the IPv6 profile);
#   - `vpnctl down`: the snapshot and resolv.conf are back byte for byte, no
#     daemon, interface, socket or backup file is left.
# Then the vpnd server is stopped: its namespace is back as before it started
# (nftables table removed, forwarding restored).
CL_TAG=u
. "$(dirname "$0")/connect_lib.sh"

prereqs
keys
topology
write_helpers
start_internet
write_servers "$WORK/servers.conf"
write_server_conf "$WORK/server.conf"

snapshot "$NS_S" >"$WORK/server.before"
start_vpnd_server "$WORK/server.conf"
check "server: masquerade table present while running" \
	sh -c "ip netns exec $NS_S nft list ruleset | grep -q 'masquerade'"

# status_json KEY: a member of the last `status --json` (arrays joined by ",").
json_get() {
	"$PYTHON" -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print(",".join(v) if isinstance(v,list) else ("" if v is None else v))' \
		"$CTL_OUT" "$1" 2>/dev/null
}

# up_fast LABEL: the time `vpnctl up` reports is under UP_MAX s. On a veth
# with no loss the first handshake takes milliseconds; REKEY_TIMEOUT is 5 s,
# so an up of 5 s or more means the first handshake was lost.
UP_MAX=2
up_fast() {
	local s
	s=$(printf '%s' "$CTL_OUT" | sed -n 's/.* in \([0-9.]*\) s;.*/\1/p')
	check "$1: up reports ${s:-no time} s, under $UP_MAX s (a lost first handshake costs 5 s)" \
		awk -v s="${s:-99}" -v m=$UP_MAX 'BEGIN { exit !(s < m) }'
}

cycle() { # LABEL PROFILE ADDRESSES V6(0|1) KILL_SWITCH_NAME
	local label=$1 prof=$2 addrs=$3 v6=$4 ks=$5 t pid hs now rx tx rx2 tx2
	say "--- profile $label"
	snapshot "$NS_C" >"$WORK/client.before"
	in_c cat /etc/resolv.conf >"$WORK/resolv.before"

	t=$(date +%s.%N)
	ctl up -c "$prof" -i "$IF_C"
	note "vpnctl up took $(elapsed "$t") s: $CTL_OUT"
	[ -n "$CTL_ERR" ] && note "vpnctl up stderr: $CTL_ERR"
	check "$label: vpnctl up exits 0 (got $CTL_RC)" test "$CTL_RC" = 0 || return 1
	# The first cycle is this state directory's first run: a healthy
	# connect says nothing at error level (issue 9).
	check_not "$label: up prints no ERROR line" \
		sh -c 'printf "%s\n" "$1" | grep -q ERROR' _ "$CTL_OUT$CTL_ERR"
	contains "$label: up prints server, endpoint, addresses and time" "$CTL_OUT" \
		"connected to $SERVER_ID ($S_ADDR:$PORT) in " " s; addresses $addrs"
	up_fast "$label"
	pid=$(client_pid)
	check "$label: vpnd client daemon runs in the client namespace (pid ${pid:-none})" test -n "$pid"
	check "$label: control socket $RUNDIR/$IF_C.sock exists" test -S "$RUNDIR/$IF_C.sock"

	ctl status -i "$IF_C"
	check "$label: vpnctl status exits 0" test "$CTL_RC" = 0
	contains "$label: status shows connected, server, endpoint, addresses, handshake, transfer, kill switch" \
		"$CTL_OUT" "interface:" "$IF_C" "state:" "connected" "server:" "$SERVER_ID" \
		"endpoint:" "$S_ADDR:$PORT" "addresses:" "$addrs" "latest handshake:" " second" \
		"transfer:" "received" "sent" "kill switch:" "$ks"
	ctl status --json -i "$IF_C"
	check "$label: status --json exits 0" test "$CTL_RC" = 0
	check "$label: status --json is one JSON object" "$PYTHON" -c 'import json,sys; assert isinstance(json.loads(sys.argv[1]),dict)' "$CTL_OUT"
	check "$label: json state connected" test "$(json_get state)" = connected
	check "$label: json interface $IF_C" test "$(json_get interface)" = "$IF_C"
	check "$label: json server $SERVER_ID" test "$(json_get server)" = "$SERVER_ID"
	check "$label: json endpoint $S_ADDR:$PORT" test "$(json_get endpoint)" = "$S_ADDR:$PORT"
	check "$label: json address [$addrs]" test "$(json_get address)" = "${addrs//, /,}"
	check "$label: json kill_switch $ks" test "$(json_get kill_switch)" = "$ks"
	hs=$(json_get latest_handshake); now=$(date +%s)
	check "$label: json latest_handshake is recent ($hs, now $now)" \
		test "${hs:-0}" -gt $((now - 30)) -a "${hs:-0}" -le $((now + 1))
	tx=$(json_get tx_bytes); rx=$(json_get rx_bytes)
	check "$label: json tx_bytes ($tx) and rx_bytes ($rx) are non-zero after the handshake" \
		test "${tx:-0}" -gt 0 -a "${rx:-0}" -gt 0

	ctl servers --json -i "$IF_C"
	contains "$label: servers --json (from the daemon) lists both servers with country and city" "$CTL_OUT" \
		"\"server\":\"$SERVER_ID\"" '"country":"se"' '"city":"Stockholm"' "\"endpoint\":\"$S_ADDR:$PORT\"" \
		'"server":"wg-go-01"' '"city":"Frankfurt; am Main"'

	check "$label: resolv.conf names the tunnel resolver $TUN_S while up" \
		sh -c "ip netns exec $NS_C cat /etc/resolv.conf | grep -qx 'nameserver $TUN_S'"
	check "$label: resolv.conf no longer names the LAN resolver while up" \
		sh -c "! ip netns exec $NS_C grep -q '$LAN_DNS' /etc/resolv.conf"
	check "$label: ip route get $INET resolves to the tunnel" \
		sh -c "ip -n $NS_C route get $INET | grep -q 'dev $IF_C '"

	if [ "$ks" = off ]; then
		check "$label: no kill-switch table while up with kill_switch=off" \
			sh -c "! ip netns exec $NS_C nft list table inet vpnd_killswitch >/dev/null 2>&1"
	else
		check "$label: the kill-switch table is in the kernel while up" \
			sh -c "ip netns exec $NS_C nft list table inet vpnd_killswitch | grep -q 'meta mark 0x00005670'"
	fi
	KILL_SWITCH=$ks traffic_v4 "$label"
	[ "$v6" = 1 ] && traffic_v6 "$label"

	ctl status --json -i "$IF_C"
	rx2=$(json_get rx_bytes); tx2=$(json_get tx_bytes)
	check "$label: rx_bytes grew by at least the 2 MiB download ($rx -> $rx2)" \
		test "${rx2:-0}" -ge $((${rx:-0} + 2097152))
	check "$label: tx_bytes grew ($tx -> $tx2)" test "${tx2:-0}" -gt "${tx:-0}"
	ctl status -i "$IF_C"
	note "status after traffic: $(printf '%s' "$CTL_OUT" | tr '\n' '|' | tr -s ' ')"

	t=$(date +%s.%N)
	ctl down -i "$IF_C"
	note "vpnctl down took $(elapsed "$t") s"
	check "$label: vpnctl down exits 0 (got $CTL_RC${CTL_ERR:+: $CTL_ERR})" test "$CTL_RC" = 0
	contains "$label: down prints disconnected" "$CTL_OUT" "disconnected"
	check "$label: the client daemon has exited" wait_for "! pid_is $pid $IF_C" 5
	check "$label: the tunnel interface is gone" sh -c "! ip -n $NS_C link show $IF_C 2>/dev/null"
	snapshot "$NS_C" >"$WORK/client.after"
	in_c cat /etc/resolv.conf >"$WORK/resolv.after"
	same_snapshot "$label: client namespace after down equals before (routes, rules, addresses, links, nftables, sysctls, resolv.conf)" \
		"$WORK/client.before" "$WORK/client.after"
	check "$label: resolv.conf restored byte for byte" cmp "$WORK/resolv.before" "$WORK/resolv.after"
	check "$label: VPND_RUNDIR is empty after down (no socket, no backup)$(ls -A "$RUNDIR" | tr '\n' ' ' | sed 's/^./: &/')" \
		test -z "$(ls -A "$RUNDIR")"
	check "$label: no UAPI socket left" test ! -e "/var/run/wireguard/$IF_C.sock"
	check "$label: no temporary file left beside resolv.conf" \
		sh -c "! ip netns exec $NS_C ls /etc/resolv.conf.vpnd-tmp 2>/dev/null"

	ctl status -i "$IF_C"
	check "$label: status after down exits 0" test "$CTL_RC" = 0
	contains "$label: status after down says disconnected" "$CTL_OUT" "disconnected"
	ctl down -i "$IF_C"
	check "$label: a second down exits 3 (not running; got $CTL_RC)" test "$CTL_RC" = 3
}

write_profile "$WORK/client4.conf" "$TUN_C/32" "kill_switch = off"
write_profile "$WORK/client46.conf" "$TUN_C/32, $TUN_C6/128" "mtu = 1380"
cycle "ipv4/kill_switch=off" "$WORK/client4.conf" "$TUN_C/32" 0 off
cycle "ipv4+ipv6/kill_switch=default" "$WORK/client46.conf" "$TUN_C/32, $TUN_C6/128" 1 on

say "--- up latency: up to 10 more up/down cycles"
for i in 1 2 3 4 5 6 7 8 9 10; do
	ctl up -c "$WORK/client4.conf" -i "$IF_C"
	[ "$CTL_RC" = 0 ] || { bad "latency cycle $i: up exits $CTL_RC: $CTL_ERR"; break; }
	up_fast "latency cycle $i" || break
	ctl down -i "$IF_C"
	[ "$CTL_RC" = 0 ] || { bad "latency cycle $i: down exits $CTL_RC: $CTL_ERR"; break; }
done
ctl down -i "$IF_C"
wait_for "! client_pid" 5

say "--- server"
check "server: vpnd server stops on SIGTERM" stop_vpnd_server
snapshot "$NS_S" >"$WORK/server.after"
same_snapshot "server: namespace after the server exits equals before it started (nftables table gone, forwarding restored)" \
	"$WORK/server.before" "$WORK/server.after"
finish
