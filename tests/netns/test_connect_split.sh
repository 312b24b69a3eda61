#!/bin/bash
# test_connect_split.sh: split tunneling by network (issue 10), with
# tcpdump on the client's physical link as the judge.
#
# The internet host gets a second address of each family: EX ($INET,
# $INET6) is the network a profile excludes or leaves out, IN
# (198.51.100.53, 2001:db8:2::53) the one that must stay in the tunnel.
#
#   1. exclude = EX, against a wireguard-go server and a vpnd server, kill
#      switch on: ICMP, TCP and UDP to EX (IPv4 and IPv6) are seen in plain;
#      the same to IN and DNS (to the tunnel's resolver and to EX, port 53)
#      appear only as the tunnel's UDP; vpnctl split and status say so.
#   2. include = IN, both servers: IN only as the tunnel's UDP, EX in
#      plain; status says the kill switch protects only the included ones.
#   3. run time (vpnd server): a fast ping to IN runs while `split exclude
#      del EX` and `add EX` change the set: no packet of it in plain, and
#      EX follows the change (ip route get, tcpdump).
#   4. bad input, at run time and in the profile: a bad CIDR, one covering
#      the server's endpoint or the tunnel's resolver, include while in
#      exclude mode, both keys in a profile: a clear error, and routes,
#      rules and the kill switch's table as before.
#   5. --save rewrites the profile's [split] keeping its comments.
#   6. kill switch on + SIGKILL of vpnd: EX still answers, and nothing but
#      EX is on the link.
#   7. after all that, `vpnctl down` (after a restart following the
#      SIGKILL): no split route, rule or table left.
CL_TAG=p
. "$(dirname "$0")/connect_lib.sh"

prereqs
command -v "$WG_GO" >/dev/null 2>&1 || die "prerequisite missing: wireguard-go ($WG_GO)"
keys
topology
IN4=198.51.100.53 IN6=2001:db8:2::53
# Deprecated, so that the internet host's wildcard sockets answer EX from
# EX's address, not from this one.
ip -n "$NS_I" addr add $IN6/64 dev $I_PHYS nodad preferred_lft 0 || die "second IPv6 address"
# Plain traffic is routed by the server namespace, as a home router would.
in_s sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 || die "forwarding"
write_helpers
start_internet
write_servers "$WORK/servers.conf"
write_server_conf "$WORK/server.conf"

TUN_UDP="(udp and host $S_ADDR and (port $PORT or port $PORT_G))"
EX_HOSTS="(host $INET or host $INET6)"
# IPv6 neighbour discovery with the gateway, which plain traffic to EX
# needs (from global addresses: not in LINK_NOISE).
ND="(icmp6 and (ip6[40] == 135 or ip6[40] == 136))"
# Everything on the link that is neither the tunnel, nor link noise, nor EX.
LEAK_FILTER="not $TUN_UDP and not ($LINK_NOISE) and not $ND and not $EX_HOSTS"
PLAIN_EX="$EX_HOSTS and not $TUN_UDP"
PLAIN_IN="(host $IN4 or host $IN6)"

profile() { # FILE SPLIT-LINE...
	local f=$1; shift
	write_profile "$f" "$TUN_C/32, $TUN_C6/128"
	{
		echo
		echo "; split tunneling under test"
		echo "[split]"
		for l in "$@"; do echo "$l"; done
	} >>"$f"
}

# count_in PCAP FILTER: packets of the capture matching FILTER.
count_in() { tcpdump -r "$WORK/$1.pcap" -n "$2" 2>/dev/null | grep -c .; }

# probes HOST4 HOST6: ICMP, TCP (HTTP), UDP (echo), IPv4 and IPv6.
probes() {
	quiet in_c ping -c 2 -i 0.2 -W 1 "$1"
	quiet in_c ping -6 -c 2 -i 0.2 -W 1 "$2"
	probe http "http://$1:8080/blob.bin" "$BLOB_SHA" >/dev/null 2>&1
	probe http "http://[$2]:8080/blob.bin" "$BLOB_SHA" >/dev/null 2>&1
	probe udp "$1" >/dev/null 2>&1
	probe udp "$2" >/dev/null 2>&1
}

