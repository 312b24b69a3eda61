#!/bin/bash
# test_connect_resolved.sh: DNS through the real systemd-resolved (issue 13).
#
# Debian's own systemd-resolved runs in the client namespace on a private
# D-Bus system bus (../shared/labs/resolved, unpacked from its .deb here, not
# installed). The physical link gets a resolver of its own, as DHCP would.
# Then, with resolvectl and tcpdump as referees:
#   - up: vpnctl status (and --json) says systemd-resolved; resolvectl shows
#     the tunnel link's server, the routing domain ~. and DefaultRoute;
#     /etc/resolv.conf of the namespace is not touched;
#   - a resolvectl query is answered by the tunnel's resolver, its packets
#     are seen on the tunnel and no DNS at all on the physical link;
#   - down: resolved's log shows vpnd's RevertLink; the tunnel link, if it
#     stays, has no server, domain or DefaultRoute left;
#   - SIGKILL of vpnd: its record stays in the run directory; the next up
#     reads it, configures again, and the record names the new link.
CL_TAG=r
. "$(dirname "$0")/connect_lib.sh"

LAB=${VPND_RESOLVED_LAB:-$REPO/../shared/labs/resolved/resolved-lab.sh}
[ -r "$LAB" ] || LAB=/work/shared/labs/resolved/resolved-lab.sh
ANSWER=203.0.113.77
LAB_UP=no

cleanup_extra() {
	[ "$LAB_UP" = yes ] && resolved_stop "$NS_C" >/dev/null 2>&1
}

prereqs tcpdump dig apt-get dpkg-deb dbus-daemon unshare nsenter
[ -r "$LAB" ] || die "the resolved lab ($LAB) is missing"
# The lab gives RESOLVED_ROOT a default when it is sourced: only a root the
# caller named is used as it is, never one an earlier run left in /tmp.
CALLER_RESOLVED_ROOT=${RESOLVED_ROOT:-}
. "$LAB"
RESOLVED_ROOT=$CALLER_RESOLVED_ROOT

# resolved drops to its own uid and must reach its files under WORK.
chmod 711 "$WORK"
export RESOLVED_LAB_DIR=$WORK/lab
if [ -z "${RESOLVED_ROOT:-}" ]; then
	# Unpacked, never installed: its postinst would replace the host's
	# /etc/resolv.conf.
	install -d -m 755 "$WORK/deb"
	(cd "$WORK/deb" && apt-get download -q systemd-resolved >/dev/null 2>&1) ||
		die "apt-get download systemd-resolved"
	dpkg-deb -x "$WORK"/deb/systemd-resolved_*.deb "$WORK/resolved-root" ||
		die "unpacking systemd-resolved"
	export RESOLVED_ROOT=$WORK/resolved-root
fi

keys
topology
write_servers "$WORK/servers.conf"
write_server_conf "$WORK/server.conf"
start_vpnd_server "$WORK/server.conf"
write_profile "$WORK/client.conf" "$TUN_C/32"

RESOLVED_LOG_LEVEL=debug resolved_start "$NS_C" >"$WORK/lab.out" 2>&1 ||
	{ sed 's/^/    | /' "$WORK/lab.out"; die "systemd-resolved did not start"; }
LAB_UP=yes
export DBUS_SYSTEM_BUS_ADDRESS=$RESOLVED_BUS
rctl() { in_c "$RESOLVECTL" --no-pager "$@" 2>&1; }
# The physical link's own resolver, as DHCP would give: where a leak goes.
rctl dns "$C_PHYS" "$LAN_DNS" >/dev/null || die "resolvectl dns $C_PHYS"
# The tunnel's resolver, on the server's tunnel address.
helper tiny-dns.py ip netns exec "$NS_S" python3 "$(dirname "$LAB")/tiny-dns.py" "$TUN_S" "$ANSWER" >"$WORK/tiny-dns.log"
resolv_before=$(sha256sum <"/etc/netns/$NS_C/resolv.conf")

ctl up -c "$WORK/client.conf" -i "$IF_C"
check "vpnctl up (exit $CTL_RC: $CTL_ERR)" test "$CTL_RC" = 0
wait_for "in_c ping -c1 -W1 $TUN_S >/dev/null" 10 ||
	bad "the tunnel's server did not answer a ping"
