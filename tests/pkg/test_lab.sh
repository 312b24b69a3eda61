#!/bin/bash
# test_lab.sh: the package and its units under a real systemd, booted as
# PID 1 in a systemd-nspawn container (../shared/labs/systemd; private
# network, only lo inside) on a throw-away overlay of a Debian rootfs:
#
#   - the .deb installs (dpkg -i), the vpnd group exists, nothing enabled;
#   - vpnd-server@wgs0: `systemctl start` returns with the unit active, its
#     status text vpnd's, the watchdog pinged, and the interface, the UAPI
#     socket (wg show) and the UDP port there; the main process is the
#     installed /usr/bin/vpnd; forwarding on; `systemctl stop` leaves no
#     interface, no nftables table, no socket, forwarding as it was; a bad
#     config fails the start and leaves no interface;
#   - vpnd@wge0: the engine, configured by wg; with WatchdogSec=2s the
#     pings keep it alive and a stopped daemon is killed and restarted;
#     stop leaves nothing;
#   - vpnd-client: connects to that server at start (active once the
#     handshake is done: "connected to lab"), routes DNS through the
#     tunnel and blocks outside it (the kill switch table); `systemctl
#     stop` (vpnctl down) leaves no interface, no table, resolv.conf as it
#     was;
#   - vpnd-killswitch, enabled, with no state file: after a reboot it was
#     active before network-pre.target and its table is there;
#   - `systemd-analyze security` online scores each unit as offline does;
#   - dpkg -P leaves the container as before (files, group).
#
# The rootfs (debootstrap, ~1 min the first time) is kept in
# $VPND_LAB_ROOT and never changed: each run boots an overlay of it.
. "$(dirname "$0")/lib.sh"
need_root

LAB=${VPND_LAB:-$REPO/../shared/labs/systemd/systemd-lab.sh}
[ -r "$LAB" ] || LAB=/work/shared/labs/systemd/systemd-lab.sh
[ -r "$LAB" ] || { say "FAIL - no systemd lab (systemd-lab.sh) found"; exit 1; }
LOWER=${VPND_LAB_ROOT:-/var/tmp/vpnd-pkg-lab/root}
# What the package and the test need in the container, beyond systemd.
LAB_PKGS=systemd,systemd-sysv,dbus,iproute2,nftables,adduser,wireguard-tools,libsodium23,libb2-1,libev4,libmnl0,libnftables1,libiniparser1,libcurl4,libjson-c5

# The rootfs, made once, whole or not at all.
bootstrap() {
	local mirror
	exec 8>"$(dirname "$LOWER")/.bootstrap.lock" || return 1
	flock -w 600 8 || return 1
	# Made for this very package list, or made again: a rootfs an older
	# run left must not hide a library the package now needs.
	[ -x "$LOWER/lib/systemd/systemd" ] &&
		[ "$(cat "$LOWER.pkgs" 2>/dev/null)" = "$LAB_PKGS" ] && return 0
	rm -rf "$LOWER" "$LOWER.pkgs"
	mirror=$(grep -hoE '^(URIs:|deb) +[^ ]+' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
		 awk '{print $2}' | grep -v -- '-security' | grep -E 'debian/?$' | head -n1)
	[ -n "$mirror" ] || return 1
	rm -rf "$LOWER.tmp"
	say "debootstrap of $LOWER (once)"
	debootstrap --variant=minbase --include="$LAB_PKGS" bookworm "$LOWER.tmp" "$mirror" \
		>"$WORK/debootstrap.log" 2>&1 || { tail -5 "$WORK/debootstrap.log"; return 1; }
	mv "$LOWER.tmp" "$LOWER"
	printf '%s\n' "$LAB_PKGS" >"$LOWER.pkgs"
}
mkdir -p "$(dirname "$LOWER")"
bootstrap || { say "FAIL - cannot make the container's rootfs"; exit 1; }

out=$(make -s -C "$REPO" deb 2>&1)
DEB=$(ls "$REPO"/build/vpnd_*_*.deb 2>/dev/null | head -1)
[ -s "$DEB" ] || { say "FAIL - make deb: $out"; exit 1; }

mkdir -p "$WORK/upper" "$WORK/ow" "$WORK/root"
# The merged root takes its mode from the upper directory, which the
# tests' umask 077 made 0700: a / that only root may enter stops dbus
# (messagebus) at boot, so it gets the rootfs's own mode.
chmod --reference="$LOWER" "$WORK/upper" ||
	{ say "FAIL - cannot set the overlay's mode"; exit 1; }
