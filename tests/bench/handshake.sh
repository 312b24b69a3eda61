#!/usr/bin/env bash
# tests/bench/handshake.sh: completed handshakes per second, vpnd against
# wireguard-go as the responder, in one run.
#
# Each responder runs in its own namespace, pinned to one core (taskset), with
# PEERS peers configured through `wg setconf`. hsflood (make bench-tools), pinned
# to the other core, holds those peers' private keys, sends their initiations
# over the namespace's loopback, and counts only the responses it consumed
# (handshake complete); cookie replies and timeouts are printed apart.
#
# A script, not a test: it fails only when it cannot measure.
#
#   sudo tests/bench/handshake.sh
#   PEERS=10000 BENCH_SECONDS=5 RUNS=5 WINDOW=64 tests/bench/handshake.sh
set -u
. "$(dirname "$0")/../netns/lib.sh"
. "$(dirname "$0")/lib.sh"
TEST_NAME=handshake

PEERS=${PEERS:-1000}
BENCH_SECONDS=${BENCH_SECONDS:-5}
RUNS=${RUNS:-3}
WINDOW=${WINDOW:-64}
DAEMON_CPU=${DAEMON_CPU:-0}
DRIVER_CPU=${DRIVER_CPU:-1}
DAEMON_LOG_LEVEL=${DAEMON_LOG_LEVEL:-error}
HSFLOOD=${HSFLOOD:-$(dirname "$0")/hsflood}
PORT=51820
RESULTS=$(mktemp -d /tmp/vpnd-bench-hs.XXXXXX)
trap 'rm -rf "$RESULTS"' EXIT

# cpu_ticks PID: user + system time of a process, all threads, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# measure IMPL RUN: one responder of IMPL; appends "hs_per_s cookies timeouts".
measure() {
	local ns ifn out t0 t1
	make_ns ns r
	ifn=$(ifname r)
	start_impl "$ns" "$1" "$ifn"
	taskset -a -p -c "$DAEMON_CPU" "${DAEMON_PID[$ifn]}" >/dev/null \
		|| fail "cannot pin the daemon"
	gen_key resp
	{
		printf '[Interface]\nPrivateKey = %s\nListenPort = %s\n' \
			"$(cat "$WORK/resp.key")" "$PORT"
		cat "$RESULTS/peers.conf"
	} >"$WORK/setconf.conf"
	wgn "$ns" setconf "$ifn" "$WORK/setconf.conf" || fail "wg setconf failed"
	# Like the kernel, vpnd opens its UDP socket when the link goes up.
	ip -n "$ns" link set "$ifn" up || fail "cannot bring $ifn up"
	[ "$(wgn "$ns" show "$ifn" peers | wc -l)" = "$PEERS" ] \
		|| fail "$1 does not list $PEERS peers after setconf"
	t0=$(cpu_ticks "${DAEMON_PID[$ifn]}")
	out=$(ip netns exec "$ns" taskset -c "$DRIVER_CPU" "$HSFLOOD" run \
		"$(pub resp)" 127.0.0.1 "$PORT" "$PEERS" "$BENCH_SECONDS" "$WINDOW") \
		|| fail "hsflood failed"
	t1=$(cpu_ticks "${DAEMON_PID[$ifn]}")
	# Whether the responder's core was the limit, or the driver was.
	log "$out; daemon cpu $(( (t1 - t0) * 100 / $(getconf CLK_TCK) / BENCH_SECONDS ))%"
	daemon_alive "$ifn" || fail "$1 died during the flood"
	# (wg shows no latest handshake on the responder: it counts only once
	# the initiator sends data, which hsflood does not.)
	awk '{ for (i = 1; i < NF; i++) if ($i == "hs_per_s") h = $(i+1);
	       else if ($i == "cookies") c = $(i+1); else if ($i == "timeouts") t = $(i+1) }
	     END { print h, c, t }' <<<"$out" >>"$RESULTS/$1"
}

# stats FILE COLUMN: "median (min-max)" of one column.
stats() {
	awk -v c="$2" '{ print $c }' "$1" | sort -n | awk '{ v[NR] = $1 }
		END { printf "%.0f (%.0f-%.0f)", v[int((NR + 1) / 2)], v[1], v[NR] }'
}

[ "$(id -u)" = 0 ] || { echo "handshake: needs root" >&2; exit 1; }
[ -x "$HSFLOOD" ] || { echo "handshake: $HSFLOOD missing: run make bench-tools" >&2; exit 1; }
"$HSFLOOD" conf "$PEERS" >"$RESULTS/peers.conf" || { echo "handshake: hsflood conf failed" >&2; exit 1; }
seq=0
for ((run = 1; run <= RUNS; run++)); do
	for impl in vpnd wireguard-go; do
		seq=$((seq + 1)); bench_impl_once "$impl" "$seq" || { echo "handshake: measuring $impl failed" >&2; exit 1; }
	done
done
echo "handshakes per second, responder on one core, $PEERS peers, $RUNS runs of ${BENCH_SECONDS}s, median (min-max):"
for impl in vpnd wireguard-go; do
	printf '  %-13s hs/s %s   cookie replies %s   timeouts %s\n' "$impl" \
		"$(stats "$RESULTS/$impl" 1)" "$(stats "$RESULTS/$impl" 2)" "$(stats "$RESULTS/$impl" 3)"
done
v=$(bench_median "$RESULTS/vpnd" 1) g=$(bench_median "$RESULTS/wireguard-go" 1)
awk -v v="$v" -v g="$g" 'BEGIN { printf "  ratio vpnd/wireguard-go: %.2f   (target: vpnd >= 5000 hs/s; vpnd %s)\n",
	(g > 0 ? v / g : 0), (v >= 5000 ? "meets it" : "below it") }'
