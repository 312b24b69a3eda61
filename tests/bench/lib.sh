# shellcheck shell=bash
# tests/bench/lib.sh: measuring helpers shared by the benchmarks, sourced after
# tests/netns/lib.sh (whose namespaces, daemons and EXIT cleanup they rely on).
#
# Each helper prints one figure (or a few, space-separated) on stdout and
# returns non-zero when it could not measure, so that a caller writes
# `x=$(bench_... ) || fail "..."` and never records a figure it did not get.

# bench_vmhwm_kib PID: the process's peak resident set (VmHWM), KiB.
bench_vmhwm_kib() {
	awk '/^VmHWM:/ { print $2; f = 1 } END { exit !f }' "/proc/$1/status" 2>/dev/null
}

# bench_rtt_ms NS DST COUNT INTERVAL: average ping round-trip time in ms
# over the replies received (at least one reply needed).
bench_rtt_ms() {
	local deadline
	deadline=$(awk -v c="$3" -v i="$4" 'BEGIN { printf "%d", c * i + 5 }')
	ip netns exec "$1" ping -n -q -c "$3" -i "$4" -W 2 -w "$deadline" "$2" 2>/dev/null \
		| awk -F'[/ =]+' '/^rtt|^round-trip/ { print $7; f = 1 } END { exit !f }'
}

# bench_udp NS DST SECONDS LEN [iperf3 args...]: one iperf3 UDP run at no
# rate limit (-b 0) against a server started with iperf_server; prints the
# rate the receiving end got (bits/s) and its loss in percent.
bench_udp() {
	local ns=$1 dst=$2 t=$3 len=$4 json
	shift 4
	json="$WORK/iperf-udp.$RANDOM.json"
	timeout $((t + 15)) ip netns exec "$ns" iperf3 -c "$dst" -u -b 0 -l "$len" -t "$t" -J "$@" \
		>"$json" 2>>"$WORK/iperf-udp.err"   # not into the JSON: iperf3 warns of fragments
	"$PYTHON" - "$json" <<'EOF'
import json, sys
try:
    with open(sys.argv[1]) as f:
        j = json.load(f)
    r = j["end"]["sum_received"]
    print("%d %.3f" % (r["bits_per_second"], r["lost_percent"]))
except (OSError, ValueError, KeyError) as e:
    sys.exit("iperf3 UDP output unusable (%s): %s" % (sys.argv[1], e))
EOF
}

# bench_rtt_under_load NS DST SECONDS COUNT: average ping RTT (ms) while one
# iperf3 TCP stream from NS to DST fills the path; the pings start a second
# into the stream and end before it does.
bench_rtt_under_load() {
	local ns=$1 dst=$2 t=$3 count=$4 interval pid rtt
	interval=$(awk -v t="$t" -v c="$count" 'BEGIN { i = (t - 1) / c; printf "%.3f", (i < 0.02 ? 0.02 : i) }')
	start_bg pid timeout $((t + 20)) ip netns exec "$ns" iperf3 -c "$dst" -t $((t + 2)) \
		>"$WORK/iperf-load.log" 2>&1
	sleep 1
	rtt=$(bench_rtt_ms "$ns" "$dst" "$count" "$interval")
	wait "$pid" || return 1   # the stream must have run the whole time
	[ -n "$rtt" ] && printf '%s\n' "$rtt"
}

# bench_veth_pair: namespaces NS_A and NS_B joined by veth o0/o0 with the
# outer IPv4 addresses and nothing else: the path the tunnels run over.
bench_veth_pair() {
	make_ns NS_A a
	make_ns NS_B b
	link_veth "$NS_A" o0 "$NS_B" o0
	addr "$NS_A" o0 "$OUT4_A/$OUT4_PFX"
	addr "$NS_B" o0 "$OUT4_B/$OUT4_PFX"
	wait_ping "$NS_A" "$OUT4_B" 5 || fail "veth link A<->B not working"
}

# bench_impl_once IMPL SEQ: the caller's measure IMPL, once, with IMPL at both
# ends, in a subshell whose namespaces and daemons are torn down on exit;
# returns measure's status.
bench_impl_once() {
	(
		IMPL_A=$1 IMPL_B=$1 SEQ=$2 PAIR_LABEL="$1"
		reset_state
		trap cleanup EXIT
		trap 'exit 130' INT TERM HUP
		check_prereqs
		measure "$1"
	)
}

# bench_median FILE COLUMN: the median of one column of numbers.
bench_median() {
	awk -v c="$2" '{ print $c }' "$1" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# bench_machine: one line on what the figures were measured on: CPUs, load
# average, kernel, vpnd's commit, wireguard-go's package version.
bench_machine() {
	echo "  $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), kernel $(uname -r)," \
		"vpnd $(git -C "$REPO" describe --always --dirty 2>/dev/null || echo '?')," \
		"wireguard-go $(dpkg-query -W -f '${Version}' wireguard-go 2>/dev/null || echo '?')"
}
