#!/bin/bash
# test_connect_splitapp.sh: split tunneling by application (issue 10):
# `vpnctl exec --bypass|--tunnel`, `vpnctl split apps`, `vpnctl split pid`,
# with tcpdump on the client's physical link as the judge.
#
#   A. vpnd server; the client daemon under `ip netns exec` (a fresh sysfs:
#      no cgroup2 mount in sight, vpnd mounts its own privately), kill
#      switch on, IPv4 and IPv6 in the tunnel:
#      1. bad input before anything: exec of a missing command (127), a
#         pid that is not a number, a pid that does not exist: refused,
#         and nothing started (no table, no cgroup);
#      2. exec --bypass: ping (IPv4, IPv6), TCP download, UDP echo seen in
#         plain on the link; the same commands without exec never; a
#         grandchild of the bypassed command in plain too; DNS of a
#         bypassing app goes to the host's own resolver (LAN_DNS) in
#         plain and is answered, everyone else's stays in the tunnel;
#         exec --tunnel: inside;
#      3. split pid add of a running process: its new sockets go out in
#         plain; split pid del: back inside; split apps lists them;
#      4. an unprivileged user in group vpnd may exec --bypass, and may not
#         move root's process (clear error, nothing moved);
#      5. SIGKILL of vpnd with the kill switch on (and loose rp_filter, as
#         Ubuntu and systemd set it): a bypassing app still reaches the
#         internet host; everything else has zero packets on
#         the link; a new daemon takes the cgroups, rules and table over
#         (one of each, the bypassing app still listed);
#      6. down: cgroups, rules, table, private mount gone; the namespace
#         equals its snapshot from before up, byte for byte.
#   B. wireguard-go server; the client daemon in the host's own mount
#      namespace (only the network namespace and resolv.conf are the
#      test's): the hybrid layout, cgroup2 at /sys/fs/cgroup/unified found
#      in mountinfo: bypass in plain, without exec inside; include mode
#      set at run time (split include add, so that the rest goes out in
#      plain): exec --tunnel still only through the tunnel, IPv4 and
#      IPv6, and with no route in its table at all it never leaves by the
#      physical link; down clean; lockdown
#      while disconnected: a bypassing ping in plain, nothing else on the
#      link; kill switch off: the daemon goes, and its cgroups with it.
#   C. The same daemon with cgroup2 mounted over /sys/fs/cgroup (the
#      unified layout of current distributions; the hybrid mounts, still
#      in mountinfo, hidden): bypass in plain, without exec inside, down
#      clean.
CL_TAG=a
. "$(dirname "$0")/connect_lib.sh"

prereqs setpriv nsenter unshare useradd userdel groupadd "$WG_GO"
keys
topology
write_helpers
start_internet
write_servers "$WORK/servers.conf"
write_server_conf "$WORK/server.conf"
write_profile "$WORK/client.conf" "$TUN_C/32, $TUN_C6/128" "kill_switch = on"

TUSER=vsa$$
USER_OURS=no
GROUP_OURS=no
cleanup_extra() {
	[ "$USER_OURS" = yes ] && userdel "$TUSER" 2>/dev/null
	[ "$GROUP_OURS" = yes ] && groupdel vpnd 2>/dev/null
	# Processes a bypassing test left in the host's hierarchy are the
	# namespaces' (killed above); our cgroups, if a failure left them.
	for d in "$CG2"/vpnd-"$IF_C"/bypass "$CG2"/vpnd-"$IF_C"/tunnel "$CG2"/vpnd-"$IF_C"; do
		[ -n "${CG2:-}" ] && [ -d "$d" ] && rmdir "$d" 2>/dev/null
	done
}
# The host's cgroup2 mount, for looking at vpnd's cgroups from outside.
CG2=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
[ -n "$CG2" ] || die "no cgroup2 mount on this host"
CGDIR=$CG2/vpnd-$IF_C

# Reverse-path filtering as Ubuntu and systemd set it (loose): a reply to a
# bypassing app must pass it also once the tunnel is gone.
in_c sysctl -qw net.ipv4.conf.all.rp_filter=2 || die "rp_filter in the client namespace"