mount -t overlay overlay -o "lowerdir=$LOWER,upperdir=$WORK/upper,workdir=$WORK/ow" "$WORK/root" ||
	{ say "FAIL - cannot mount the overlay"; exit 1; }
on_exit 'umount "$WORK/root"'
# The units keep CAP_IPC_LOCK (the server role refuses to run with keys
# that could be swapped out), which a host's PID 1 has to give; nspawn
# keeps it from a container unless told, and its seccomp filter then
# refuses mlockall(2) outright.
export SD_ROOT=$WORK/root SD_NAME=vpndpkg$$ SD_STATE=$WORK/state
export SD_NSPAWN_ARGS="--capability=CAP_IPC_LOCK"
. "$LAB"
# A boot that does not settle is tried once more: CI saw one stay short of
# "running" for the whole timeout on a loaded machine (getty up, state
# unknown), and the next boot of the same rootfs settle in a second.
boot_once() {
	sd_boot >/dev/null && return 0
	say "note - the container did not settle; jobs still queued:"
	sd_exec timeout 10 systemctl list-jobs --no-pager 2>&1 | sed 's/^/    | /' | head -20
	tail -20 "$SD_STATE/console.log" | sed 's/^/    | /'
	sd_poweroff >/dev/null 2>&1
	return 1
}
boot() { boot_once || boot_once || { say "FAIL - the container did not boot (twice)"; exit 1; }; }
boot
on_exit 'sd_poweroff >/dev/null 2>&1'
in_c() { sd_exec "$@"; }
show() { in_c systemctl show -p "$2" --value "$1"; }
has_link() { in_c ip link show "$1" >/dev/null 2>&1; }
no_link() { ! has_link "$1"; }
no_file() { ! in_c test -e "$1"; }
udp_bound() { in_c ss -Hlun | grep -q ":$1 "; }
tables() { in_c nft list tables 2>&1; }
no_table() { ! tables | grep -q "$1"; }

# Everything named like vpnd (the runtime directory /run/wireguard, which
# the units share with every userspace engine, is left by the purge and
# not counted: it holds nothing once they stop, and /run goes at reboot).
snapshot() {
	in_c sh -c 'find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /tmp \) -prune -o \
		-iname "*vpnd*" -print 2>/dev/null | sort;
		find /run/wireguard -mindepth 1 2>/dev/null;
		getent group vpnd; ip -br link; nft list ruleset; cat /etc/resolv.conf'
}
BEFORE=$(snapshot)

say "--- install"
sd_copy "$DEB" /tmp/vpnd.deb
out=$(in_c dpkg -i /tmp/vpnd.deb 2>&1)
check "dpkg -i in the container: exit 0" test $? = 0
check "the group vpnd exists" in_c sh -c 'getent group vpnd >/dev/null'
check "no vpnd unit enabled" test "$(in_c sh -c 'systemctl list-unit-files "vpnd*" --state=enabled --no-legend | wc -l')" = 0
RESOLV=$(in_c cat /etc/resolv.conf)
FWD6=$(in_c cat /proc/sys/net/ipv6/conf/all/forwarding)

# Keys and configs, made inside (umask 077: the files vpnd accepts).
in_c sh -c 'umask 077; mkdir -p /etc/vpnd
	sk=$(wg genkey); ck=$(wg genkey)
	sp=$(printf %s "$sk" | wg pubkey); cp=$(printf %s "$ck" | wg pubkey)
	printf "[interface]\nprivate_key = %s\nlisten_port = 51820\naddress = 10.99.0.1/24\nnat = veth-out\n\n[peer c]\npublic_key = %s\nallowed_ips = 10.99.0.2/32\n" "$sk" "$cp" >/etc/vpnd/wgs0.conf
	printf "[lab]\nendpoint = 127.0.0.1:51820\npublic_key = %s\ncountry = se\n" "$sp" >/etc/vpnd/servers.conf
	printf "[interface]\nprivate_key = %s\naddress = 10.99.0.2/32\ndns = 10.99.0.1\nkill_switch = on\nservers = /etc/vpnd/servers.conf\nserver = lab\n" "$ck" >/etc/vpnd/client.conf
	printf "[interface]\nlisten_port = nope\n" >/etc/vpnd/bad0.conf
	ip link add veth-out type veth peer name veth-in'

