#!/usr/bin/env bash
# tests/bench/scaling.sh: does vpnd use both cores? Four TCP streams
# (iperf3 -P 4) through a vpnd<->vpnd tunnel on two namespaces over veth,
# each way, in two setups:
#
#   1core    both daemons pinned to CPU 0 (taskset)
#   2core    both daemons free to use every CPU
#
# and Debian's wireguard-go, free, for reference. The setups alternate run by
# run (RUNS rounds); it prints each setup's median with min-max and the
# ratios 2core/1core (the issue's scaling, target >= 1.6x) and vpnd
# 2core/wireguard-go. vpnd's daemon is one thread: on two CPUs the pair
# scales by running a daemon on each (a crypto worker thread was measured,
# and on two CPUs it paid nothing: the note of issue 14 and branch issue14mt).
#
# A benchmark, not a test: it fails only when it cannot measure. iperf3 and
# the kernel's share of the work run on both CPUs in every setup.
#
#   sudo tests/bench/scaling.sh
#   RUNS=7 BENCH_SECONDS=10 sudo tests/bench/scaling.sh
#   SETUPS="1core 2core" DIRS=up sudo tests/bench/scaling.sh
set -u
. "$(dirname "$0")/../netns/lib.sh"
TEST_NAME=scaling

RUNS=${RUNS:-5}
BENCH_SECONDS=${BENCH_SECONDS:-5}
STREAMS=${STREAMS:-4}
SETUPS=${SETUPS:-1core 2core wggo}
DIRS=${DIRS:-up down}
DAEMON_LOG_LEVEL=${DAEMON_LOG_LEVEL:-error}   # no per-event logging while measuring
RESULTS=$(mktemp -d /tmp/vpnd-scaling.XXXXXX)
trap 'rm -rf "$RESULTS"' EXIT

# pin_daemon IF CPUS: every thread of the daemon serving IF onto CPUS.
pin_daemon() {
	taskset -a -p -c "$2" "${DAEMON_PID[$1]}" >/dev/null \
		|| fail "taskset on ${DAEMON_PID[$1]} ($1)"
}

# measure SETUP SEQ: one pair, its iperf3 rates appended to $RESULTS/SETUP.DIR.
measure() {
	local setup=$1 impl=vpnd dir bps
	case $setup in
	1core|2core) ;;
	wggo) impl=wireguard-go ;;
	*) echo "scaling: unknown setup '$setup'" >&2; return 1 ;;
	esac
	(
		IMPL_A=$impl IMPL_B=$impl SEQ=$2 PAIR_LABEL=$setup
		reset_state
		trap cleanup EXIT
		trap 'exit 130' INT TERM HUP
		check_prereqs
		setup_pair
		if [ "$setup" = 1core ]; then
			pin_daemon "$IF_A" 0
			pin_daemon "$IF_B" 0
		fi
		peer_pair 4 0
		wait_ping "$NS_A" "$IN4_B" 10 || fail "no handshake within 10 s"
		iperf_server "$NS_B" "$IN4_B"
		for dir in $DIRS; do
			if [ "$dir" = up ]; then
				bps=$(iperf_bps "$NS_A" "$IN4_B" "$BENCH_SECONDS" -P "$STREAMS") \
					|| fail "iperf3 A->B failed"
			else
				bps=$(iperf_bps "$NS_A" "$IN4_B" "$BENCH_SECONDS" -P "$STREAMS" -R) \
					|| fail "iperf3 B->A failed"
			fi
			echo "$bps" >>"$RESULTS/$setup.$dir"
			log "run $2 $dir: $(awk -v b="$bps" 'BEGIN { printf "%.0f", b / 1e6 }') Mbit/s"
		done
	) || { echo "scaling: measuring $setup failed" >&2; exit 1; }
}

[ "$(id -u)" = 0 ] || { echo "scaling: needs root" >&2; exit 1; }
command -v taskset >/dev/null || { echo "scaling: needs taskset (util-linux)" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "scaling: needs at least 2 CPUs" >&2; exit 1; }

seq=0
for ((r = 1; r <= RUNS; r++)); do
	for s in $SETUPS; do
		seq=$((seq + 1))
		measure "$s" "$seq"
	done
done

# stats FILE: "median min max" in Mbit/s.
stats() {
	sort -g "$1" | awk '{ v[NR] = $1 / 1e6 } END {
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.0f %.0f %.0f\n", m, v[1], v[NR] }'
}
median() { stats "$1" | awk '{ print $1 }'; }
ratio() {
	[ -s "$RESULTS/$1" ] && [ -s "$RESULTS/$2" ] || { echo "n/a"; return; }
	awk -v a="$(median "$RESULTS/$1")" -v b="$(median "$RESULTS/$2")" \
		'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'
}

echo
printf 'four TCP streams (iperf3 -P %s), %s s each, %s runs alternating, Mbit/s median (min-max)\n' \
	"$STREAMS" "$BENCH_SECONDS" "$RUNS"
for dir in $DIRS; do
	label="A->B"; [ "$dir" = down ] && label="B->A"
	for s in $SETUPS; do
		read -r med lo hi < <(stats "$RESULTS/$s.$dir")
		printf '  %-4s %-9s %7s  (%s-%s)\n' "$label" "$s" "$med" "$lo" "$hi"
	done
	printf '  %-4s scaling 2core/1core %s (target >= 1.6), vpnd 2core/wireguard-go %s\n' \
		"$label" "$(ratio 2core.$dir 1core.$dir)" "$(ratio 2core.$dir wggo.$dir)"
done
exit 0