# The host's own resolver, as the client's resolv.conf names it: a DNS
# responder on the server's side of the LAN.
ip -n "$NS_S" addr add $LAN_DNS/24 dev $S_DOWN || die "LAN resolver address"
helper inet.py ip netns exec "$NS_S" "$PYTHON" "$WORK/inet.py" "$WORK/www" "$WORK/lan.ready" "$LAN_DNS"
wait_for "[ -e $WORK/lan.ready ]" 10 || die "LAN resolver did not start"

# The unprivileged user reaches the control socket: group vpnd, and the
# directories on the way searchable.
getent group vpnd >/dev/null || { groupadd -r vpnd && GROUP_OURS=yes; } || die "groupadd vpnd"
useradd -M -N -g nogroup -G vpnd -s /bin/sh -d /nonexistent "$TUSER" || die "useradd $TUSER"
USER_OURS=yes
# What the user runs must be reachable too: a clone made under umask 077
# is 0700, so the user gets a copy of vpnctl of its own.
chmod 711 "$WORK"
chmod 755 "$RUNDIR"
install -d -m 755 "$WORK/bin"
install -m 755 "$VPNCTL" "$WORK/bin/vpnctl"

start_vpnd_server "$WORK/server.conf"
# The server routes its LAN's plain traffic too (vpnd forwards only for
# the tunnel and the egress).
in_s sysctl -qw net.ipv4.conf.$S_DOWN.forwarding=1 || die "forwarding on $S_DOWN"

# ctl_as USER ARGS...: vpnctl in the client namespace as USER (root: as
# ctl), output in CTL_OUT, CTL_ERR, CTL_RC.
ctl_as() {
	local u=$1; shift
	timeout 30 ip netns exec "$NS_C" setpriv --reuid "$u" --regid nogroup --init-groups \
		env VPND_RUNDIR="$RUNDIR" PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		"$WORK/bin/vpnctl" "$@" >"$WORK/ctl.out" 2>"$WORK/ctl.err"
	CTL_RC=$?
	CTL_OUT=$(cat "$WORK/ctl.out")
	CTL_ERR=$(cat "$WORK/ctl.err")
}

# bypass ARGS...: vpnctl exec --bypass -- ARGS in the client namespace.
bypass() { ctl exec --bypass -i "$IF_C" -- "$@"; }

# seen NAME DESC: the capture NAME holds packets; unseen: none.
seen() {
	capture_stop "$1"
	check "$2 ($CAP_COUNT packets in plain)" test "$CAP_COUNT" -gt 0
}
unseen() {
	capture_stop "$1"
	if [ "$CAP_COUNT" = 0 ]; then ok "$2 (0 packets in plain)"; else
		bad "$2: $CAP_COUNT packets in plain:"; printf '%s\n' "$CAP_TEXT" | head -5 | sed 's/^/    /'
	fi
}

# only_bypass_ping NAME LABEL: the capture NAME holds the bypassing ping
# to INET and its replies, and nothing else.
only_bypass_ping() {
	local n m
	capture_stop "$1"
	n=$(printf '%s\n' "$CAP_TEXT" | grep -c .)
	m=$(printf '%s\n' "$CAP_TEXT" | grep -Ec "IP $C_ADDR > $INET: ICMP echo request|IP $INET > $C_ADDR: ICMP echo reply")
	check "$2: the bypassing ping in plain ($m packets)" test "$m" -gt 0
	check "$2: nothing else on the link ($((n - m)) other packets)" test "$n" = "$m" ||
		printf '%s\n' "$CAP_TEXT" | grep -Ev "ICMP echo" | head -5 | sed 's/^/    /'
}

snapshot "$NS_C" >"$WORK/client.before"

# ------------------------------------------------------------------ A.1
say "--- A: vpnd server, daemon under ip netns exec (private cgroup2 mount)"
ctl up -c "$WORK/client.conf" -i "$IF_C"
check "A: vpnctl up exits 0 (got $CTL_RC: $CTL_ERR)" test "$CTL_RC" = 0 || exit 1

