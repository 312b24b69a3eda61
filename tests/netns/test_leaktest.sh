#!/bin/bash
# test_leaktest.sh: `vpnctl leaktest` against the real client daemon
# (issue 5: "reports no leak in the connected case and reports the leak if
# the table is deleted by hand").
#
# The judge inside leaktest is a packet socket on the physical interface,
# which assumes that a packet netfilter drops never reaches it.  The
# referees here are tcpdump on the client's physical link (cph0) and, since
# tcpdump there is the same kind of socket, on the server's end of the
# wire (sph0), which nothing in the client can influence.
#
#   1. `vpnctl up` with kill_switch = on; leaktest bound to cph0 exits 0,
#      every probe blocked, the sockets saw the kill switch's rejects, and
#      neither capture sees a packet to the targets.  Also with --json, and
#      without --interface (the default route's interface is cph0: the
#      tunnel's routes are in a table of their own).
#   2. `nft delete table inet vpnd_killswitch` by hand (the daemon does not
#      notice; if it ever re-applies the table on its own, this case must
#      run before it does): leaktest exits 1.  IPv6 probes follow main's
#      default route out and are seen.  IPv4 probes meet vpnd's unreachable
#      default in its table, and the kernel, for a bound socket, then
#      assumes the target is on the link: an ARP request for the target
#      goes out and the probes wait for an answer.  leaktest reports them
#      as LEAK ("the link was asked for the target"), tcpdump sees the ARP;
#      then a host on the link claims the target's address (the server's
#      end gets it, as anyone on the LAN could), and the IPv4 probes
#      themselves are reported and seen on the wire.  Report and captures
#      agree probe by probe.
#   3. usage: unknown option, extra argument, an address of the wrong family
#      exit 2; a nonexistent interface and a user without root exit 1 with
#      a message that says so.
CL_TAG=t
. "$(dirname "$0")/connect_lib.sh"

prereqs setpriv
keys
topology
write_servers "$WORK/servers.conf"
write_server_conf "$WORK/server.conf"
start_vpnd_server "$WORK/server.conf"
write_profile "$WORK/client.conf" "$TUN_C/32, $TUN_C6/128" "kill_switch = on"

TARGETS=(--target "$INET" --target6 "$INET6")
TARGET_FILTER="host $INET or host $INET6"
V4_PROBES="tcp udp icmp dns-udp dns-tcp"

# The tcpdump filter that finds probe NAME of FAMILY (4 or 6) on the wire.
probe_filter() { # NAME FAMILY
	local dst=$INET icmp="icmp[icmptype] = icmp-echo" ip=ip
	if [ "$2" = 6 ]; then dst=$INET6 icmp="icmp6 and ip6[40] = 128" ip=ip6; fi
	case $1 in
	tcp) echo "$ip and dst host $dst and tcp dst port 443" ;;
	udp) echo "$ip and dst host $dst and udp dst port 443" ;;
	icmp) echo "$ip and dst host $dst and $icmp" ;;
	dns-udp) echo "$ip and dst host $dst and udp dst port 53" ;;
	dns-tcp) echo "$ip and dst host $dst and tcp dst port 53" ;;
	esac
}

# wire_start / wire_stop: tcpdump on the server's end of the client's link,
# the same way capture_start does on the client's end.
wire_start() {
	helper tcpdump ip netns exec "$NS_S" tcpdump -p -Z root -i "$S_DOWN" -n -U \
		-w "$WORK/wire.pcap" "$TARGET_FILTER" 2>"$WORK/wire.err"
	WIRE_PID=$LAST_HELPER
	wait_for "grep -q 'listening on' $WORK/wire.err" 5 ||
		die "tcpdump on $S_DOWN did not start: $(cat "$WORK/wire.err")"
}
wire_stop() {
	sleep 0.5
	kill -INT "$WIRE_PID" 2>/dev/null
	wait "$WIRE_PID" 2>/dev/null
	WIRE_COUNT=$(tcpdump -r "$WORK/wire.pcap" -n 2>/dev/null | grep -c .)
}