# by_proto LABEL PCAP BASE: ICMP, TCP, UDP, v4 and v6, each seen.
by_proto() {
	local l=$1 cap=$2 base=$3 n f
	for f in "icmp and host $INET" "icmp6 and host $INET6" "tcp and host $INET" \
		"tcp and host $INET6" "udp port 9999 and host $INET" "udp port 9999 and host $INET6"; do
		n=$(count_in "$cap" "($base) and $f")
		check "$l: $f in plain on the link ($n packets)" test "$n" -gt 0
	done
}

up_with() { # LABEL PROFILE [SERVER]
	set -- "$1" "$2" "${3:-}"
	ctl up -c "$2" -i "$IF_C" ${3:+"${3:-}"}
	check "$1: vpnctl up exits 0 ($CTL_OUT$CTL_ERR)" test "$CTL_RC" = 0
}

down() { # LABEL
	ctl down -i "$IF_C"
	check "$1: vpnctl down exits 0 ($CTL_ERR)" test "$CTL_RC" = 0
	wait_for "! client_pid" 5
}

exclude_round() { # LABEL PROFILE SERVER
	local l=$1 n
	up_with "$l" "$2" "${3:-}"
	ctl split -i "$IF_C"
	contains "$l: vpnctl split shows exclude and both networks" "$CTL_OUT" \
		"exclude" "$INET/32" "$INET6/128" "all traffic except the excluded networks"
	ctl split --json -i "$IF_C"
	contains "$l: vpnctl split --json" "$CTL_OUT" '"split_mode":"exclude"' \
		"\"split_net\":[\"$INET/32\",\"$INET6/128\"]"
	capture_start all "not ($LINK_NOISE)"
	probes "$INET" "$INET6"
	probes "$IN4" "$IN6"
	probe dns "$TUN_S" >/dev/null 2>&1
	probe dns "$INET" >/dev/null 2>&1
	probe dns "$INET_DNS" >/dev/null 2>&1
	capture_stop all
	by_proto "$l" all "$PLAIN_EX"
	n=$(count_in all "$LEAK_FILTER")
	check "$l: nothing to IN nor anything else in plain ($n packets)" test "$n" = 0 ||
		tcpdump -r "$WORK/all.pcap" -n "$LEAK_FILTER" 2>/dev/null | head -5 | sed 's/^/    /'
	n=$(count_in all "port 53")
	check "$l: no DNS on the link in plain, not even to the excluded host ($n packets)" test "$n" = 0
	n=$(count_in all "$TUN_UDP")
	check "$l: the probes to IN went as the tunnel's UDP ($n packets)" test "$n" -gt 10
	check "$l: IN answers through the tunnel (ping $IN4, $IN6)" \
		sh -c "ip netns exec $NS_C ping -c 1 -W 2 $IN4 >/dev/null && ip netns exec $NS_C ping -6 -c 1 -W 2 $IN6 >/dev/null"
	check "$l: EX answers outside (ping $INET, $INET6)" \
		sh -c "ip netns exec $NS_C ping -c 1 -W 2 $INET >/dev/null && ip netns exec $NS_C ping -6 -c 1 -W 2 $INET6 >/dev/null"
}