say "--- vpnd-server@wgs0"
out=$(in_c systemctl start vpnd-server@wgs0 2>&1)
check "systemctl start vpnd-server@wgs0: exit 0 $out" test -z "$out"
check "active" test "$(show vpnd-server@wgs0 ActiveState)" = active
check "Type=notify" test "$(show vpnd-server@wgs0 Type)" = notify
contains "status text is vpnd's READY message" "$(show vpnd-server@wgs0 StatusText)" "server on wgs0, UDP port 51820"
check "the watchdog was pinged" test "$(show vpnd-server@wgs0 WatchdogTimestampMonotonic)" -gt 0
pid=$(show vpnd-server@wgs0 MainPID)
check "the main process is the installed /usr/bin/vpnd" test "$(in_c readlink /proc/"$pid"/exe)" = /usr/bin/vpnd
check "the interface wgs0 exists once start returns" has_link wgs0
contains "wg show wgs0 over the UAPI socket: port and peer" "$(in_c wg show wgs0 2>&1)" "listening port: 51820" "allowed ips: 10.99.0.2/32"
check "UDP port 51820 bound" udp_bound 51820
check "forwarding on (the sysctls are writable in the sandbox)" test "$(in_c cat /proc/sys/net/ipv4/conf/wgs0/forwarding)" = 1
contains "the NAT table is in place" "$(tables)" "table"
say "--- vpnd-client (connects to the server at 127.0.0.1)"
out=$(in_c systemctl start vpnd-client 2>&1)
check "systemctl start vpnd-client: exit 0 $out" test -z "$out"
check "active" test "$(show vpnd-client ActiveState)" = active
contains "active once connected (status text)" "$(show vpnd-client StatusText)" "connected to lab"
contains "vpnctl status: connected" "$(in_c vpnctl status 2>&1)" "state:            connected" "kernel matches"
contains "the kill switch table" "$(tables)" "table inet vpnd_killswitch"
contains "resolv.conf names the tunnel's resolver" "$(in_c cat /etc/resolv.conf)" "nameserver 10.99.0.1"
check "the control socket is group vpnd, 0660" test "$(in_c stat -c '%a %G' /run/vpnd/vpnd0.sock)" = "660 vpnd"
out=$(in_c systemctl stop vpnd-client 2>&1)
check "systemctl stop vpnd-client: exit 0 $out" test -z "$out"
check "inactive" test "$(show vpnd-client ActiveState)" = inactive
check "stopped: no vpnd0" no_link vpnd0
check "stopped: no kill switch table" no_table vpnd_killswitch
check "stopped: resolv.conf as before" test "$(in_c cat /etc/resolv.conf)" = "$RESOLV"
check "stopped: no control socket" no_file /run/vpnd/vpnd0.sock

out=$(in_c systemctl stop vpnd-server@wgs0 2>&1)
check "systemctl stop vpnd-server@wgs0: exit 0 $out" test -z "$out"
check "stopped: no wgs0" no_link wgs0
check "stopped: no nftables table" test -z "$(in_c nft list tables)"
check "stopped: no UAPI socket" no_file /run/wireguard/wgs0.sock
check_not "stopped: nothing on UDP 51820" udp_bound 51820
check "stopped: IPv6 forwarding as it was ($FWD6)" test "$(in_c cat /proc/sys/net/ipv6/conf/all/forwarding)" = "$FWD6"

out=$(in_c systemctl start vpnd-server@bad0 2>&1)
check "a bad config: start fails" test -n "$out"
check_not "a bad config: the unit is not active ($(show vpnd-server@bad0 ActiveState))" \
	test "$(show vpnd-server@bad0 ActiveState)" = active
contains "a bad config: vpnd says what is wrong, and where, in the journal" \
	"$(in_c journalctl --no-pager -u vpnd-server@bad0)" "server.conf:1: [interface] private_key: missing"
check "a bad config: no interface bad0" no_link bad0
in_c systemctl stop vpnd-server@bad0 >/dev/null 2>&1
in_c systemctl reset-failed vpnd-server@bad0 >/dev/null 2>&1