# pcap_count FILE FILTER: packets in FILE that FILTER matches.
pcap_count() { tcpdump -r "$1" -n "$2" 2>/dev/null | grep -c .; }

# The line leaktest printed for probe NAME of FAMILY.
probe_line() { # NAME FAMILY
	local dst
	if [ "$2" = 4 ]; then dst=$INET; else dst="[$INET6]"; [ "$1" = icmp ] && dst=$INET6; fi
	printf '%s\n' "$LT_OUT" | awk -v n="$1" -v d="$dst" '$1 == n && ($2 == d || index($2, d ":") == 1)'
}

# leaktest ARGS...: vpnctl leaktest in the client namespace, as ctl() runs
# vpnctl; output in LT_OUT, LT_ERR, LT_RC.
leaktest() {
	ctl leaktest "$@"
	LT_OUT=$CTL_OUT LT_ERR=$CTL_ERR LT_RC=$CTL_RC
}

say "--- connected, kill_switch = on"
ctl up -c "$WORK/client.conf" -i "$IF_C"
check "vpnctl up exits 0 ($CTL_OUT$CTL_ERR)" test "$CTL_RC" = 0 || finish
check "the kill switch table is in place" quiet in_c nft list table inet vpnd_killswitch

capture_start leak "$TARGET_FILTER"
wire_start
leaktest --interface "$C_PHYS" "${TARGETS[@]}"
wire_stop
capture_stop leak
printf '%s\n' "$LT_OUT" | sed 's/^/    | /'
check "leaktest exits 0 when connected ($LT_ERR)" test "$LT_RC" = 0
check "ten probe lines, every one blocked" \
	test "$(printf '%s\n' "$LT_OUT" | grep -c ' blocked (')" = 10
check_not "no probe says LEAK" sh -c "printf '%s\n' \"\$1\" | grep -q LEAK" - "$LT_OUT"
contains "summary line says no leak" "$(printf '%s\n' "$LT_OUT" | tail -n 1)" "no leak"
# The sockets handed their packets to the stack and the kill switch turned
# them away (UDP and ICMP: the dropped send's EPERM; TCP: its reset):
# netfilter ran, and the packet socket saw nothing of it.
contains "IPv4 udp probe was refused by the firewall" "$(probe_line udp 4)" "operation not permitted"
contains "IPv4 tcp probe was reset by the firewall" "$(probe_line tcp 4)" "connection refused"
check "tcpdump on $C_PHYS saw no packet to the targets ($CAP_COUNT)" test "$CAP_COUNT" = 0 ||
	printf '%s\n' "$CAP_TEXT" | head -10 | sed 's/^/    /'
check "tcpdump on the server's end $S_DOWN saw no packet to the targets ($WIRE_COUNT)" \
	test "$WIRE_COUNT" = 0

leaktest --json "${TARGETS[@]}"
check "leaktest --json without --interface exits 0 ($LT_ERR)" test "$LT_RC" = 0
check "--json: one object, interface $C_PHYS (the default route's), 10 probes, all blocked, leaked 0" \
	"$PYTHON" -c '
import json, sys
o = json.loads(sys.argv[1])
assert o["interface"] == sys.argv[2], o["interface"]
assert len(o["probes"]) == 10 and o["leaked"] == 0, o
assert all(p["result"] == "blocked" for p in o["probes"]), o["probes"]
assert sorted({p["family"] for p in o["probes"]}) == ["ipv4", "ipv6"]
' "$LT_OUT" "$C_PHYS"

# agree FAMILY LABEL: for each probe of FAMILY, a LEAK line that is not an
# on-link one has packets on the wire, and any other line has none.
agree() {
	local fam=$1 label=$2 p line n
	for p in $V4_PROBES; do
		line=$(probe_line "$p" "$fam")
		n=$(pcap_count "$WORK/wire.pcap" "$(probe_filter "$p" "$fam")")
		case $line in
		*"LEAK (the link was asked"*) check "$label: IPv$fam $p: LEAK on the link, no packet on the wire ($n)" test "$n" = 0 ;;
		*LEAK*) check "$label: IPv$fam $p: LEAK, and the wire agrees ($n packets)" test "$n" -gt 0 ;;
		*) check "$label: IPv$fam $p: '${line##*  }', and the wire agrees ($n packets)" test "$n" = 0 ;;
		esac
	done
}

