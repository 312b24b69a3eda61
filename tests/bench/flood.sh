#!/usr/bin/env bash
# tests/bench/flood.sh: an established tunnel's TCP throughput while a flooder
# sends invalid handshake initiations to the responder, vpnd against
# wireguard-go in the same run (issue 16).
#
# Each round, for vpnd and then wireguard-go, in fresh namespaces: a tunnel
# pair A<->B as in throughput.sh, plus namespace F joined to B by its own veth
# (the flood does not share A's link, only B's UDP socket). B is the responder
# and the iperf3 server. In order:
#   1. iperf3 TCP A->B, unflooded (BENCH_SECONDS): the baseline. Every
#      iperf3 run leaves its first second, slow start, out (-O 1).
#   2. per flood kind (KINDS): the flooder (tests/bench/flood, make
#      bench-tools) alone for IDLE_SECONDS, then again while iperf3 A->B runs
#      FLOOD_SECONDS. Measured: the flooder's achieved rate, B daemon's CPU
#      share (utime+stime delta / wall), the cookie replies the flooder got,
#      B's namespace UDP counters (OutDatagrams, RcvbufErrors: datagrams the
#      kernel dropped because the daemon did not read its socket fast
#      enough), and the flooded throughput.
#   3. B daemon's VmRSS after the baseline (before any flood), VmRSS after
#      all floods, and VmHWM.
# Then per metric the median (min-max) over the rounds and issue 16's targets
# (see tests/bench/README.md).
#
# Pinning (the machine this was written on has 2 cores and background jobs):
# the flooder runs on FLOOD_CPU (default 1) under SCHED_FIFO (FLOOD_RT=1), so
# that it reaches its rate whatever else runs; it sleeps whenever it is ahead,
# and the kernel's delivery of its packets (veth, IP, UDP: the sender's
# softirq) stays on that core. Everything of the tunnel, both daemons and
# iperf3, runs on TUNNEL_CPU (default 0): the flooder never preempts them,
# and the scheduler cannot pull the responder next to its waker, the flooder.
# So the responder's core pays for what the daemon does with the flood, not
# for the network stack under it, and the baseline is a one-core tunnel.
# The round also runs at nice BENCH_NICE (default -20), so that background
# jobs (a fuzz campaign, other builds and tests) take little from the
# tunnel's core. With autogroup scheduling (kernel.sched_autogroup_enabled=1)
# nice ranks processes only within their session, and sessions share the
# CPU as equals: so the script also sets its session's autogroup nice to
# BENCH_NICE while it runs, and puts the old value back on exit.
# FLOOD_CPU= TUNNEL_CPU= FLOOD_RT=0 BENCH_NICE=0 leave it all to the scheduler.
#
# A script, not a test: it fails only when it cannot measure.
#
#   sudo tests/bench/flood.sh                       # 3 rounds, 4 kinds: ~6 min
#   RUNS=1 KINDS=mac1 FLOOD_SECONDS=3 sudo -E tests/bench/flood.sh
#   IMPLS=vpnd RUNS=1 sudo -E tests/bench/flood.sh    # vpnd alone (no ratios)
set -u
. "$(dirname "$0")/../netns/lib.sh"
. "$(dirname "$0")/lib.sh"
TEST_NAME=flood

RUNS=${RUNS:-3}
KINDS=${KINDS:-random mac1 unknown mixed}
FLOOD_RATE=${FLOOD_RATE:-100000}
FLOOD_SECONDS=${FLOOD_SECONDS:-5}
BENCH_SECONDS=${BENCH_SECONDS:-$FLOOD_SECONDS}
IDLE_SECONDS=${IDLE_SECONDS:-2}
FLOOD_SOURCES=${FLOOD_SOURCES:-8}
FLOOD_CPU=${FLOOD_CPU-1}
FLOOD_RT=${FLOOD_RT:-1}
TUNNEL_CPU=${TUNNEL_CPU-0}
BENCH_NICE=${BENCH_NICE:--20}
FLOOD=${FLOOD:-$(dirname "$0")/flood}
DAEMON_LOG_LEVEL=${DAEMON_LOG_LEVEL:-error}
# The flood link, TEST-NET-3: B is .1, the flooder's sources .10 and up.
FLOOD_NET=203.0.113 FLOOD_PFX=24
IMPLS=${IMPLS:-vpnd wireguard-go}

