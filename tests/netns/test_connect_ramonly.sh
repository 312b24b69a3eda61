#!/bin/bash
# test_connect_ramonly.sh: the server role keeps nothing about users but in
# memory, and forgets (issue 12, docs/config.md "RAM only").
#
# Two wireguard-go clients in the client namespace, alice (IF_C, no
# keepalive, goes idle) and bob (IF_G, persistent keepalive 1 s), against a
# vpnd server:
#
#   1. config from standard input, LOG_LEVEL=verbose, forget_after = 2 and
#      VPND_TEST_REJECT_AFTER_TIME=3, under strace -f -y: both clients
#      handshake and move traffic (to the server and, NATed, to the internet
#      host); fd 0 is /dev/null again and no memory file is left; alice,
#      idle, is forgotten (wg show: no endpoint, no handshake, no transfer)
#      while bob keeps his; the log names alice by her config name and holds
#      none of the clients' addresses, ports or public keys; strace shows no
#      open for writing, no write and no change to any path outside /run,
#      /proc, /sys and /dev (the same check catches a control that writes
#      a file);
#   2. restart, config from a credential ($CREDENTIALS_DIRECTORY, its key in
#      a credential of its own), log_sensitive = yes: the restarted server
#      knows no endpoint and no handshake; alice reconnects and the log now
#      does hold her address, port and key (so the check of 1 can fail);
#      memory: core limit 0 (/proc/PID/limits), memory locked (VmLck), not
#      dumpable (its /proc/PID/cwd refused to root without CAP_SYS_PTRACE,
#      while a dumpable control process's is readable);
#      kill -SEGV leaves no core file in its working directory, where a
#      control process crashing the same way leaves one;
#   3. without CAP_IPC_LOCK and with a 64 KiB RLIMIT_MEMLOCK the server
#      refuses to start.
CL_TAG=r
. "$(dirname "$0")/connect_lib.sh"

prereqs strace setpriv "$WG_GO"
keys
topology

# Client listen ports: a leak of either is recognisable in the log.
PORT_A=40517 PORT_B=40529
TUN_B=10.64.0.3
IF_A=$IF_C      # alice; IF_C and IF_G are the names the EXIT trap cleans up
IF_B=$IF_G      # bob, although connect_lib calls it the wireguard-go server
mkdir -m 700 "$WORK/cwd" "$WORK/creds"

# write_conf FILE KEY-LINE [extra [interface] lines]
write_conf() {
	local f=$1 key=$2 l
	shift 2
	{
		echo "[interface]"
		echo "$key"
		echo "listen_port = $PORT"
		echo "address = $TUN_S/24"
		echo "nat = $S_UP"
		for l in "$@"; do echo "$l"; done
		echo "[peer alice]"
		echo "public_key = $PC"
		echo "allowed_ips = $TUN_C/32"
		echo "[peer bob]"
		echo "public_key = $PG"
		echo "allowed_ips = $TUN_B/32"
	} >"$f"
	chmod 600 "$f"
}

# server_pid: the vpnd (not strace) serving IF_S.
server_pid() {
	local p
	for p in $(ip netns pids "$NS_S" 2>/dev/null); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = vpnd ] && pid_is "$p" "$IF_S" &&
			{ echo "$p"; return 0; }
	done
	return 1
}

server_ready() { wait_for "in_s wg show $IF_S listen-port | grep -qx $PORT" 15; }

stop_server() {
	local p
	p=$(server_pid) || return 0
	kill -TERM "$p"
	wait_for "! server_pid" 10
}

# wg_client IFNAME KEY PORT ADDRESS [wg set peer args...]
wg_client() {
	local ifn=$1 key=$2 port=$3 addr=$4
	shift 4
	printf '%s\n' "$key" >"$WORK/$ifn.key"
	ip netns exec "$NS_C" "$WG_GO" -f "$ifn" >"$WORK/$ifn.log" 2>&1 </dev/null &
	HELPERS+=("$!:$ifn")
	wait_for "in_c wg show $ifn" 10 || die "wireguard-go $ifn did not start"
	in_c wg set "$ifn" private-key "$WORK/$ifn.key" listen-port "$port" \
		peer "$PS" endpoint "$S_ADDR:$PORT" allowed-ips 0.0.0.0/0 "$@" ||
		die "wg set $ifn"
	ip -n "$NS_C" addr add "$addr/32" dev "$ifn" || die "address on $ifn"
	ip -n "$NS_C" link set "$ifn" up || die "$ifn up"
}