bypass no-such-command-$$ --flag
check "A.1: exec of a missing command exits 127 (got $CTL_RC)" test "$CTL_RC" = 127
contains "A.1: and says so" "$CTL_ERR" "no-such-command-$$: command not found"
ctl split pid add 12x --bypass -i "$IF_C"
check "A.1: split pid add 12x is a usage error (got $CTL_RC)" test "$CTL_RC" = 2
contains "A.1: naming the bad pid" "$CTL_ERR" "'12x' is not a process id"
ctl split pid add 1073741000 --bypass -i "$IF_C"
check "A.1: split pid add of a process that does not exist: refused (got $CTL_RC)" test "$CTL_RC" = 1
contains "A.1: saying so" "$CTL_ERR" "no process 1073741000"
ctl split apps -i "$IF_C"
contains "A.1: split tunneling by application not started by bad input" "$CTL_OUT" "by application: inactive"
check_not "A.1: no vpnd_splitapp table" quiet in_c nft list table inet vpnd_splitapp
check_not "A.1: no cgroup $CGDIR" test -e "$CGDIR"

# ------------------------------------------------------------------ A.2
# Neighbour discovery answers from the global address (the gateway asks)
# are link-only too.
ND="icmp6 and (ip6[40] == 135 or ip6[40] == 136)"
NOT_TUN="not (udp and host $S_ADDR and port $PORT) and not ($LINK_NOISE) and not ($ND)"
capture_start ping4 "icmp and host $INET"
bypass ping -c 2 -i 0.2 -W 2 -q $INET >/dev/null
check "A.2: exec --bypass ping $INET exits 0 (got $CTL_RC: $CTL_ERR)" test "$CTL_RC" = 0
seen ping4 "A.2: the bypassed ping is on the link in plain"
check "A.2: src_valid_mark raised while split tunneling is active" test "$(in_c sysctl -n net.ipv4.conf.all.src_valid_mark)" = 1
capture_start ping4b "icmp and host $INET"
check "A.2: ping $INET without exec works (tunnel)" quiet in_c ping -c 2 -i 0.2 -W 2 -q $INET
unseen ping4b "A.2: the same ping without exec never appears in plain"

capture_start ping6 "icmp6 and host $INET6"
bypass ping -6 -c 2 -i 0.2 -W 2 -q $INET6
check "A.2: exec --bypass ping -6 $INET6 exits 0 (got $CTL_RC: $CTL_ERR)" test "$CTL_RC" = 0
seen ping6 "A.2: the bypassed IPv6 ping is on the link in plain"
capture_start ping6b "icmp6 and host $INET6"
check "A.2: ping -6 without exec works (tunnel)" quiet in_c ping -6 -c 2 -i 0.2 -W 2 -q $INET6
unseen ping6b "A.2: the same IPv6 ping without exec never appears in plain"

capture_start tcp "tcp port 8080 and host $INET"
bypass "$PYTHON" "$WORK/probe.py" http "http://$INET:8080/blob.bin" "$BLOB_SHA"
contains "A.2: bypassed TCP download" "$CTL_OUT" "sha256 ok"
seen tcp "A.2: the bypassed download is on the link in plain"
capture_start udp "udp port 9999"
bypass "$PYTHON" "$WORK/probe.py" udp $INET
contains "A.2: bypassed UDP echo" "$CTL_OUT" "echo ok"
seen udp "A.2: the bypassed UDP echo is on the link in plain"
capture_start rest "$NOT_TUN"
out=$(probe http "http://$INET:8080/blob.bin" "$BLOB_SHA" 2>&1 | tail -n 1)
check "A.2: download without exec: $out" test "${out##* }" = ok
out=$(probe udp $INET 2>&1)
check "A.2: UDP echo without exec: $out" test "$out" = "echo ok"
out=$(probe dns $TUN_S 2>&1)
unseen rest "A.2: TCP, UDP and DNS without exec: nothing but the tunnel on the link"

capture_start grand "icmp and host $INET"
bypass sh -c "sh -c 'ping -c 2 -i 0.2 -W 2 -q $INET' >/dev/null"
check "A.2: a grandchild of the bypassed command pings (got $CTL_RC)" test "$CTL_RC" = 0
seen grand "A.2: the grandchild's ping is on the link in plain"

capture_start dns "udp port 53"
bypass "$PYTHON" "$WORK/probe.py" dns $TUN_S
check "A.2: a bypassing app's query to the tunnel's resolver is answered ($CTL_OUT)" test "$CTL_OUT" = "answer 203.0.113.7"
capture_stop dns
n=$(printf '%s\n' "$CAP_TEXT" | grep -c "$C_ADDR.* > $LAN_DNS.53:")
check "A.2: ... by the host's resolver $LAN_DNS, in plain ($n queries; $CAP_COUNT packets port 53)" test "$n" -gt 0
n=$(printf '%s\n' "$CAP_TEXT" | grep -vc "$LAN_DNS")
check "A.2: no other DNS on the link ($n)" test "$n" = 0