include_round() { # LABEL PROFILE SERVER
	local l=$1 n
	up_with "$l" "$2" "${3:-}"
	ctl status -i "$IF_C"
	contains "$l: vpnctl status says the kill switch protects only the included networks" \
		"$CTL_OUT" "only the included networks"
	capture_start all "not ($LINK_NOISE)"
	probes "$IN4" "$IN6"
	probes "$INET" "$INET6"
	probe dns "$TUN_S" >/dev/null 2>&1
	capture_stop all
	n=$(count_in all "$PLAIN_IN and not $TUN_UDP")
	check "$l: nothing to the included IN in plain ($n packets)" test "$n" = 0
	by_proto "$l" all "$PLAIN_EX"
	n=$(count_in all "port 53")
	check "$l: DNS to the tunnel's resolver stays in the tunnel ($n packets in plain)" test "$n" = 0
	n=$(count_in all "$TUN_UDP")
	check "$l: IN went as the tunnel's UDP ($n packets)" test "$n" -gt 10
	check "$l: IN answers through the tunnel" quiet in_c ping -c 1 -W 2 $IN4
	check "$l: IPv6 IN answers through the tunnel" quiet in_c ping -6 -c 1 -W 2 $IN6
}

# state: what a refused change must leave as it was.
state() {
	{
		ip -n "$NS_C" -4 route show table all; ip -n "$NS_C" -6 route show table all
		ip -n "$NS_C" -4 rule; ip -n "$NS_C" -6 rule
		in_c nft list table inet vpnd_killswitch 2>&1
	} >"$1"
}

refused() { # LABEL NEEDLE vpnctl ARGS...
	local l=$1 needle=$2
	shift 2
	state "$WORK/state.before"
	ctl "$@"
	check "$l: refused with exit 1 (got $CTL_RC)" test "$CTL_RC" = 1
	contains "$l: the error says why" "$CTL_ERR" "$needle"
	state "$WORK/state.after"
	check "$l: routes, rules and kill switch unchanged" cmp -s "$WORK/state.before" "$WORK/state.after"
}

# ------------------------------------------------------ wireguard-go server
say "--- wireguard-go server"
start_wggo_dual
WGGO_PID=$LAST_HELPER
profile "$WORK/ex.conf" "exclude = $INET/32, $INET6/128   ; the excluded host"
profile "$WORK/in.conf" "include = $IN4/32, $IN6/128"
snapshot "$NS_C" >"$WORK/client.before"
exclude_round "wg-go exclude" "$WORK/ex.conf" wg-go-01
down "wg-go exclude"
include_round "wg-go include" "$WORK/in.conf" wg-go-01
down "wg-go include"
snapshot "$NS_C" >"$WORK/client.after"
same_snapshot "wg-go: client namespace after down equals before" "$WORK/client.before" "$WORK/client.after"
kill -TERM "$WGGO_PID"
wait_for "! pid_is $WGGO_PID $IF_G" 5 || bad "wireguard-go did not stop"
in_s nft delete table inet vctest_nat

# -------------------------------------------------------------- vpnd server
say "--- vpnd server"
start_vpnd_server "$WORK/server.conf"
include_round "vpnd include" "$WORK/in.conf"
down "vpnd include"
exclude_round "vpnd exclude" "$WORK/ex.conf"

say "--- leaktest with the exceptions"
ctl leaktest -i "$C_PHYS" -T "$IF_C" --target "$INET" --target6 "$IN6"
check "leaktest with EX excluded exits 0 ($CTL_RC)" test "$CTL_RC" = 0 ||
	printf '%s\n' "$CTL_OUT" | sed 's/^/    /'
n=$(printf '%s\n' "$CTL_OUT" | grep -c ' excepted ')
check "leaktest: the 3 non-DNS IPv4 probes to EX are excepted, not leaks ($n)" test "$n" = 3
contains "leaktest: DNS to EX blocked, and no leak" "$CTL_OUT" "no leak" "split: exclude mode"
check "leaktest: the DNS probes to EX blocked" \
	sh -c "printf '%s\n' '$CTL_OUT' | grep -E '^dns-(udp|tcp) +$INET:53 +blocked' | grep -c . | grep -qx 2"