# peer_field FIELD KEY: that peer's line of `wg show IF_S FIELD`, value only.
peer_field() { in_s wg show "$IF_S" "$2" | awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print }'; }

# ------------------------------------------------------- the write checker
cat >"$WORK/writes.py" <<'EOF'
# writes.py STRACE-LOG: every open for writing, write through a descriptor
# and path change the trace shows must be under /run, /proc, /sys or /dev.
# Prints the counts and the offending lines; exits 1 if there is any.
import re, sys
ALLOWED = ("/run", "/proc", "/sys", "/dev")
def inside(p):
    # An anonymous memory file (the copy of standard input) is no disk.
    if p.startswith("/memfd:"):
        return True
    if p.startswith("/var/run/") or p == "/var/run":
        p = "/run" + p[len("/var/run"):]
    return any(p == a or p.startswith(a + "/") for a in ALLOWED)
OPEN = re.compile(r'^(?:\d+ +)?(open|openat|openat2|creat)\((?:(?:AT_FDCWD|\d+)<([^>]*)>, )?"([^"]*)"(.*)$')
CHANGE = re.compile(r'^(?:\d+ +)?(mkdir|mkdirat|unlink|unlinkat|rmdir|rename|renameat|renameat2|link|linkat|symlink|symlinkat|chmod|fchmodat|chown|lchown|fchownat|truncate|mknod|mknodat|utimensat|utimes|utime)\((?:(?:AT_FDCWD|\d+)<([^>]*)>, )?"([^"]*)"')
FDW = re.compile(r'^(?:\d+ +)?(write|writev|pwrite64|pwritev|pwritev2|ftruncate|fchmod|fchown)\(\d+<([^>]*)>')
WRITE_FLAGS = re.compile(r'O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND')
counts = {"open-for-write allowed": 0, "fd writes allowed": 0, "path changes allowed": 0}
bad = []
def full(base, p):
    return p if p.startswith("/") else (base or "?") + "/" + p
for line in open(sys.argv[1], errors="replace"):
    m = OPEN.match(line)
    if m:
        if m.group(1) == "creat" or WRITE_FLAGS.search(m.group(4)):
            p = full(m.group(2), m.group(3))
            if inside(p): counts["open-for-write allowed"] += 1
            else: bad.append(line.rstrip())
        continue
    m = CHANGE.match(line)
    if m:
        p = full(m.group(2), m.group(3))
        if inside(p): counts["path changes allowed"] += 1
        else: bad.append(line.rstrip())
        continue
    m = FDW.match(line)
    if m and m.group(2).startswith("/"):
        if inside(m.group(2)): counts["fd writes allowed"] += 1
        else: bad.append(line.rstrip())
print(", ".join("%s %d" % kv for kv in counts.items()), "; outside:", len(bad))
for b in bad[:10]: print("    " + b[:200])
sys.exit(1 if bad else 0)
EOF

TRACE="strace -f -y -qq -s 8 -e trace=%file,write,writev,pwrite64,pwritev,pwritev2,ftruncate,fchmod,fchown,memfd_create"

say "--- the write checker catches a write (control)"
(cd "$WORK/cwd" && $TRACE -o "$WORK/control.trace" sh -c 'echo x >written.txt')
out=$("$PYTHON" "$WORK/writes.py" "$WORK/control.trace")
check "a shell writing $WORK/cwd/written.txt is caught: ${out%%$'\n'*}" test $? = 1
rm -f "$WORK/cwd/written.txt"

# ----------------------------------------------------------------- phase 1
say "--- 1: config from standard input, verbose, under strace"
write_conf "$WORK/server.conf" "private_key = $KS" "forget_after = 2"
(cd "$WORK/cwd" && ip netns exec "$NS_S" env LOG_LEVEL=verbose VPND_TEST_REJECT_AFTER_TIME=3 \
	$TRACE -o "$WORK/server.trace" "$VPND" -f -c - "$IF_S" <"$WORK/server.conf" 2>&1 |
	cat >"$WORK/server1.log") &
TRACED=$!
server_ready || { sed 's/^/    | /' "$WORK/server1.log"; die "vpnd server (config from stdin) did not start"; }
SPID=$(server_pid) || die "no vpnd process in the server namespace"
ok "the server started with its config from standard input (pid $SPID)"
check "its fd 0 is /dev/null once the config is loaded" test "$(readlink "/proc/$SPID/fd/0")" = /dev/null
check_not "no memory file of the config is left open" sh -c "ls -l /proc/$SPID/fd | grep -q memfd"

