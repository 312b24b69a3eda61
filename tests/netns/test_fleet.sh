#!/bin/bash
# test_fleet.sh: three vpnd servers take their users from one 3-member etcd
# cluster (issue 15, docs/fleet.md). `wg` on each server and wireguard-go on
# the client are the referees; etcdctl makes the changes.
#
#   1. a user put in etcd reaches all three servers; its wireguard-go client
#      completes a handshake with each; a config whose [peer] has the name of
#      an etcd user is refused at start, naming the etcd key
#   2. 10,000 users put in transactions of 500 appear on all three (time
#      reported)
#   3. bad values (malformed JSON, a bad key, a bad name, prefixes that
#      overlap another user's, 1 MiB) are skipped and counted, nothing else
#      changes, the daemons live, the client's traffic flows
#   4. one member killed: changes still reach every server
#   5. the whole cluster down 10 s, then back with changes: every server
#      converges; the client's pings go on through the outage, and its peer
#      on each server is the same one (its byte counters never reset)
#   6. a compaction past server 3's revision while it is cut off (it talks to
#      member 3 only, which is down): it reads everything again, converges
#      (a new user on a deleted user's address included), and the client's
#      session with it goes on
#   7. TLS: a server with a client certificate follows an etcd member that
#      requires one; a server without one gets nothing from it
#   8. `etcdctl del` of the user: gone from all three (time reported), and
#      its client can no longer complete a handshake with any of them
CL_TAG=f
. "$(dirname "$0")/connect_lib.sh"
. "$(dirname "$0")/fleet_lib.sh"

N=${FLEET_USERS:-10000}
phase() { say "--- $* (at $(elapsed "$T0") s)"; }

prereqs "$WG_GO" etcd etcdctl
fl_prereqs
fl_topology 3
fl_cluster_start
note "etcd cluster up after $(elapsed "$T0") s"

wg genkey >"$WORK/client.key"
PC=$(wg pubkey <"$WORK/client.key")
ectl put "${FL_PREFIX}alice" "$(fl_user alice "$PC" "$FL_USER_IP")" >/dev/null ||
	die "etcdctl put alice"

# Servers 1 and 2 know every member; server 3 only member 3.
fl_server_conf 1 "$FL_URLS"
fl_server_conf 2 "$(fl_url 2), $(fl_url 3), $(fl_url 1)"
fl_server_conf 3 "$(fl_url 3)"
for i in 1 2 3; do fl_server_start "$i"; done

phase "1. a user from etcd on every server"
for i in 1 2 3; do
	check "server $i lists alice (wg show)" fl_has_peer "$i" "$PC"
	check "server $i: fleet_connected=1" wait_for "[ \"\$(fstat $i fleet_connected)\" = 1 ]" 10
	check "server $i routes alice's address to her (wg show allowed-ips)" \
		sh -c "ip netns exec $(fl_ns_srv "$i") wg show $(fl_if_srv "$i") allowed-ips | grep -qF '$PC	$FL_USER_IP/32'"
done
for i in 1 2 3; do fl_client_up "$i"; done
for i in 1 2 3; do
	check "the client pings server $i through its tunnel" wait_for "fl_ping $i" 10
	check "the client completed a handshake with server $i" test "$(fl_client_hs "$i")" -gt 0
