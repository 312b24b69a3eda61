# tests/netns/servers_lib.sh: three servers behind delaying relays, for the
# server-selection tests (test_connect_servers.sh, test_connect_failover.sh).
# Sourced after connect_lib.sh.
#
# Each server has a namespace of its own behind the client's router (the
# "server" namespace of connect_lib.sh, here only a router) on
# 10.99.N.0/30: A (N=1) a vpnd server, B (2) wireguard-go, C (3) a vpnd
# server.  On the router, delay_relay.py listens for each (this kernel has
# no netem) and adds DELAY_A, DELAY_B, DELAY_C ms to the round trip; a
# fourth relay leads nowhere (a server gone: silent, and no ICMP back).
#
#   de-fra-01  192.0.2.1:51001  A  de Frankfurt
#   se-got-01  192.0.2.1:51002  B  se Göteborg
#   se-sto-01  192.0.2.1:51003  C  se Stockholm
#   se-sto-02  192.0.2.1:51004  -  se Stockholm
#
# servers_setup [PROFILE-LINES...] builds it all and writes
# $WORK/client.conf (kill switch on) with the extra lines given.
# relay_silent PORT / relay_loud PORT make a relay drop everything / relay
# again.

DELAY_A=${DELAY_A:-5} DELAY_B=${DELAY_B:-40} DELAY_C=${DELAY_C:-80}
RELAY=$REPO/tests/netns/delay_relay.py

# server_ns NS N: a namespace behind the router on 10.99.N.0/30.
server_ns() {
	local ns=$1 n=$2
	mkns "$ns"
	ip link add "r$n" netns "$NS_S" type veth peer name "s$n" netns "$ns" || die "veth $ns"
	ip -n "$NS_S" addr add "10.99.$n.1/30" dev "r$n"
	ip -n "$NS_S" link set "r$n" up
	ip -n "$ns" addr add "10.99.$n.2/30" dev "s$n"
	ip -n "$ns" link set "s$n" up
	ip -n "$ns" route add default via "10.99.$n.1"
}

# vpnd_server NS IF KEY: a vpnd server role with the client as peer.
vpnd_server() {
	local ns=$1 ifn=$2 key=$3 conf=$WORK/$2.conf
	printf '[interface]\nprivate_key = %s\nlisten_port = %s\naddress = %s/24\n\n[peer alice]\npublic_key = %s\nallowed_ips = %s/32\n' \
		"$key" "$PORT" "$TUN_S" "$PC" "$TUN_C" >"$conf"
	chmod 600 "$conf"
	helper "$ifn" ip netns exec "$ns" "$VPND" -f -c "$conf" "$ifn"
	wait_for "ip netns exec $ns wg show $ifn listen-port | grep -qx $PORT" 10 ||
		die "vpnd server in $ns did not start"
}

# relay PORT N DELAY [TARGET-PORT]: 192.0.2.1:PORT on the router to server
# N, +DELAY ms; its PID in RELAY_PORT.
relay() {
	helper delay_relay.py ip netns exec "$NS_S" "$PYTHON" "$RELAY" \
		"$S_ADDR" "$1" "10.99.$2.2" "${4:-$PORT}" "$3" "$WORK/relay$1.ready"
	eval "RELAY_$1=$LAST_HELPER"
	wait_for "test -s $WORK/relay$1.ready" 5 || die "relay $1 did not start"
}

# The relay's own PID (the helper's is that of ip netns exec, which execs it).
relay_signal() { kill "-$1" "$(eval echo "\$RELAY_$2")"; }
relay_silent() { relay_signal USR1 "$1"; }
relay_loud() { relay_signal USR2 "$1"; }

write_server_list() {
	cat >"$1" <<EOF
[de-fra-01]
endpoint = $S_ADDR:51001
public_key = $PS
country = de
city = Frankfurt

[se-got-01]
endpoint = $S_ADDR:51002
public_key = $PG
country = se
city = Göteborg

[se-sto-01]
endpoint = $S_ADDR:51003
public_key = $PT
country = se
city = Stockholm

[se-sto-02]
endpoint = $S_ADDR:51004
public_key = $PT
country = se
city = Stockholm
EOF
	chmod 600 "$1"
}

servers_setup() {
	local l
	prereqs
	command -v "$WG_GO" >/dev/null 2>&1 || die "prerequisite missing: wireguard-go ($WG_GO)"
	keys
	KT=$(wg genkey); PT=$(printf '%s' "$KT" | wg pubkey)
	topology
	NS_A=vc-$CL_TAG-$$-sa NS_B=vc-$CL_TAG-$$-sb NS_C3=vc-$CL_TAG-$$-sc
	IF_A=vc${CL_TAG}1$$ IF_B=vc${CL_TAG}2$$ IF_C3=vc${CL_TAG}3$$
	server_ns "$NS_A" 1; server_ns "$NS_B" 2; server_ns "$NS_C3" 3
	vpnd_server "$NS_A" "$IF_A" "$KS"
	vpnd_server "$NS_C3" "$IF_C3" "$KT"
	printf '%s\n' "$KG" >"$WORK/wggo.key"
	helper "$IF_B" ip netns exec "$NS_B" "$WG_GO" -f "$IF_B" >"$WORK/wggo.log" 2>&1
	wait_for "ip netns exec $NS_B wg show $IF_B" 10 || die "wireguard-go did not start"
	ip netns exec "$NS_B" wg set "$IF_B" private-key "$WORK/wggo.key" listen-port $PORT \
		peer "$PC" allowed-ips "$TUN_C/32" || die "wg set on wireguard-go"
	ip -n "$NS_B" addr add $TUN_S/24 dev "$IF_B"
	ip -n "$NS_B" link set "$IF_B" up
	relay 51001 1 "$DELAY_A"
	relay 51002 2 "$DELAY_B"
	relay 51003 3 "$DELAY_C"
	relay 51004 1 0 9
	write_server_list "$WORK/servers.conf"
	{
		echo "[interface]"
		echo "private_key = $KC"
		echo "address = $TUN_C/32"
		echo "dns = $TUN_S"
		echo "servers = $WORK/servers.conf"
		echo "kill_switch = on"
		for l in "$@"; do echo "$l"; done
	} >"$WORK/client.conf"
	chmod 600 "$WORK/client.conf"
	# What must not cross the client's link: anything but link noise and
	# UDP between the client and the relays.
	RELAYS_ONLY="not ($LINK_NOISE) and not (udp and host $S_ADDR and (port 51001 or port 51002 or port 51003 or port 51004))"
}

# status_field KEY: KEY of `vpnctl status --json` (empty when absent).
status_field() {
	ctl status --json -i "$IF_C"
	"$PYTHON" -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print("" if v is None else v)' "$CTL_OUT" "$1"
}
