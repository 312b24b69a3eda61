#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# vpnctl against a fake control socket (tests/netns/fake_control.py), with no
# network and no real vpnd:
#  - usage: --help everywhere, bad arguments exit 2 and send nothing;
#  - the request bytes of up, up SERVER, down, status and servers, exactly;
#  - human and --json output of status and servers (JSON parsed, fields and
#    types checked, escaping and invalid UTF-8 included);
#  - exit codes: 0, 1 (daemon error, its message printed; malformed replies),
#    3 (no daemon, connection closed, no permission), 4 (up timed out,
#    by the daemon's errno=-110 or by vpnd never answering);
#  - up starts vpnd when no socket answers ($VPND, the vpnd beside vpnctl,
#    vpnd on PATH), exactly once, as "vpnd -c PROFILE IFNAME", then sends
#    up=1; a vpnd that fails to start has its message passed through;
#  - servers without a daemon reads the profile's list itself.
# Everything lives in a temporary VPND_RUNDIR; fakes are killed by PID.
set -u
REPO=$(cd "$(dirname "$0")/../.." && pwd)
VPNCTL=${VPNCTL:-$REPO/vpnctl/vpnctl}
FAKE=$REPO/tests/netns/fake_control.py
PYTHON=${PYTHON:-python3}
WORK=$(mktemp -d)
RUNDIR=$WORK/run
LOG=$WORK/requests.log
CONFIG=$WORK/config.json
CALLS=$WORK/vpnd.calls
export VPND_RUNDIR=$RUNDIR
# The kill switch's state file vpnctl reads when no daemon runs: ours.
export VPND_STATEDIR=$WORK/state
unset VPND VPND_UP_TIMEOUT
n_fakes=0
rc=0

cleanup() {
	local f
	for f in "$WORK"/fake-*.pid; do
		[ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
# vpnctl takes as many reply lines as vpnd may send (CTL_LINES_MAX in
# vpnctl/ctl.h, CONTROL_REPLY_LINES_MAX in vpnd/ctlproto.h): read from the
# headers, so that the case below stays at the limit when the limit moves.
printf '#include <stdio.h>\n#include "ctl.h"\nint main(void) { printf("%%d\\n", (int)CTL_LINES_MAX); return 0; }\n' |
	${CC:-cc} -D_GNU_SOURCE -I"$REPO/include" -I"$REPO/vpnd" -I"$REPO/vpnctl" \
		-x c - -o "$WORK/lines_max" || { echo "FAIL: cannot read CTL_LINES_MAX"; exit 1; }
CTL_LINES_MAX=$("$WORK/lines_max")

ok() { echo "  [vpnctl] ok   - $*"; }
fail() {
	echo "  [vpnctl] FAIL - $*"
	[ -s "$WORK/out" ] && sed 's/^/    stdout: /' "$WORK/out"
	[ -s "$WORK/err" ] && sed 's/^/    stderr: /' "$WORK/err"
	exit 1
}

# run VPNCTL-ARGS...: runs vpnctl, keeping stdout, stderr and the exit code.
run() {
	"$VPNCTL" "$@" >"$WORK/out" 2>"$WORK/err"
	rc=$?
}
# expect CODE DESC: the last run exited CODE.
expect() {
	[ "$rc" = "$1" ] || fail "$2: exit code $rc, wanted $1"
}
out_has() { grep -qF -- "$1" "$WORK/out" || fail "stdout lacks '$1'"; }
err_has() { grep -qF -- "$1" "$WORK/err" || fail "stderr lacks '$1'"; }
out_is() {
	[ "$(cat "$WORK/out")" = "$1" ] || fail "stdout is not '$1'"
}
# json EXPR...: stdout is one JSON document (d), and every Python EXPR on it
# holds; one interpreter for all of them, as each start costs 0.2 s.
json() {
	"$PYTHON" -c '
import json, sys
try:
    d = json.load(sys.stdin.buffer)
except ValueError as e:
    sys.exit("stdout is not JSON: %s" % e)
for expr in sys.argv[1:]:
    if not eval(expr):
        sys.exit("JSON check failed: %s" % expr)' "$@" <"$WORK/out" ||
		fail "JSON output"
}
# request FORMAT: the fake received exactly these bytes (printf FORMAT)
# since the last check.
request() {
	printf "$1" >"$WORK/want"
	touch "$LOG"
	cmp -s "$WORK/want" "$LOG" ||
		fail "request bytes: got '$(od -An -c "$LOG" | tr -s ' ')'," \
			"wanted '$(od -An -c "$WORK/want" | tr -s ' ')'"
	: >"$LOG"
}
config() { printf '%s\n' "$1" >"$CONFIG"; }
wait_file() {
	for _ in $(seq 100); do [ -e "$1" ] && return 0; sleep 0.05; done
	return 1
}
wait_gone() {
	for _ in $(seq 100); do [ -e "$1" ] || return 0; sleep 0.05; done
	return 1
}

# start_fake [IFNAME]: a fake daemon on $RUNDIR/IFNAME.sock.
start_fake() {
	local pidfile
	n_fakes=$((n_fakes + 1))
	pidfile=$WORK/fake-$n_fakes.pid
	"$PYTHON" "$FAKE" --socket "$RUNDIR/${1:-vpnd0}.sock" \
		--config "$CONFIG" --log "$LOG" --pidfile "$pidfile" \
		</dev/null >>"$WORK/fake.out" 2>&1 &
	wait_file "$pidfile" || fail "the fake daemon did not start"
	last_fake=$(cat "$pidfile")
}
stop_fake() {
	kill "$last_fake" 2>/dev/null
	wait "$last_fake" 2>/dev/null
	rm -f "$RUNDIR/${1:-vpnd0}.sock"
}

[ -x "$VPNCTL" ] || fail "no vpnctl at $VPNCTL (run make)"
mkdir -p "$RUNDIR"
: >"$LOG"

UP_OK='"up": {"keys": [["state", "connected"], ["server", "se-sto-01"],
	["endpoint", "192.0.2.1:51820"], ["address", "10.64.0.2/32"],
	["address", "fc00:bbbb::2/128"], ["dns", "10.64.0.1"],
	["elapsed_ms", "210"]]}'
