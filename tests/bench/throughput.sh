#!/usr/bin/env bash
# tests/bench/throughput.sh: vpnd against wireguard-go and against no tunnel
# at all, on the same kind of two-namespace veth pair, in one run.
#
# Each round measures, one after the other, (a) a vpnd<->vpnd pair, (b) a
# wireguard-go<->wireguard-go pair, (c) the bare veth pair with plain
# addresses, each in fresh namespaces: iperf3 TCP with 1 and with 4 streams
# each way, iperf3 UDP (-b 0, 1400-byte datagrams) each way (received rate and
# loss), ping RTT idle and while one TCP stream fills the path, and each
# daemon's peak RSS (VmHWM). After RUNS rounds it prints every metric's median
# (min-max) per implementation, the per-round ratios vpnd/wireguard-go and
# vpnd/veth, and issue 14's targets, each `met` or `gap` with its figure.
#
# A script, not a test: it exits non-zero only when it could not measure
# (a round that failed is reported and left out of the figures).
#
#   sudo tests/bench/throughput.sh                  # 5 rounds of 5 s runs, ~10 min
#   QUICK=1 sudo tests/bench/throughput.sh          # 1 round of 2 s runs: a smoke test
#   RUNS=7 BENCH_SECONDS=10 PINGS=100 sudo tests/bench/throughput.sh
#   VPND=wireguard-go tests/bench/throughput.sh     # wireguard-go stands in for vpnd
set -u
. "$(dirname "$0")/../netns/lib.sh"
. "$(dirname "$0")/lib.sh"
TEST_NAME=throughput

if [ "${QUICK:-0}" = 1 ]; then
	RUNS=${RUNS:-1} BENCH_SECONDS=${BENCH_SECONDS:-2} PINGS=${PINGS:-20}
fi
RUNS=${RUNS:-5}
BENCH_SECONDS=${BENCH_SECONDS:-5}
PINGS=${PINGS:-50}
UDP_LEN=${UDP_LEN:-1400}
DAEMON_LOG_LEVEL=${DAEMON_LOG_LEVEL:-error}   # no per-event logging while measuring
IMPLS="vpnd wireguard-go veth"

# record METRIC VALUE: one figure of this measurement.
record() { printf '%s %s\n' "$1" "$2" >>"$WORK/figures"; }

# measure_path DST: every metric from NS_A towards DST in NS_B.
measure_path() {
	local dst=$1 v udp
	iperf_server "$NS_B" "$dst"
	v=$(iperf_bps "$NS_A" "$dst" "$BENCH_SECONDS") || fail "iperf3 TCP A->B"
	record tcp1_ab "$v"
	v=$(iperf_bps "$NS_A" "$dst" "$BENCH_SECONDS" -R) || fail "iperf3 TCP B->A"
	record tcp1_ba "$v"
	v=$(iperf_bps "$NS_A" "$dst" "$BENCH_SECONDS" -P 4) || fail "iperf3 TCP -P 4 A->B"
	record tcp4_ab "$v"
	v=$(iperf_bps "$NS_A" "$dst" "$BENCH_SECONDS" -P 4 -R) || fail "iperf3 TCP -P 4 B->A"
	record tcp4_ba "$v"
	udp=$(bench_udp "$NS_A" "$dst" "$BENCH_SECONDS" "$UDP_LEN") || fail "iperf3 UDP A->B"
	record udp_ab "${udp% *}"
	record udp_ab_loss "${udp#* }"
	udp=$(bench_udp "$NS_A" "$dst" "$BENCH_SECONDS" "$UDP_LEN" -R) || fail "iperf3 UDP B->A"
	record udp_ba "${udp% *}"
	record udp_ba_loss "${udp#* }"
	v=$(bench_rtt_ms "$NS_A" "$dst" "$PINGS" 0.05) || fail "no ping statistics (idle)"
	record rtt_idle "$v"
	v=$(bench_rtt_under_load "$NS_A" "$dst" "$BENCH_SECONDS" "$PINGS") \
		|| fail "no ping statistics under load (or the loading stream failed)"
	record rtt_load "$v"
}

# measure IMPL ROUND: one implementation, fresh namespaces, figures into
# $RESULTS/IMPL.ROUND only once all of them are in.
measure() {
	local impl=$1 round=$2 v
	if [ "$impl" = veth ]; then
		bench_veth_pair
		measure_path "$OUT4_B"
	else
		IMPL_A=$impl IMPL_B=$impl
		setup_pair
		peer_pair 4 0
		wait_ping "$NS_A" "$IN4_B" 10 || fail "no handshake within 10 s"
		measure_path "$IN4_B"
		if ! daemon_alive "$IF_A" || ! daemon_alive "$IF_B"; then
			fail "a daemon died while measuring"
		fi
		v=$(bench_vmhwm_kib "${DAEMON_PID[$IF_A]}") || fail "cannot read VmHWM of $IF_A"
		record rss_a "$v"
		v=$(bench_vmhwm_kib "${DAEMON_PID[$IF_B]}") || fail "cannot read VmHWM of $IF_B"
		record rss_b "$v"
	fi
	mv "$WORK/figures" "$RESULTS/$impl.$round" || fail "cannot store the figures"
}

bench_one() { # IMPL ROUND SEQ
	(
		SEQ=$3 PAIR_LABEL="$1 round $2/$RUNS"
		reset_state
		trap cleanup EXIT
		trap 'exit 130' INT TERM HUP
		check_prereqs
		log "measuring"
		measure "$1" "$2"
	)
	case $? in
	0) ;;
	130) exit 130 ;;
	*) echo "throughput: $1, round $2: measuring failed (left out)" >&2 ;;
	esac
}

[ "$(id -u)" = 0 ] || { echo "throughput: needs root" >&2; exit 1; }
RESULTS=$(mktemp -d /tmp/vpnd-bench.XXXXXX)
trap 'rm -rf "$RESULTS"' EXIT
trap 'exit 130' INT TERM HUP

vpnd_label=vpnd
vbin=$(command -v "$VPND" 2>/dev/null || echo "$VPND")
case $(basename "$vbin") in wireguard-go*) vpnd_label="vpnd*" ;; esac

echo "throughput: $RUNS rounds of ($IMPLS), ${BENCH_SECONDS} s per iperf3 run, $PINGS pings," \
	"UDP datagrams of $UDP_LEN bytes"
bench_machine
seq=0
for ((round = 1; round <= RUNS; round++)); do
	for impl in $IMPLS; do
		seq=$((seq + 1))
		bench_one "$impl" "$round" "$seq"
	done
done
echo "  load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"

"$PYTHON" "$(dirname "$0")/throughput_report.py" "$RESULTS" "$RUNS" "$vpnd_label"
rc=$?
[ "$vpnd_label" = "vpnd*" ] && echo "* the vpnd column was measured with wireguard-go standing in (VPND=$VPND)"
[ "$rc" = 0 ] || echo "throughput: some rounds could not be measured (see above)" >&2
exit "$rc"