record() { printf '%s %s\n' "$1" "$2" >>"$WORK/figures"; }

# cpu_ticks PID: user + system time of a process, all threads, clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# wakeups PID: voluntary context switches of all the process's threads: how
# often it went to sleep (and so was woken again).
wakeups() {
	cat /proc/"$1"/task/*/status 2>/dev/null \
		| awk '/^voluntary_ctxt_switches:/ { n += $2 } END { print n + 0 }'
}

# per_s A B SECONDS: a counter's rate.
per_s() { awk -v a="$1" -v b="$2" -v s="$3" 'BEGIN { printf "%.0f", (b - a) / s }'; }

# now_s: monotonic seconds (the measuring windows are timed, not assumed:
# iperf3 and the flooder start and stop on their own schedules).
now_s() { awk '{ print $1 }' /proc/uptime; }

# elapsed S0 S1: seconds between two now_s.
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# cpu_pct T0 T1 SECONDS: a tick delta as a percentage of one core.
cpu_pct() {
	awk -v a="$1" -v b="$2" -v s="$3" -v hz="$(getconf CLK_TCK)" \
		'BEGIN { printf "%.1f", (b - a) * 100 / hz / s }'
}

# cpu_snap: "user nice system idle iowait irq softirq steal" ticks of
# FLOOD_CPU (of all CPUs when the flooder is not pinned).
cpu_snap() {
	awk -v c="cpu$FLOOD_CPU" '$1 == c { print $2, $3, $4, $5, $6, $7, $8, $9 }' /proc/stat
}

# cpu_split S0 S1 SECONDS: what the flooder's core did between two cpu_snap:
# "busy nice idle steal", each in % of the core (busy: user, system, irq and
# softirq at nice 0: the flooder, the packet path, our daemons, iperf3; nice:
# the background niced jobs, e.g. a fuzz campaign).
cpu_split() {
	local ncpu=1
	[ -n "$FLOOD_CPU" ] || ncpu=$(nproc)
	awk -v s="$3" -v hz="$(getconf CLK_TCK)" -v n="$ncpu" -v a="$1" -v b="$2" 'BEGIN {
		split(a, x); split(b, y); for (i = 1; i <= 8; i++) d[i] = (y[i] - x[i]) * 100 / hz / s / n
		printf "%.0f %.0f %.0f %.0f", d[1] + d[3] + d[6] + d[7], d[2], d[4] + d[5], d[8] }'
}

# vmrss_kib PID: the process's resident set now, KiB.
vmrss_kib() {
	awk '/^VmRSS:/ { print $2; f = 1 } END { exit !f }' "/proc/$1/status" 2>/dev/null
}

# udp_counters NS: "InDatagrams OutDatagrams RcvbufErrors" of the namespace.
udp_counters() {
	ip netns exec "$1" awk '/^Udp:/ {
		if (!h) { for (i = 2; i <= NF; i++) col[$i] = i; h = 1; next }
		print $col["InDatagrams"], $col["OutDatagrams"], $col["RcvbufErrors"] }' /proc/net/snmp
}

# iperf_tcp SECONDS: one iperf3 TCP run A->B through the tunnel, its first
# second (slow start) left out of the figures (-O 1); prints "bits/s
# retransmits".
iperf_tcp() {
	local json="$WORK/iperf-tcp.json"
	timeout $(($1 + 16)) ip netns exec "$NS_A" iperf3 -c "$IN4_B" -t "$1" -O 1 -J \
		>"$json" 2>>"$WORK/iperf-tcp.err"
	"$PYTHON" - "$json" <<'EOF'
import json, sys
try:
    with open(sys.argv[1]) as f:
        e = json.load(f)["end"]
    print(int(e["sum_received"]["bits_per_second"]), e["sum_sent"].get("retransmits", 0))
except (OSError, ValueError, KeyError) as err:
    sys.exit("iperf3 output unusable (%s): %s" % (sys.argv[1], err))
EOF
}

# flood_field LINE NAME: one "name value" pair of the flooder's output line.
flood_field() {
	awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) { print $(i+1); f = 1 } } END { exit !f }' <<<"$1"
}

# flooder_args [OPTION...] KIND RATE SECONDS: the flood from FLOOD_SOURCES
# addresses, pinned if FLOOD_CPU is set. It execs, so that the PID start_bg
# records is the flooder's own (always called in a subshell: $(...) or
# start_bg).
flooder_args() {
	local pin=() srcs=() opts=() i
	[ -n "$FLOOD_CPU" ] && pin=(taskset -c "$FLOOD_CPU")
	[ "$FLOOD_RT" = 1 ] && pin+=(chrt -f 10)
	for ((i = 0; i < FLOOD_SOURCES; i++)); do srcs+=(-s "$FLOOD_NET.$((10 + i))"); done
	while [ $# -gt 3 ]; do opts+=("$1"); shift; done
	exec ip netns exec "$NS_F" ${pin[@]+"${pin[@]}"} "$FLOOD" "${srcs[@]}" ${opts[@]+"${opts[@]}"} \
		"$1" "$(pub b)" "$FLOOD_NET.1" "$PORT_B" "$2" "$3"
}

# flooder KIND SECONDS: the flood at FLOOD_RATE.
flooder() { flooder_args "$1" "$FLOOD_RATE" "$2"; }

# flood_started PID OUT: returns once the flooder (output in the file OUT,
# new for each flood) has built its packets and been sending for 0.5 s.
flood_started() {
	wait_for "grep -q '^flood: start' '$2'" 30 \
		|| fail "the flooder did not start: $(cat "$2")"
	kill -0 "$1" 2>/dev/null || fail "the flooder exited: $(cat "$2")"
	sleep 0.5
}

# record_flood PREFIX LINE SECONDS U0 U1: the flooder's figures and B's UDP
# counter deltas, per second.
record_flood() {
	local p=$1 line=$2 s=$3 v i0 o0 d0 i1 o1 d1
	v=$(flood_field "$line" sent_per_s) || fail "flooder output unreadable: $line"
	record "${p}_rate" "$v"
	record "${p}_cookies" "$(flood_field "$line" cookies_per_s)"
	record "${p}_flooder_cpu" "$(flood_field "$line" cpu_pct)"
	read -r i0 o0 d0 <<<"$4"
	read -r i1 o1 d1 <<<"$5"
	record "${p}_udp_in" "$(per_s "$i0" "$i1" "$s")"
	record "${p}_udp_out" "$(per_s "$o0" "$o1" "$s")"
	record "${p}_drops" "$(per_s "$d0" "$d1" "$s")"
}

# flood_alone KIND: the flood with no tunnel traffic. The figures are taken
# over IDLE_SECONDS inside a longer flood, from half a second after the
# flooder says it has started (it builds its packets first); SIGINT then ends
# the flooder, which reports.
flood_alone() {
	local pid=${DAEMON_PID[$IF_B]} fpid fout t0 t1 u0 u1 c0 c1 w0 w1 s0 s out split
	local b n i
	fout="$WORK/flood.$1.alone.out"
	start_bg fpid flooder "$1" $((IDLE_SECONDS + 60)) >"$fout" 2>&1
	flood_started "$fpid" "$fout"
	u0=$(udp_counters "$NS_B")
	t0=$(cpu_ticks "$pid") w0=$(wakeups "$pid")
	c0=$(cpu_snap) s0=$(now_s)
	sleep "$IDLE_SECONDS"
	c1=$(cpu_snap) s=$(elapsed "$s0" "$(now_s)")
	t1=$(cpu_ticks "$pid") w1=$(wakeups "$pid")
	u1=$(udp_counters "$NS_B")
	kill -INT "$fpid" 2>/dev/null
	wait "$fpid" || fail "flooder failed ($1): $(cat "$fout")"
	out=$(tail -n 1 "$fout")
	split=$(cpu_split "$c0" "$c1" "$s")
	log "$1 alone: $out; daemon cpu $(cpu_pct "$t0" "$t1" "$s")%;" \
		"flooder's core busy/nice/idle/steal % $split"
	record "$1_idle_cpu" "$(cpu_pct "$t0" "$t1" "$s")"
	record "$1_idle_wakeups" "$(per_s "$w0" "$w1" "$s")"
	read -r b n i _ <<<"$split"
	record "$1_idle_core_busy" "$b"
	record "$1_idle_core_nice" "$n"
	record "$1_idle_core_idle" "$i"
	record_flood "$1_idle" "$out" "$s" "$u0" "$u1"
}

# flood_tcp KIND: iperf3 A->B for FLOOD_SECONDS inside a longer flood.
flood_tcp() {
	local pid=${DAEMON_PID[$IF_B]} fpid fout t0 t1 u0 u1 w0 w1 s0 s bps tcp out
	# Long enough for any iperf3 run; stopped (SIGINT: it reports) once
	# iperf3 is done.
	fout="$WORK/flood.$1.tcp.out"
	start_bg fpid flooder "$1" $((FLOOD_SECONDS + 60)) >"$fout" 2>&1
	flood_started "$fpid" "$fout"
	u0=$(udp_counters "$NS_B")
	t0=$(cpu_ticks "$pid") w0=$(wakeups "$pid") s0=$(now_s)
	if ! tcp=$(iperf_tcp "$FLOOD_SECONDS"); then
		# The tunnel carrying nothing under the flood is a result.
		note "$1: iperf3 failed under the flood; throughput recorded as 0"
		tcp="0 0"
	fi
	bps=${tcp% *}
	t1=$(cpu_ticks "$pid") w1=$(wakeups "$pid") s=$(elapsed "$s0" "$(now_s)")
	u1=$(udp_counters "$NS_B")
	kill -INT "$fpid" 2>/dev/null
	wait "$fpid" || fail "flooder failed ($1, with TCP): $(cat "$fout")"
	out=$(tail -n 1 "$fout")
	log "$1 with TCP: $(awk -v b="$bps" 'BEGIN { printf "%.0f Mbit/s", b / 1e6 }'); $out;" \
		"daemon cpu $(cpu_pct "$t0" "$t1" "$s")%"
	record "$1_bps" "$bps"
	record "$1_retrans" "${tcp#* }"
	record "$1_load_cpu" "$(cpu_pct "$t0" "$t1" "$s")"
	record "$1_load_wakeups" "$(per_s "$w0" "$w1" "$s")"
	record_flood "$1_load" "$out" "$s" "$u0" "$u1"
	daemon_alive "$IF_B" || fail "$IMPL_B died under the $1 flood"
}

# flood_link: namespace F joined to B, with FLOOD_SOURCES addresses.
flood_link() {
	local i
	make_ns NS_F f
	link_veth "$NS_F" f0 "$NS_B" f0
	addr "$NS_B" f0 "$FLOOD_NET.1/$FLOOD_PFX"
	for ((i = 0; i < FLOOD_SOURCES; i++)); do
		addr "$NS_F" f0 "$FLOOD_NET.$((10 + i))/$FLOOD_PFX"
	done
	wait_ping "$NS_F" "$FLOOD_NET.1" 5 || fail "flood link F->B not working"
}

# check_flooder: the referee for the flooder's "unknown" initiations. From
# one static key K that B is then told about, they must be answered with a
# handshake response (one: the copies that follow are replays); afterwards
# K is removed again, and the floods use random keys.
check_flooder() {
	local out n
	gen_key k
	wgn "$NS_B" set "$IF_B" peer "$(pub k)" allowed-ips 198.18.99.1/32 \
		|| fail "cannot add the check peer"
	out=$(FLOOD_SOURCES=1 flooder_args -P 1 -i "$(cat "$WORK/k.key")" unknown 20 1) \
		|| fail "flooder check run failed: $out"
	n=$(flood_field "$out" responses) || fail "flooder output unreadable: $out"
	[ "$n" -ge 1 ] || fail "$IMPL_B did not answer the flooder's initiations from a key" \
		"it knows: they are not valid initiations ($out)"
	log "check: with its key configured, $IMPL_B answered $n handshake response(s)" \
		"to the flooder's unknown-kind initiations"
	wgn "$NS_B" set "$IF_B" peer "$(pub k)" remove || fail "cannot remove the check peer"
}

# measure IMPL: one round of one implementation, figures into $RESULTS.
measure() {
	local pid t0 t1 w0 w1 s0 s v tcp kind
	# Inherited by everything this round starts but the flooder.
	if [ -n "$TUNNEL_CPU" ]; then
		taskset -p -c "$TUNNEL_CPU" "$BASHPID" >/dev/null || fail "cannot pin to CPU $TUNNEL_CPU"
	fi
	renice -n "$BENCH_NICE" -p "$BASHPID" >/dev/null || fail "cannot renice to $BENCH_NICE"
	setup_pair
	peer_pair 4 0
	flood_link
	wait_ping "$NS_A" "$IN4_B" 10 || fail "no handshake within 10 s"
	pid=${DAEMON_PID[$IF_B]}
	check_flooder
	iperf_server "$NS_B" "$IN4_B"
	t0=$(cpu_ticks "$pid") w0=$(wakeups "$pid") s0=$(now_s)
	tcp=$(iperf_tcp "$BENCH_SECONDS") || fail "iperf3 A->B unflooded"
	t1=$(cpu_ticks "$pid") w1=$(wakeups "$pid") s=$(elapsed "$s0" "$(now_s)")
	v=${tcp% *}
	record base_bps "$v"
	record base_retrans "${tcp#* }"
	record base_cpu "$(cpu_pct "$t0" "$t1" "$s")"
	record base_wakeups "$(per_s "$w0" "$w1" "$s")"
	log "unflooded: $(awk -v b="$v" 'BEGIN { printf "%.0f Mbit/s", b / 1e6 }');" \
		"daemon cpu $(cpu_pct "$t0" "$t1" "$s")%"
	v=$(vmrss_kib "$pid") || fail "cannot read VmRSS of $IF_B"
	record rss_before "$v"
	for kind in $KINDS; do
		flood_alone "$kind"
		flood_tcp "$kind"
	done
	v=$(vmrss_kib "$pid") || fail "cannot read VmRSS of $IF_B"
	record rss_after "$v"
	v=$(bench_vmhwm_kib "$pid") || fail "cannot read VmHWM of $IF_B"
	record rss_peak "$v"
	mv "$WORK/figures" "$RESULTS/$1.$ROUND" || fail "cannot store the figures"
}

[ "$(id -u)" = 0 ] || { echo "flood: needs root" >&2; exit 1; }
[ -x "$FLOOD" ] || { echo "flood: $FLOOD missing: run make bench-tools" >&2; exit 1; }
for kind in $KINDS; do
	case $kind in random|mac1|unknown|mixed) ;;
	*) echo "flood: unknown kind '$kind' (random mac1 unknown mixed)" >&2; exit 2 ;;
	esac
done
[ "$FLOOD_SOURCES" -ge 1 ] && [ "$FLOOD_SOURCES" -le 64 ] \
	|| { echo "flood: FLOOD_SOURCES must be 1..64" >&2; exit 2; }
RESULTS=$(mktemp -d /tmp/vpnd-bench-flood.XXXXXX)
AUTOGROUP_NICE=
if [ "$BENCH_NICE" != 0 ] && [ -w "/proc/$$/autogroup" ] &&
	[ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null)" = 1 ]; then
	AUTOGROUP_NICE=$(awk '{ print $3 }' "/proc/$$/autogroup")
	echo "$BENCH_NICE" >"/proc/$$/autogroup" || AUTOGROUP_NICE=
fi
restore_autogroup() {
	if [ -n "$AUTOGROUP_NICE" ]; then echo "$AUTOGROUP_NICE" >"/proc/$$/autogroup"; fi
}
trap 'rm -rf "$RESULTS"; restore_autogroup' EXIT
trap 'exit 130' INT TERM HUP

echo "flood: $RUNS rounds of ($IMPLS), kinds: $KINDS; $FLOOD_RATE initiations/s from" \
	"$FLOOD_SOURCES source addresses; ${IDLE_SECONDS} s flood alone, ${FLOOD_SECONDS} s TCP" \
	"under flood, ${BENCH_SECONDS} s TCP unflooded"
echo "  flooder on CPU ${FLOOD_CPU:-any}$([ "$FLOOD_RT" = 1 ] && echo ", SCHED_FIFO");" \
	"both daemons and iperf3 on CPU ${TUNNEL_CPU:-any}, at nice $BENCH_NICE" \
	"(session autogroup nice: $(if [ -n "$AUTOGROUP_NICE" ]; then echo "$BENCH_NICE, was $AUTOGROUP_NICE"; else echo "unchanged"; fi))"
bench_machine
seq=0
for ((ROUND = 1; ROUND <= RUNS; ROUND++)); do
	for impl in $IMPLS; do
		seq=$((seq + 1))
		bench_impl_once "$impl" "$seq"
		case $? in
		0) ;;
		130) exit 130 ;;
		*) echo "flood: $impl, round $ROUND: measuring failed (left out)" >&2 ;;
		esac
	done
done
echo "  load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
"$PYTHON" "$(dirname "$0")/flood_report.py" "$RESULTS" "$RUNS" "$FLOOD_RATE" $KINDS