wg_client "$IF_A" "$KC" "$PORT_A" "$TUN_C"
wg_client "$IF_B" "$KG" "$PORT_B" "$TUN_B" persistent-keepalive 1
ip -n "$NS_C" route add "$TUN_S/32" dev "$IF_A" metric 1
ip -n "$NS_C" route add "$TUN_S/32" dev "$IF_B" metric 2
ip -n "$NS_C" route add "$INET/32" dev "$IF_A"
check "alice pings the server through the tunnel" quiet in_c ping -c 3 -i 0.2 -W 2 -I "$IF_A" "$TUN_S"
check "alice reaches the internet host through NAT (1000-byte pings)" \
	quiet in_c ping -c 20 -i 0.05 -s 1000 -W 2 -I "$IF_A" "$INET"
check "bob pings the server through the tunnel" quiet in_c ping -c 3 -i 0.2 -W 2 -I "$IF_B" "$TUN_S"
ep=$(peer_field "$PC" endpoints)
check "the server knows alice's endpoint ($ep)" test "$ep" = "$C_ADDR:$PORT_A"
ep=$(peer_field "$PG" endpoints)
check "the server knows bob's endpoint ($ep)" test "$ep" = "$C_ADDR:$PORT_B"

# alice's last packet is her last ping; then the rest of her 3 s session
# (shortened) and forget_after = 2.  The keepalive her wireguard-go sends
# 10 s after the last reply, if it comes later, only postpones it by 2 s.
if wait_for "[ \"\$(peer_field $PC endpoints)\" = '(none)' ]" 40; then
	ok "alice, idle, is forgotten: wg show gives her no endpoint"
else
	bad "alice still has an endpoint: $(peer_field "$PC" endpoints)"
fi
check "alice's latest handshake is gone" test "$(peer_field "$PC" latest-handshakes)" = 0
check "alice's transfer counters are gone" test "$(peer_field "$PC" transfer)" = "0 0"
ep=$(peer_field "$PG" endpoints)
check "bob, sending keepalives, keeps his endpoint ($ep)" test "$ep" = "$C_ADDR:$PORT_B"
check "bob's latest handshake is kept" test "$(peer_field "$PG" latest-handshakes)" -gt 0

stop_server || bad "the server did not stop on SIGTERM"
wait "$TRACED"   # strace has written all of its trace
log=$(cat "$WORK/server1.log")
contains "the verbose log names peers by config name" "$log" \
	"alice: session started" "bob: session started" "alice: idle, forgotten"
leaks=()
for s in "$C_ADDR" "$C_ADDR6" "$PORT_A" "$PORT_B" "$PC" "$PG" "$KS" "$KC" "$KG"; do
	case $log in *"$s"*) leaks+=("$s") ;; esac