done
{
	sed 's/^listen_port = .*/listen_port = 51821/' "$WORK/s1.conf"
	echo
	echo "[peer alice]"
	echo "public_key = $(wg genkey | wg pubkey)"
	echo "allowed_ips = 10.64.9.9/32"
} >"$WORK/clash.conf"
chmod 600 "$WORK/clash.conf"
in_srv 1 timeout 20 "$VPND" -f -c "$WORK/clash.conf" "$(fl_if_srv 4)" >"$WORK/clash.log" 2>&1
rc=$?
check "a [peer alice] beside etcd's alice is refused at start (exit $rc)" test "$rc" = 1
contains "the message names the etcd key" "$(cat "$WORK/clash.log")" "${FL_PREFIX}alice"
check_not "the message holds no key" grep -qF "$PC" "$WORK/clash.log"
{
	sed 's/^listen_port = .*/listen_port = 51821/' "$WORK/s1.conf"
	echo
	echo "[peer monitor]"
	echo "public_key = $PC"
	echo "allowed_ips = 10.64.9.9/32"
} >"$WORK/clash.conf"
in_srv 1 timeout 20 "$VPND" -f -c "$WORK/clash.conf" "$(fl_if_srv 4)" >"$WORK/clash.log" 2>&1
rc=$?
check "a [peer] with the key of etcd's alice is refused at start (exit $rc)" test "$rc" = 1
contains "the message names the etcd key and the clash" "$(cat "$WORK/clash.log")" \
	"${FL_PREFIX}alice" "the public key of a [peer] section"

phase "2. $N users in transactions of 500"
t=$(date +%s.%N)
in_db "$PYTHON" "$FL_PUT" bulk --url "$(fl_url 1)" --prefix "$FL_PREFIX" --count "$N" \
	--batch 500 >"$WORK/bulk.out" 2>"$WORK/bulk.err"
rc=$?
PUT_TIME=$(elapsed "$t")
check "the $N users were written ($(head -c 200 "$WORK/bulk.err"))" test "$rc" = 0
all_users() { local i; for i in 1 2 3; do [ "$(fstat "$i" fleet_users)" = $((N + 1)) ] || return 1; done; }
check "all three servers hold $((N + 1)) users" wait_for all_users 60
ALL_TIME=$(elapsed "$t")
say "REPORT: $N users: written in $PUT_TIME s; on all three servers $ALL_TIME s after the first write began ($(awk -v a="$ALL_TIME" -v b="$PUT_TIME" 'BEGIN { printf "%.1f", a - b }') s after the last, 0.1 s polling)"
for i in 1 2 3; do
	check "server $i: wg show lists $((N + 1)) peers" test "$(fl_peers "$i")" = $((N + 1))
done
check "the last user's address is routed on server 2 (wg show allowed-ips)" \
	sh -c "ip netns exec $(fl_ns_srv 2) wg show $(fl_if_srv 2) allowed-ips | grep -q '	10.100.$(((N - 1) / 256)).$(((N - 1) % 256))/32\$'"
say "REPORT: server 1 VmRSS with $((N + 1)) users: $(fl_rss 1) KiB"

phase "3. bad values"
for i in 1 2 3; do eval "ERR0_$i=\$(fstat $i fleet_errors)"; done
ectl put "${FL_PREFIX}bad-json" '{"public_key": "x", "allowed_ips": [' >/dev/null
ectl put "${FL_PREFIX}bad-key" '{"public_key": "not-a-key=", "allowed_ips": ["10.64.200.1/32"]}' >/dev/null
ectl put "${FL_PREFIX}bad name" "$(fl_user x "$(wg genkey | wg pubkey)" 10.64.200.2)" >/dev/null
ectl put "${FL_PREFIX}overlap" "$(fl_user x "$(wg genkey | wg pubkey)" "$FL_USER_IP")" >/dev/null
in_db "$PYTHON" "$FL_PUT" raw --url "$(fl_url 2)" --key "${FL_PREFIX}huge" --size 1048576 ||
	bad "could not write the 1 MiB value"
errs_grew() { local i e0; for i in 1 2 3; do eval "e0=\$ERR0_$i"; [ "$(fstat "$i" fleet_errors)" -ge $((e0 + 5)) ] || return 1; done; }
check "every server counted the 5 bad values (fleet_errors)" wait_for errs_grew 10
for i in 1 2 3; do
	check "server $i is alive" fl_server_alive "$i"
	check "server $i still holds $((N + 1)) users" test "$(fstat "$i" fleet_users)" = $((N + 1))
	check "server $i still routes alice's address to alice" \
		sh -c "ip netns exec $(fl_ns_srv "$i") wg show $(fl_if_srv "$i") allowed-ips | grep -qF '$PC	$FL_USER_IP/32'"
	check "the client still pings server $i" fl_ping "$i"
