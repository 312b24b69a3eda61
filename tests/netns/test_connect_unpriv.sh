#!/bin/bash
# test_connect_unpriv.sh: vpnctl without root (issue 13).
#
# Two temporary users, made here and removed by the EXIT trap: one in the
# group vpnd (made here too when absent, and then removed), one not. With
# the client daemon started by root and disconnected (as the unit would
# run it):
#   - the socket is mode 0660, group vpnd;
#   - the member runs up (the server's wg then shows a handshake), status,
#     status --json, servers, killswitch status: exit 0 each;
#   - the member asking to change the kill switch is refused with exit 3 and
#     a message saying it needs root; the kernel's table and the mode stay;
#   - the outsider is refused with exit 3 and a message saying why, by the
#     socket's mode, and by the daemon itself (SO_PEERCRED) once the socket's
#     mode is opened to everyone; the connection is untouched;
#   - root changes the kill switch; the member runs down (the daemon goes);
#   - with no daemon, the member's up is refused (exit 3: starting vpnd
#     with a profile is root's) and starts nothing.
CL_TAG=p
. "$(dirname "$0")/connect_lib.sh"

U_IN=vpndt$$i U_OUT=vpndt$$o
GROUP_OURS=no USERS_MADE=()

cleanup_extra() {
	local u
	for u in "${USERS_MADE[@]}"; do userdel "$u" 2>/dev/null; done
	[ "$GROUP_OURS" = yes ] && groupdel vpnd 2>/dev/null
}

prereqs useradd userdel groupadd groupdel runuser getent
keys
topology
write_servers "$WORK/servers.conf"
write_server_conf "$WORK/server.conf"
start_vpnd_server "$WORK/server.conf"
write_profile "$WORK/client.conf" "$TUN_C/32" "kill_switch = on"

if ! getent group vpnd >/dev/null; then
	groupadd --system vpnd || die "groupadd vpnd"
	GROUP_OURS=yes
fi
useradd -M -N -s /usr/sbin/nologin -G vpnd "$U_IN" || die "useradd $U_IN"
USERS_MADE+=("$U_IN")
useradd -M -N -s /usr/sbin/nologin "$U_OUT" || die "useradd $U_OUT"
USERS_MADE+=("$U_OUT")

# What the users run must be theirs to reach: the work directory is 0700
# under umask 077, so a copy of vpnctl and a run directory they may enter.
chmod 711 "$WORK"
chmod 755 "$RUNDIR"
install -d -m 755 "$WORK/bin"
install -m 755 "$VPNCTL" "$WORK/bin/vpnctl"

# as USER ARGS...: vpnctl as USER, in the client namespace; CTL_* as ctl().
as() {
	local u=$1; shift
	timeout 40 ip netns exec "$NS_C" runuser -u "$u" -- env VPND_RUNDIR="$RUNDIR" \
		"$WORK/bin/vpnctl" "$@" >"$WORK/ctl.out" 2>"$WORK/ctl.err"
	CTL_RC=$?
	CTL_OUT=$(cat "$WORK/ctl.out")
	CTL_ERR=$(cat "$WORK/ctl.err")
}

ip netns exec "$NS_C" env VPND_RUNDIR="$RUNDIR" VPND_STATEDIR="$STATEDIR" \
	LOG_LEVEL=verbose "$VPND" -f --client -c "$WORK/client.conf" "$IF_C" \
	>"$WORK/client.log" 2>&1 </dev/null &
HELPERS+=("$!:$IF_C")
SOCK=$RUNDIR/$IF_C.sock
wait_for "[ -S $SOCK ]" 10 || { sed 's/^/    | /' "$WORK/client.log"; die "client daemon did not start"; }
check "control socket is mode 660, group vpnd ($(stat -c '%a %U:%G' "$SOCK"))" \
	test "$(stat -c '%a %U:%G' "$SOCK")" = "660 root:vpnd"

