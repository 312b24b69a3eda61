#!/bin/bash
# test_connect_netchange.sh: the client follows the network under it
# (issue 13), with the kill switch on.
#
#   - move: while a ping to the server's tunnel address runs, the client's
#     way out moves to a second link (cph1, a new address in another
#     subnet, the default route through it; the old address and default
#     route go): the ping is answered again within 1 s of the move, the
#     server (wg, the referee) records a new handshake and the client's
#     new endpoint, and the client's log says why it sent one;
#   - no route: the default route removed for 20 s: status says the
#     network is waiting, the daemon writes at most a handful of log lines
#     and uses almost no CPU (utime+stime from /proc/PID/stat); the route
#     back, the ping is answered again within 2 s;
#   - throughout, tcpdump on both client links sees nothing but the
#     tunnel's UDP to and from the server (and link noise), while a control
#     capture on the new link sees that UDP.
CL_TAG=n
. "$(dirname "$0")/connect_lib.sh"

C_PHYS2=cph1 S_DOWN2=sph1
C_ADDR2=198.18.0.2 GW2=198.18.0.1
WAIT_S=20

prereqs awk
keys
topology
write_servers "$WORK/servers.conf"
write_server_conf "$WORK/server.conf"
start_vpnd_server "$WORK/server.conf"
write_profile "$WORK/client.conf" "$TUN_C/32" "kill_switch = on"

# The second way out, up and settled before anything uses it.
ip link add "$C_PHYS2" netns "$NS_C" type veth peer name "$S_DOWN2" netns "$NS_S" ||
	die "second veth"
ip -n "$NS_S" addr add $GW2/24 dev $S_DOWN2
ip -n "$NS_S" link set $S_DOWN2 up
ip -n "$NS_C" link set $C_PHYS2 up
wait_for "ip -n $NS_C -6 addr show dev $C_PHYS2 scope link | grep -q fe80" 5 ||
	die "second link did not come up"

ip netns exec "$NS_C" env VPND_RUNDIR="$RUNDIR" VPND_STATEDIR="$STATEDIR" \
	LOG_LEVEL=verbose "$VPND" -f --client --up -c "$WORK/client.conf" "$IF_C" \
	>"$WORK/client.log" 2>&1 </dev/null &
CLIENT=$!
HELPERS+=("$CLIENT:$IF_C")
connected() { ctl status --json -i "$IF_C"; case $CTL_OUT in *'"state":"connected"'*) ;; *) return 1 ;; esac; }
wait_for connected 15 || { sed 's/^/    | /' "$WORK/client.log"; die "client did not connect"; }
ok "client connected, kill switch on"

