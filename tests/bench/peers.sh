#!/usr/bin/env bash
# tests/bench/peers.sh: many peers through the UAPI, vpnd against wireguard-go,
# in one run. For each implementation: a tunnel pair (setup_pair/peer_pair),
# iperf3 A->B through it, then PEERS more peers (a public key and a /32 each,
# from `hsflood conf`) loaded into B with one `wg addconf`, timed; B's peak RSS
# (VmHWM) with them; and iperf3 A->B again, with them loaded.
#
# A script, not a test: it fails only when it cannot measure.
#
#   sudo tests/bench/peers.sh            (make bench-tools first)
#   PEERS=100000 BENCH_SECONDS=5 RUNS=3 tests/bench/peers.sh
set -u
. "$(dirname "$0")/../netns/lib.sh"
. "$(dirname "$0")/lib.sh"
TEST_NAME=peers

PEERS=${PEERS:-100000}
BENCH_SECONDS=${BENCH_SECONDS:-5}
RUNS=${RUNS:-1}
DAEMON_LOG_LEVEL=${DAEMON_LOG_LEVEL:-error}
HSFLOOD=${HSFLOOD:-$(dirname "$0")/hsflood}
RESULTS=$(mktemp -d /tmp/vpnd-bench-peers.XXXXXX)
trap 'rm -rf "$RESULTS"' EXIT

ms_now() { echo $(( $(date +%s%N) / 1000000 )); }

# measure IMPL: appends "load_ms hwm_kib bps_without bps_with" to $RESULTS/IMPL.
measure() {
	local before after t0 t1 hwm n
	setup_pair
	peer_pair 4 0
	wait_ping "$NS_A" "$IN4_B" 10 || fail "no handshake within 10 s"
	iperf_server "$NS_B" "$IN4_B"
	before=$(iperf_bps "$NS_A" "$IN4_B" "$BENCH_SECONDS") || fail "iperf3 without the peers failed"
	t0=$(ms_now)
	wgn "$NS_B" addconf "$IF_B" "$RESULTS/peers.conf" 2>"$WORK/addconf.err" \
		|| fail "wg addconf of $PEERS peers failed after $(( $(ms_now) - t0 )) ms: $(head -c 200 "$WORK/addconf.err")"
	t1=$(ms_now)
	n=$(wgn "$NS_B" show "$IF_B" peers | wc -l)
	[ "$n" = $((PEERS + 1)) ] || fail "$1 lists $n peers, not $((PEERS + 1))"
	after=$(iperf_bps "$NS_A" "$IN4_B" "$BENCH_SECONDS") || fail "iperf3 with the peers failed"
	daemon_alive "$IF_B" || fail "$1 died"
	hwm=$(bench_vmhwm_kib "${DAEMON_PID[$IF_B]}")
	[ -n "$hwm" ] || fail "cannot read VmHWM"
	log "load $((t1 - t0)) ms, peak RSS $((hwm / 1024)) MiB, iperf3 $before bit/s without, $after with"
	echo "$((t1 - t0)) $hwm $before $after" >>"$RESULTS/$1"
}


[ "$(id -u)" = 0 ] || { echo "peers: needs root" >&2; exit 1; }
[ -x "$HSFLOOD" ] || { echo "peers: $HSFLOOD missing: run make bench-tools" >&2; exit 1; }
"$HSFLOOD" conf "$PEERS" >"$RESULTS/peers.conf" || { echo "peers: hsflood conf failed" >&2; exit 1; }
# wireguard-go refuses a peer past 65,536 ("too many peers"), and B has one
# already: above that it is not measured, and there is no ratio.
WGGO_MAX_PEERS=65536
IMPLS="vpnd wireguard-go"
if [ $((PEERS + 1)) -gt $WGGO_MAX_PEERS ]; then
	IMPLS=vpnd
	echo "peers: wireguard-go holds at most $WGGO_MAX_PEERS peers, not measured with $PEERS more (PEERS=$((WGGO_MAX_PEERS - 1)) compares both)" >&2
fi
seq=0
for ((run = 1; run <= RUNS; run++)); do
	for impl in $IMPLS; do
		seq=$((seq + 1)); bench_impl_once "$impl" "$seq" || { echo "peers: measuring $impl failed" >&2; [ "$impl" != vpnd ] || exit 1; }
	done
done
echo "$PEERS peers through wg addconf, $RUNS run(s), medians:"
for impl in $IMPLS; do
	[ -s "$RESULTS/$impl" ] || { printf '  %-13s no figures: it failed (see above)\n' "$impl"; continue; }
	awk -v i="$impl" -v l="$(bench_median "$RESULTS/$impl" 1)" -v h="$(bench_median "$RESULTS/$impl" 2)" \
		-v b="$(bench_median "$RESULTS/$impl" 3)" -v a="$(bench_median "$RESULTS/$impl" 4)" 'BEGIN {
		printf "  %-13s load %.2f s   peak RSS %.1f MiB   iperf3 %.2f Gbit/s without, %.2f with (%+.1f %%)\n",
			i, l / 1000, h / 1024, b / 1e9, a / 1e9, (b > 0 ? (a / b - 1) * 100 : 0) }'
done
[ -s "$RESULTS/wireguard-go" ] || echo "  note: no ratio, wireguard-go gave no figures" >&2
[ -s "$RESULTS/wireguard-go" ] && awk -v vl="$(bench_median "$RESULTS/vpnd" 1)" -v gl="$(bench_median "$RESULTS/wireguard-go" 1)" \
    -v vh="$(bench_median "$RESULTS/vpnd" 2)" -v gh="$(bench_median "$RESULTS/wireguard-go" 2)" 'BEGIN {
	printf "  ratios vpnd/wireguard-go: load time %.2f, peak RSS %.2f\n", vl / gl, vh / gh
}'
awk -v vl="$(bench_median "$RESULTS/vpnd" 1)" -v vh="$(bench_median "$RESULTS/vpnd" 2)" 'BEGIN {
	printf "  vpnd targets: load <= 3 s (%s), peak RSS <= 40 MiB (%s)\n",
		(vl <= 3000 ? "met" : "NOT met"), (vh <= 40 * 1024 ? "met" : "NOT met") }'