done
check "the log names the etcd key of the bad JSON" grep -qF "${FL_PREFIX}bad-json: skipped" "$WORK/server1.log"
check_not "no log line holds alice's key" grep -qF "$PC" "$WORK/server1.log" "$WORK/server2.log" "$WORK/server3.log"
check_not "no log line holds a user's address" grep -qF "$FL_USER_IP" "$WORK/server1.log" "$WORK/server2.log" "$WORK/server3.log"
ectl del --prefix "${FL_PREFIX}bad" >/dev/null
# One key each: a second key would be the end of a range.
ectl del "${FL_PREFIX}overlap" >/dev/null
ectl del "${FL_PREFIX}huge" >/dev/null

phase "4. one member killed"
fl_etcd_kill 1
KC=$(wg genkey | wg pubkey)
FL_EP="$(fl_url 2),$(fl_url 3)"
check "etcdctl put through members 2 and 3" ectl_retry put "${FL_PREFIX}carol" "$(fl_user carol "$KC" 10.64.200.3)"
check "etcdctl del through members 2 and 3" ectl_retry del "${FL_PREFIX}u0"
unset FL_EP
for i in 1 2 3; do
	check "server $i has carol with member 1 down" wait_for "fl_has_peer $i $KC" 10
	check "server $i dropped u0 ($(fstat "$i" fleet_users) users)" \
		wait_for "[ \"\$(fstat $i fleet_users)\" = $((N + 1)) ]" 10
done
fl_etcd_start 1
wait_for "fl_etcd_healthy 1" 20 || bad "member 1 did not come back"

phase "5. the whole cluster down 10 s"
for i in 1 2 3; do eval "RX_$i=\$(fl_server_rx $i $PC)"; done
in_cli ping -n -i 0.2 -c 80 -W 1 10.64.0.1 >"$WORK/ping5.txt" 2>&1 &
PING=$!
for k in 1 2 3; do fl_etcd_kill "$k"; done
sleep 2
for i in 1 2 3; do
	check "server $i: fleet_connected=0 with etcd down" wait_for "[ \"\$(fstat $i fleet_connected)\" = 0 ]" 5
	check "server $i keeps its users with etcd down" test "$(fstat "$i" fleet_users)" = $((N + 1))
done
sleep 8
for k in 1 2 3; do fl_etcd_start "$k"; done
for k in 1 2 3; do wait_for "fl_etcd_healthy $k" 20 || bad "member $k did not come back"; done
KD=$(wg genkey | wg pubkey)
check "etcdctl put after the restart" ectl_retry put "${FL_PREFIX}dave" "$(fl_user dave "$KD" 10.64.200.4)"
check "etcdctl del after the restart" ectl_retry del "${FL_PREFIX}u1"
for i in 1 2 3; do
	check "server $i reconnected and has dave" wait_for "fl_has_peer $i $KD" 15
	check "server $i converged ($(fstat "$i" fleet_users) users)" \
		wait_for "[ \"\$(fstat $i fleet_users)\" = $((N + 1)) ]" 10
	check "server $i: fleet_connected=1" wait_for "[ \"\$(fstat $i fleet_connected)\" = 1 ]" 10