in_c nft delete table inet vpnd_killswitch
ctl leaktest -i "$C_PHYS" -T "$IF_C" --target "$INET" --target6 "$IN6"
check "leaktest without the kill switch's table exits 1 ($CTL_RC)" test "$CTL_RC" = 1
contains "leaktest: DNS to EX is now a real leak" "$CTL_OUT" "LEAK"
# The probes are sent on the physical link itself, so without the table
# every probe that is not excepted leaves: to EX, only the DNS ones.
check "leaktest: of the probes to EX, the LEAKs are the DNS ones" \
	sh -c "printf '%s\n' '$CTL_OUT' | grep -F ' $INET' | grep LEAK | grep -vc dns | grep -qx 0"
check "leaktest: the non-DNS probes to EX still excepted" \
	sh -c "printf '%s\n' '$CTL_OUT' | grep -F ' $INET' | grep -c excepted | grep -qx 3"
ctl killswitch on -i "$IF_C"
check "the kill switch's table is back" quiet in_c nft list table inet vpnd_killswitch

say "--- 3: run-time change while a tunnelled ping runs"
capture_start rt "not ($LINK_NOISE)"
in_c ping -i 0.02 -c 150 -W 1 -q "$IN4" >"$WORK/ping.out" 2>&1 &
PING_PID=$!
sleep 0.3
ctl split exclude del "$INET/32" -i "$IF_C"
check "exclude del $INET/32 exits 0 ($CTL_ERR)" test "$CTL_RC" = 0
r=$(ip -n "$NS_C" route get "$INET" 2>&1 | head -1)
check "after del, $INET goes into the tunnel ($r)" sh -c "printf '%s' '$r' | grep -q 'dev $IF_C '"
quiet in_c ping -c 2 -i 0.2 -W 1 "$INET"
ctl split exclude add "$INET/32" -i "$IF_C"
check "exclude add $INET/32 exits 0 ($CTL_ERR)" test "$CTL_RC" = 0
r=$(ip -n "$NS_C" route get "$INET" 2>&1 | head -1)
check "after add, $INET goes out the physical link ($r)" sh -c "printf '%s' '$r' | grep -q 'dev $C_PHYS '"
wait "$PING_PID"
capture_stop rt
note "tunnelled ping during the changes: $(tail -2 "$WORK/ping.out" | head -1)"
n=$(count_in rt "icmp and host $IN4")
check "no packet of the tunnelled ping to $IN4 in plain during the changes ($n)" test "$n" = 0
n=$(count_in rt "icmp and host $INET")
check "pings to $INET while it was not excluded did not leave in plain ($n)" test "$n" = 0
n=$(count_in rt "$TUN_UDP")
check "the tunnelled ping was on the link as the tunnel's UDP ($n packets)" test "$n" -gt 100

say "--- 4: bad input"
refused "bad CIDR" "not an IP address" split exclude add 300.1.2.0/24 -i "$IF_C"
refused "host bits" "host bits" split exclude add 203.0.113.1/24 -i "$IF_C"
refused "server endpoint" "covers the endpoint of server $SERVER_ID" split exclude add 192.0.2.0/24 -i "$IF_C"
refused "tunnel resolver" "resolver" split exclude add 10.64.0.0/31 -i "$IF_C"
refused "tunnel address" "the tunnel's address" split exclude add 10.64.0.0/16 -i "$IF_C"
refused "include while exclude" "not allowed" split include add 203.0.113.0/24 -i "$IF_C"
refused "already excluded" "listed already" split exclude add "$INET6/128" -i "$IF_C"
refused "IPv6 overlap" "overlaps" split exclude add 2001:db8:2::/64 -i "$IF_C"
refused "del of what is not there" "not excluded" split exclude del 203.0.113.0/24 -i "$IF_C"

say "--- 5: --save"
cp "$WORK/ex.conf" "$WORK/ex.orig"
ctl split exclude add 203.0.113.0/24 2001:db8:77::/48 --save -i "$IF_C"
check "exclude add --save exits 0 ($CTL_ERR)" test "$CTL_RC" = 0
contains "the profile's exclude line lists the networks, comment kept" "$(cat "$WORK/ex.conf")" \
	"exclude = $INET6/128, $INET/32, 203.0.113.0/24, 2001:db8:77::/48   ; the excluded host" \
	"; split tunneling under test"
