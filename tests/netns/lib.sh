# shellcheck shell=bash
# tests/netns/lib.sh: shared harness for the network-namespace integration tests.
#
# Sourced by every tests/netns/test_*.sh (and tests/bench/throughput.sh). It owns
# the namespaces, veth pairs, daemons, captures and temporary files a test makes,
# and tears all of them down on exit, whatever the exit was. Nothing here touches
# the host's own routes, firewall or resolver: every address used lives only
# inside namespaces created here, and every daemon or helper is killed by the PID
# recorded when it was started, never by name.
#
# Knobs (environment):
#   PAIRINGS   space-separated list of IMPL_A:IMPL_B, each end `vpnd` or
#              `wireguard-go`. Default: "vpnd:vpnd vpnd:wireguard-go wireguard-go:vpnd".
#              Validate the harness alone with PAIRINGS=wireguard-go:wireguard-go.
#   VPND       path of the vpnd binary (default $REPO/vpnd/vpnd).
#   WG_GO      path of wireguard-go (default: found on PATH).
#   PYTHON     python3 interpreter for the helpers (default: python3).
#   KEEP_WORK  1 keeps the per-run temporary directory (logs, captures).
#   VERBOSE    1 traces every command (set -x).

set -u
set -o pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NETNS_DIR=$REPO/tests/netns
VPND=${VPND:-$REPO/vpnd/vpnd}
WG_GO=${WG_GO:-$(command -v wireguard-go || echo wireguard-go)}
PYTHON=${PYTHON:-python3}
WGTOOL=$NETNS_DIR/wgtool.py
DEFAULT_PAIRINGS="vpnd:vpnd vpnd:wireguard-go wireguard-go:vpnd"
PAIRINGS=${PAIRINGS:-$DEFAULT_PAIRINGS}
TEST_NAME=$(basename "$0" .sh)
TEST_NAME=${TEST_NAME#test_}
RUN_DIR=/var/run/wireguard

# Outer (veth) and inner (tunnel) addresses. All of them are documentation or
# benchmarking ranges, and they exist only inside the test's own namespaces.
OUT4_A=192.0.2.1   OUT4_B=192.0.2.2   OUT4_PFX=24
OUT6_A=2001:db8:1::1 OUT6_B=2001:db8:1::2 OUT6_PFX=64
IN4_A=198.18.0.1   IN4_B=198.18.0.2   IN4_C=198.18.0.3   IN4_PFX=24
IN6_A=2001:db8:ff::1 IN6_B=2001:db8:ff::2 IN6_C=2001:db8:ff::3 IN6_PFX=64
PORT_A=51820 PORT_B=51821 PORT_C=51822
TUN_MTU=1420

[ "${VERBOSE:-0}" = 1 ] && set -x
umask 077   # keys and captures are private; wg warns otherwise

# ---------------------------------------------------------------- reporting

log()  { printf '  [%s %s] %s\n' "$TEST_NAME" "${PAIR_LABEL:-}" "$*"; }
ok()   { log "ok   - $*"; }
note() { log "note - $*"; }

# fail MSG: report, print what the daemons saw, and end this pairing (the EXIT
# trap cleans up).
fail() {
	log "FAIL - $*"
	dump_state
	exit 1
}

# assert DESC CMD [ARGS...]: CMD must succeed.
assert() {
	local desc=$1; shift
	if "$@"; then ok "$desc"; else fail "$desc (command: $*)"; fi
}

# assert_not DESC CMD [ARGS...]: CMD must fail.
assert_not() {
	local desc=$1; shift
	if "$@"; then fail "$desc (command unexpectedly succeeded: $*)"; else ok "$desc"; fi
}

# wait_for CMD TIMEOUT_SECONDS: polls the shell string CMD every 0.1 s until it
# succeeds (returns 0) or the timeout passes (returns 1).
wait_for() {
	local cmd=$1 timeout=$2 i n
	n=$(awk -v t="$timeout" 'BEGIN { printf "%d", t * 10 }')
	for ((i = 0; i <= n; i++)); do
		if eval "$cmd" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	return 1
}

# ------------------------------------------------------------ prerequisites

need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || fail "prerequisite missing: '$c' is not installed"
	done
}