capture_start tun "$NOT_TUN"
ctl exec --tunnel -i "$IF_C" -- ping -c 2 -i 0.2 -W 2 -q $INET
check "A.2: exec --tunnel ping works (got $CTL_RC: $CTL_ERR)" test "$CTL_RC" = 0
unseen tun "A.2: exec --tunnel: nothing but the tunnel on the link"

# ------------------------------------------------------------------ A.3
say "--- A.3: split pid add/del, split apps"
# A waiting shell: pings once each time GO-n appears.
waiter() { # TAG: runs in the client namespace, prints its pid to WORK/TAG.pid
	local tag=$1
	helper "waiter-$tag" ip netns exec "$NS_C" sh -c "echo \$\$ >$WORK/$tag.pid; i=0
		while [ \$i -lt 3 ]; do
			while [ ! -e $WORK/$tag.go\$i ]; do sleep 0.05; done
			ping -c 2 -i 0.2 -W 2 -q $INET >/dev/null; echo \$? >$WORK/$tag.rc\$i; i=\$((i + 1))
		done; sleep 30"
	wait_for "[ -s $WORK/$tag.pid ]" 5
}
# go TAG N: lets the waiter ping once, waits for its result.
go() { touch "$WORK/$1.go$2"; wait_for "[ -s $WORK/$1.rc$2 ]" 10; }

waiter w
W=$(cat "$WORK/w.pid")
ctl split pid add "$W" --bypass -i "$IF_C"
check "A.3: split pid add $W --bypass (got $CTL_RC: $CTL_ERR)" test "$CTL_RC" = 0
ctl split apps -i "$IF_C"
contains "A.3: split apps lists it under bypass" "$CTL_OUT" "bypass:
  $W "
ctl status -i "$IF_C"
contains "A.3: the kill switch's table, with the bypass accepts, is what the kernel holds" "$CTL_OUT" "firewall:         tunnel, kernel matches"
contains "A.3: ... and it has them" "$(in_c nft list table inet vpnd_killswitch)" "meta mark 0x00005671 accept" "ct mark 0x00005671 accept"
ctl split apps --json -i "$IF_C"
contains "A.3: split apps --json" "$CTL_OUT" '"split_apps":"active","socket_marks":"yes"' '"bypass_pid":["' "\"$W\""
capture_start w0 "icmp and host $INET"
go w 0
check "A.3: the moved process reaches $INET" test "$(cat "$WORK/w.rc0")" = 0
seen w0 "A.3: the moved process's new ping is in plain"
ctl split pid del "$W" --bypass -i "$IF_C"
check "A.3: split pid del $W --bypass (got $CTL_RC: $CTL_ERR)" test "$CTL_RC" = 0
capture_start w1 "$NOT_TUN"
go w 1
check "A.3: back inside, it still reaches $INET" test "$(cat "$WORK/w.rc1")" = 0
unseen w1 "A.3: a process moved out of the bypass group goes through the tunnel again"
ctl split pid del "$W" --bypass -i "$IF_C"
check "A.3: del of a process not in the group: refused (got $CTL_RC)" test "$CTL_RC" = 1
contains "A.3: saying so" "$CTL_ERR" "is not in the bypass group"

# ------------------------------------------------------------------ A.4
say "--- A.4: an unprivileged user in group vpnd"
capture_start u "icmp and host $INET"
ctl_as "$TUSER" exec --bypass -i "$IF_C" -- ping -c 2 -i 0.2 -W 2 -q $INET
check "A.4: $TUSER may exec --bypass (got $CTL_RC: $CTL_ERR)" test "$CTL_RC" = 0 || { ls -la "$RUNDIR"; ls -ld "$WORK"; ip netns exec "$NS_C" setpriv --reuid "$TUSER" --regid nogroup --init-groups id; }
seen u "A.4: the user's bypassed ping is in plain"
ctl_as "$TUSER" split pid add "$W" --bypass -i "$IF_C"
# Refused for who the caller is: exit 3, as every refusal by permission (issue 13).
check "A.4: $TUSER may not move root's process $W (got $CTL_RC)" test "$CTL_RC" = 3
contains "A.4: the error says whose it is" "$CTL_ERR" "process $W belongs to another user"
ctl split apps --json -i "$IF_C"
contains "A.4: nothing moved" "$CTL_OUT" '"bypass_pid":[]'