# round LABEL: leaktest on cph0 with both captures running.
round() {
	capture_start leak "$TARGET_FILTER"
	wire_start
	leaktest --interface "$C_PHYS" "${TARGETS[@]}"
	wire_stop
	capture_stop leak
	printf '%s\n' "$LT_OUT" | sed 's/^/    | /'
	check "$1: leaktest exits 1 on a leak ($LT_ERR)" test "$LT_RC" = 1
	contains "$1: summary line counts the leaks" "$(printf '%s\n' "$LT_OUT" | tail -n 1)" "of 10 probes leaked"
}

say "--- kill switch table deleted by hand"
check "nft delete table inet vpnd_killswitch" in_c nft delete table inet vpnd_killswitch
round "no table"
for p in $V4_PROBES; do
	contains "no table: IPv4 $p probe reported as LEAK on the link" "$(probe_line "$p" 4)" \
		"LEAK (the link was asked for the target by ARP)"
done
check "no table: tcpdump on $C_PHYS saw the ARP request for $INET" \
	sh -c "tcpdump -r '$WORK/leak.pcap' -n arp 2>/dev/null | grep -q 'who-has $INET '"
for p in $V4_PROBES; do
	check "no table: IPv6 $p probe reported as LEAK" sh -c "printf '%s' \"\$1\" | grep -q LEAK" - "$(probe_line "$p" 6)"
	check "no table: IPv6 $p probe seen by tcpdump on $C_PHYS" \
		test "$(pcap_count "$WORK/leak.pcap" "$(probe_filter "$p" 6)")" -gt 0
done
agree 4 "no table"
agree 6 "no table"

say "--- no table, and a host on the link answers for $INET"
check "the server's end $S_DOWN claims $INET" ip -n "$NS_S" addr add "$INET/32" dev "$S_DOWN"
ip -n "$NS_C" neigh del "$INET" dev "$C_PHYS" 2>/dev/null
round "answered"
for p in $V4_PROBES; do
	line=$(probe_line "$p" 4)
	contains "answered: IPv4 $p probe reported as LEAK" "$line" "LEAK"
	check_not "answered: IPv4 $p probe was seen, not only asked for" \
		sh -c "printf '%s' \"\$1\" | grep -q 'the link was asked'" - "$line"
	check "answered: IPv4 $p probe seen by tcpdump on $C_PHYS" \
		test "$(pcap_count "$WORK/leak.pcap" "$(probe_filter "$p" 4)")" -gt 0
	check "answered: IPv4 $p probe seen on the server's end $S_DOWN" \
		test "$(pcap_count "$WORK/wire.pcap" "$(probe_filter "$p" 4)")" -gt 0
done
agree 4 "answered"
agree 6 "answered"

say "--- usage and errors"
leaktest --bogus
check "unknown option exits 2" test "$LT_RC" = 2
contains "unknown option is named" "$LT_ERR" "unknown option --bogus"
leaktest extra
check "an extra argument exits 2" test "$LT_RC" = 2
leaktest --target "$INET6"
check "an IPv6 address as --target exits 2" test "$LT_RC" = 2
contains "the bad address is named" "$LT_ERR" "not an IPv4 address"
leaktest --interface nosuch0 "${TARGETS[@]}"
check "a nonexistent interface exits 1" test "$LT_RC" = 1
contains "a nonexistent interface is named" "$LT_ERR" "no interface 'nosuch0'"
check "nothing printed on stdout then" test -z "$LT_OUT"
out=$(timeout 20 ip netns exec "$NS_C" setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$VPNCTL" leaktest --interface "$C_PHYS" "${TARGETS[@]}" 2>&1)
rc=$?
check "without root: exits 1 ($out)" test "$rc" = 1
contains "without root: says it needs root" "$out" "needs root"

finish