say "--- a member of vpnd ($U_IN)"
as "$U_IN" up -i "$IF_C"
check "member: vpnctl up exits 0 ($CTL_ERR)" test "$CTL_RC" = 0
HS=$(in_s wg show "$IF_S" latest-handshakes | awk '{ print $2 }')
check "the server saw a handshake (wg: $HS)" test "${HS:-0}" -gt 0
check "ping through the tunnel" quiet in_c ping -c 2 -i 0.2 -W 2 -q "$TUN_S"
as "$U_IN" status -i "$IF_C"
check "member: status exits 0" test "$CTL_RC" = 0
contains "member: status says connected" "$CTL_OUT" "connected"
as "$U_IN" status --json -i "$IF_C"
contains "member: status --json" "$CTL_OUT" '"state":"connected"' '"kill_switch":"on"'
as "$U_IN" servers -i "$IF_C"
check "member: servers exits 0" test "$CTL_RC" = 0
contains "member: servers lists the list" "$CTL_OUT" "$SERVER_ID" "wg-go-01"
as "$U_IN" killswitch status -i "$IF_C"
check "member: killswitch status exits 0" test "$CTL_RC" = 0
TABLE0=$(ip netns exec "$NS_C" nft list ruleset)
as "$U_IN" killswitch off -i "$IF_C"
check "member: killswitch off is refused with exit 3 ($CTL_RC)" test "$CTL_RC" = 3
contains "member: the refusal says it needs root" "$CTL_ERR" "needs root"
check "the kernel's ruleset is unchanged" test "$(ip netns exec "$NS_C" nft list ruleset)" = "$TABLE0"
as "$U_IN" killswitch --allow-lan yes -i "$IF_C"
check "member: killswitch --allow-lan yes is refused with exit 3 ($CTL_RC)" test "$CTL_RC" = 3
ctl status --json -i "$IF_C"
contains "the kill switch is still on, no LAN" "$CTL_OUT" '"kill_switch":"on"' '"allow_lan":"no"'

say "--- not a member ($U_OUT)"
as "$U_OUT" status -i "$IF_C"
check "outsider: status exits 3 ($CTL_RC)" test "$CTL_RC" = 3
contains "outsider: the message says why" "$CTL_ERR" "permission denied" "group vpnd"
# The daemon's own check, with the socket open to everyone.
chmod 666 "$SOCK"
as "$U_OUT" down -i "$IF_C"
check "outsider through an open socket: down exits 3 ($CTL_RC)" test "$CTL_RC" = 3
contains "outsider: the daemon says why" "$CTL_ERR" \
	"uid $(id -u "$U_OUT") is neither root nor a member of the group vpnd"
as "$U_OUT" status -i "$IF_C"
check "outsider through an open socket: status exits 3 ($CTL_RC)" test "$CTL_RC" = 3
chmod 660 "$SOCK"
ctl status --json -i "$IF_C"
contains "still connected after the outsider's down" "$CTL_OUT" '"state":"connected"'

say "--- root, then the member's down"
ctl killswitch on --allow-lan yes -i "$IF_C"
check "root: killswitch on --allow-lan yes exits 0 ($CTL_ERR)" test "$CTL_RC" = 0
ctl status --json -i "$IF_C"
contains "root's change holds" "$CTL_OUT" '"allow_lan":"yes"'
ctl killswitch off -i "$IF_C"
check "root: killswitch off exits 0" test "$CTL_RC" = 0
as "$U_IN" down -i "$IF_C"
check "member: down exits 0 ($CTL_ERR)" test "$CTL_RC" = 0
check "the daemon is gone after down" wait_for "! [ -S $SOCK ] || ! ip netns pids $NS_C | grep -q ." 5
as "$U_IN" up -i "$IF_C"
check "member: up without a daemon exits 3 ($CTL_RC)" test "$CTL_RC" = 3
contains "member: the message says starting vpnd needs root" "$CTL_ERR" "only root may start it"
check "no daemon was started" test -z "$(ip netns pids "$NS_C")"
finish