done
if [ ${#leaks[@]} = 0 ]; then
	ok "the verbose log ($(grep -c . <<<"$log") lines) holds no client address, port or key"
else
	bad "the log holds: ${leaks[*]}"
	sed 's/^/    | /' "$WORK/server1.log" | head -20
fi
out=$("$PYTHON" "$WORK/writes.py" "$WORK/server.trace")
rc=$?
check "strace: nothing opened for writing, written or changed outside /run, /proc, /sys, /dev: $out" test $rc = 0
check "strace saw the server write where it may (forwarding sysctls, the TUN device)" \
	grep -qE 'openat\([^"]*"/proc/sys/net/ipv4/conf/[^"]*/forwarding", O_RDWR' "$WORK/server.trace"
grep -qE '^[0-9]+ +writev?\([0-9]+</dev/net/tun>' "$WORK/server.trace" ||
	bad "strace saw no write to /dev/net/tun: the trace missed the data path"
check_not "no file appeared in the server's working directory" sh -c "ls -A '$WORK/cwd' | grep -q ."

# ----------------------------------------------------------------- phase 2
say "--- 2: restart, config from a credential, log_sensitive = yes"
printf '%s\n' "$KS" >"$WORK/creds/server.key"
write_conf "$WORK/creds/server.conf" "private_key_file = server.key" "log_sensitive = yes"
chmod 400 "$WORK/creds/server.key" "$WORK/creds/server.conf"
chmod 500 "$WORK/creds"
# Without CAP_SYS_PTRACE (which it does not need), so that the dumpable
# check below compares like with like: the kernel lets a caller look into a
# process only if it holds every capability the process holds.
# The core limit it starts with is the highest this shell may set: a machine
# (or container) may cap the hard limit, and raising it needs CAP_SYS_RESOURCE.
CORE_START=$(ulimit -Hc)
(cd "$WORK/cwd" && ulimit -c "$CORE_START" && exec ip netns exec "$NS_S" \
	setpriv --bounding-set=-sys_ptrace env LOG_LEVEL=verbose \
	CREDENTIALS_DIRECTORY="$WORK/creds" "$VPND" -f -c cred:server.conf "$IF_S" \
	>"$WORK/server2.log" 2>&1) &
server_ready || { sed 's/^/    | /' "$WORK/server2.log"; die "vpnd server (credential) did not start"; }
SPID=$(server_pid) || die "no vpnd process in the server namespace"
ok "the server started from cred:server.conf, its key the credential server.key"
eps=$(in_s wg show "$IF_S" endpoints | awk '{ print $2 }' | sort -u | tr '\n' ' ')
check "after the restart no peer has an endpoint ($eps)" test "$eps" = "(none) "
hs=$(in_s wg show "$IF_S" latest-handshakes | awk '{ print $2 }' | sort -u | tr '\n' ' ')
check "after the restart no peer has a handshake ($hs)" test "$hs" = "0 "

# alice starts over (a new peer on her side handshakes at once).
in_c wg set "$IF_A" peer "$PS" remove
in_c wg set "$IF_A" peer "$PS" endpoint "$S_ADDR:$PORT" allowed-ips 0.0.0.0/0
check "alice pings the restarted server" quiet in_c ping -c 3 -i 0.2 -W 2 -I "$IF_A" "$TUN_S"
wait_for "grep -q 'alice (' $WORK/server2.log" 5
log=$(cat "$WORK/server2.log")
contains "with log_sensitive = yes the log holds alice's key, address and port (the check of 1 can fail)" \
	"$log" "alice ($PC, $C_ADDR:$PORT_A): session started"

say "--- memory"
limits=$(awk '/^Max core file size/ { print $5, $6 }' "/proc/$SPID/limits")
if [ "$CORE_START" != 0 ]; then
	check "core file size limit 0 (soft, hard: $limits), although started with $CORE_START" test "$limits" = "0 0"
else
	note "this machine's hard core limit is 0: that vpnd lowers it cannot be shown here (it is $limits)"
fi
lck=$(awk '/^VmLck:/ { print $2 }' "/proc/$SPID/status")
check "its memory is locked (VmLck $lck kB)" test "${lck:-0}" -gt 0
(cd "$WORK/cwd" && exec setpriv --bounding-set=-sys_ptrace sleep 60) &
CTRL=$!
HELPERS+=("$CTRL:sleep")
sleep 0.2
check "control: a dumpable process's /proc/PID/cwd can be read by root without CAP_SYS_PTRACE" \
	quiet setpriv --bounding-set=-sys_ptrace readlink "/proc/$CTRL/cwd"
check_not "vpnd is not dumpable: its /proc/PID/cwd cannot be read that way" \
	quiet setpriv --bounding-set=-sys_ptrace readlink "/proc/$SPID/cwd"
kill "$CTRL"

(cd "$WORK/cwd" && ulimit -c "$CORE_START" && exec sh -c 'kill -SEGV $$') 2>/dev/null
ctrl_cores=$(ls "$WORK/cwd" | grep -c '^core')
rm -f "$WORK"/cwd/core*
kill -SEGV "$SPID"
wait_for "! server_pid" 10 || bad "vpnd survived SIGSEGV"
sleep 0.5
if [ "$ctrl_cores" -gt 0 ]; then
	ok "control: a shell killed by SIGSEGV in the same directory leaves a core file"
	check_not "vpnd killed by SIGSEGV leaves no core file" sh -c "ls '$WORK/cwd' | grep -q '^core'"
elif [ "$CORE_START" = 0 ]; then
	note "no process may dump core here (hard core limit 0): a missing core file from vpnd would prove nothing; its being non-dumpable is checked above"
else
	bad "the control crash left no core file (kernel.core_pattern is $(cat /proc/sys/kernel/core_pattern)): cannot judge vpnd's"
fi

# ----------------------------------------------------------------- phase 3
say "--- 3: no locked memory, no server"
out=$(cd "$WORK/cwd" && ulimit -l 64 && ip netns exec "$NS_S" setpriv --bounding-set=-ipc_lock \
	"$VPND" -f -c "$WORK/server.conf" "$IF_S" 2>&1)
rc=$?
check "without CAP_IPC_LOCK and with 64 KiB of RLIMIT_MEMLOCK the server refuses to start (exit $rc)" test $rc = 1
contains "and says why" "$out" "cannot lock memory" "the server role needs CAP_IPC_LOCK"
check_not "and made no interface" quiet ip -n "$NS_S" link show "$IF_S"
finish