# ------------------------------------------------------------------ A.5
say "--- A.5: SIGKILL with the kill switch on"
# A bypassing app that lives through it (started through exec: bypassed
# from its first instruction).
helper "waiter-k" ip netns exec "$NS_C" env VPND_RUNDIR="$RUNDIR" "$VPNCTL" exec --bypass -i "$IF_C" -- \
	sh -c "i=0; while [ \$i -lt 2 ]; do
		while [ ! -e $WORK/k.go\$i ]; do sleep 0.05; done
		ping -c 2 -i 0.2 -W 2 -q $INET >/dev/null; echo \$? >$WORK/k.rc\$i; i=\$((i + 1))
	done; sleep 30"
K=$LAST_HELPER
wait_for "[ -n \"\$(cat $CGDIR/bypass/cgroup.procs 2>/dev/null)\" ]" 5
pid=$(client_pid)
kill -KILL "$pid"
check "A.5: the daemon is gone after SIGKILL" wait_for "! pid_is $pid $IF_C" 5
capture_start k "$NOT_TUN"
go k 0
check "A.5: the bypassing app still reaches $INET" test "$(cat "$WORK/k.rc0")" = 0
check_not "A.5: ping $INET_DNS without exec fails" quiet in_c ping -c 2 -i 0.2 -W 1 -q $INET_DNS
probe spray $INET_DNS $INET6 >/dev/null 2>&1
only_bypass_ping k A.5

ctl up -c "$WORK/client.conf" -i "$IF_C"
check "A.5: vpnctl up after the SIGKILL connects (got $CTL_RC)" test "$CTL_RC" = 0
contains "A.5: the new daemon says it took the cgroups over" "$CTL_ERR" "split tunneling cgroups from an earlier run taken over"
ctl split apps --json -i "$IF_C"
contains "A.5: the new daemon took the bypassing app over" "$CTL_OUT" '"split_apps":"active"' "\"bypass_pid\":[\""
n=$(in_c nft list tables | grep -c vpnd_splitapp)
check "A.5: one vpnd_splitapp table ($n)" test "$n" = 1
n=$(ip -n "$NS_C" -4 rule show | grep -c '^31990:')
m=$(ip -n "$NS_C" -6 rule show | grep -c '^31990:')
check "A.5: the fwmark rules once each ($n IPv4, $m IPv6)" test "$n.$m" = 2.2
check "A.5: one cgroup directory, both groups" test -d "$CGDIR/bypass" -a -d "$CGDIR/tunnel"
capture_start k1 "icmp and host $INET"
go k 1
check "A.5: the bypassing app reaches $INET after the takeover" test "$(cat "$WORK/k.rc1")" = 0
seen k1 "A.5: ... in plain"

# ------------------------------------------------------------------ A.6
ctl down -i "$IF_C"
check "A.6: vpnctl down exits 0" test "$CTL_RC" = 0
check "A.6: the client daemon has exited" wait_for "! client_pid" 5
check_not "A.6: the cgroups are gone ($CGDIR)" test -e "$CGDIR"
check_not "A.6: the private cgroup2 mount point is gone" test -e "$RUNDIR/cgroup2"
check_not "A.6: src_valid_mark's backup is gone" test -e "$RUNDIR/$IF_C.src_valid_mark"
snapshot "$NS_C" >"$WORK/client.after"
same_snapshot "A.6: client namespace after down equals before" "$WORK/client.before" "$WORK/client.after"

