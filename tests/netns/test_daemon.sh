#!/usr/bin/env bash
# vpnd's life as a process, judged by ip, wg and wg-quick:
#  - --version and --help; bad usage fails;
#  - daemonizing: the parent exits 0 only once the interface and the UAPI
#    socket exist; it exits non-zero with a message when the name is taken
#    or too long;
#  - the socket is 0600; the process is not dumpable;
#  - under umask 077 vpnd creates /var/run/wireguard 0755 (wg as nobody
#    lists the interface); an existing directory others could write to,
#    owned by another user, or a symbolic link, is refused with a message
#    and left as it was (each case with a /run of its own: rundir_case.sh);
#  - it exits cleanly on SIGTERM (socket removed), when its interface is
#    deleted, and when its socket file is removed;
#  - WG_QUICK_USERSPACE_IMPLEMENTATION=vpnd wg-quick up/down works unchanged.
set -u
REPO=$(cd "$(dirname "$0")/../.." && pwd)
VPND=${VPND:-$REPO/vpnd/vpnd}
NS=vdm$$
IF=vdm$$
RUN=/var/run/wireguard
WORK=$(mktemp -d)
pids=()

cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.2
	ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -f "$RUN/$IF.sock" "$RUN/${IF}x.sock" "$RUN/wq$$.sock"
	rm -rf "$WORK" "/etc/netns/$NS"
}
trap cleanup EXIT

fail() { echo "  [daemon] FAIL - $*"; exit 1; }
ok() { echo "  [daemon] ok   - $*"; }
in_ns() { ip netns exec "$NS" "$@"; }
# The PID of the vpnd serving interface $1 inside the namespace.
pid_of() { in_ns ss -xlpn 2>/dev/null | grep -F "$RUN/$1.sock" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n1; }
wait_gone() { for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; return 1; }

[ -x "$VPND" ] || fail "no vpnd binary at $VPND (run make)"
ip netns add "$NS" || fail "cannot create namespace"
in_ns ip link set lo up

"$VPND" --version | grep -q '^vpnd v' || fail "--version"
"$VPND" --help | grep -q 'Usage' || fail "--help"
"$VPND" >/dev/null 2>&1 && fail "no interface name accepted"
"$VPND" -x wg0 >/dev/null 2>&1 && fail "unknown option accepted"
ok "--version, --help and bad usage"

# Daemonized start: ready when the parent returns.
in_ns "$VPND" "$IF" 2>"$WORK/err" || fail "start: $(cat "$WORK/err")"
in_ns ip link show "$IF" >/dev/null 2>&1 || fail "interface missing when the parent returned"
[ -S "$RUN/$IF.sock" ] || fail "socket missing when the parent returned"
pid=$(pid_of "$IF")
[ -n "$pid" ] || fail "no process serves the socket"
pids+=("$pid")
ok "parent returned 0 with interface and socket ready (pid $pid)"

[ "$(stat -c %a "$RUN/$IF.sock")" = 600 ] || fail "socket mode $(stat -c %a "$RUN/$IF.sock")"
grep -q '^VmLck:\s*[1-9]' "/proc/$pid/status" || fail "memory not locked"
grep -Eq '^Max core file size +0 +0 ' "/proc/$pid/limits" || fail "core dumps allowed"
ok "socket 0600, memory locked, no core dumps"

# The socket directory, judged on vpnd's behaviour and not on this machine's
# history: each case in a mount namespace whose /run is an empty tmpfs.
rundir_case() { # CASE: its report in $WORK/rd.CASE, vpnd's stderr in .err
	ip netns exec "$NS" unshare --mount --propagation private \
		bash "$REPO/tests/netns/rundir_case.sh" "$1" "$VPND" "${IF}r" "$WORK/rd.$1"
}

rundir_case fresh
rep=$(cat "$WORK/rd.fresh" "$WORK/rd.fresh.err")
grep -qx "dir 755 0 directory" "$WORK/rd.fresh" || fail "a new /var/run/wireguard under umask 077: $rep"
grep -qx "sock 600 0" "$WORK/rd.fresh" || fail "socket in a new directory: $rep"
grep -qx "nobody sees ${IF}r" "$WORK/rd.fresh" || fail "wg run by nobody does not list ${IF}r: $rep"
ok "umask 077, no /var/run/wireguard: vpnd creates it 0755 root, socket 0600, wg as nobody lists ${IF}r"

rundir_case narrow
grep -qx "dir 700 0 directory" "$WORK/rd.narrow" && grep -qx running "$WORK/rd.narrow" ||
	fail "an existing 0700 directory (safe) was refused or changed: $(cat "$WORK/rd.narrow" "$WORK/rd.narrow.err")"
ok "an existing 0700 directory is used as it is"

for kase in wide:777 sticky:1777 group:775 foreign:755 link:777; do
	c=${kase%%:*} mode=${kase#*:}
	rundir_case "$c"
	rep=$(cat "$WORK/rd.$c") err=$(cat "$WORK/rd.$c.err")
	case $rep in *running*|*sock*) fail "$c: vpnd served its socket in an unsafe directory: $rep" ;; esac
	case $rep in *"exit 0"*) fail "$c: vpnd exited 0 ($rep)" ;; esac
	case $err in *"/var/run/wireguard"*refusing*) ;; *) fail "$c: no clear message: $err" ;; esac
	grep -q "^dir $mode " "$WORK/rd.$c" || fail "$c: the directory was changed: $rep"
	in_ns ip link show "${IF}r" >/dev/null 2>&1 && fail "$c: interface ${IF}r left behind"
	ok "$c: refused, mode $mode kept, no interface left: $err"