done
wait "$PING"
lost=$(sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' "$WORK/ping5.txt")
check "the client's pings to server 1 went on through the outage (loss $lost%)" test "$lost" = 0
for i in 1 2 3; do
	# A peer removed and added again would count from zero.
	eval "r0=\$RX_$i"
	r1=$(fl_server_rx "$i" "$PC")
	check "server $i kept alice's peer through the outage (received $r0 -> $r1 bytes)" \
		test "${r1:-0}" -ge "${r0:-1}"
done

phase "6. a compaction while server 3 is cut off"
RX3=$(fl_server_rx 3 "$PC")
R0=$(fstat 3 fleet_revision)
RS0=$(fstat 3 fleet_resyncs)
fl_etcd_kill 3
FL_EP="$(fl_url 1),$(fl_url 2)"
check "server 3: fleet_connected=0 with member 3 down" wait_for "[ \"\$(fstat 3 fleet_connected)\" = 0 ]" 5
in_cli ping -n -i 0.2 -c 40 -W 1 10.64.0.3 >"$WORK/ping6.txt" 2>&1 &
PING=$!
KE=$(wg genkey | wg pubkey)
export FL_EP
# erin takes the address of u2, who goes first. A full read meets erin
# (by key order) while u2 still holds it: the resync must not skip her.
check "etcdctl del u2" ectl_retry del "${FL_PREFIX}u2"
check "etcdctl put erin, with u2's old address, member 3 down" \
	ectl_retry put "${FL_PREFIX}erin" "$(fl_user erin "$KE" 10.100.0.2)"
check "etcdctl del dave" ectl_retry del "${FL_PREFIX}dave"
check "etcdctl put u3 with a new key and address" \
	ectl_retry put "${FL_PREFIX}u3" "$(fl_user u3 "$(wg genkey | wg pubkey)" 10.64.200.6)"
check "etcdctl put frank" ectl_retry put "${FL_PREFIX}frank" "$(fl_user frank "$(wg genkey | wg pubkey)" 10.64.200.7)"
REV=$(ectl get "${FL_PREFIX}frank" -w json |
	"$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')
check "etcdctl compact $REV" ectl_retry compact "$REV"
note "server 3 was at revision $R0; etcd compacted at $REV"
fl_etcd_start 3
wait_for "fl_etcd_healthy 3" 20 || bad "member 3 did not come back"
check "server 3 read everything again (fleet_resyncs $RS0 -> more)" \
	wait_for "[ \"\$(fstat 3 fleet_resyncs)\" -gt $RS0 ]" 15
check "server 3 has erin" wait_for "fl_has_peer 3 $KE" 10
for i in 1 2 3; do
	check "server $i routes u2's old address to erin" \
		sh -c "ip netns exec $(fl_ns_srv "$i") wg show $(fl_if_srv "$i") allowed-ips | grep -qF '$KE	10.100.0.2/32'"
done
check "server 3 dropped dave" wait_for "! fl_has_peer 3 $KD" 10
check "server 3 converged ($(fstat 3 fleet_users) users)" \
	wait_for "[ \"\$(fstat 3 fleet_users)\" = $((N + 1)) ]" 10
check "server 3 routes u3's new address" \
	sh -c "ip netns exec $(fl_ns_srv 3) wg show $(fl_if_srv 3) allowed-ips | grep -q '	10.64.200.6/32\$'"
check "server 3's revision is past the compaction ($(fstat 3 fleet_revision) >= $REV)" \
	test "$(fstat 3 fleet_revision)" -ge "$REV"
wait "$PING"
lost=$(sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' "$WORK/ping6.txt")
check "the client's pings to server 3 went on through the resync (loss $lost%)" test "$lost" = 0
r1=$(fl_server_rx 3 "$PC")
check "server 3 kept alice's peer through the resync (received $RX3 -> $r1 bytes)" \
	test "${r1:-0}" -gt "${RX3:-0}"
unset FL_EP

phase "7. TLS: a server with a client certificate, etcd that requires one"
fl_tls_certs
fl_etcd_tls_start
check "the TLS member answers etcdctl with the client certificate" wait_for "ectl_tls endpoint health" 20
KT=$(wg genkey | wg pubkey)
ectl_tls put /tls/users/tina "$(fl_user tina "$KT" 10.64.201.1)" >/dev/null || bad "put over TLS"
{
	sed 's/^listen_port = .*/listen_port = 51821/' "$WORK/s1.conf" | sed '/^\[fleet\]/,$d'
	echo "[fleet]"
	echo "etcd = https://10.99.0.9:2379"
	echo "prefix = /tls/users/"
	echo "ca = tls/ca.pem"
	echo "cert = tls/client.pem"
	echo "key = tls/client.key"
} >"$WORK/tls.conf"
LOG_LEVEL=verbose ip netns exec "$(fl_ns_srv 1)" "$VPND" -f -c "$WORK/tls.conf" "$(fl_if_srv 5)" \
	>"$WORK/server-tls.log" 2>&1 &
HELPERS+=("$!:$(fl_if_srv 5)")
check "a server with a client certificate has the TLS cluster's user" \
	wait_for "in_srv 1 wg show $(fl_if_srv 5) peers | grep -qxF -- '$KT'" 15
KT2=$(wg genkey | wg pubkey)
ectl_tls put /tls/users/tom "$(fl_user tom "$KT2" 10.64.201.2)" >/dev/null
check "and follows it through the watch" \
	wait_for "in_srv 1 wg show $(fl_if_srv 5) peers | grep -qxF -- '$KT2'" 10
sed '/^cert = /d; /^key = /d; s/^listen_port = .*/listen_port = 51822/' "$WORK/tls.conf" \
	>"$WORK/tls-nocert.conf"
chmod 600 "$WORK/tls-nocert.conf"
LOG_LEVEL=verbose ip netns exec "$(fl_ns_srv 1)" "$VPND" -f -c "$WORK/tls-nocert.conf" "$(fl_if_srv 6)" \
	>"$WORK/server-nocert.log" 2>&1 &
HELPERS+=("$!:$(fl_if_srv 6)")
check "a server without a client certificate starts" \
	wait_for "in_srv 1 wg show $(fl_if_srv 6) listen-port | grep -qx 51822" 15
check "but gets no user from etcd that requires one (fleet_connected=0)" \
	test "$(in_srv 1 "$PYTHON" "$WGTOOL" uapi-get --stats --sock "/var/run/wireguard/$(fl_if_srv 6).sock" |
		awk -F= '$1 == "fleet_connected" { print $2 }')" = 0
check_not "and lists no peer" sh -c "ip netns exec $(fl_ns_srv 1) wg show $(fl_if_srv 6) peers | grep -q ."

phase "8. revoking alice"
for i in 1 2 3; do check "the client pings server $i before" fl_ping "$i"; done
t=$(date +%s.%N)
ectl del "${FL_PREFIX}alice" >/dev/null || bad "etcdctl del alice"
gone() { local i; for i in 1 2 3; do ! fl_has_peer "$i" "$PC" || return 1; done; }
check "alice is gone from all three servers" wait_for gone 10
DEL_TIME=$(elapsed "$t")
say "REPORT: etcdctl del to alice gone from all three servers: $DEL_TIME s (0.1 s polling)"
for i in 1 2 3; do
	ifc=$(fl_if_cli "$i")
	check_not "the client's old session with server $i carries nothing" fl_ping "$i"
	# A fresh handshake: the peer removed and added again on the client.
	in_cli wg set "$ifc" peer "$(cat "$WORK/s$i.pub")" remove
	in_cli wg set "$ifc" peer "$(cat "$WORK/s$i.pub")" endpoint "10.97.$i.1:51820" \
		allowed-ips "10.64.0.$i/32"
	in_cli ip route replace "10.64.0.$i/32" dev "$ifc"
done
for i in 1 2 3; do in_cli ping -n -q -c 3 -i 0.5 -W 1 "10.64.0.$i" >/dev/null 2>&1; done
for i in 1 2 3; do
	check "the client could not complete a new handshake with server $i" test "$(fl_client_hs "$i")" = 0
	check "server $i is alive" fl_server_alive "$i"
done
finish