UP_LINE="connected to se-sto-01 (192.0.2.1:51820) in 0.21 s; addresses 10.64.0.2/32, fc00:bbbb::2/128"

# ------------------------------------------------------------------ usage

config "{$UP_OK}"
start_fake

run; expect 2 "no command"
run nope; expect 2 "unknown command"; err_has "unknown command 'nope'"
run --help; expect 0 "--help"; out_has "Usage: vpnctl COMMAND"
run help; expect 0 "help"; out_has "Usage: vpnctl COMMAND"
run help status; expect 0 "help status"; out_has "Usage: vpnctl status"
run version; expect 0 "version"; out_has "vpnctl v"
run --version; expect 0 "--version"; out_has "vpnctl v"
for cmd in up down status servers; do
	run "$cmd" --help; expect 0 "$cmd --help"; out_has "Usage: vpnctl $cmd"
	run "$cmd" -h; expect 0 "$cmd -h"; out_has "Usage: vpnctl $cmd"
	run "$cmd" --bogus; expect 2 "$cmd --bogus"
	err_has "unknown option --bogus"
	run "$cmd" -x; expect 2 "$cmd -x"; err_has "unknown option -x"
	run "$cmd" -i; expect 2 "$cmd -i without a name"; err_has "needs an argument"
	run "$cmd" -i waytoolongname0123; expect 2 "$cmd -i with a long name"
	run "$cmd" -i a/b; expect 2 "$cmd -i with a slash"
done
run up a b; expect 2 "up with two servers"; err_has "unexpected argument 'b'"
run up 'bad id'; expect 2 "up with a blank in the id"
run up $'se\nserver=x'; expect 2 "up with a newline in the id"
run up -c ''; expect 2 "up with an empty profile"
run down now; expect 2 "down with an argument"
run status extra; expect 2 "status with an argument"
run servers extra; expect 2 "servers with an argument"
request ''
ok "--help, help, version; usage errors exit 2 and send nothing"

# ------------------------------------------------------------------ status

now=$(date +%s)
config '{"status": {"keys": [["state", "connected"], ["interface", "vpnd0"],
	["server", "se-sto-01"], ["endpoint", "192.0.2.1:51820"],
	["address", "10.64.0.2/32"], ["address", "fc00:bbbb::2/128"],
	["latest_handshake", "'$((now - 42))'"], ["rx_bytes", "1536"],
	["tx_bytes", "3145728"], ["kill_switch", "on"],
	["future_key", "ignored"]]}}'
run status; expect 0 "status"
request 'status=1\n\n'
out_has "state:            connected"
out_has "interface:        vpnd0"
out_has "server:           se-sto-01"
out_has "endpoint:         192.0.2.1:51820"
out_has "addresses:        10.64.0.2/32, fc00:bbbb::2/128"
grep -Eq '^latest handshake: 4[234] seconds ago$' "$WORK/out" ||
	fail "latest handshake not shown as seconds ago"
