#!/bin/bash
# test_connect_scale.sh: a vpnd server with 10,000 peers added through the
# UAPI (`wg addconf`) still completes a client's handshake and carries its
# traffic.
#
# The extra peers have random 32-byte public keys (no private key exists for
# them; they never talk) and one /32 each in 10.100.0.0/16. Reported, not
# asserted: how long `wg addconf` took, how long `wg show dump` takes, and the
# server daemon's VmRSS/VmHWM before and after. Asserted: the peers are all
# there, the real client connects, ping/TCP/UDP/DNS work, and the server
# still answers the UAPI.
CL_TAG=s
. "$(dirname "$0")/connect_lib.sh"

N=${SCALE_PEERS:-10000}

prereqs
keys
topology
write_helpers
start_internet
write_servers "$WORK/servers.conf"
write_server_conf "$WORK/server.conf"
write_profile "$WORK/client.conf" "$TUN_C/32" "kill_switch = off"
start_vpnd_server "$WORK/server.conf"

mem() { awk '/^(VmRSS|VmHWM)/ { printf "%s %s %s  ", $1, $2, $3 }' "/proc/$SERVER_PID/status"; }
note "server pid $SERVER_PID before adding peers: $(mem)"

"$PYTHON" - "$N" >"$WORK/peers.conf" <<'EOF' || die "generating the peers"
import base64, os, sys
n = int(sys.argv[1])
for i in range(n):
    print("[Peer]")
    print("PublicKey = " + base64.b64encode(os.urandom(32)).decode())
    print("AllowedIPs = 10.100.%d.%d/32" % (i // 256, i % 256))
    print()
EOF
note "peers file: $(grep -c '^\[Peer\]' "$WORK/peers.conf") peers, $(wc -c <"$WORK/peers.conf") bytes"

t=$(date +%s.%N)
timeout 120 ip netns exec "$NS_S" wg addconf "$IF_S" "$WORK/peers.conf" 2>"$WORK/addconf.err"
rc=$?
ADD_TIME=$(elapsed "$t")
check "wg addconf of $N peers exits 0 ($(head -c 300 "$WORK/addconf.err"))" test "$rc" = 0
say "REPORT: adding $N peers with wg addconf took $ADD_TIME s"
check "the server daemon is still running" pid_is "$SERVER_PID" "$IF_S"
note "server after adding peers: $(mem)"

t=$(date +%s.%N)
n=$(timeout 60 ip netns exec "$NS_S" wg show "$IF_S" dump | tail -n +2 | wc -l)
DUMP_TIME=$(elapsed "$t")
check "wg show lists $((N + 1)) peers (got $n; the dump took $DUMP_TIME s)" test "$n" = $((N + 1))
check "peer 10.100.$(((N - 1) / 256)).$(((N - 1) % 256))/32 is present" \
	sh -c "ip netns exec $NS_S wg show $IF_S allowed-ips | grep -q '10.100.$(((N - 1) / 256)).$(((N - 1) % 256))/32'"

t=$(date +%s.%N)
ctl up -c "$WORK/client.conf" -i "$IF_C"
check "client up with $N other peers on the server exits 0 ($CTL_OUT$CTL_ERR)" test "$CTL_RC" = 0
note "vpnctl up took $(elapsed "$t") s: $CTL_OUT"
hs=$(in_s wg show "$IF_S" latest-handshakes | awk -v k="$PC" '$1 == k { print $2 }')
check "the server has a handshake with the real client (latest ${hs:-none})" test "${hs:-0}" -gt 0
traffic_v4 "with $N peers"
ctl status --json -i "$IF_C"
contains "client still connected after the traffic" "$CTL_OUT" '"state":"connected"'
check "the server still answers the UAPI" quiet in_s wg show "$IF_S" listen-port
say "REPORT: server VmRSS/VmHWM with $((N + 1)) peers: $(mem)"
ctl down -i "$IF_C"
check "vpnctl down exits 0" test "$CTL_RC" = 0
finish