server_hs() { in_s wg show "$IF_S" latest-handshakes | awk '{ print $2 }'; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$CLIENT/stat"; }
log_lines() { grep -c . "$WORK/client.log"; }
now() { date +%s.%N; }
# first_reply_after T: seconds from T to the first ping reply after it.
first_reply_after() {
	awk -v t="$1" -F'[][]' '/bytes from/ && $2 > t { printf "%.2f\n", $2 - t; exit }' "$WORK/ping.log"
}

# On the new link the server may also answer from its address there (a
# retried initiation of its own forgets which address we wrote to): that is
# its WireGuard port talking to us, not something we sent.
NOISE2="(arp and host $GW2) or (ip6 and (src net fe80::/10 or src host ::)) or
	(udp and src host $GW2 and src port $PORT)"
capture_start leak0 "not (udp and host $S_ADDR and port $PORT) and not ($LINK_NOISE)"
capture_start leak1 "not (udp and host $S_ADDR and port $PORT) and not ($NOISE2)" "$C_PHYS2"
capture_start tun1 "udp and host $S_ADDR and port $PORT" "$C_PHYS2"

ip netns exec "$NS_C" ping -D -n -i 0.1 -W 1 "$TUN_S" >"$WORK/ping.log" 2>&1 &
PING=$!
HELPERS+=("$PING:$TUN_S")
wait_for "grep -q 'bytes from' $WORK/ping.log" 5 || die "no ping through the tunnel before the move"
# The first handshake well in the past, so that a new one shows.
sleep 2
HS0=$(server_hs)

say "--- move to $C_PHYS2 ($C_ADDR2, default via $GW2)"
T_MOVE=$(now)
ip -n "$NS_C" addr add $C_ADDR2/24 dev $C_PHYS2 &&
	ip -n "$NS_C" route replace default via $GW2 dev $C_PHYS2 &&
	ip -n "$NS_C" addr del $C_ADDR/24 dev $C_PHYS || die "moving the client"
T_MOVED=$(now)
sleep 2
GAP=$(first_reply_after "$T_MOVED")
check "ping answered again ${GAP:-never} s after the move (at most 1 s)" \
	awk -v g="${GAP:-99}" 'BEGIN { exit !(g <= 1.0) }'
HS1=$(server_hs)
check "the server saw a new handshake (latest handshake $HS0 -> $HS1)" test "$HS1" -gt "$HS0"
EP=$(in_s wg show "$IF_S" endpoints | awk '{ print $2 }')
check "the server's endpoint for the client is its new address ($EP)" test "${EP%:*}" = "$C_ADDR2"
contains "the client's log says why it sent a handshake" "$(cat "$WORK/client.log")" \
	"the way to the server changed: new handshake"
note "move took $(awk -v a="$T_MOVE" -v b="$T_MOVED" 'BEGIN { printf "%.2f", b - a }') s to make"

say "--- no default route for $WAIT_S s"
sleep 1
L0=$(log_lines) C0=$(cpu_ticks)
T_OFF=$(now)
ip -n "$NS_C" route del default || die "removing the default route"
wait_for "ctl status --json -i $IF_C; case \$CTL_OUT in *'\"network\":\"waiting\"'*) ;; *) false ;; esac" 3
contains "status says the network is waiting" "$CTL_OUT" '"network":"waiting"'
sleep $WAIT_S
L1=$(log_lines) C1=$(cpu_ticks)
HZ=$(getconf CLK_TCK)
check "at most 5 log lines while waiting ($((L1 - L0)))" test $((L1 - L0)) -le 5
# Near idle: under 1% of one CPU over the wait.
check "CPU while waiting: $((C1 - C0)) ticks of 1/$HZ s in $WAIT_S s (under 1%)" \
	test $(((C1 - C0) * 100)) -le $((WAIT_S * HZ))
sed -n "$((L0 + 1)),${L1}p" "$WORK/client.log" | sed 's/^/    | /'
HS2=$(server_hs)

say "--- the default route back"
ip -n "$NS_C" route add default via $GW2 dev $C_PHYS2 || die "restoring the default route"
T_BACK=$(now)
sleep 3
GAP=$(first_reply_after "$T_BACK")
check "ping answered again ${GAP:-never} s after the route came back (at most 2 s)" \
	awk -v g="${GAP:-99}" 'BEGIN { exit !(g <= 2.0) }'
HS3=$(server_hs)
check "a new handshake after the wait ($HS2 -> $HS3)" test "$HS3" -gt "$HS2"
check "connected" connected
contains "status says the network is up" "$CTL_OUT" '"network":"up"'

kill "$PING"
capture_stop tun1
check "control capture: the tunnel's UDP on $C_PHYS2 ($CAP_COUNT packets)" test "$CAP_COUNT" -gt 10
for l in leak0 leak1; do
	capture_stop $l
	if [ "$CAP_COUNT" = 0 ]; then
		ok "$l: nothing outside the tunnel's UDP through the move, the wait and the return"
	else
		bad "$l: $CAP_COUNT packets outside the tunnel:"
		printf '%s\n' "$CAP_TEXT" | head -20 | sed 's/^/    /'
	fi
done

ctl down -i "$IF_C"
check "vpnctl down exits 0" test "$CTL_RC" = 0
finish