out_has "transfer:         1.50 KiB received, 3.00 MiB sent"
out_has "kill switch:      on"
ok "status: request bytes and human output"

run status --json; expect 0 "status --json"
request 'status=1\n\n'
json 'd["state"] == "connected" and d["interface"] == "vpnd0"' \
	'd["server"] == "se-sto-01" and d["endpoint"] == "192.0.2.1:51820"' \
	'd["address"] == ["10.64.0.2/32", "fc00:bbbb::2/128"]' \
	'type(d["latest_handshake"]) is int and d["latest_handshake"] == '$((now - 42)) \
	'd["rx_bytes"] == 1536 and d["tx_bytes"] == 3145728' \
	'd["kill_switch"] == "on" and "future_key" not in d and "error" not in d'
ok "status --json: numbers as numbers, address as an array"

config '{"status": {"keys": [["state", "error"], ["interface", "vpnd0"],
	["address", "10.64.0.2/32"], ["latest_handshake", "0"],
	["rx_bytes", "18446744073709551615"], ["tx_bytes", "0"],
	["kill_switch", "lockdown"],
	["error", "say \"no\" \\ then\ttab and \u0001 bad \udcff byte"]]}}'
run status; expect 0 "status in state error"
out_has "latest handshake: never"
out_has "transfer:         16777216.00 TiB received, 0 B sent"
out_has 'error:            say "no" \ then?tab and ? bad'
run status -j; expect 0 "status -j in state error"
json 'd["state"] == "error" and d["latest_handshake"] == 0' \
	'd["rx_bytes"] == 18446744073709551615' \
	'd["error"] == "say \"no\" \\ then\ttab and \x01 bad \ufffd byte"'
request 'status=1\n\nstatus=1\n\n'
ok "status: never, large counters, error sentence escaped (control bytes, invalid UTF-8)"

config '{"status": {"errno": -5, "message": "the tunnel is gone"}}'
run status; expect 1 "status refused"; err_has "vpnctl: the tunnel is gone"
config '{"status": {"errno": -5}}'
run status --json; expect 1 "status refused without a message"
err_has "Input/output error"
[ -s "$WORK/out" ] && fail "output on a failed status"
request 'status=1\n\nstatus=1\n\n'
ok "status: daemon errors exit 1 with the message (or strerror)"

config '{"status": {"action": "close"}}'
run status; expect 3 "connection closed without a reply"
err_has "closed the connection without a reply"
config '{"status": {"raw": "state=connected\n\n"}}'
run status; expect 1 "reply without errno"; err_has "not in the control protocol"
config '{"status": {"raw": "State=connected\nerrno=0\n\n"}}'
run status; expect 1 "uppercase key"
config '{"status": {"raw": "errno=0\nstate=connected\n\n"}}'
run status; expect 1 "a key after errno"
config '{"status": {"raw": "errno=zero\n\n"}}'
run status; expect 1 "errno not a number"
config '{"status": {"raw": "state=connected\nerrno=0\n", "close": true}}'
run status; expect 3 "reply cut before its empty line"
err_has "closed the connection without a reply"
"$PYTHON" -c '
import json, sys
json.dump({"status": {"keys": [["state", "x" * 4090]]}}, open(sys.argv[1], "w"))' "$CONFIG"
run status; expect 0 "a line of exactly 4096 bytes"
"$PYTHON" -c '
import json, sys
json.dump({"status": {"keys": [["state", "x" * 4091]]}}, open(sys.argv[1], "w"))' "$CONFIG"
run status; expect 1 "a line over 4096 bytes"; err_has "longer than 4096"
"$PYTHON" -c '
import json, sys
json.dump({"status": {"keys": [["address", "10.0.0.1/32"]] * (int(sys.argv[2]) + 1)}}, open(sys.argv[1], "w"))' \
	"$CONFIG" $CTL_LINES_MAX
run status; expect 1 "too many lines"; err_has "more than $CTL_LINES_MAX lines"
# Few lines but long ones: 300 of 4,000 bytes is over the 1 MiB + 72 KiB
# a reply may hold (CTL_REPLY_BYTES_MAX).
"$PYTHON" -c '
import json, sys
json.dump({"status": {"keys": [["address", "x" * 4000]] * 300}}, open(sys.argv[1], "w"))' "$CONFIG"
run status; expect 1 "too many bytes"; err_has "bytes"
: >"$LOG"
ok "malformed replies: exit 1 (3 when cut short); 4096-byte lines accepted, longer refused"

