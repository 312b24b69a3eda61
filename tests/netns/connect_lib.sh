# tests/netns/connect_lib.sh: harness for the client/server role tests
# (tests/netns/test_connect*.sh, issue 4 "What must hold").
#
# Sourced by each test_connect_*.sh after it sets CL_TAG, a one-letter tag
# that makes its namespace and interface names unique (u, l, g, s, b; k, m, t for
# the kill switch tests).
#
# Topology (every address is a documentation range, and exists only in the
# namespaces made here):
#
#   client ns            server ns                        internet ns
#   cph0 192.0.2.2/24 -- sph0 192.0.2.1/24
#        2001:db8:1::2/64     2001:db8:1::1/64
#        default via .1       sup0 198.51.100.1/24 ------ iph0 198.51.100.2/24
#                                  2001:db8:2::1/64             198.51.100.53/24
#                                                               2001:db8:2::2/64
#   tunnel: server 10.64.0.1/24 fc00:bbbb::1/64, client 10.64.0.2/32 (fc00:bbbb::2/128)
#
# The "internet" host runs an HTTP server (port 8080, a 2 MiB file), a UDP
# echo (9999) and a DNS responder (53, answers every A query with
# 203.0.113.7), on IPv4 and IPv6. The client namespace's resolv.conf is
# /etc/netns/NS/resolv.conf, which `ip netns exec` bind-mounts.
#
# Nothing here touches the host's routes, firewall or resolver: the EXIT trap
# kills every process in our namespaces (`ip netns pids`: the client vpnd
# daemonizes, so its PID is not ours to record), kills recorded helpers,
# deletes the namespaces, /etc/netns/NAME, our UAPI sockets and the work
# directory.
#
# Knobs: VPND, VPNCTL, WG_GO, PYTHON, KEEP_WORK=1 (keep the work directory),
# VERBOSE=1 (set -x).

set -u
set -o pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VPND=${VPND:-$REPO/vpnd/vpnd}
VPNCTL=${VPNCTL:-$REPO/vpnctl/vpnctl}
WG_GO=${WG_GO:-$(command -v wireguard-go || echo wireguard-go)}
PYTHON=${PYTHON:-python3}
CL_TAG=${CL_TAG:-x}
TEST_NAME=$(basename "$0" .sh)

[ "${VERBOSE:-0}" = 1 ] && set -x
umask 077

NS_C=vc-$CL_TAG-$$-cli
NS_S=vc-$CL_TAG-$$-srv
NS_I=vc-$CL_TAG-$$-inet
IF_C=vc${CL_TAG}c$$     # client tunnel (also names the control socket)
IF_S=vc${CL_TAG}s$$     # vpnd server tunnel
IF_G=vc${CL_TAG}g$$     # wireguard-go server tunnel

C_PHYS=cph0 S_DOWN=sph0 S_UP=sup0 I_PHYS=iph0
C_ADDR=192.0.2.2 S_ADDR=192.0.2.1 GW=192.0.2.1
C_ADDR6=2001:db8:1::2 S_ADDR6=2001:db8:1::1
S_UP_ADDR=198.51.100.1 INET=198.51.100.2 INET_DNS=198.51.100.53
S_UP_ADDR6=2001:db8:2::1 INET6=2001:db8:2::2
LAN_DNS=192.0.2.53          # the resolver of the client's original resolv.conf
TUN_S=10.64.0.1 TUN_C=10.64.0.2 TUN_S6=fc00:bbbb::1 TUN_C6=fc00:bbbb::2
PORT=51820 PORT_G=51830
SERVER_ID=se-sto-01

NSES=()
HELPERS=()
ETC_NETNS_OURS=no   # yes: /etc/netns did not exist before this run made it
FAILS=0
PASSES=0
WORK=$(mktemp -d "/tmp/vpnd-$TEST_NAME.XXXXXX") || exit 1
chmod 700 "$WORK"
RUNDIR=$WORK/run     # VPND_RUNDIR of the client
mkdir -m 700 "$RUNDIR"
STATEDIR=$WORK/state # VPND_STATEDIR of the client: the kill switch's state file
mkdir -m 700 "$STATEDIR"
T0=$(date +%s.%N)

