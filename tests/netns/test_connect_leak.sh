#!/bin/bash
# test_connect_leak.sh: after `vpnctl up`, nothing but the tunnel's UDP
# leaves on the client's physical link, also once routes 0.0.0.0/1,
# 128.0.0.0/1 and more specific ones are pushed into the main table via the
# physical gateway (a rogue DHCP server's option 121, "TunnelVision").
#
# For two profiles (IPv4 only with kill_switch = off, so that policy routing
# alone must hold; IPv4 + IPv6 with the default kill switch):
#   - two captures on the client's physical link while traffic runs: the
#     leak capture, `not (udp and host SERVER and port PORT)` minus link
#     noise (see LINK_NOISE in connect_lib.sh), must stay empty; the control
#     capture, the tunnel's UDP, must not (so the capture works);
#   - traffic: ping, TCP download, UDP echo and DNS to the internet hosts
#     (which must work), and attempts that must not leave outside the
#     tunnel: DNS/UDP/TCP to the original LAN resolver and another LAN host,
#     ping to the server's own physical address, IPv6 to the internet host;
#   - `ip route get` of the internet host resolves to the tunnel (IPv6: to
#     the tunnel, or unreachable without an IPv6 tunnel address);
#   - then the hostile routes go into the main table and all of it again;
#   - `vpnctl down` leaves the hostile routes (they are not vpnd's), and
#     then the same leak capture does see direct traffic (negative control).
CL_TAG=l
. "$(dirname "$0")/connect_lib.sh"

prereqs
keys
topology
write_helpers
start_internet
write_servers "$WORK/servers.conf"
write_server_conf "$WORK/server.conf"
start_vpnd_server "$WORK/server.conf"

LEAK_FILTER="not (udp and host $S_ADDR and port $PORT) and not ($LINK_NOISE)"
TUNNEL_FILTER="udp and host $S_ADDR and port $PORT"
HOSTILE4="0.0.0.0/1 128.0.0.0/1 198.51.100.0/24 $INET/32 $INET_DNS/32"
HOSTILE6="::/1 8000::/1 2001:db8:2::/64"

hostile_routes() { # add|del
	local r
	for r in $HOSTILE4; do ip -n "$NS_C" route "$1" "$r" via "$GW" dev "$C_PHYS" || return 1; done
	for r in $HOSTILE6; do ip -n "$NS_C" -6 route "$1" "$r" via "$S_ADDR6" dev "$C_PHYS" || return 1; done
}

routes_to_tunnel() { # LABEL V6
	local label=$1 v6=$2 h r
	for h in $INET $INET_DNS $LAN_DNS $S_ADDR; do
		r=$(ip -n "$NS_C" route get "$h" 2>&1 | head -1)
		check "$label: ip route get $h -> dev $IF_C ($r)" sh -c "printf '%s' '$r' | grep -q 'dev $IF_C '"
	done
	r=$(ip -n "$NS_C" -6 route get "$INET6" 2>&1 | head -1)
	if [ "$v6" = 1 ]; then
		check "$label: ip -6 route get $INET6 -> dev $IF_C ($r)" sh -c "printf '%s' '$r' | grep -q 'dev $IF_C '"
	else
		check "$label: ip -6 route get $INET6 is unreachable, not the physical link ($r)" \
			sh -c "printf '%s' '$r' | grep -qv 'dev $C_PHYS' && printf '%s' '$r' | grep -Eqi 'unreachable|prohibit|blackhole|Network is|No route to host'"
	fi
	# Informational: the daemon's own marked socket still reaches the server.
	note "$label: marked route to the endpoint: $(ip -n "$NS_C" route get $S_ADDR mark 0x5670 2>&1 | head -1)"
}

leak_round() { # LABEL V6
	local label=$1 v6=$2
	capture_start leak "$LEAK_FILTER"
	capture_start tun "$TUNNEL_FILTER"
	# The second profile leaves kill_switch at its default, on.
	case $label in
	*kill_switch=off*) KILL_SWITCH=off traffic_v4 "$label" ;;
	*) KILL_SWITCH=on traffic_v4 "$label" ;;
	esac
	check "$label: ping the server's physical address $S_ADDR (through the tunnel)" \
		quiet in_c ping -c 2 -i 0.2 -W 2 -q $S_ADDR
	probe spray "$LAN_DNS" 192.0.2.77 "$TUN_S" "$INET" "$INET6" 2001:db8:1::53 >/dev/null 2>&1
	quiet in_c ping -6 -c 2 -i 0.2 -W 1 "$INET6"
	quiet in_c ping -c 1 -W 1 192.0.2.77
	capture_stop tun
	check "$label: control capture sees the tunnel's UDP ($CAP_COUNT packets)" test "$CAP_COUNT" -gt 10
	capture_stop leak
	if [ "$CAP_COUNT" = 0 ]; then
		ok "$label: nothing else on the physical link (0 packets outside the tunnel's UDP)"
	else
		bad "$label: $CAP_COUNT packets left outside the tunnel:"
		printf '%s\n' "$CAP_TEXT" | head -20 | sed 's/^/    /'
	fi
}

variant() { # LABEL PROFILE V6
	local label=$1 prof=$2 v6=$3
	say "--- profile $label"
	ctl up -c "$prof" -i "$IF_C"
	check "$label: vpnctl up exits 0 ($CTL_OUT$CTL_ERR)" test "$CTL_RC" = 0 || return 1
	routes_to_tunnel "$label" "$v6"
	leak_round "$label" "$v6"

	check "$label: hostile routes added to the main table via the physical gateway" hostile_routes add
	note "$label: main table now: $(ip -n "$NS_C" route show table main | tr '\n' '|')"
	routes_to_tunnel "$label+hostile routes" "$v6"
	leak_round "$label+hostile routes" "$v6"
	ctl status --json -i "$IF_C"
	contains "$label+hostile routes: still connected" "$CTL_OUT" '"state":"connected"'

	ctl down -i "$IF_C"
	check "$label: vpnctl down exits 0" test "$CTL_RC" = 0
	wait_for "! client_pid" 5
	check "$label: down left the hostile routes alone (they are not vpnd's)" \
		sh -c "ip -n $NS_C route show 0.0.0.0/1 | grep -q via && ip -n $NS_C -6 route show ::/1 | grep -q via"
	# Negative control: with the tunnel down, the same leak capture does
	# see traffic to the internet host (so an empty capture above means
	# something).
	capture_start leak "$LEAK_FILTER"
	quiet in_c ping -c 2 -i 0.2 -W 1 "$INET"
	capture_stop leak
	check "$label: after down, the leak capture does catch direct traffic ($CAP_COUNT packets)" test "$CAP_COUNT" -gt 0
	hostile_routes del
	check "$label: after down, $INET is reached over the physical link again" \
		sh -c "ip -n $NS_C route get $INET | grep -q 'dev $C_PHYS '"
}

write_profile "$WORK/client4.conf" "$TUN_C/32" "kill_switch = off"
write_profile "$WORK/client46.conf" "$TUN_C/32, $TUN_C6/128"
variant "ipv4/kill_switch=off" "$WORK/client4.conf" 0
variant "ipv4+ipv6/kill_switch=default" "$WORK/client46.conf" 1
finish