# ------------------------------------------------------------------ servers

config '{"servers": {"keys": [["server", "se-sto-01"], ["country", "se"],
	["city", "Stockholm"], ["endpoint", "192.0.2.10:51820"],
	["server", "ch-zrh-01"], ["country", "ch"], ["city", "Zürich"],
	["endpoint", "[2001:db8::10]:51820"],
	["server", "xx-odd-01"], ["country", "xx"],
	["city", "A \"quoted\" \\ city\t\udcfe"], ["endpoint", "198.51.100.7:443"],
	["server", "nc-01"], ["endpoint", "203.0.113.9:51820"]]}}'
run servers; expect 0 "servers"
request 'servers=1\n\n'
out_has "SERVER     COUNTRY  CITY                 ENDPOINT"
out_has "se-sto-01  se       Stockholm            192.0.2.10:51820"
out_has "ch-zrh-01  ch       Zürich               [2001:db8::10]:51820"
out_has 'xx-odd-01  xx       A "quoted" \ city?'
out_has "nc-01                                    203.0.113.9:51820"
[ "$(wc -l <"$WORK/out")" = 5 ] || fail "servers: not a header and 4 rows"
run servers --json; expect 0 "servers --json"
request 'servers=1\n\n'
json 'type(d) is list and len(d) == 4' \
	'd[0] == {"server": "se-sto-01", "country": "se", "city": "Stockholm", "endpoint": "192.0.2.10:51820"}' \
	'd[1]["city"] == "Zürich" and d[1]["endpoint"] == "[2001:db8::10]:51820"' \
	'd[2]["city"] == "A \"quoted\" \\ city\t\ufffd"' \
	'd[3] == {"server": "nc-01", "endpoint": "203.0.113.9:51820"}'
ok "servers: request bytes, table, JSON array (escaped, invalid UTF-8 repaired)"

config '{"servers": {"errno": -2, "message": "no server list"}}'
run servers; expect 1 "servers refused"; err_has "vpnctl: no server list"
request 'servers=1\n\n'
ok "servers: daemon error exits 1 with its message"

# The profile's list, read without the daemon (vpnd's own reader).
mkdir -p "$WORK/etc"
cp "$REPO/conf/client.conf" "$REPO/conf/servers.conf" "$WORK/etc/"
sed -i 's|^servers = .*|servers = servers.conf|' "$WORK/etc/client.conf"
chmod 600 "$WORK/etc/client.conf" "$WORK/etc/servers.conf"
run servers -c "$WORK/etc/client.conf" --json; expect 0 "servers -c with a daemon running"
request ''
json '[s["server"] for s in d] == ["se-sto-01", "ch-zrh-01", "us-nyc-01"]' \
	'd[1] == {"server": "ch-zrh-01", "country": "ch", "city": "Zürich", "endpoint": "[2001:db8::10]:51820"}'
ok "servers -c PROFILE reads the profile's list, not the daemon's"

# ------------------------------------------------------------------ up

config "{$UP_OK}"
run up; expect 0 "up"
request 'up=1\n\n'
out_is "$UP_LINE"
run up ch-zrh-01; expect 0 "up SERVER"
request 'up=1\nserver=ch-zrh-01\n\n'
run up -c "$WORK/etc/client.conf" se-sto-01; expect 0 "up -c while running"
request 'up=1\nserver=se-sto-01\n\n'
err_has "-c $WORK/etc/client.conf is ignored"
out_is "$UP_LINE"
ok "up: request bytes with and without a server; output; -c ignored with a warning when running"

config '{"up": {"keys": [["state", "connecting"], ["server", "se-sto-01"],
	["endpoint", "192.0.2.1:51820"]], "errno": -110,
	"message": "no handshake after 10 seconds"}}'
run up; expect 4 "up timed out (errno=-110)"
err_has "timed out waiting for the first handshake with se-sto-01 (192.0.2.1:51820): no handshake after 10 seconds"
err_has "vpnctl down"
config '{"up": {"errno": -2, "message": "unknown server nowhere-01"}}'
run up nowhere-01; expect 1 "up refused"; err_has "vpnctl: unknown server nowhere-01"
request 'up=1\n\nup=1\nserver=nowhere-01\n\n'
ok "up: errno=-110 exits 4, other errors exit 1 with the message"