check_prereqs() {
	[ "$(id -u)" = 0 ] || { echo "$TEST_NAME: needs root" >&2; exit 1; }
	need_cmd ip wg tcpdump iperf3 ping ss awk "$PYTHON"
	[ -c /dev/net/tun ] || fail "prerequisite missing: /dev/net/tun"
	"$PYTHON" -c 'import hashlib; hashlib.blake2s(b"", digest_size=16, key=b"k")' \
		|| fail "prerequisite missing: $PYTHON with hashlib.blake2s"
}

# impl_bin IMPL: the executable for an implementation name; on error a
# message on stdout and status 1 (it runs inside $(...), so it cannot fail()).
impl_bin() {
	local b want
	case $1 in
	vpnd) want=$VPND ;;
	wireguard-go) want=$WG_GO ;;
	*) echo "unknown implementation '$1' (expected vpnd or wireguard-go)"; return 1 ;;
	esac
	b=$want
	if [ "${b#*/}" = "$b" ]; then b=$(command -v "$b" || true); fi
	if [ -z "$b" ] || [ ! -x "$b" ]; then
		if [ "$1" = vpnd ]; then echo "vpnd binary not found or not executable: '$want' (build it with make, or set VPND=)"
		else echo "wireguard-go not found: '$want' (apt-get install wireguard-go)"; fi
		return 1
	fi
	printf '%s\n' "$b"
}

is_vpnd() { [ "$1" = vpnd ]; }

# ---------------------------------------------------------------- resources

reset_state() {
	NSES=()           # namespaces to delete
	HELPER_PIDS=()    # background helpers (tcpdump, ping, iperf3 server, ...)
	declare -gA DAEMON_PID=() DAEMON_NS=() DAEMON_LOG=() DAEMON_IMPL=() CAP_PID=() CAP_FILE=()
	DAEMON_IFS=()
	WORK=$(mktemp -d "/tmp/vpnd-netns-$TEST_NAME.XXXXXX")
}

# pid_is PID WORD: the process PID is alive and its command line mentions WORD
# (guards against killing a recycled PID).
pid_is() {
	{ tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null | grep -qF -- "$2"
}

kill_pid() { # PID WORD
	local pid=$1 word=$2 i
	pid_is "$pid" "$word" || return 0
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 30; i++)); do
		pid_is "$pid" "$word" || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	return 0
}

cleanup() {
	local rc=$? ifn pid ns key
	set +e
	for key in "${!CAP_PID[@]}"; do kill_pid "${CAP_PID[$key]}" tcpdump; done
	for pid in "${HELPER_PIDS[@]}"; do kill_pid "$pid" ""; done
	for ifn in "${DAEMON_IFS[@]}"; do
		kill_pid "${DAEMON_PID[$ifn]}" "$ifn"
		# Only our own sockets: the interface names are unique to this run.
		rm -f "$RUN_DIR/$ifn.sock"
	done
	for ns in "${NSES[@]}"; do ip netns del "$ns" 2>/dev/null; done
	if [ "${KEEP_WORK:-0}" = 1 ]; then
		echo "  work directory kept: $WORK"
	else
		rm -rf "$WORK"
	fi
	return $rc
}

# dump_state: what each daemon and namespace looked like, for failure reports.
dump_state() {
	local ifn ns
	set +e
	echo "  ---- state at failure ($TEST_NAME $PAIR_LABEL) ----"
	for ifn in "${DAEMON_IFS[@]}"; do
		ns=${DAEMON_NS[$ifn]}
		if pid_is "${DAEMON_PID[$ifn]}" "$ifn"; then
			echo "  # ${DAEMON_IMPL[$ifn]} $ifn in $ns (pid ${DAEMON_PID[$ifn]}, running)"
		else
			echo "  # ${DAEMON_IMPL[$ifn]} $ifn in $ns (pid ${DAEMON_PID[$ifn]}, NOT RUNNING)"
		fi
		timeout 5 ip netns exec "$ns" wg show "$ifn" 2>&1 | sed 's/^/    /'
		echo "    -- last log lines:"
		tail -n 25 "${DAEMON_LOG[$ifn]}" 2>/dev/null | sed 's/^/    | /'
	done
	for ns in "${NSES[@]}"; do
		echo "  # namespace $ns"
		ip -n "$ns" -br addr 2>&1 | sed 's/^/    /'
		ip -n "$ns" route 2>&1 | sed 's/^/    /'
	done
	echo "  ---- end of state ----"
}