check "every other line of the profile unchanged" \
	sh -c "diff '$WORK/ex.orig' '$WORK/ex.conf' | grep -c '^[<>]' | grep -qx 2"
ctl split exclude del 203.0.113.0/24 2001:db8:77::/48 -i "$IF_C"
check "exclude del without --save exits 0" test "$CTL_RC" = 0
contains "without --save the profile is not touched" "$(cat "$WORK/ex.conf")" "203.0.113.0/24"
ctl split exclude add 203.0.113.0/24 -i "$IF_C"   # back in line with the profile
cp "$WORK/ex.orig" "$WORK/ex.conf"
ctl split exclude del 203.0.113.0/24 -i "$IF_C"

say "--- 6: kill switch on, SIGKILL"
pid=$(client_pid)
kill -KILL "$pid"
check "the daemon is gone after SIGKILL" wait_for "! pid_is $pid $IF_C" 5
capture_start ks "not ($LINK_NOISE)"
check "EX still answers after the SIGKILL (ping $INET)" quiet in_c ping -c 2 -i 0.2 -W 2 "$INET"
check "EX over IPv6 still answers (ping $INET6)" quiet in_c ping -6 -c 2 -i 0.2 -W 2 "$INET6"
out=$(probe http "http://$INET:8080/blob.bin" "$BLOB_SHA" 2>&1 | tail -n 1)
check "TCP to EX after the SIGKILL: $out" test "${out##* }" = ok
probes "$IN4" "$IN6"
probe dns "$TUN_S" >/dev/null 2>&1
probe spray "$LAN_DNS" 192.0.2.77 "$INET_DNS" >/dev/null 2>&1
capture_stop ks
n=$(count_in ks "not $EX_HOSTS and not $ND")
check "nothing but EX on the link after the SIGKILL ($n packets)" test "$n" = 0 ||
	tcpdump -r "$WORK/ks.pcap" -n "not $EX_HOSTS and not $ND" 2>/dev/null | head -5 | sed 's/^/    /'

say "--- 7: restart and down"
up_with "restart after SIGKILL" "$WORK/ex.conf"
n=$(ip -n "$NS_C" route show table all | grep -c "throw $INET .*table 22128")
check "one throw route for $INET in table 0x5670 after the takeover, not two ($n)" test "$n" = 1
down "restart"
check "no route of table 0x5670 left" sh -c "! ip -n $NS_C route show table all | grep -q 'table 22128'"
check "no IPv6 route of table 0x5670 left" sh -c "! ip -n $NS_C -6 route show table all | grep -q 'table 22128'"

say "--- 8: bad profiles"
profile "$WORK/both.conf" "exclude = 203.0.113.0/24" "include = 10.20.0.0/16"
profile "$WORK/ep.conf" "exclude = 192.0.2.0/24"
snapshot "$NS_C" >"$WORK/bad.before"
ctl up -c "$WORK/both.conf" -i "$IF_C"
check "profile with exclude and include: up refused (exit $CTL_RC)" test "$CTL_RC" != 0
contains "the error names the file and line" "$CTL_ERR" "$WORK/both.conf:" "may not both be set"
ctl up -c "$WORK/ep.conf" -i "$IF_C"
check "profile excluding the server endpoint: up refused (exit $CTL_RC)" test "$CTL_RC" != 0
contains "the error names the file, line and server" "$CTL_ERR" "$WORK/ep.conf:" "covers the endpoint of server"
wait_for "! client_pid" 5
snapshot "$NS_C" >"$WORK/bad.after"
same_snapshot "bad profiles changed nothing" "$WORK/bad.before" "$WORK/bad.after"
finish