config '{"up": {"action": "hang"}}'
start=$(date +%s%N)
VPND_UP_TIMEOUT=0.2 run up; expect 4 "up with vpnd never answering"
elapsed=$((($(date +%s%N) - start) / 1000000))
[ "$elapsed" -lt 8000 ] || fail "up waited $elapsed ms"
err_has "did not answer"
request 'up=1\n\n'
ok "up: no reply within VPND_UP_TIMEOUT + margin exits 4 ($elapsed ms)"

# ------------------------------------------------------------------ down

config '{"down": {}}'
run down; expect 0 "down"
request 'down=1\n\n'
out_is "disconnected"
wait_gone "$RUNDIR/vpnd0.sock" || fail "the fake did not exit after down"
run down; expect 3 "down with no daemon"; err_has "vpnd is not running on vpnd0"
run status; expect 0 "status with no daemon"
out_has "state:            disconnected"
run status --json; expect 0 "status --json with no daemon"
json 'd == {"interface": "vpnd0", "state": "disconnected", "address": [], "kill_switch_kernel": "unchecked (vpnd is not running; no state file)", "split_net": []}'
# With a state file, status shows the kill switch it keeps.
mkdir -m 755 "$VPND_STATEDIR"
printf 'mode=lockdown\nallow_lan=yes\nhold=no\nprofile_mode=on\nprofile_allow_lan=no\narp_ignore=-1\n' >"$VPND_STATEDIR/killswitch"
chmod 644 "$VPND_STATEDIR/killswitch"
run status --json; expect 0 "status --json with no daemon, a state file"
json 'd["kill_switch"] == "lockdown"' 'd["allow_lan"] == "yes"' 'd["kill_switch_kernel"] == "unchecked (vpnd is not running)"'
run status; expect 0 "status with no daemon, a state file"
out_has "kill switch:      lockdown, LAN allowed"
rm -r "$VPND_STATEDIR"
ok "down: request bytes; the daemon goes; then down exits 3, status says disconnected (exit 0) and the kill switch of the state file"

start_fake
config '{"down": {"errno": -16, "message": "cannot restore resolv.conf"}}'
run down; expect 1 "down failed"; err_has "vpnctl: cannot restore resolv.conf"
request 'down=1\n\n'
stop_fake
# A socket nobody listens on any more, as a crashed daemon leaves it.
[ -S "$RUNDIR/vpnd0.sock" ] && fail "stop_fake left the socket"
"$PYTHON" -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$RUNDIR/vpnd0.sock"
run status; expect 0 "status with a stale socket"; out_has "disconnected"
run down; expect 3 "down with a stale socket"
ok "down: daemon error exits 1; a stale socket is no daemon"

# -i IFNAME names another socket.
start_fake tun7
config '{"status": {"keys": [["state", "connecting"], ["interface", "tun7"]]}}'
run status -i tun7 --json; expect 0 "status -i"
json 'd["interface"] == "tun7" and d["state"] == "connecting"'
request 'status=1\n\n'
stop_fake tun7

# No permission: a root-only socket, as an unprivileged user.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	start_fake perm
	chmod 755 "$WORK" "$RUNDIR"
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$VPNCTL" status -i perm >"$WORK/out" 2>"$WORK/err"
	rc=$?
	expect 3 "status without permission"; err_has "permission denied"
	request ''
	stop_fake perm
	ok "-i IFNAME; a socket without permission exits 3"
else
	ok "-i IFNAME (permission case skipped: needs root and setpriv)"
fi

# ------------------------------------------------------------------ up starts vpnd

