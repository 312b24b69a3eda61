#!/usr/bin/env bash
# tests/netns/rundir_case.sh CASE VPND IFNAME OUT: one case of
# test_daemon.sh's socket-directory checks.  Run it in a mount namespace of
# its own (unshare --mount): it mounts an empty tmpfs on /run, so that
# /var/run/wireguard is exactly what CASE makes of it, whatever this machine
# holds; then starts `vpnd -f IFNAME` under umask 077 and writes what came
# of it to OUT (one fact a line), and vpnd's stderr to OUT.err.
set -u
kase=$1 vpnd=$2 ifn=$3 out=$4
mount -t tmpfs -o mode=0755 vpnd-test /run || exit 90
case $kase in
fresh) ;;
narrow) mkdir -m 0700 /run/wireguard ;;
wide) mkdir /run/wireguard && chmod 0777 /run/wireguard ;;
sticky) mkdir /run/wireguard && chmod 1777 /run/wireguard ;;
group) mkdir /run/wireguard && chmod 0775 /run/wireguard ;;
foreign) mkdir -m 0755 /run/wireguard && chown 65534:65534 /run/wireguard ;;
link) mkdir -m 0755 /run/elsewhere && ln -s /run/elsewhere /run/wireguard ;;
*) echo "rundir_case.sh: unknown case $kase" >&2; exit 91 ;;
esac
umask 077
"$vpnd" -f "$ifn" 2>"$out.err" </dev/null &
pid=$!
for _ in $(seq 50); do
	[ -S "/var/run/wireguard/$ifn.sock" ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
{
	echo "dir $(stat -c '%a %u %F' /var/run/wireguard)"
	[ -S "/var/run/wireguard/$ifn.sock" ] &&
		echo "sock $(stat -c '%a %u' "/var/run/wireguard/$ifn.sock")"
	kill -0 "$pid" 2>/dev/null && echo running
	# wg, run by an unprivileged user, lists the interfaces by reading the
	# directory: what a 0700 directory took away.
	setpriv --reuid=65534 --regid=65534 --clear-groups wg show interfaces 2>/dev/null |
		sed 's/^/nobody sees /'
} >"$out"
kill "$pid" 2>/dev/null
wait "$pid"
echo "exit $?" >>"$out"