# ------------------------------------------------------------------ B
say "--- B: wireguard-go server, daemon in the host's mount namespace (cgroup2 at $CG2)"
stop_vpnd_server || bad "B: the vpnd server did not stop"
start_wggo_dual
in_s sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 || die "forwarding"
# ctl_host ARGS...: vpnctl (and the vpnd it starts) in the client's network
# namespace but the host's sysfs; resolv.conf is the namespace's, bound
# in a mount namespace of its own as ip netns exec does.  LAYOUT=unified:
# cgroup2 mounted over /sys/fs/cgroup there too, as current distributions
# have it (the hybrid mounts, still listed in mountinfo, hidden under it).
LAYOUT=hybrid
ctl_host() {
	timeout 40 unshare -m --propagation slave sh -c '
		ns=$0 rd=$1 sd=$2 vd=$3 ctl=$4 layout=$5; shift 5
		mount --bind "/etc/netns/$ns/resolv.conf" /etc/resolv.conf &&
		if [ "$layout" = unified ]; then mount -t cgroup2 cgroup2 /sys/fs/cgroup || exit 99; fi &&
		exec nsenter --net="/run/netns/$ns" env VPND_RUNDIR="$rd" VPND_STATEDIR="$sd" VPND="$vd" "$ctl" "$@"' \
		"$NS_C" "$RUNDIR" "$STATEDIR" "$VPND" "$VPNCTL" "$LAYOUT" "$@" >"$WORK/ctl.out" 2>"$WORK/ctl.err"
	CTL_RC=$?
	CTL_OUT=$(cat "$WORK/ctl.out")
	CTL_ERR=$(cat "$WORK/ctl.err")
}
ctl_host up wg-go-01 -c "$WORK/client.conf" -i "$IF_C"
check "B: vpnctl up wg-go-01 exits 0 (got $CTL_RC: $CTL_ERR)" test "$CTL_RC" = 0
capture_start b4 "icmp and host $INET"
ctl_host exec --bypass -i "$IF_C" -- ping -c 2 -i 0.2 -W 2 -q $INET
check "B: exec --bypass ping exits 0 (got $CTL_RC: $CTL_ERR)" test "$CTL_RC" = 0
seen b4 "B: the bypassed ping is in plain"
check "B: vpnd made its cgroups in the host's hierarchy ($CGDIR)" test -d "$CGDIR/bypass"
check_not "B: and mounted nothing of its own" test -e "$RUNDIR/cgroup2"
capture_start b6 "icmp6 and host $INET6"
ctl_host exec --bypass -i "$IF_C" -- ping -6 -c 2 -i 0.2 -W 2 -q $INET6
check "B: exec --bypass ping -6 exits 0 (got $CTL_RC: $CTL_ERR)" test "$CTL_RC" = 0
seen b6 "B: the bypassed IPv6 ping is in plain"
NOT_TUN_G="not (udp and host $S_ADDR and port $PORT_G) and not ($LINK_NOISE) and not ($ND)"
capture_start bn "$NOT_TUN_G"
check "B: ping without exec (through wireguard-go)" quiet in_c ping -c 2 -i 0.2 -W 2 -q $INET
check "B: ping -6 without exec (through wireguard-go)" quiet in_c ping -6 -c 2 -i 0.2 -W 2 -q $INET6
out=$(probe dns $TUN_S 2>&1)
unseen bn "B: without exec nothing but the tunnel on the link"
# Include mode, at run time (split tunneling by network): only an
# unrelated network goes through the tunnel and the rest out in plain,
# the kill switch (on) protecting only that; exec --tunnel must still go
# through the tunnel, to anywhere.
ctl_host split include add 203.0.113.0/24 2001:db8:99::/48 -i "$IF_C"
check "B: split include add exits 0 (got $CTL_RC: $CTL_ERR)" test "$CTL_RC" = 0
capture_start bi "icmp and host $INET"
check "B: ping without exec now goes out in plain" quiet in_c ping -c 2 -i 0.2 -W 2 -q $INET
seen bi "B: ... seen in plain (include mode holds)"
capture_start bt "$NOT_TUN_G"
ctl_host exec --tunnel -i "$IF_C" -- ping -c 2 -i 0.2 -W 2 -q $INET
check "B: exec --tunnel ping works in include mode (got $CTL_RC: $CTL_ERR)" test "$CTL_RC" = 0
ctl_host exec --tunnel -i "$IF_C" -- ping -6 -c 2 -i 0.2 -W 2 -q $INET6
check "B: exec --tunnel ping -6 works in include mode (got $CTL_RC: $CTL_ERR)" test "$CTL_RC" = 0
unseen bt "B: exec --tunnel in include mode: nothing but the tunnel on the link"
hs=$(in_s wg show "$IF_G" transfer | awk '{ print $2 }')
check "B: wireguard-go received it ($hs bytes from the client)" test "${hs:-0}" -gt 0
# The tunnel group's table with no route at all (nothing to say
# "unreachable"): its lookups fall through to main, and its packets must
# still never leave by another interface.
ip -n "$NS_C" -4 route flush table $((0x5672)) && ip -n "$NS_C" -6 route flush table $((0x5672))
check "B: the tunnel group's table emptied" test -z "$(ip -n "$NS_C" route show table $((0x5672)))"
capture_start bx "$NOT_TUN_G"
ctl_host exec --tunnel -i "$IF_C" -- ping -c 2 -i 0.2 -W 1 -q $INET
check "B: exec --tunnel ping fails without a tunnel route (got $CTL_RC)" test "$CTL_RC" != 0
ctl_host exec --tunnel -i "$IF_C" -- ping -6 -c 2 -i 0.2 -W 1 -q $INET6
check "B: exec --tunnel ping -6 too (got $CTL_RC)" test "$CTL_RC" != 0
unseen bx "B: the tunnel group never leaves by the physical link"