ctl status -i "$IF_C"
contains "status says dns: systemd-resolved" "$CTL_OUT" "dns:" "systemd-resolved"
ctl status --json -i "$IF_C"
contains "status --json says dns_method systemd-resolved" "$CTL_OUT" '"dns_method":"systemd-resolved"'
out=$(rctl status "$IF_C")
check "resolvectl: $IF_C has DNS server $TUN_S" grep -q "DNS Servers: $TUN_S" <<<"$out"
check "resolvectl: $IF_C has routing domain ~." grep -q 'DNS Domain: ~\.' <<<"$out"
check "resolvectl: $IF_C is a DefaultRoute" grep -q '+DefaultRoute' <<<"$out"
[ "$FAILS" = 0 ] || sed 's/^/    | /' <<<"$out"
check "the namespace's /etc/resolv.conf is untouched" \
	test "$(sha256sum <"/etc/netns/$NS_C/resolv.conf")" = "$resolv_before"

# A lookup: on the tunnel, and no DNS on the physical link.
in_c tcpdump -i "$IF_C" -n -l -U 'port 53' >"$WORK/tun.cap" 2>/dev/null &
TP1=$!
in_c tcpdump -i "$C_PHYS" -n -l -U 'port 53' >"$WORK/phys.cap" 2>/dev/null &
TP2=$!
HELPERS+=("$TP1:tcpdump" "$TP2:tcpdump")
sleep 1
out=$(rctl query leakcheck.example)
sleep 0.5
kill "$TP1" "$TP2" 2>/dev/null; wait "$TP1" "$TP2" 2>/dev/null
check "resolvectl query answered $ANSWER via $IF_C ($out)" grep -q "$ANSWER.*-- link: $IF_C" <<<"$out"
check "the query was seen on the tunnel" grep -q "> $TUN_S.53: .*A? leakcheck.example" "$WORK/tun.cap"
check "no DNS packet on the physical link $C_PHYS" test ! -s "$WORK/phys.cap"
[ -s "$WORK/phys.cap" ] && sed 's/^/    | /' "$WORK/phys.cap"

pid=$(client_pid)
ctl down -i "$IF_C"
check "vpnctl down (exit $CTL_RC)" test "$CTL_RC" = 0
# resolved's own log (debug) names the caller of each RevertLink.
check "resolved got a RevertLink from this vpnd (pid ${pid:-none})" \
	grep -q "D-Bus revert request from client PID ${pid:-none} " "$RESOLVED_LOG"
if in_c ip link show "$IF_C" >/dev/null 2>&1; then
	out=$(rctl status "$IF_C")
	check_not "after down, $IF_C has no DNS server" grep -q "DNS Servers:" <<<"$out"
	check_not "after down, $IF_C has no ~." grep -q 'DNS Domain: ~\.' <<<"$out"
	check_not "after down, $IF_C is no DefaultRoute" grep -q '+DefaultRoute' <<<"$out"
else
	note "after down the tunnel link is gone: nothing of it can remain in resolved"
fi
check "after down, the record $IF_C.resolved is gone" test ! -e "$RUNDIR/$IF_C.resolved"

# A killed daemon: its record stays; the next start reads and clears it.
ctl up -c "$WORK/client.conf" -i "$IF_C"
check "vpnctl up again (exit $CTL_RC)" test "$CTL_RC" = 0
pid=$(client_pid)
idx1=$(cat "$RUNDIR/$IF_C.resolved" 2>/dev/null)
check "while up, the record names the tunnel link (${idx1:-nothing})" \
	test -n "$idx1" -a "$idx1" = "$(in_c cat /sys/class/net/$IF_C/ifindex 2>/dev/null)"
[ -n "$pid" ] || die "no client vpnd to kill"
kill -KILL "$pid"
wait_for "! kill -0 $pid 2>/dev/null" 5
check "after SIGKILL the record stays" test -e "$RUNDIR/$IF_C.resolved"
ctl up -c "$WORK/client.conf" -i "$IF_C"
check "vpnctl up after SIGKILL (exit $CTL_RC: $CTL_ERR)" test "$CTL_RC" = 0
out=$(rctl status "$IF_C")
check "after the restart, $IF_C has DNS server $TUN_S" grep -q "DNS Servers: $TUN_S" <<<"$out"
idx2=$(cat "$RUNDIR/$IF_C.resolved" 2>/dev/null)
check "after the restart, the record names the new link (${idx2:-nothing})" \
	test -n "$idx2" -a "$idx2" = "$(in_c cat /sys/class/net/$IF_C/ifindex 2>/dev/null)"
left=$(rctl dns | grep -E '^Link .*: *[0-9a-f]' | grep -vE "\(($IF_C|$C_PHYS)\)")
check "no link but $IF_C and $C_PHYS has a DNS server (no leftovers: ${left:-none})" test -z "$left"
ctl down -i "$IF_C"
check "vpnctl down (exit $CTL_RC)" test "$CTL_RC" = 0
check "after down, the record is gone" test ! -e "$RUNDIR/$IF_C.resolved"

finish
