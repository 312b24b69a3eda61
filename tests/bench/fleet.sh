#!/usr/bin/env bash
# tests/bench/fleet.sh: how fast a vpnd server takes a fleet's users from etcd,
# and what they cost it in memory, against wireguard-go taking the same number
# of peers through `wg addconf`, in one run.
#
# Prints, for BENCH_USERS users (default 10,000; random keys, one /32 each):
#   - vpnd, start: users/s from launch to all users applied (the range read)
#   - vpnd, watch: users/s from the first etcd write to all applied, and how
#     fast etcd itself took the writes (the watch cannot beat that)
#   - wireguard-go: peers/s of `wg addconf`
#   - RSS per 10,000 users: vpnd's VmRSS with the users minus without,
#     wireguard-go's likewise
#   - the ratios vpnd/wireguard-go
#
# A script, not a test: it fails only when it cannot measure.
#   sudo tests/bench/fleet.sh
#   BENCH_USERS=50000 tests/bench/fleet.sh
CL_TAG=e
. "$(dirname "$0")/../netns/connect_lib.sh"
. "$(dirname "$0")/../netns/fleet_lib.sh"
TEST_NAME=bench-fleet

N=${BENCH_USERS:-10000}

prereqs "$WG_GO" etcd etcdctl
fl_prereqs
fl_topology 1
fl_cluster_start

rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", (t > 0 ? n / t : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

server_stop() {
	kill -TERM "${FL_SRV_PID[1]}" 2>/dev/null
	wait_for "! fl_server_alive 1" 10 || die "vpnd server did not stop"
}

# vpnd with no user: its memory to start from.
fl_server_conf 1 "$FL_URLS" && sed -i "s|^prefix = .*|prefix = /vpnd/nobody/|" "$WORK/s1.conf"
fl_server_start 1
sleep 1
RSS0=$(fl_rss 1)
server_stop

# The users, written before the server starts: it reads them all at start.
t=$(date +%s.%N)
in_db "$PYTHON" "$FL_PUT" bulk --url "$(fl_url 1)" --prefix "$FL_PREFIX" --count "$N" \
	--batch 500 --base u >/dev/null || die "writing $N users"
ETCD_TIME=$(elapsed "$t")

fl_server_conf 1 "$FL_URLS"
t=$(date +%s.%N)
fl_server_start 1
wait_for "[ \"\$(fstat 1 fleet_users)\" = $N ]" 120 || die "vpnd did not load $N users"
START_TIME=$(elapsed "$t")
sleep 1
RSS1=$(fl_rss 1)

# N more through the watch, as etcd takes them.
t=$(date +%s.%N)
in_db "$PYTHON" "$FL_PUT" bulk --url "$(fl_url 1)" --prefix "$FL_PREFIX" --count "$N" \
	--batch 500 --base v --net 140 >/dev/null || die "writing $N more users"
WRITE_TIME=$(elapsed "$t")
wait_for "[ \"\$(fstat 1 fleet_users)\" = $((2 * N)) ]" 120 || die "vpnd did not apply $N more"
WATCH_TIME=$(elapsed "$t")
server_stop

# wireguard-go, the same number of peers in the same namespace.
"$PYTHON" - "$N" >"$WORK/peers.conf" <<'EOF' || die "generating the peers"
import base64, os, sys
for i in range(int(sys.argv[1])):
    print("[Peer]\nPublicKey = %s\nAllowedIPs = 10.%d.%d.%d/32\n" %
          (base64.b64encode(os.urandom(32)).decode(), 100 + i // 65536, i // 256 % 256, i % 256))
EOF
IFG=$(fl_if_srv 2)
ip netns exec "$(fl_ns_srv 1)" "$WG_GO" -f "$IFG" >"$WORK/wggo.log" 2>&1 </dev/null &
GPID=$!
HELPERS+=("$GPID:$IFG")
wait_for "in_srv 1 wg show $IFG" 10 || die "wireguard-go did not start"
sleep 1
GRSS0=$(awk '/^VmRSS/ { print $2 }' "/proc/$GPID/status")
t=$(date +%s.%N)
in_srv 1 wg addconf "$IFG" "$WORK/peers.conf" || die "wg addconf"
GO_TIME=$(elapsed "$t")
sleep 1
GRSS1=$(awk '/^VmRSS/ { print $2 }' "/proc/$GPID/status")
[ "$(in_srv 1 wg show "$IFG" peers | wc -l)" = "$N" ] || die "wireguard-go does not list $N peers"

V_START=$(rate "$N" "$START_TIME")
V_WATCH=$(rate "$N" "$WATCH_TIME")
G_RATE=$(rate "$N" "$GO_TIME")
V_MEM=$(awk -v a="$RSS0" -v b="$RSS1" -v n="$N" 'BEGIN { printf "%.0f", (b - a) * 10000 / n }')
G_MEM=$(awk -v a="$GRSS0" -v b="$GRSS1" -v n="$N" 'BEGIN { printf "%.0f", (b - a) * 10000 / n }')

say "$N users, $(nproc) CPUs"
say "vpnd start (range read):  $START_TIME s, $V_START users/s applied"
say "vpnd watch:               $WATCH_TIME s, $V_WATCH users/s applied (etcd took the writes in $WRITE_TIME s, $(rate "$N" "$WRITE_TIME")/s; before the start: $ETCD_TIME s)"
say "wireguard-go wg addconf:  $GO_TIME s, $G_RATE peers/s"
say "RSS per 10,000 users:     vpnd $V_MEM KiB ($RSS0 -> $RSS1 KiB), wireguard-go $G_MEM KiB ($GRSS0 -> $GRSS1 KiB)"
say "ratio vpnd/wireguard-go:  users/s at start $(ratio "$V_START" "$G_RATE"), through the watch $(ratio "$V_WATCH" "$G_RATE"); RSS per user $(ratio "$V_MEM" "$G_MEM")"