say "--- vpnd@wge0, configured by wg"
out=$(in_c systemctl start vpnd@wge0 2>&1)
check "systemctl start vpnd@wge0: exit 0 $out" test -z "$out"
contains "status text" "$(show vpnd@wge0 StatusText)" "engine on wge0"
in_c sh -c 'umask 077; wg genkey >/tmp/k; wg set wge0 private-key /tmp/k listen-port 51830 peer "$(wg genkey | wg pubkey)" allowed-ips 10.98.0.2/32'
check "wg set then wg show: the port" test "$(in_c wg show wge0 listen-port)" = 51830
contains "wg show: the peer" "$(in_c wg show wge0 allowed-ips)" "10.98.0.2/32"
# WatchdogSec= honoured: with 2 s, the pings keep the unit alive, and a
# daemon that stops answering (SIGSTOP) is killed and restarted.
in_c sh -c 'mkdir -p /etc/systemd/system/vpnd@wge0.service.d &&
	printf "[Service]\nWatchdogSec=2s\n" >/etc/systemd/system/vpnd@wge0.service.d/wd.conf &&
	systemctl daemon-reload && systemctl restart vpnd@wge0'
w1=$(show vpnd@wge0 WatchdogTimestampMonotonic)
sleep 3
w2=$(show vpnd@wge0 WatchdogTimestampMonotonic)
check "WatchdogSec=2s: pinged again within 3 s ($w1 -> $w2 us), still active" \
	test "$w2" -gt "$w1" -a "$(show vpnd@wge0 ActiveState)" = active
in_c systemctl kill --signal=SIGSTOP vpnd@wge0
wd_restarted() { [ "$(show vpnd@wge0 NRestarts)" -ge 1 ]; }
for i in $(seq 50); do wd_restarted && break; sleep 0.2; done
check "a stopped daemon: the watchdog kills it and the unit restarts it" wd_restarted
contains "the journal says watchdog" "$(in_c journalctl --no-pager -u vpnd@wge0)" "Watchdog timeout"
in_c sh -c 'rm -r /etc/systemd/system/vpnd@wge0.service.d && systemctl daemon-reload'
out=$(in_c systemctl stop vpnd@wge0 2>&1)
check "systemctl stop vpnd@wge0: exit 0 $out" test -z "$out"
check "stopped: no wge0" no_link wge0
check "stopped: no UAPI socket" no_file /run/wireguard/wge0.sock

say "--- systemd-analyze security, online and offline"
for u in vpnd-server@wgs0 vpnd@wge0 vpnd-client vpnd-killswitch; do
	tmpl=${u%%@*}; [ "$tmpl" = "$u" ] && tmpl=$u.service || tmpl=$tmpl@.service
	on=$(exposure "$(in_c systemd-analyze security --no-pager "$u.service" 2>&1)")
	off=$(exposure "$(in_c systemd-analyze security --offline=yes --no-pager "/lib/systemd/system/$tmpl" 2>&1)")
	check "$u: online $on = offline $off <= $MAX_EXPOSURE" sh -c "[ -n '$on' ] && [ '$on' = '$off' ] && awk 'BEGIN { exit !($on <= $MAX_EXPOSURE) }'"
done

say "--- vpnd-killswitch across a reboot"
in_c rm -f /var/lib/vpnd/killswitch
in_c ip link del veth-out
out=$(in_c systemctl enable vpnd-killswitch.service 2>&1)
check "systemctl enable vpnd-killswitch: exit 0" test $? = 0
sd_poweroff >/dev/null 2>&1
boot
k=$(show vpnd-killswitch ActiveEnterTimestampMonotonic)
n=$(show network-pre.target ActiveEnterTimestampMonotonic)
check "after the reboot vpnd-killswitch is active (no state file: blocking)" test "$(show vpnd-killswitch ActiveState)" = active
check "it was active ($k us) before network-pre.target ($n us)" sh -c "[ '$k' -gt 0 ] && [ '$k' -le '$n' ]"
contains "its table is in place" "$(tables)" "table inet vpnd_killswitch"
contains "its log says why" "$(in_c journalctl -b --no-pager -u vpnd-killswitch)" "no kill switch state file"
in_c systemctl disable vpnd-killswitch.service >/dev/null 2>&1
in_c nft delete table inet vpnd_killswitch

say "--- purge"
out=$(in_c dpkg -P vpnd 2>&1)
check "dpkg -P: exit 0" test $? = 0
in_c rm -rf /etc/vpnd /tmp/vpnd.deb /tmp/k
AFTER=$(snapshot)
check "the container is as before (files, group, links, ruleset, resolv.conf)$( [ "$BEFORE" = "$AFTER" ] || printf ': %s' "$(diff <(echo "$BEFORE") <(echo "$AFTER") | tail -6)")" \
	test "$BEFORE" = "$AFTER"
finish