# --------------------------------------------------------------- namespaces

# make_ns VAR SUFFIX: create namespace "<test>-<pid>-<seq>-SUFFIX", loopback up,
# and store its name in VAR.
make_ns() {
	local name="vt-$TEST_NAME-$$-$SEQ-$2"
	ip netns add "$name" || fail "cannot create namespace $name"
	NSES+=("$name")
	ip -n "$name" link set lo up
	# Keep IPv6 usable on every link, without DAD delays.
	ip netns exec "$name" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.accept_dad=0 2>/dev/null
	printf -v "$1" '%s' "$name"
}

# link_veth NS1 IF1 NS2 IF2: a veth pair between two namespaces, both ends up.
link_veth() {
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3" \
		|| fail "cannot create veth $1/$2 <-> $3/$4"
	ip -n "$1" link set "$2" up
	ip -n "$3" link set "$4" up
}

# addr NS DEV ADDR/PFX: add an address (IPv6 without DAD).
addr() {
	case $3 in
	*:*) ip -n "$1" addr add "$3" dev "$2" nodad || fail "ip addr add $3 dev $2 in $1" ;;
	*)   ip -n "$1" addr add "$3" dev "$2" || fail "ip addr add $3 dev $2 in $1" ;;
	esac
}

# ifname ROLE: a per-run, per-pairing unique interface name (max 15 chars); the
# UAPI socket path /var/run/wireguard/IFNAME.sock is global, so it must be unique.
ifname() { printf 'v%s%s%s\n' "$1" "$SEQ" "$$"; }

# ------------------------------------------------------------------- daemons