mkdir -p "$WORK/bin" "$WORK/alone"
cat >"$WORK/bin/vpnd" <<EOF
#!/usr/bin/env bash
# A fake vpnd: checks "--client -c PROFILE IFNAME", starts a fake control socket,
# and returns once it listens, as vpnd's parent does.
echo "\$*" >>"$CALLS"
if [ \$# != 4 ] || [ "\$1" != --client ] || [ "\$2" != -c ] || [ -z "\$3" ] || [ -z "\$4" ]; then
	echo "fake vpnd: bad arguments: \$*" >&2
	exit 1
fi
if [ -n "\${FAKE_VPND_FAIL:-}" ]; then
	echo "vpnd: cannot create interface \$4: the name is taken" >&2
	exit 1
fi
pidfile=$WORK/fake-vpnd-\$\$.pid
"$PYTHON" "$FAKE" --socket "$RUNDIR/\$4.sock" --config "$CONFIG" \\
	--log "$LOG" --pidfile "\$pidfile" </dev/null >>"$WORK/fake.out" 2>&1 &
for _ in \$(seq 100); do
	[ -e "\$pidfile" ] && exit 0
	sleep 0.05
done
echo "fake vpnd: the control socket did not appear" >&2
exit 1
EOF
chmod 755 "$WORK/bin/vpnd"
: >"$CALLS"
config "{$UP_OK, \"down\": {}}"
rm -f "$RUNDIR/vpnd0.sock"

VPND=$WORK/bin/vpnd run up -c "$WORK/etc/client.conf"; expect 0 "up starting vpnd"
out_is "$UP_LINE"
[ "$(cat "$CALLS")" = "--client -c $WORK/etc/client.conf vpnd0" ] ||
	fail "vpnd started as '$(cat "$CALLS")'"
request 'up=1\n\n'
VPND=$WORK/bin/vpnd run up se-sto-01; expect 0 "up with vpnd running"
[ "$(wc -l <"$CALLS")" = 1 ] || fail "vpnd started again"
request 'up=1\nserver=se-sto-01\n\n'
run down; expect 0 "down"; request 'down=1\n\n'
wait_gone "$RUNDIR/vpnd0.sock" || fail "the fake did not exit after down"
ok "up starts vpnd exactly once as 'vpnd -c PROFILE IFNAME', then sends up=1"

# The default profile, a relative one, another interface, a stale socket.
: >"$CALLS"
"$PYTHON" -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$RUNDIR/vpnd0.sock"
VPND=$WORK/bin/vpnd run up; expect 0 "up with the default profile over a stale socket"
[ "$(cat "$CALLS")" = "--client -c /etc/vpnd/client.conf vpnd0" ] ||
	fail "vpnd started as '$(cat "$CALLS")'"
request 'up=1\n\n'
run down; expect 0 "down"; request 'down=1\n\n'
wait_gone "$RUNDIR/vpnd0.sock" || fail "the fake did not exit after down"
: >"$CALLS"
(cd "$WORK/etc" && VPND=$WORK/bin/vpnd "$VPNCTL" up -c client.conf -i tun9 \
	>"$WORK/out" 2>"$WORK/err"); rc=$?
expect 0 "up with a relative profile on tun9"
[ "$(cat "$CALLS")" = "--client -c $WORK/etc/client.conf tun9" ] ||
	fail "vpnd started as '$(cat "$CALLS")'"
request 'up=1\n\n'
run down -i tun9; expect 0 "down -i tun9"; request 'down=1\n\n'
wait_gone "$RUNDIR/tun9.sock" || fail "the fake did not exit after down"
ok "up: default profile, relative profile made absolute, -i, stale socket replaced"

# Which vpnd: beside vpnctl, then on PATH.
cp "$VPNCTL" "$WORK/bin/vpnctl"
cp "$VPNCTL" "$WORK/alone/vpnctl"
: >"$CALLS"
"$WORK/bin/vpnctl" up >"$WORK/out" 2>"$WORK/err"; rc=$?
expect 0 "up with the vpnd beside vpnctl"
run down; expect 0 "down"
wait_gone "$RUNDIR/vpnd0.sock" || fail "the fake did not exit after down"
PATH=$WORK/bin:$PATH "$WORK/alone/vpnctl" up >"$WORK/out" 2>"$WORK/err"; rc=$?
expect 0 "up with vpnd on PATH"
run down; expect 0 "down"
wait_gone "$RUNDIR/vpnd0.sock" || fail "the fake did not exit after down"
[ "$(wc -l <"$CALLS")" = 2 ] || fail "vpnd not started once each"
request 'up=1\n\ndown=1\n\nup=1\n\ndown=1\n\n'
ok "up finds vpnd beside its own executable, then on PATH"

# A vpnd that cannot start: its message, exit 1, nothing sent.
: >"$CALLS"
FAKE_VPND_FAIL=1 VPND=$WORK/bin/vpnd run up; expect 1 "up with a failing vpnd"
err_has "vpnd: cannot create interface vpnd0: the name is taken"
VPND=$WORK/nonexistent run up; expect 1 "up with no vpnd binary"
err_has "cannot run $WORK/nonexistent"
[ -e "$RUNDIR/vpnd0.sock" ] && fail "a socket appeared"
request ''
ok "up: a vpnd that fails has its message passed through, exit 1"

echo "  [vpnctl] all passed"