# ---------------------------------------------------------------- reporting

say()  { printf '  [%s] %s\n' "$TEST_NAME" "$*"; }
ok()   { PASSES=$((PASSES + 1)); say "ok   - $*"; }
bad()  { FAILS=$((FAILS + 1)); say "FAIL - $*"; }
note() { say "note - $*"; }
# die MSG: a prerequisite or setup step failed; nothing after it can run.
die()  { FAILS=$((FAILS + 1)); say "FAIL - $* (cannot go on)"; exit 1; }

# check DESC CMD...: CMD must succeed.
check() {
	local d=$1; shift
	if "$@"; then ok "$d"; else bad "$d (command: $*)"; return 1; fi
}

# check_not DESC CMD...: CMD must fail.
check_not() {
	local d=$1; shift
	if "$@"; then bad "$d (unexpectedly succeeded: $*)"; return 1; else ok "$d"; fi
}

# contains DESC HAYSTACK NEEDLE...: every NEEDLE is a substring of HAYSTACK.
contains() {
	local d=$1 h=$2 n miss=()
	shift 2
	for n in "$@"; do
		case $h in *"$n"*) ;; *) miss+=("$n") ;; esac
	done
	if [ ${#miss[@]} = 0 ]; then ok "$d"; return 0; fi
	bad "$d: missing $(printf '"%s" ' "${miss[@]}")in: $(printf '%s' "$h" | head -c 600)"
	return 1
}

# quiet CMD...: CMD with its output discarded.
quiet() { "$@" >/dev/null 2>&1; }

# wait_for CMD SECONDS: polls the shell string CMD every 0.1 s.
wait_for() {
	local cmd=$1 n i
	n=$(awk -v t="$2" 'BEGIN { printf "%d", t * 10 }')
	for ((i = 0; i <= n; i++)); do
		eval "$cmd" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

finish() {
	say "$PASSES passed, $FAILS failed, $(elapsed "$T0") s"
	[ "$FAILS" = 0 ] && exit 0
	exit 1
}

# ---------------------------------------------------------------- cleanup

pid_is() { { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null | grep -qF -- "$2"; }

kill_ns_procs() { # NS: TERM every process in it, then KILL what is left
	local ns=$1 i pids
	pids=$(ip netns pids "$ns" 2>/dev/null)
	[ -n "$pids" ] || return 0
	kill -TERM $pids 2>/dev/null
	for ((i = 0; i < 30; i++)); do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[ -n "$pids" ] || return 0
		sleep 0.1
	done
	kill -KILL $pids 2>/dev/null
	sleep 0.2
}

cleanup() {
	local rc=$? p ns
	set +e
	trap - EXIT
	for p in "${HELPERS[@]}"; do
		pid_is "${p%%:*}" "${p#*:}" && kill -TERM "${p%%:*}" 2>/dev/null
	done
	for ns in "${NSES[@]}"; do kill_ns_procs "$ns"; done
	for ns in "${NSES[@]}"; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "/etc/netns/$NS_C"
	# /etc/netns itself, if this run made it (and no one else uses it now).
	[ "$ETC_NETNS_OURS" = yes ] && rmdir /etc/netns 2>/dev/null
	# Only our own sockets: these interface names are unique to this run.
	rm -f "/var/run/wireguard/$IF_C.sock" "/var/run/wireguard/$IF_S.sock" \
		"/var/run/wireguard/$IF_G.sock"
	# What a test made beyond this topology (mounts, more sockets).
	declare -F cleanup_extra >/dev/null && cleanup_extra
	if [ "${KEEP_WORK:-0}" = 1 ]; then echo "  work directory kept: $WORK"; else rm -rf "$WORK"; fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# helper NAME CMD...: runs CMD in the background and records its PID.
helper() {
	local word=$1; shift
	"$@" &
	HELPERS+=("$!:$word")
	LAST_HELPER=$!
}

# start_wggo_dual: wireguard-go as the server in NS_S on IF_G (key KG,
# port PORT_G), IPv4 and IPv6 inside, the client's tunnel addresses
# masqueraded out of S_UP; forwarding is the caller's.  LAST_HELPER is
# its pid.
start_wggo_dual() {
	printf '%s\n' "$KG" >"$WORK/wggo.key"
	helper "$IF_G" ip netns exec "$NS_S" "$WG_GO" -f "$IF_G" >"$WORK/wggo.log" 2>&1 </dev/null
	wait_for "in_s wg show $IF_G" 10 || die "wireguard-go did not start: $(tail -5 "$WORK/wggo.log")"
	in_s wg set "$IF_G" private-key "$WORK/wggo.key" listen-port $PORT_G \
		peer "$PC" allowed-ips "$TUN_C/32,$TUN_C6/128" || die "wg set on wireguard-go"
	ip -n "$NS_S" addr add $TUN_S/24 dev "$IF_G" || die "address on $IF_G"
	ip -n "$NS_S" addr add $TUN_S6/64 dev "$IF_G" nodad || die "IPv6 address on $IF_G"
	ip -n "$NS_S" link set "$IF_G" up || die "$IF_G up"
	in_s nft -f - <<EOF || die "nftables masquerade"
table inet vctest_nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "$S_UP" ip saddr 10.64.0.0/24 masquerade
		oifname "$S_UP" ip6 saddr fc00:bbbb::/64 masquerade
	}
}
EOF
}

# ------------------------------------------------------------ prerequisites

prereqs() {
	local c
	[ "$(id -u)" = 0 ] || { echo "$TEST_NAME: needs root" >&2; exit 1; }
	for c in ip wg nft tcpdump ping "$PYTHON" "$@"; do
		command -v "$c" >/dev/null 2>&1 || die "prerequisite missing: $c"
	done
	[ -x "$VPND" ] || die "vpnd not built: $VPND (run make)"
	[ -x "$VPNCTL" ] || die "vpnctl not built: $VPNCTL (run make)"
	[ -c /dev/net/tun ] || die "no /dev/net/tun"
}

# ---------------------------------------------------------------- topology

in_c() { ip netns exec "$NS_C" "$@"; }
in_s() { ip netns exec "$NS_S" "$@"; }
in_i() { ip netns exec "$NS_I" "$@"; }

mkns() {
	ip netns add "$1" || die "cannot create namespace $1"
	NSES+=("$1")
	ip -n "$1" link set lo up
	# Quiet IPv6: no DAD (no "tentative" flags to race with), no router
	# solicitations, so that the physical link only carries what we send.
	ip netns exec "$1" sysctl -qw net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.all.accept_dad=0 \
		net.ipv6.conf.default.router_solicitations=0 \
		net.ipv6.conf.all.router_solicitations=0 \
		net.ipv6.conf.default.accept_ra=0 >/dev/null
}

topology() {
	mkns "$NS_C"; mkns "$NS_S"; mkns "$NS_I"
	ip link add "$C_PHYS" netns "$NS_C" type veth peer name "$S_DOWN" netns "$NS_S" ||
		die "veth client-server"
	ip link add "$S_UP" netns "$NS_S" type veth peer name "$I_PHYS" netns "$NS_I" ||
		die "veth server-internet"
	ip -n "$NS_C" addr add $C_ADDR/24 dev $C_PHYS
	ip -n "$NS_C" addr add $C_ADDR6/64 dev $C_PHYS nodad
	ip -n "$NS_C" link set $C_PHYS up
	ip -n "$NS_C" route add default via $GW
	ip -n "$NS_C" -6 route add default via $S_ADDR6
	ip -n "$NS_S" addr add $S_ADDR/24 dev $S_DOWN
	ip -n "$NS_S" addr add $S_ADDR6/64 dev $S_DOWN nodad
	ip -n "$NS_S" link set $S_DOWN up
	ip -n "$NS_S" addr add $S_UP_ADDR/24 dev $S_UP
	ip -n "$NS_S" addr add $S_UP_ADDR6/64 dev $S_UP nodad
	ip -n "$NS_S" link set $S_UP up
	ip -n "$NS_I" addr add $INET/24 dev $I_PHYS
	ip -n "$NS_I" addr add $INET_DNS/24 dev $I_PHYS
	ip -n "$NS_I" addr add $INET6/64 dev $I_PHYS nodad
	ip -n "$NS_I" link set $I_PHYS up
	ip -n "$NS_I" route add default via $S_UP_ADDR
	ip -n "$NS_I" -6 route add default via $S_UP_ADDR6
	# The client's original resolver configuration: unusual on purpose
	# (comment, blanks, options, no final newline) so that "restored byte for
	# byte" means something.
	[ -e /etc/netns ] || ETC_NETNS_OURS=yes
	mkdir -p "/etc/netns/$NS_C"
	printf '# local network resolver (DHCP)\nsearch lan.example\t\nnameserver %s\noptions edns0 timeout:1  ' \
		"$LAN_DNS" >"/etc/netns/$NS_C/resolv.conf"
	chmod 644 "/etc/netns/$NS_C/resolv.conf"
	# The kernel reports carrier (and adds link-local addresses) up to a
	# second after the links come up: wait, so snapshots start settled.
	wait_for "ip -n $NS_C -6 addr show dev $C_PHYS scope link | grep -q fe80 &&
		ip -n $NS_S -6 addr show dev $S_DOWN scope link | grep -q fe80 &&
		ip -n $NS_S -6 addr show dev $S_UP scope link | grep -q fe80 &&
		ip -n $NS_I -6 addr show dev $I_PHYS scope link | grep -q fe80" 5 ||
		die "links did not come up"
	# Neighbour entries settle now rather than during a capture.
	in_c ping -c 1 -W 2 $GW >/dev/null || die "client cannot reach its gateway"
	in_s ping -c 1 -W 2 $INET >/dev/null || die "server cannot reach the internet host"
}

# ------------------------------------------------------------ keys and files

keys() {
	KS=$(wg genkey); PS=$(printf '%s' "$KS" | wg pubkey)
	KC=$(wg genkey); PC=$(printf '%s' "$KC" | wg pubkey)
	KG=$(wg genkey); PG=$(printf '%s' "$KG" | wg pubkey)   # wireguard-go server
}

# write_server_conf FILE [extra [interface] lines]
write_server_conf() {
	local f=$1; shift
	{
		echo "[interface]"
		echo "private_key = $KS"
		echo "listen_port = $PORT"
		echo "address = $TUN_S/24, $TUN_S6/64"
		echo "nat = $S_UP"
		for l in "$@"; do echo "$l"; done
		echo
		echo "[peer alice]"
		echo "public_key = $PC"
		echo "allowed_ips = $TUN_C/32, $TUN_C6/128"
	} >"$f"
	chmod 600 "$f"
}

# write_servers FILE: the server list (vpnd server, and a wireguard-go one).
write_servers() {
	cat >"$1" <<EOF
# test server list
[$SERVER_ID]
endpoint = $S_ADDR:$PORT
public_key = $PS
country = SE
city = Stockholm

[wg-go-01]
endpoint = $S_ADDR:$PORT_G
public_key = ${PG:-$PS}
country = de
city = "Frankfurt; am Main"
EOF
	chmod 600 "$1"
}

# write_profile FILE ADDRESSES [extra [interface] lines]
write_profile() {
	local f=$1 addr=$2 l; shift 2
	{
		echo "[interface]"
		echo "private_key = $KC"
		echo "address = $addr"
		echo "dns = $TUN_S"
		echo "servers = $WORK/servers.conf"
		echo "server = $SERVER_ID"
		for l in "$@"; do echo "$l"; done
	} >"$f"
	chmod 600 "$f"
}

# ---------------------------------------------------------------- daemons

# start_vpnd_server CONF: vpnd -f -c CONF IF_S in the server namespace, its
# PID in SERVER_PID, ready when the UAPI answers.
start_vpnd_server() {
	ip netns exec "$NS_S" "$VPND" -f -c "$1" "$IF_S" >"$WORK/server.log" 2>&1 &
	SERVER_PID=$!
	HELPERS+=("$SERVER_PID:$IF_S")
	if ! wait_for "in_s wg show $IF_S listen-port | grep -qx $PORT" 10; then
		sed 's/^/    | /' "$WORK/server.log"
		die "vpnd server did not start"
	fi
}

stop_vpnd_server() {
	local i
	pid_is "$SERVER_PID" "$IF_S" || return 0
	kill -TERM "$SERVER_PID"
	for ((i = 0; i < 50; i++)); do pid_is "$SERVER_PID" "$IF_S" || return 0; sleep 0.1; done
	return 1
}

# ctl ARGS...: vpnctl in the client namespace, our run directory and vpnd,
# bounded (VPND_UP_TIMEOUT 10 s + 3 s, plus the start of the daemon).
# Output in CTL_OUT (stdout), CTL_ERR (stderr), status in CTL_RC.
ctl() {
	timeout 40 ip netns exec "$NS_C" env VPND_RUNDIR="$RUNDIR" \
		VPND_STATEDIR="$STATEDIR" VPND="$VPND" \
		"$VPNCTL" "$@" >"$WORK/ctl.out" 2>"$WORK/ctl.err"
	CTL_RC=$?
	CTL_OUT=$(cat "$WORK/ctl.out")
	CTL_ERR=$(cat "$WORK/ctl.err")
}

# client_pid: the vpnd serving IF_C in the client namespace (it daemonized).
client_pid() {
	local p
	for p in $(ip netns pids "$NS_C" 2>/dev/null); do
		pid_is "$p" "$IF_C" && pid_is "$p" "-c" && { echo "$p"; return 0; }
	done
	return 1
}

# ------------------------------------------------------ internet services

write_helpers() {
	head -c 2097152 /dev/urandom >"$WORK/blob.bin"
	BLOB_SHA=$(sha256sum "$WORK/blob.bin" | cut -d' ' -f1)
	cat >"$WORK/inet.py" <<'EOF'
# The "internet" host: HTTP (8080), UDP echo (9999), DNS (53), dual stack.
import http.server, os, socket, struct, sys, threading, functools
root, ready = sys.argv[1], sys.argv[2]

class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass
class S(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
httpd = S(("::", 8080), functools.partial(H, directory=root))

def udp(port, fn):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    def loop():
        while True:
            data, peer = s.recvfrom(2048)
            out = fn(data)
            if out: s.sendto(out, peer)
    threading.Thread(target=loop, daemon=True).start()

def dns(q):
    if len(q) < 12: return None
    # Copy id and question, answer A 203.0.113.7 (a pointer to the name).
    end = 12
    while end < len(q) and q[end]: end += 1 + q[end]
    question = q[12:end + 5]
    hdr = q[:2] + b"\x81\x80" + b"\x00\x01\x00\x01\x00\x00\x00\x00"
    ans = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + bytes([203, 0, 113, 7])
    return hdr + question + ans

udp(9999, lambda d: d)
# DNS on its own address only: a reply must come from the address asked.
d = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
d.bind((sys.argv[3], 53))
def dloop():
    while True:
        data, peer = d.recvfrom(2048)
        out = dns(data)
        if out: d.sendto(out, peer)
threading.Thread(target=dloop, daemon=True).start()
open(ready, "w").close()
httpd.serve_forever()
EOF
	cat >"$WORK/probe.py" <<'EOF'
# Client-side traffic: probe.py http URL SHA | udp HOST | dns SERVER | spray HOST...
import hashlib, socket, struct, sys, time, urllib.request
def fam(h): return socket.AF_INET6 if ":" in h else socket.AF_INET
def query(name):
    q = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
    for part in name.split("."): q += bytes([len(part)]) + part.encode()
    return q + b"\x00\x00\x01\x00\x01"
cmd = sys.argv[1]
if cmd == "http":
    t = time.time()
    data = urllib.request.urlopen(sys.argv[2], timeout=10).read()
    ok = hashlib.sha256(data).hexdigest() == sys.argv[3]
    print("%d bytes in %.2f s, sha256 %s" % (len(data), time.time() - t, "ok" if ok else "MISMATCH"))
    sys.exit(0 if ok else 1)
elif cmd == "udp":
    s = socket.socket(fam(sys.argv[2]), socket.SOCK_DGRAM); s.settimeout(1)
    for i in range(5):
        s.sendto(b"echo %d" % i, (sys.argv[2], 9999))
        try:
            if s.recv(100) == b"echo %d" % i: print("echo ok"); sys.exit(0)
        except socket.timeout: pass
    print("no echo"); sys.exit(1)
elif cmd == "dns":
    s = socket.socket(fam(sys.argv[2]), socket.SOCK_DGRAM); s.settimeout(1)
    for i in range(3):
        s.sendto(query("www.example.com"), (sys.argv[2], 53))
        try:
            r = s.recv(512)
            if r[:2] == b"\x42\x42" and r.endswith(bytes([203, 0, 113, 7])):
                print("answer 203.0.113.7"); sys.exit(0)
        except socket.timeout: pass
    print("no answer"); sys.exit(1)
elif cmd == "spray":
    # Fire-and-forget attempts that must not leave outside the tunnel either:
    # DNS, UDP and TCP to each host (answers are not expected).
    for h in sys.argv[2:]:
        try:
            u = socket.socket(fam(h), socket.SOCK_DGRAM)
            u.sendto(query("leak.example"), (h, 53)); u.sendto(b"x", (h, 9999))
        except OSError as e: print(h, "udp:", e)
        try:
            t = socket.socket(fam(h), socket.SOCK_STREAM); t.settimeout(0.5)
            t.connect((h, 80))
        except OSError: pass
EOF
}

start_internet() {
	mkdir -p "$WORK/www"
	cp "$WORK/blob.bin" "$WORK/www/blob.bin"
	helper inet.py ip netns exec "$NS_I" "$PYTHON" "$WORK/inet.py" "$WORK/www" "$WORK/inet.ready" "$INET_DNS"
	wait_for "[ -e $WORK/inet.ready ]" 10 || die "internet services did not start"
}

probe() { timeout 30 ip netns exec "$NS_C" "$PYTHON" "$WORK/probe.py" "$@"; }

# traffic_v4: ping, TCP download, UDP echo and DNS to the internet host.
traffic_v4() { # [LABEL]
	local out l=${1:+$1: }
	check "${l}ping $INET through the tunnel" quiet in_c ping -c 3 -i 0.2 -W 2 -q $INET
	out=$(probe http "http://$INET:8080/blob.bin" "$BLOB_SHA" 2>&1 | tail -n 1)
	check "${l}TCP download from $INET: $out" test "${out##* }" = ok
	out=$(probe udp $INET 2>&1)
	check "${l}UDP echo from $INET: $out" test "$out" = "echo ok"
	out=$(probe dns $INET_DNS 2>&1)
	# With the kill switch on, DNS may go only to the tunnel's resolvers
	# (issue 5), so a query to another resolver must find no answer.
	if [ "${KILL_SWITCH:-off}" = off ]; then
		check "${l}DNS query to $INET_DNS: $out" test "$out" = "answer 203.0.113.7"
	else
		check "${l}DNS query to $INET_DNS (not the tunnel's resolver) gets no answer with the kill switch on" \
			test "$out" != "answer 203.0.113.7"
	fi
}

traffic_v6() { # [LABEL]
	local out l=${1:+$1: }
	if ! check "${l}ping $INET6 through the tunnel" quiet in_c ping -6 -c 3 -i 0.2 -W 2 -q $INET6; then
		bad "${l}TCP download from [$INET6] over IPv6: not tried, no IPv6 path (see the ping)"
		return
	fi
	out=$(probe http "http://[$INET6]:8080/blob.bin" "$BLOB_SHA" 2>&1 | tail -n 1)
	check "${l}TCP download from [$INET6] over IPv6: $out" test "${out##* }" = ok
}

# ----------------------------------------------------------------- snapshot

# snapshot NS FILE: the state of a namespace that up/down must leave as found.
# Compared in full: every address and link (after down the tunnel is gone,
# so pre-existing links must look exactly the same, and no link may remain),
# all routes of all tables (both families), all rules, the nftables ruleset,
# the per-interface and global IP sysctls, resolv.conf (mode, owner, bytes in
# hex) and the files in /etc/netns/NS. Not compared: neighbour caches and
# counters, which traffic changes by itself.
snapshot() {
	local i
	# A dump that races with the kernel's own work says "Error: ..."; retry.
	for ((i = 0; i < 5; i++)); do
		snapshot_once "$1" >"$WORK/snap.tmp"
		grep -q '^Error' "$WORK/snap.tmp" || break
		sleep 0.2
	done
	cat "$WORK/snap.tmp"
}
snapshot_once() {
	local ns=$1
	{
		echo "### ip -d link"; ip -n "$ns" -d link show
		echo "### ip addr"; ip -n "$ns" addr show
		echo "### ip -4 route show table all"; ip -n "$ns" -4 route show table all
		echo "### ip -6 route show table all"; ip -n "$ns" -6 route show table all
		echo "### ip -4 rule"; ip -n "$ns" -4 rule show
		echo "### ip -6 rule"; ip -n "$ns" -6 rule show
		echo "### nft list ruleset"; ip netns exec "$ns" nft list ruleset
		echo "### sysctl"; ip netns exec "$ns" sysctl -a 2>/dev/null |
			grep -E '^net\.(ipv4\.conf\.|ipv6\.conf\.|ipv4\.ip_forward |ipv4\.fwmark_reflect|ipv6\.fwmark_reflect)' |
			grep -v '\.stable_secret'
		echo "### resolv.conf"
		ip netns exec "$ns" sh -c 'stat -c "%a %U:%G %F" /etc/resolv.conf; od -An -tx1 /etc/resolv.conf'
		echo "### /etc/netns/$ns"; ls -la --time-style=+ "/etc/netns/$ns" 2>&1 | tail -n +2 | awk '{ $2=""; print }'
	} 2>&1
}

# same_snapshot DESC BEFORE AFTER
same_snapshot() {
	if cmp -s "$2" "$3"; then ok "$1"; else
		bad "$1: differs:"
		diff -u "$2" "$3" | sed 's/^/    /' | head -40
		return 1
	fi
}

# ------------------------------------------------------------------ capture

# What may appear on the client's physical link besides the tunnel's UDP,
# because it is not traffic that leaves the link: ARP involving the gateway
# (the server's endpoint is reached through it), and IPv6 packets from a
# link-local or the unspecified source (MLD reports, neighbour discovery),
# which no router forwards. Everything else is a leak.
LINK_NOISE="(arp and host $GW) or (ip6 and (src net fe80::/10 or src host ::))"

# capture_start NAME FILTER [IFACE]: tcpdump on the client's physical link
# (or on IFACE, another link of the client namespace).
capture_start() {
	local name=$1 filter=$2 ifc=${3:-$C_PHYS}
	helper tcpdump ip netns exec "$NS_C" tcpdump -p -Z root -i "$ifc" -n -U --immediate-mode \
		-w "$WORK/$name.pcap" "$filter" 2>"$WORK/$name.err"
	eval "CAP_$name=$LAST_HELPER"
	wait_for "grep -q 'listening on' $WORK/$name.err" 5 || die "tcpdump $name did not start: $(cat "$WORK/$name.err")"
}

# capture_stop NAME: stops it; the number of packets in CAP_COUNT and the
# first ones decoded in CAP_TEXT.
capture_stop() {
	local name=$1 pid
	pid=$(eval echo "\$CAP_$name")
	sleep 0.5
	kill -INT "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	CAP_TEXT=$(tcpdump -r "$WORK/$name.pcap" -n -tt 2>/dev/null)
	CAP_COUNT=$(printf '%s' "$CAP_TEXT" | grep -c .)
}