# start_impl NS IMPL IFNAME [VAR=VALUE...]: start IMPL in the foreground inside
# NS, creating TUN IFNAME; record its PID; wait for its UAPI socket and device.
start_impl() {
	local ns=$1 impl=$2 ifn=$3 bin pid log
	shift 3
	bin=$(impl_bin "$impl") || fail "$bin"
	[ ${#ifn} -le 15 ] || fail "interface name too long: $ifn"
	[ -e "$RUN_DIR/$ifn.sock" ] && fail "socket $RUN_DIR/$ifn.sock already exists (another run using $ifn?)"
	log="$WORK/$ifn.$impl.log"
	env "$@" LOG_LEVEL="${DAEMON_LOG_LEVEL:-debug}" \
		ip netns exec "$ns" "$bin" -f "$ifn" >"$log" 2>&1 </dev/null &
	pid=$!
	DAEMON_IFS+=("$ifn")
	DAEMON_PID[$ifn]=$pid
	DAEMON_NS[$ifn]=$ns
	DAEMON_LOG[$ifn]=$log
	DAEMON_IMPL[$ifn]=$impl
	wait_for "[ -S '$RUN_DIR/$ifn.sock' ] && ip -n '$ns' link show '$ifn'" 10 \
		|| fail "$impl did not create $ifn and $RUN_DIR/$ifn.sock within 10 s"
	daemon_alive "$ifn" || fail "$impl for $ifn exited right after start"
}

daemon_alive() { pid_is "${DAEMON_PID[$1]}" "$1"; }

# stop_impl IFNAME: stop one daemon (SIGTERM, then SIGKILL) and remove its socket.
stop_impl() {
	kill_pid "${DAEMON_PID[$1]}" "$1"
	rm -f "$RUN_DIR/$1.sock"
}

# --------------------------------------------------------------------- keys

# gen_key NAME: $WORK/NAME.key (private), NAME.pub; prints nothing.
gen_key() {
	wg genkey >"$WORK/$1.key" || fail "wg genkey"
	wg pubkey <"$WORK/$1.key" >"$WORK/$1.pub" || fail "wg pubkey"
}
gen_psk() { wg genpsk >"$WORK/$1.psk" || fail "wg genpsk"; }
pub() { cat "$WORK/$1.pub"; }

# wgn NS ARGS...: the stock wg tool, run inside NS.
wgn() { local ns=$1; shift; ip netns exec "$ns" wg "$@"; }

# tun_up NS IFNAME ADDR4 ADDR6: inner addresses, MTU, link up.
tun_up() {
	ip -n "$1" link set "$2" mtu "$TUN_MTU" || fail "set mtu on $2"
	addr "$1" "$2" "$3/$IN4_PFX"
	addr "$1" "$2" "$4/$IN6_PFX"
	ip -n "$1" link set "$2" up || fail "link up $2"
}

# ------------------------------------------------------------ wg show views

# peer_field NS IF PUB FIELD: one column of `wg show IF FIELD` for PUB
# (latest-handshakes, endpoints, transfer, persistent-keepalive, allowed-ips).
peer_field() {
	wgn "$1" show "$2" "$4" 2>/dev/null | awk -v k="$3" '$1 == k { $1 = ""; sub(/^ /, ""); print; found = 1 } END { exit !found }'
}
latest_hs() { peer_field "$1" "$2" "$3" latest-handshakes; }
endpoint_of() { peer_field "$1" "$2" "$3" endpoints; }
has_peer() { wgn "$1" show "$2" peers 2>/dev/null | grep -qxF -- "$3"; }
handshake_done() { local t; t=$(latest_hs "$@") && [ "${t:-0}" -gt 0 ]; }

# -------------------------------------------------------------------- traffic

# ping_count NS ADDR COUNT [INTERVAL] [WAIT] [extra ping args...]: print the
# number of replies received.
ping_count() {
	local ns=$1 dst=$2 c=$3 i=${4:-0.2} w=${5:-2} out
	shift 5 2>/dev/null || shift $#
	out=$(ip netns exec "$ns" ping -n -q -c "$c" -i "$i" -W "$w" "$@" "$dst" 2>&1)
	printf '%s\n' "$out" | awk '/packets transmitted/ { for (i = 1; i <= NF; i++) if ($i ~ /^received,?$/) { print $(i-1); f = 1 } } END { if (!f) print 0 }'
}

# ping_all NS ADDR COUNT: all COUNT echo requests answered.
ping_all() { [ "$(ping_count "$1" "$2" "$3" 0.1 2)" = "$3" ]; }

# ping_none NS ADDR COUNT: no echo request answered.
ping_none() { [ "$(ping_count "$1" "$2" "$3" 0.2 1)" = 0 ]; }

# wait_ping NS ADDR TIMEOUT: until one ping is answered (first handshake).
wait_ping() { wait_for "ip netns exec '$1' ping -n -q -c 1 -W 1 '$2'" "$3"; }

# start_bg VAR CMD...: a helper in the background; PID in VAR, killed on exit.
start_bg() {
	local var=$1; shift
	"$@" &
	HELPER_PIDS+=("$!")
	printf -v "$var" '%s' "$!"
}

# iperf_bps NS_CLIENT SERVER_ADDR SECONDS [-R]: TCP throughput (bits/s received)
# of an iperf3 run against a server already started with iperf_server.
iperf_bps() {
	local ns=$1 dst=$2 t=$3 json
	shift 3
	json="$WORK/iperf.$RANDOM.json"
	timeout $((t + 15)) ip netns exec "$ns" iperf3 -c "$dst" -t "$t" -J "$@" >"$json" 2>&1
	"$PYTHON" "$WGTOOL" iperf-bps "$json"
}

# iperf_server NS BIND_ADDR: iperf3 server in NS, waits until it listens.
iperf_server() {
	local pid
	start_bg pid ip netns exec "$1" iperf3 -s -B "$2" -p 5201 >>"$WORK/iperf3-server.log" 2>&1
	wait_for "ip netns exec '$1' ss -Hltn 'sport = :5201' | grep -q ." 5 \
		|| fail "iperf3 server did not start in $1"
}

# ------------------------------------------------------------------ captures

# cap_start NAME NS DEV FILTER: tcpdump DEV in NS into $WORK/NAME.pcap; returns
# once tcpdump is capturing.
cap_start() {
	local name=$1 ns=$2 dev=$3 filter=$4 f="$WORK/$1.pcap" err="$WORK/$1.tcpdump.err"
	ip netns exec "$ns" tcpdump -Z root -i "$dev" -n -U --immediate-mode -s 2048 -w "$f" "$filter" 2>"$err" &
	CAP_PID[$name]=$!
	CAP_FILE[$name]=$f
	wait_for "grep -q 'listening on' '$err'" 5 || fail "tcpdump on $dev in $ns did not start: $(cat "$err")"
}

# cap_stop NAME: stop the capture and flush it.
cap_stop() {
	local pid=${CAP_PID[$1]} i
	sleep 0.3   # let in-flight packets land
	kill -INT "$pid" 2>/dev/null
	for ((i = 0; i < 50; i++)); do pid_is "$pid" tcpdump || break; sleep 0.1; done
	kill_pid "$pid" tcpdump
	unset "CAP_PID[$1]"
}

# mark_udp NS SRC DST PORT: one marker datagram, to prove in a capture's count
# that the capture was running (a zero from a dead capture proves nothing).
mark_udp() {
	ip netns exec "$1" "$PYTHON" -c 'import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[2] else socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 0)); s.sendto(b"marker", (sys.argv[2], int(sys.argv[3])))' "$2" "$3" "$4" \
		|| fail "cannot send a marker datagram from $2 to $3"
}

# cap_count NAME [FILTER]: packets in the capture (matching FILTER).
cap_count() {
	tcpdump -n -r "${CAP_FILE[$1]}" ${2:+"$2"} 2>/dev/null | wc -l
}

# ---------------------------------------------------------- standard setup

# setup_pair: namespaces NS_A and NS_B joined by veth o0/o0 with IPv4 and IPv6
# outer addresses; IMPL_A on IF_A and IMPL_B on IF_B, keys a and b, listen
# ports PORT_A and PORT_B, inner addresses up. No peers yet (see peer_pair).
# Extra VAR=VALUE environment for vpnd ends: VPND_ENV (array).
setup_pair() {
	make_ns NS_A a
	make_ns NS_B b
	link_veth "$NS_A" o0 "$NS_B" o0
	addr "$NS_A" o0 "$OUT4_A/$OUT4_PFX"
	addr "$NS_B" o0 "$OUT4_B/$OUT4_PFX"
	addr "$NS_A" o0 "$OUT6_A/$OUT6_PFX"
	addr "$NS_B" o0 "$OUT6_B/$OUT6_PFX"
	IF_A=$(ifname a)
	IF_B=$(ifname b)
	gen_key a
	gen_key b
	start_daemon "$NS_A" "$IMPL_A" "$IF_A"
	start_daemon "$NS_B" "$IMPL_B" "$IF_B"
	wgn "$NS_A" set "$IF_A" listen-port "$PORT_A" private-key "$WORK/a.key" || fail "wg set on $IF_A"
	wgn "$NS_B" set "$IF_B" listen-port "$PORT_B" private-key "$WORK/b.key" || fail "wg set on $IF_B"
	tun_up "$NS_A" "$IF_A" "$IN4_A" "$IN6_A"
	tun_up "$NS_B" "$IF_B" "$IN4_B" "$IN6_B"
	wait_for "ip netns exec '$NS_A' ping -c1 -W1 '$OUT4_B' && ip netns exec '$NS_A' ping -c1 -W1 '$OUT6_B'" 5 \
		|| fail "outer veth link A<->B not working"
}

# start_daemon NS IMPL IF: start_impl, with ${VPND_ENV[@]} for vpnd ends.
start_daemon() {
	if is_vpnd "$2"; then
		start_impl "$1" "$2" "$3" ${VPND_ENV[@]+"${VPND_ENV[@]}"}
	else
		start_impl "$1" "$2" "$3"
	fi
}

# peer_pair OUTER(4|6) PSK(0|1) [ENDPOINTS: both|a|b]: A and B know each other;
# "a" means only A is told B's endpoint (B learns A's), "b" the reverse.
peer_pair() {
	local outer=$1 psk=$2 who=${3:-both} epa epb pskargs=()
	if [ "$outer" = 6 ]; then epa="[$OUT6_A]:$PORT_A"; epb="[$OUT6_B]:$PORT_B"
	else epa="$OUT4_A:$PORT_A"; epb="$OUT4_B:$PORT_B"; fi
	if [ "$psk" = 1 ]; then gen_psk ab; pskargs=(preshared-key "$WORK/ab.psk"); fi
	local ea=() eb=()
	[ "$who" = both ] || [ "$who" = a ] && ea=(endpoint "$epb")
	[ "$who" = both ] || [ "$who" = b ] && eb=(endpoint "$epa")
	wgn "$NS_A" set "$IF_A" peer "$(pub b)" ${pskargs[@]+"${pskargs[@]}"} ${ea[@]+"${ea[@]}"} \
		allowed-ips "$IN4_B/32,$IN6_B/128" || fail "wg set peer B on $IF_A"
	wgn "$NS_B" set "$IF_B" peer "$(pub a)" ${pskargs[@]+"${pskargs[@]}"} ${eb[@]+"${eb[@]}"} \
		allowed-ips "$IN4_A/32,$IN6_A/128" || fail "wg set peer A on $IF_B"
}

# vpnd_stat IF NAME: one of vpnd's counters, from its UAPI extension
# "stats=1" (name=value lines; wg itself refuses unknown keys in a get reply).
# Status 1 when there is no such counter (use as: x=$(vpnd_stat ...) || fail).
vpnd_stat() {
	"$PYTHON" "$WGTOOL" uapi-get --stats --sock "$RUN_DIR/$1.sock" \
		| awk -F= -v k="$2" '$1 == k { print $2 + 0; f = 1 } END { exit !f }'
}

# --------------------------------------------------------------- pairings

# run_pairings FUNC: run FUNC once per pairing in PAIRINGS, each in a subshell
# with its own namespaces and an EXIT trap that cleans up even on failure.
# Sets IMPL_A, IMPL_B, SEQ, PAIR_LABEL for FUNC. Exits non-zero if any failed.
run_pairings() {
	local fn=$1 p seq=0 failed=0 results=()
	[ "$(id -u)" = 0 ] || { echo "$TEST_NAME: needs root" >&2; exit 1; }
	for p in $PAIRINGS; do
		seq=$((seq + 1))
		case $p in
		*:*) ;;
		*) echo "$TEST_NAME: bad pairing '$p' (want IMPL_A:IMPL_B)" >&2; failed=1; continue ;;
		esac
		(
			IMPL_A=${p%%:*}
			IMPL_B=${p#*:}
			SEQ=$seq
			PAIR_LABEL="$IMPL_A<->$IMPL_B"
			reset_state
			trap cleanup EXIT
			trap 'exit 130' INT TERM HUP
			log "start"
			check_prereqs
			"$fn"
			log "PASS"
		)
		if [ $? = 0 ]; then results+=("PASS $p"); else results+=("FAIL $p"); failed=1; fi
	done
	for p in "${results[@]}"; do echo "  $TEST_NAME: $p"; done
	return $failed
}

# subcase FUNC [ARGS...]: run FUNC in a nested subshell with resources of its
# own (cleaned up when it returns), e.g. two independent topologies in one
# pairing. A failure ends the pairing.
subcase() {
	(
		SEQ="${SEQ}s"
		reset_state
		trap cleanup EXIT
		trap 'exit 130' INT TERM HUP
		"$@"
	) || exit 1
}

# validation_only: true when no end of this pairing is vpnd (the harness is
# being validated against wireguard-go alone).
validation_only() { ! is_vpnd "$IMPL_A" && ! is_vpnd "$IMPL_B"; }
