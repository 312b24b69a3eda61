#!/usr/bin/env bash
# tests/bench/throughput.sh: vpnd against wireguard-go on the same two-namespace
# veth pair. Prints, in one run, for a vpnd<->vpnd pair and for a
# wireguard-go<->wireguard-go pair: iperf3 TCP throughput each way, the average
# ping round-trip time over the tunnel, and each daemon's peak RSS (VmHWM);
# then the ratios vpnd/wireguard-go.
#
# A script, not a test: it fails only when it cannot measure. The issue's first
# bar (throughput >= 2x wireguard-go's, peak RSS <= half) is reported, not
# enforced.
#
#   sudo tests/bench/throughput.sh
#   VPND=wireguard-go tests/bench/throughput.sh     # wireguard-go stands in for vpnd
#   BENCH_SECONDS=10 PINGS=100 tests/bench/throughput.sh
set -u
. "$(dirname "$0")/../netns/lib.sh"
TEST_NAME=throughput

BENCH_SECONDS=${BENCH_SECONDS:-5}
PINGS=${PINGS:-50}
DAEMON_LOG_LEVEL=${DAEMON_LOG_LEVEL:-error}   # no per-event logging while measuring
RESULTS=$(mktemp -d /tmp/vpnd-bench.XXXXXX)
trap 'rm -rf "$RESULTS"' EXIT

vmhwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# measure IMPL: one pair of IMPL, results into $RESULTS/IMPL.
measure() {
	local out=$RESULTS/$IMPL_A up down rtt hwa hwb
	setup_pair
	peer_pair 4 0
	wait_ping "$NS_A" "$IN4_B" 10 || fail "no handshake within 10 s"
	iperf_server "$NS_B" "$IN4_B"
	up=$(iperf_bps "$NS_A" "$IN4_B" "$BENCH_SECONDS") || fail "iperf3 A->B failed"
	down=$(iperf_bps "$NS_A" "$IN4_B" "$BENCH_SECONDS" -R) || fail "iperf3 B->A failed"
	rtt=$(ip netns exec "$NS_A" ping -n -q -c "$PINGS" -i 0.05 "$IN4_B" \
		| awk -F'[/ =]+' '/^rtt|^round-trip/ { print $7 }')
	[ -n "$rtt" ] || fail "no ping statistics"
	hwa=$(vmhwm_kib "${DAEMON_PID[$IF_A]}")
	hwb=$(vmhwm_kib "${DAEMON_PID[$IF_B]}")
	[ -n "$hwa" ] && [ -n "$hwb" ] || fail "cannot read VmHWM of the daemons"
	printf '%s %s %s %s %s\n' "$up" "$down" "$rtt" "$hwa" "$hwb" >"$out"
}

bench_one() { # IMPL SEQ
	(
		IMPL_A=$1 IMPL_B=$1 SEQ=$2 PAIR_LABEL="$1<->$1"
		reset_state
		trap cleanup EXIT
		trap 'exit 130' INT TERM HUP
		check_prereqs
		log "measuring ($BENCH_SECONDS s iperf3 each way, $PINGS pings)"
		measure
	) || { echo "throughput: measuring $1 failed" >&2; exit 1; }
}

[ "$(id -u)" = 0 ] || { echo "throughput: needs root" >&2; exit 1; }
bench_one vpnd 1
bench_one wireguard-go 2

read -r v_up v_down v_rtt v_ha v_hb <"$RESULTS/vpnd"
read -r g_up g_down g_rtt g_ha g_hb <"$RESULTS/wireguard-go"
vpnd_label="vpnd"
vbin=$(command -v "$VPND" 2>/dev/null || echo "$VPND")
case $(basename "$vbin") in wireguard-go*) vpnd_label="vpnd*" ;; esac

awk -v vu="$v_up" -v vd="$v_down" -v vr="$v_rtt" -v vha="$v_ha" -v vhb="$v_hb" \
	-v gu="$g_up" -v gd="$g_down" -v gr="$g_rtt" -v gha="$g_ha" -v ghb="$g_hb" -v vl="$vpnd_label" '
function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "n/a" }
BEGIN {
	printf "\n%-28s %12s %14s %12s\n", "", vl, "wireguard-go", "vpnd/wg-go"
	printf "%-28s %12.0f %14.0f %12s\n", "TCP A->B (Mbit/s)", vu / 1e6, gu / 1e6, ratio(vu, gu)
	printf "%-28s %12.0f %14.0f %12s\n", "TCP B->A (Mbit/s)", vd / 1e6, gd / 1e6, ratio(vd, gd)
	printf "%-28s %12.3f %14.3f %12s\n", "ping RTT avg (ms)", vr, gr, ratio(vr, gr)
	printf "%-28s %12.1f %14.1f %12s\n", "peak RSS, end A (MiB)", vha / 1024, gha / 1024, ratio(vha, gha)
	printf "%-28s %12.1f %14.1f %12s\n", "peak RSS, end B (MiB)", vhb / 1024, ghb / 1024, ratio(vhb, ghb)
	tr = (vu / gu < vd / gd) ? vu / gu : vd / gd
	mr = (vha / gha > vhb / ghb) ? vha / gha : vhb / ghb
	printf "\nfirst bar (throughput >= 2x, peak RSS <= 0.5x): throughput %.2fx %s, peak RSS %.2fx %s\n",
		tr, (tr >= 2 ? "met" : "NOT met"), mr, (mr <= 0.5 ? "met" : "NOT met")
}'
[ "$vpnd_label" = "vpnd*" ] && echo "* the vpnd column was measured with wireguard-go standing in (VPND=$VPND)"
exit 0
