#!/usr/bin/env bash
# tests/bench/soak.sh: a vpnd client and a vpnd server under SOAK_MINUTES of
# traffic over a lossy, reordering, roaming path, with short rekeys and 1,000
# idle peers on the server; prints per-minute figures and judges whether
# memory, descriptors and throughput stayed flat and whether the traffic
# ever stalled for longer than one rekey interval.
#
#   A (client, vpnd) --veth-- R (tests/bench/relay) --veth-- B (server)
#
# The client's peer endpoint is the relay's front address; the relay forwards
# to the server from a back address and port that it changes every minute
# (SIGUSR1), alternating between two addresses, so the server must follow the
# client by WireGuard's roaming rule (the source of the last authenticated
# packet); its replies to the old address are lost until it does. The relay
# drops LOSS % and reorders REORDER % of the datagrams each way (this kernel
# has no netem). Both vpnd ends rekey every REKEY_SECONDS through the
# test-only VPND_TEST_REKEY_AFTER_TIME (vpnd/device.c). The server also holds
# IDLE_PEERS peers with random public keys, added by `wg addconf`.
#
# Traffic: one iperf3 TCP stream A->B (-b SOAK_RATE, 0 = unlimited) with
# one-second reports, and a ping every PING_INTERVAL s with timestamps (-D).
#
# Every minute: VmRSS and open descriptors of each daemon, the minute's
# throughput (the server's TUN rx byte counter), handshakes seen (changes of
# the client's `wg show latest-handshakes`, polled every second), the relay's
# counters, and whether the server's endpoint for the client is the relay's
# current back address. At the end, met/gap lines:
#   RSS of each daemon: median of the last third of the minutes <= median of
#     the first third * (1 + RSS_TOL_PCT/100)
#   descriptors of each daemon: last-third median == first-third median
#   throughput: last-third median >= first-third median * (1 - TPUT_TOL_PCT/100)
#   stall: longest gap between ping replies, and longest run of iperf3
#     seconds below 10 % of the median second, each <= REKEY_SECONDS
#   roaming: the server followed the client every minute
#   rekeys: at least one handshake per 2 * REKEY_SECONDS on average
#
# A benchmark, not a test: not in CI. Run as root after `make && make bench-tools`:
#   sudo tests/bench/soak.sh                       # 30 minutes
#   sudo SOAK_MINUTES=3 tests/bench/soak.sh        # a short check
#   sudo SERVER_IMPL=wireguard-go SOAK_MINUTES=5 tests/bench/soak.sh
# With SERVER_IMPL=wireguard-go the client stays vpnd: wireguard-go cannot
# shorten its rekey time (120 s), so the rekeys come from the vpnd client's
# 10 s schedule only, as the initiator.
set -u
. "$(dirname "$0")/../netns/lib.sh"
. "$(dirname "$0")/lib.sh"
TEST_NAME=soak

SOAK_MINUTES=${SOAK_MINUTES:-30}
REKEY_SECONDS=${REKEY_SECONDS:-10}
LOSS=${LOSS:-1}
REORDER=${REORDER:-1}
SEED=${SEED:-1}
IDLE_PEERS=${IDLE_PEERS:-1000}
SOAK_RATE=${SOAK_RATE:-200M}
PING_INTERVAL=${PING_INTERVAL:-0.1}
RSS_TOL_PCT=${RSS_TOL_PCT:-5}
TPUT_TOL_PCT=${TPUT_TOL_PCT:-20}
SERVER_IMPL=${SERVER_IMPL:-vpnd}
RELAY=${RELAY:-$(dirname "$0")/relay}
DAEMON_LOG_LEVEL=${DAEMON_LOG_LEVEL:-error}

# The relay's addresses: front towards A, two back addresses towards B.
R_FRONT=192.0.2.254 R_BACK1=198.51.100.254 R_BACK2=198.51.100.253 S_ADDR=198.51.100.2
R_PORT=40000 R_BACK_PORT=41000

tun_rx_bytes() { ip netns exec "$NS_B" cat "/sys/class/net/$IF_B/statistics/rx_bytes"; }
vmrss_kib() { awk '/^VmRSS:/ { print $2; f = 1 } END { exit !f }' "/proc/$1/status" 2>/dev/null; }
nfds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }

# idle_peers_conf N: N [Peer] sections, random public keys, one /32 each.
idle_peers_conf() {
	"$PYTHON" - "$1" <<'EOF'
import base64, os, sys
for i in range(int(sys.argv[1])):
    print("[Peer]\nPublicKey = %s\nAllowedIPs = 10.64.%d.%d/32\n"
          % (base64.b64encode(os.urandom(32)).decode(), i // 250, i % 250 + 1))
EOF
}

setup() {
	make_ns NS_A a
	make_ns NS_R r
	make_ns NS_B b
	link_veth "$NS_A" o0 "$NS_R" o0
	link_veth "$NS_R" o1 "$NS_B" o1
	addr "$NS_A" o0 "$OUT4_A/24"
	addr "$NS_R" o0 "$R_FRONT/24"
	addr "$NS_R" o1 "$R_BACK1/24"
	addr "$NS_R" o1 "$R_BACK2/24"
	addr "$NS_B" o1 "$S_ADDR/24"
	IF_A=$(ifname a) IF_B=$(ifname b)
	gen_key a
	gen_key b
	VPND_ENV=("VPND_TEST_REKEY_AFTER_TIME=$REKEY_SECONDS")
	start_daemon "$NS_A" vpnd "$IF_A"
	start_daemon "$NS_B" "$SERVER_IMPL" "$IF_B"
	wgn "$NS_A" set "$IF_A" listen-port "$PORT_A" private-key "$WORK/a.key" || fail "wg set on $IF_A"
	wgn "$NS_B" set "$IF_B" listen-port "$PORT_B" private-key "$WORK/b.key" || fail "wg set on $IF_B"
	tun_up "$NS_A" "$IF_A" "$IN4_A" "$IN6_A"
	tun_up "$NS_B" "$IF_B" "$IN4_B" "$IN6_B"
	idle_peers_conf "$IDLE_PEERS" >"$WORK/idle.conf"
	wgn "$NS_B" addconf "$IF_B" "$WORK/idle.conf" || fail "wg addconf of $IDLE_PEERS idle peers"
	wgn "$NS_A" set "$IF_A" peer "$(pub b)" endpoint "$R_FRONT:$R_PORT" \
		allowed-ips "$IN4_B/32,$IN6_B/128" || fail "wg set peer B on $IF_A"
	wgn "$NS_B" set "$IF_B" peer "$(pub a)" allowed-ips "$IN4_A/32,$IN6_A/128" \
		|| fail "wg set peer A on $IF_B"
	local n
	n=$(wgn "$NS_B" show "$IF_B" peers | wc -l)
	[ "$n" = $((IDLE_PEERS + 1)) ] || fail "the server lists $n peers, not $((IDLE_PEERS + 1))"
	start_bg RELAY_PID ip netns exec "$NS_R" "$RELAY" -l "$R_FRONT:$R_PORT" \
		-s "$S_ADDR:$PORT_B" -b "$R_BACK1,$R_BACK2" -p "$R_BACK_PORT" \
		-L "$LOSS" -R "$REORDER" -S "$SEED" -o "$WORK/relay.stats" 2>"$WORK/relay.err"
	wait_for "[ -s '$WORK/relay.stats' ]" 5 || fail "relay did not start: $(cat "$WORK/relay.err")"
	wait_ping "$NS_A" "$IN4_B" 15 || fail "no handshake through the relay within 15 s"
}

# relay_field N: field N of the relay's counter line.
relay_field() { awk -v n="$1" '{ print $n }' "$WORK/relay.stats"; }

# one_minute M: the per-minute figures; then the relay roams.
one_minute() {
	local m=$1 rx rss_a rss_b fd_a fd_b ep back follow
	rx=$(tun_rx_bytes) || fail "cannot read $IF_B's rx_bytes"
	daemon_alive "$IF_A" || fail "the client daemon died in minute $m"
	daemon_alive "$IF_B" || fail "the server daemon died in minute $m"
	rss_a=$(vmrss_kib "${DAEMON_PID[$IF_A]}") || fail "cannot read the client's VmRSS"
	rss_b=$(vmrss_kib "${DAEMON_PID[$IF_B]}") || fail "cannot read the server's VmRSS"
	fd_a=$(nfds "${DAEMON_PID[$IF_A]}")
	fd_b=$(nfds "${DAEMON_PID[$IF_B]}")
	ep=$(endpoint_of "$NS_B" "$IF_B" "$(pub a)")
	back=$(relay_field 8)
	if [ "$ep" = "$back" ]; then follow=yes; else follow=NO; fi
	local mbps
	mbps=$(awk -v b=$((rx - LAST_RX)) 'BEGIN { printf "%.1f", b * 8 / 60 / 1e6 }')
	LAST_RX=$rx
	echo "$m $rss_a $rss_b $fd_a $fd_b $mbps $HS_MINUTE $follow" >>"$WORK/minutes"
	printf '  %3d  %7s %7s  %4s %4s  %8s  %3s  %9s %6s %5s %9s %6s %5s  %-21s %-3s  %s\n' \
		"$m" "$rss_a" "$rss_b" "$fd_a" "$fd_b" "$mbps" "$HS_MINUTE" \
		"$(relay_field 1)" "$(relay_field 2)" "$(relay_field 3)" \
		"$(relay_field 4)" "$(relay_field 5)" "$(relay_field 6)" "$ep" "$follow" \
		"$(cut -d' ' -f1 /proc/loadavg)"
	HS_MINUTE=0
	kill -USR1 "$RELAY_PID" || fail "cannot signal the relay"
	ROAM_AT=$SECONDS FOLLOWED=0
}

# poll_follow: once after each roam, the seconds until the server's endpoint
# for the client is the relay's new back address (into $WORK/follow).
poll_follow() {
	[ "${ROAM_AT:-}" ] && [ "$FOLLOWED" = 0 ] || return 0
	[ "$(endpoint_of "$NS_B" "$IF_B" "$(pub a)")" = "$(relay_field 8)" ] || return 0
	FOLLOWED=1
	echo $((SECONDS - ROAM_AT)) >>"$WORK/follow"
}

# poll_handshake: counts changes of the client's latest handshake.
poll_handshake() {
	local t
	t=$(latest_hs "$NS_A" "$IF_A" "$(pub b)") || return 0
	if [ "$t" != "$LAST_HS" ]; then
		HS_MINUTE=$((HS_MINUTE + 1)) HS_TOTAL=$((HS_TOTAL + 1)) LAST_HS=$t
	fi
}

# judge: met/gap lines from $WORK/minutes, the ping log and the iperf3 log.
judge() {
	"$PYTHON" - "$WORK/minutes" "$WORK/ping.out" "$WORK/iperf.out" "$WORK/follow" "$REKEY_SECONDS" \
		"$RSS_TOL_PCT" "$TPUT_TOL_PCT" "$HS_TOTAL" "$SOAK_MINUTES" "$SERVER_IMPL" \
		"$WORK/relay.stats" "$LOSS" "$REORDER" <<'EOF'
import re, statistics, sys
mfile, pfile, ifile, ffile, rekey, rss_tol, tput_tol, hs, minutes, server, rfile, loss, reorder = sys.argv[1:]
rekey, rss_tol, tput_tol, hs, minutes = float(rekey), float(rss_tol), float(tput_tol), int(hs), int(minutes)
rows = [l.split() for l in open(mfile) if l.strip()]
third = max(1, len(rows) // 3)
first, last = rows[:third], rows[-third:]
med = lambda rs, c: statistics.median(float(r[c]) for r in rs)
verdicts = []
def line(ok, what):
    verdicts.append(ok)
    print("  %s  %s" % ("met" if ok else "gap", what))
print("verdict (%d minutes; first third = minutes 1-%d, last third = minutes %d-%d):"
      % (len(rows), third, len(rows) - third + 1, len(rows)))
for name, c in (("client vpnd", 1), ("server " + server, 2)):
    a, b = med(first, c), med(last, c)
    line(b <= a * (1 + rss_tol / 100),
         "RSS %s flat: first-third median %.0f KiB, last-third %.0f KiB (%+.1f %%, tolerance +%.0f %%; min %s max %s)"
         % (name, a, b, (b / a - 1) * 100, rss_tol, min(int(r[c]) for r in rows), max(int(r[c]) for r in rows)))
for name, c in (("client vpnd", 3), ("server " + server, 4)):
    a, b = med(first, c), med(last, c)
    line(a == b, "descriptors %s equal: first-third median %g, last-third %g (min %s max %s)"
         % (name, a, b, min(int(r[c]) for r in rows), max(int(r[c]) for r in rows)))
a, b = med(first, 5), med(last, 5)
line(b >= a * (1 - tput_tol / 100),
     "throughput flat: first-third median %.1f Mbit/s, last-third %.1f (%+.1f %%, tolerance -%.0f %%)"
     % (a, b, (b / a - 1) * 100 if a else 0, tput_tol))
# Longest gap between ping replies (timestamps from ping -D).
ts = []
for l in open(pfile):
    m = re.match(r"\[(\d+\.\d+)\] \d+ bytes from", l)
    if m:
        ts.append(float(m.group(1)))
gap = max((b - a for a, b in zip(ts, ts[1:])), default=float("inf"))
line(len(ts) > 1 and gap <= rekey,
     "no ping stall longer than one rekey (%g s): %d replies, longest gap %.2f s" % (rekey, len(ts), gap))
# iperf3 one-second reports: the longest run of seconds under 10 % of the median.
secs = []
for l in open(ifile):
    m = re.match(r"\[\s*\d+\]\s+[\d.]+-[\d.]+\s+sec\s+[\d.]+ \w?Bytes\s+([\d.]+) (\w?)bits/sec\s+\d+", l)
    if m and "sender" not in l and "receiver" not in l:
        secs.append(float(m.group(1)) * {"": 1, "K": 1e3, "M": 1e6, "G": 1e9}[m.group(2)])
if secs:
    floor = statistics.median(secs) * 0.1
    run = longest = 0
    for v in secs:
        run = run + 1 if v < floor else 0
        longest = max(longest, run)
    line(longest <= rekey and len(secs) >= minutes * 60 * 0.9,
         "no throughput stall longer than one rekey: %d one-second reports (of %d expected), longest run under 10 %% of the median %d s, min second %.1f Mbit/s"
         % (len(secs), minutes * 60, longest, min(secs) / 1e6))
else:
    line(False, "no iperf3 one-second reports to judge stalls by")
nf = sum(r[7] != "yes" for r in rows)
try:
    lat = [int(l) for l in open(ffile) if l.strip()]
except OSError:
    lat = []
line(nf == 0, "the server followed the roaming client: at %d of %d minute ends (relay roamed once a minute, %d roams; seconds to follow, polled once a second: max %s)"
     % (len(rows) - nf, len(rows), len(rows) - 1, max(lat) if lat else "-"))
line(hs >= minutes * 60 / (2 * rekey),
     "rekeys happened: %d handshakes seen by the client in %d minutes (one per %.1f s)" % (hs, minutes, minutes * 60 / hs if hs else float("inf")))
# The path really was lossy and reordering: the relay's own counts, both ways.
r = [int(x) for x in open(rfile).read().split()[:6]]
seen = r[0] + r[1] + r[3] + r[4]
lp, rp = 100 * (r[1] + r[4]) / max(seen, 1), 100 * (r[2] + r[5]) / max(seen, 1)
line(seen > 0 and float(loss) / 2 <= lp <= float(loss) * 2 + 0.1 and float(reorder) / 2 <= rp <= float(reorder) * 2 + 0.1,
     "the relay applied loss %.2f %% (asked %s) and reordering %.2f %% (asked %s) to %d datagrams"
     % (lp, loss, rp, reorder, seen))
print("soak: %s" % ("all met" if all(verdicts) else "%d gap(s)" % verdicts.count(False)))
sys.exit(0 if all(verdicts) else 1)
EOF
}

soak() {
	local start now m=0 ipid ppid
	setup
	log "client vpnd, server $SERVER_IMPL with $IDLE_PEERS idle peers; relay loss $LOSS %, reorder $REORDER %, seed $SEED;" \
		"rekey every $REKEY_SECONDS s; $SOAK_MINUTES minutes of iperf3 TCP A->B at ${SOAK_RATE} bit/s"
	iperf_server "$NS_B" "$IN4_B"
	start_bg ppid ip netns exec "$NS_A" ping -n -D -i "$PING_INTERVAL" "$IN4_B" >"$WORK/ping.out" 2>&1
	start_bg ipid timeout $((SOAK_MINUTES * 60 + 60)) ip netns exec "$NS_A" iperf3 -c "$IN4_B" \
		-t $((SOAK_MINUTES * 60)) -i 1 -b "$SOAK_RATE" --forceflush >"$WORK/iperf.out" 2>&1
	LAST_RX=$(tun_rx_bytes) HS_MINUTE=0 HS_TOTAL=0
	LAST_HS=$(latest_hs "$NS_A" "$IF_A" "$(pub b)")
	echo "  min  RSS KiB         fds        Mbit/s   hs   relay c->s: fwd   drop  reord   s->c: fwd   drop  reord  server's endpoint     follows  load"
	echo "       client  server  cli  srv"
	start=$SECONDS
	while [ $m -lt "$SOAK_MINUTES" ]; do
		sleep 1
		poll_handshake
		poll_follow
		now=$((SECONDS - start))
		if [ $now -ge $(((m + 1) * 60)) ]; then
			m=$((m + 1))
			one_minute "$m"
		fi
	done
	wait "$ipid" || note "iperf3 exited with an error: $(tail -n 3 "$WORK/iperf.out" | tr '\n' ' ')"
	kill -INT "$ppid" 2>/dev/null
	sleep 0.5
	echo "  relay totals: $(cat "$WORK/relay.stats") (c->s fwd drop reord, s->c fwd drop reord, roams, back)"
	grep -E 'sender|receiver' "$WORK/iperf.out" | sed 's/^/  iperf3: /'
	# Losses the relay did not choose: full socket buffers, full TUN queues.
	local ns
	for ns in "$NS_A" "$NS_R" "$NS_B"; do
		echo "  kernel drops in ${ns##*-}: $(ip netns exec "$ns" cat /proc/net/snmp | awk '
			/^Udp:/ { if (!h) { for (i = 2; i <= NF; i++) n[i] = $i; h = 1 } else
				for (i = 2; i <= NF; i++) if (n[i] ~ /Errors$/) printf "Udp%s=%s ", n[i], $i }')"
	done
	echo "  TUN drops: client tx $(ip netns exec "$NS_A" cat "/sys/class/net/$IF_A/statistics/tx_dropped")" \
		"rx $(ip netns exec "$NS_A" cat "/sys/class/net/$IF_A/statistics/rx_dropped")," \
		"server tx $(ip netns exec "$NS_B" cat "/sys/class/net/$IF_B/statistics/tx_dropped")" \
		"rx $(ip netns exec "$NS_B" cat "/sys/class/net/$IF_B/statistics/rx_dropped");" \
		"ping: $(grep -E 'packets transmitted' "$WORK/ping.out")"
	[ "$SERVER_IMPL" = vpnd ] && echo "  server vpnd counters: $("$PYTHON" "$WGTOOL" uapi-get --stats --sock "$RUN_DIR/$IF_B.sock" | grep -vE '^(errno=0)?$' | tr '\n' ' ')"
	judge
}

[ "$(id -u)" = 0 ] || { echo "soak: needs root" >&2; exit 1; }
[ -x "$RELAY" ] || { echo "soak: $RELAY missing: run make bench-tools" >&2; exit 1; }
echo "soak: $SOAK_MINUTES min, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)," \
	"vpnd $(git -C "$REPO" describe --always --dirty 2>/dev/null || echo '?')," \
	"wireguard-go $(dpkg-query -W -f '${Version}' wireguard-go 2>/dev/null || echo '?'), $(date -u +%H:%M:%SZ)"
(
	SEQ=1 PAIR_LABEL="vpnd<->$SERVER_IMPL"
	reset_state
	trap cleanup EXIT
	trap 'exit 130' INT TERM HUP
	check_prereqs
	soak
)
rc=$?
echo "  load average at the end $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%H:%M:%SZ)"
exit $rc