ctl_host down -i "$IF_C"
check "B: vpnctl down exits 0" test "$CTL_RC" = 0
check "B: the client daemon has exited" wait_for "! client_pid" 5
check_not "B: the cgroups are gone" test -e "$CGDIR"

# Lockdown while disconnected: the block set, with the bypass accepts.
ctl_host killswitch lockdown -c "$WORK/client.conf" -i "$IF_C"
check "B: kill switch lockdown while disconnected (got $CTL_RC: $CTL_ERR)" test "$CTL_RC" = 0
capture_start bl "$NOT_TUN_G"
ctl_host exec --bypass -i "$IF_C" -- ping -c 2 -i 0.2 -W 2 -q $INET
check "B: lockdown: exec --bypass ping works (got $CTL_RC: $CTL_ERR)" test "$CTL_RC" = 0
check_not "B: lockdown: ping without exec fails" quiet in_c ping -c 2 -i 0.2 -W 1 -q $INET_DNS
probe spray $INET_DNS $INET6 >/dev/null 2>&1
only_bypass_ping bl "B: lockdown"
ctl_host killswitch off -i "$IF_C"
check "B: kill switch off: the daemon goes (got $CTL_RC: $CTL_ERR)" test "$CTL_RC" = 0
check "B: the client daemon has exited" wait_for "! client_pid" 5
check_not "B: the cgroups are gone with it" test -e "$CGDIR"
snapshot "$NS_C" >"$WORK/client.after"
same_snapshot "B: client namespace after down equals before" "$WORK/client.before" "$WORK/client.after"

# ------------------------------------------------------------------ C
say "--- C: the unified layout (cgroup2 at /sys/fs/cgroup, over the hybrid mounts)"
LAYOUT=unified
ctl_host up wg-go-01 -c "$WORK/client.conf" -i "$IF_C"
check "C: vpnctl up wg-go-01 exits 0 (got $CTL_RC: $CTL_ERR)" test "$CTL_RC" = 0
capture_start c4 "icmp and host $INET"
ctl_host exec --bypass -i "$IF_C" -- ping -c 2 -i 0.2 -W 2 -q $INET
check "C: exec --bypass ping exits 0 (got $CTL_RC: $CTL_ERR)" test "$CTL_RC" = 0
seen c4 "C: the bypassed ping is in plain"
check "C: vpnd's cgroups are in the one hierarchy ($CGDIR)" test -d "$CGDIR/bypass"
check_not "C: and it mounted nothing of its own" test -e "$RUNDIR/cgroup2"
capture_start cn "$NOT_TUN_G"
check "C: ping without exec (through wireguard-go)" quiet in_c ping -c 2 -i 0.2 -W 2 -q $INET
unseen cn "C: without exec nothing but the tunnel on the link"
ctl_host down -i "$IF_C"
check "C: vpnctl down exits 0" test "$CTL_RC" = 0
check "C: the client daemon has exited" wait_for "! client_pid" 5
check_not "C: the cgroups are gone" test -e "$CGDIR"
snapshot "$NS_C" >"$WORK/client.after"
same_snapshot "C: client namespace after down equals before" "$WORK/client.before" "$WORK/client.after"
finish