done

in_ns wg show "$IF" >/dev/null || fail "wg show on the daemon"
ok "wg show answers"

# A second daemon on the same name must refuse, and leave the first alone.
if in_ns "$VPND" "$IF" 2>"$WORK/err2"; then fail "second daemon on $IF started"; fi
grep -q "$IF" "$WORK/err2" || fail "no clear message: $(cat "$WORK/err2")"
kill -0 "$pid" || fail "first daemon died"
in_ns wg show "$IF" >/dev/null || fail "first daemon stopped answering"
ok "name taken: non-zero exit with '$(head -n1 "$WORK/err2")'"

if "$VPND" -f averyveryverylongname 2>"$WORK/err3"; then fail "long name accepted"; fi
grep -qi "name" "$WORK/err3" || fail "no clear message for a long name: $(cat "$WORK/err3")"
ok "name too long: '$(head -n1 "$WORK/err3")'"

# SIGTERM: clean exit, socket removed, interface gone.
kill -TERM "$pid"
wait_gone "$pid" || fail "no exit on SIGTERM"
[ -e "$RUN/$IF.sock" ] && fail "socket left behind after SIGTERM"
in_ns ip link show "$IF" >/dev/null 2>&1 && fail "interface left behind after SIGTERM"
ok "SIGTERM: exited, socket and interface removed"

# Interface deleted: the daemon follows.
in_ns "$VPND" "$IF" || fail "restart"
pid=$(pid_of "$IF"); pids+=("$pid")
in_ns ip link del "$IF"
wait_gone "$pid" || fail "no exit when the interface was deleted"
[ -e "$RUN/$IF.sock" ] && fail "socket left behind after interface deletion"
ok "interface deleted: exited and removed its socket"

# Socket removed: the daemon follows.
in_ns "$VPND" "$IF" || fail "restart"
pid=$(pid_of "$IF"); pids+=("$pid")
rm -f "$RUN/$IF.sock"
wait_gone "$pid" || fail "no exit when the socket was removed"
sleep 0.2
in_ns ip link show "$IF" >/dev/null 2>&1 && fail "interface left behind after socket removal"
ok "socket removed: exited and removed its interface"

# Foreground mode, by flag and by environment: the process stays ours.
ip netns exec "$NS" "$VPND" -f "${IF}x" 2>/dev/null &
fpid=$!; pids+=("$fpid")
for _ in $(seq 50); do [ -S "$RUN/${IF}x.sock" ] && break; sleep 0.1; done
[ -S "$RUN/${IF}x.sock" ] || fail "-f: no socket"
kill -0 "$fpid" || fail "-f: process is not the daemon"
kill -INT "$fpid"; wait_gone "$fpid" || fail "-f: no exit on SIGINT"
WG_PROCESS_FOREGROUND=1 ip netns exec "$NS" "$VPND" "${IF}x" 2>/dev/null &
fpid=$!; pids+=("$fpid")
for _ in $(seq 50); do [ -S "$RUN/${IF}x.sock" ] && break; sleep 0.1; done
kill -0 "$fpid" || fail "WG_PROCESS_FOREGROUND=1: process is not the daemon"
kill -TERM "$fpid"; wait_gone "$fpid" || fail "foreground: no exit on SIGTERM"
ok "foreground by -f and by WG_PROCESS_FOREGROUND=1"

# wg-quick, unmodified, with vpnd as its userspace implementation.
mkdir -p "$WORK/bin"
ln -s "$VPND" "$WORK/bin/vpnd"
cat >"$WORK/wq$$.conf" <<EOF
[Interface]
PrivateKey = $(wg genkey)
Address = 10.201.0.1/24
ListenPort = 51999

[Peer]
PublicKey = $(wg genkey | wg pubkey)
AllowedIPs = 10.201.0.2/32
Endpoint = 127.0.0.1:51998
EOF
chmod 600 "$WORK/wq$$.conf"
PATH=$WORK/bin:$PATH WG_QUICK_USERSPACE_IMPLEMENTATION=vpnd \
	ip netns exec "$NS" wg-quick up "$WORK/wq$$.conf" >"$WORK/wq.log" 2>&1 ||
	fail "wg-quick up: $(cat "$WORK/wq.log")"
wqpid=$(pid_of "wq$$"); pids+=("$wqpid")
in_ns ip -4 addr show dev "wq$$" | grep -q 10.201.0.1/24 || fail "wg-quick: address not set"
in_ns wg show "wq$$" listen-port | grep -qx 51999 || fail "wg-quick: listen port not set"
in_ns wg show "wq$$" allowed-ips | grep -q 10.201.0.2/32 || fail "wg-quick: peer not set"
[ "$(readlink "/proc/$wqpid/exe")" = "$(readlink -f "$VPND")" ] || fail "wg-quick did not run vpnd"
PATH=$WORK/bin:$PATH WG_QUICK_USERSPACE_IMPLEMENTATION=vpnd \
	ip netns exec "$NS" wg-quick down "$WORK/wq$$.conf" >>"$WORK/wq.log" 2>&1 ||
	fail "wg-quick down: $(cat "$WORK/wq.log")"
wait_gone "$wqpid" || fail "wg-quick down: daemon still running"
ok "wg-quick up/down with WG_QUICK_USERSPACE_IMPLEMENTATION=vpnd"
exit 0
