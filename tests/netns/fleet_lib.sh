# tests/netns/fleet_lib.sh: a provider's fleet for test_fleet.sh and
# tests/bench/fleet.sh: an etcd cluster, vpnd servers that take their users
# from it, and a client namespace with one wireguard-go tunnel per server.
#
# Sourced after connect_lib.sh (reporting, helpers, cleanup). Topology, every
# address private to our namespaces:
#
#   db ns: etcd member k on 10.99.0.k (lo), client port 2379, peer port 2380;
#          veth dbI 10.98.I.1/24 to each server I
#   server I ns: up0 10.98.I.2/24 (route to 10.99.0.0/24), down0 10.97.I.1/24,
#          vpnd server IF fsI<pid>, tunnel 10.64.0.I/16, UDP 51820
#   client ns: cI 10.97.I.2/24 to server I; wireguard-go fcI<pid>,
#          10.64.3.7/32, a route to 10.64.0.I/32 through it
#
# etcd's data lives in a tmpfs mounted under the work directory and
# unmounted by the EXIT trap.

FL_NS_DB=vc-$CL_TAG-$$-db
FL_NS_CLI=vc-$CL_TAG-$$-fcli
FL_PREFIX=/vpnd/users/
FL_TOKEN=vpnd-test-$$
FL_DATA=$WORK/etcd
FL_USER_IP=10.64.3.7
FL_PUT=$REPO/tests/netns/fleet_put.py
WGTOOL=$REPO/tests/netns/wgtool.py
declare -A FL_ETCD_PID=()
declare -A FL_SRV_PID=()

fl_ns_srv() { echo "vc-$CL_TAG-$$-s$1"; }
fl_if_srv() { echo "fs$1$$"; }
fl_if_cli() { echo "fc$1$$"; }
fl_url() { echo "http://10.99.0.$1:2379"; }
FL_URLS="$(fl_url 1),$(fl_url 2),$(fl_url 3)"

cleanup_extra() {
	local i
	for i in 1 2 3 4 5 6 7 8; do
		rm -f "/var/run/wireguard/$(fl_if_srv $i).sock" \
			"/var/run/wireguard/$(fl_if_cli $i).sock"
	done
	mountpoint -q "$FL_DATA" && umount "$FL_DATA"
}

fl_prereqs() {
	local c
	for c in etcd etcdctl "$WG_GO" mountpoint openssl; do
		command -v "$c" >/dev/null 2>&1 || die "prerequisite missing: $c"
	done
}

in_db() { ip netns exec "$FL_NS_DB" "$@"; }
in_srv() { local i=$1; shift; ip netns exec "$(fl_ns_srv "$i")" "$@"; }
in_cli() { ip netns exec "$FL_NS_CLI" "$@"; }

# fl_veth NS1 IF1 ADDR1 NS2 IF2 ADDR2: a veth pair between two namespaces.
fl_veth() {
	ip link add "$2" netns "$1" type veth peer name "$5" netns "$4" ||
		die "veth $2-$5"
	ip -n "$1" addr add "$3" dev "$2"
	ip -n "$4" addr add "$6" dev "$5"
	ip -n "$1" link set "$2" up
	ip -n "$4" link set "$5" up
}

# fl_topology N: the db namespace, N server namespaces, the client's.
fl_topology() {
	local n=$1 i ns
	mkdir -p "$FL_DATA"
	mount -t tmpfs -o size=512m,mode=0700 tmpfs "$FL_DATA" || die "tmpfs for etcd"
	mkns "$FL_NS_DB"
	mkns "$FL_NS_CLI"
	for k in 1 2 3; do ip -n "$FL_NS_DB" addr add "10.99.0.$k/32" dev lo; done
	for ((i = 1; i <= n; i++)); do
		ns=$(fl_ns_srv "$i")
		mkns "$ns"
		fl_veth "$FL_NS_DB" "db$i" "10.98.$i.1/24" "$ns" up0 "10.98.$i.2/24"
		ip -n "$ns" route add 10.99.0.0/24 via "10.98.$i.1"
		fl_veth "$FL_NS_CLI" "c$i" "10.97.$i.2/24" "$ns" down0 "10.97.$i.1/24"
	done
}

# fl_etcd_start K: member K of the three (a new cluster, or its old data).
fl_etcd_start() {
	local k=$1
	# Not through in_db: $! must be etcd's own PID, to kill it alone.
	ip netns exec "$FL_NS_DB" etcd --name "m$k" --data-dir "$FL_DATA/m$k" \
		--listen-client-urls "$(fl_url "$k")" \
		--advertise-client-urls "$(fl_url "$k")" \
		--listen-peer-urls "http://10.99.0.$k:2380" \
		--initial-advertise-peer-urls "http://10.99.0.$k:2380" \
		--initial-cluster "m1=http://10.99.0.1:2380,m2=http://10.99.0.2:2380,m3=http://10.99.0.3:2380" \
		--initial-cluster-state new --initial-cluster-token "$FL_TOKEN" \
		--max-txn-ops 1000 --max-request-bytes 4194304 \
		--heartbeat-interval 50 --election-timeout 500 \
		--logger zap --log-outputs stderr --log-level error \
		>>"$WORK/etcd$k.log" 2>&1 &
	FL_ETCD_PID[$k]=$!
	HELPERS+=("$!:m$k")
	# Killed on purpose, often: no job notice for it.
	disown "$!"
}

fl_etcd_kill() {
	kill -KILL "${FL_ETCD_PID[$1]}" 2>/dev/null
	wait_for "! kill -0 ${FL_ETCD_PID[$1]}" 5
}

# ectl ARGS...: etcdctl against the members given in FL_EP (default: all).
ectl() { in_db timeout 20 etcdctl --endpoints "${FL_EP:-$FL_URLS}" --dial-timeout 2s "$@"; }

# ectl_retry ARGS...: etcdctl until it succeeds (20 s at most): a write
# fails while the members left elect a leader.
ectl_retry() {
	local i
	for ((i = 0; i < 40; i++)); do
		ectl "$@" >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	return 1
}

fl_etcd_healthy() { FL_EP=$(fl_url "$1") ectl endpoint health >/dev/null 2>&1; }

fl_cluster_start() {
	local k
	for k in 1 2 3; do fl_etcd_start "$k"; done
	for k in 1 2 3; do
		wait_for "fl_etcd_healthy $k" 20 || {
			sed 's/^/    | /' "$WORK/etcd$k.log" | tail -20
			die "etcd member $k did not become healthy"
		}
	done
}

# fl_server_conf I ENDPOINTS [extra lines]: server I's config.
fl_server_conf() {
	local i=$1 ep=$2 l; shift 2
	wg genkey >"$WORK/s$i.key"
	wg pubkey <"$WORK/s$i.key" >"$WORK/s$i.pub"
	{
		echo "[interface]"
		echo "private_key = $(cat "$WORK/s$i.key")"
		echo "listen_port = 51820"
		echo "address = 10.64.0.$i/16"
		echo
		echo "[fleet]"
		echo "etcd = $ep"
		echo "prefix = $FL_PREFIX"
		for l in "$@"; do echo "$l"; done
	} >"$WORK/s$i.conf"
	chmod 600 "$WORK/s$i.conf"
}

fl_server_start() {
	local i=$1
	LOG_LEVEL=verbose ip netns exec "$(fl_ns_srv "$i")" "$VPND" -f -c "$WORK/s$i.conf" \
		"$(fl_if_srv "$i")" >>"$WORK/server$i.log" 2>&1 &
	FL_SRV_PID[$i]=$!
	HELPERS+=("$!:$(fl_if_srv "$i")")
	wait_for "in_srv $i wg show $(fl_if_srv "$i") listen-port | grep -qx 51820" 15 || {
		sed 's/^/    | /' "$WORK/server$i.log" | tail -20
		die "vpnd server $i did not start"
	}
}

fl_server_alive() { pid_is "${FL_SRV_PID[$1]}" "$(fl_if_srv "$1")"; }

# fstat I NAME: one stats=1 line of server I.
fstat() {
	in_srv "$1" "$PYTHON" "$WGTOOL" uapi-get --stats \
		--sock "/var/run/wireguard/$(fl_if_srv "$1").sock" 2>/dev/null |
		awk -F= -v k="$2" '$1 == k { print $2 + 0; f = 1 } END { exit !f }'
}

# fl_peers I: how many peers `wg show` lists on server I.
fl_peers() { in_srv "$1" wg show "$(fl_if_srv "$1")" peers | wc -l; }
fl_has_peer() { in_srv "$1" wg show "$(fl_if_srv "$1")" peers | grep -qxF -- "$2"; }

# fl_user NAME PUBKEY IP: the JSON value of a user.
fl_user() { printf '{"public_key": "%s", "allowed_ips": ["%s/32"]}' "$2" "$3"; }

# fl_client_up I: a wireguard-go tunnel from the client to server I.
fl_client_up() {
	local i=$1 ifc
	ifc=$(fl_if_cli "$i")
	in_cli "$WG_GO" "$ifc" >>"$WORK/wggo$i.log" 2>&1 </dev/null ||
		die "wireguard-go $ifc did not start"
	in_cli wg set "$ifc" private-key "$WORK/client.key" peer "$(cat "$WORK/s$i.pub")" \
		endpoint "10.97.$i.1:51820" allowed-ips "10.64.0.$i/32" || die "wg set $ifc"
	in_cli ip addr add "$FL_USER_IP/32" dev "$ifc"
	in_cli ip link set "$ifc" up
	in_cli ip route add "10.64.0.$i/32" dev "$ifc"
}

fl_ping() { in_cli ping -n -q -c 1 -W 1 "10.64.0.$1" >/dev/null 2>&1; }

# fl_client_hs I: the client's latest handshake with server I (0: none).
fl_client_hs() {
	in_cli wg show "$(fl_if_cli "$1")" latest-handshakes | awk '{ print $2; exit }'
}

# fl_server_rx I KEY: bytes server I received from KEY (empty: no peer).
fl_server_rx() {
	in_srv "$1" wg show "$(fl_if_srv "$1")" transfer | awk -v k="$2" '$1 == k { print $2 }'
}

# fl_rss I: server I's resident memory in KiB.
fl_rss() { awk '/^VmRSS/ { print $2 }' "/proc/${FL_SRV_PID[$1]}/status"; }

# fl_tls_certs: a CA, a certificate for an etcd member on 10.99.0.9 and a
# client certificate, all in $WORK/tls.
fl_tls_certs() {
	local d=$WORK/tls
	mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
		-subj /CN=vpnd-test-ca -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=etcd \
		-keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null &&
	printf 'subjectAltName=IP:10.99.0.9\n' >"$d/san.ext" &&
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
		-CAcreateserial -days 1 -extfile "$d/san.ext" -out "$d/server.pem" 2>/dev/null &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=vpnd \
		-keyout "$d/client.key" -out "$d/client.csr" 2>/dev/null &&
	openssl x509 -req -in "$d/client.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
		-CAcreateserial -days 1 -out "$d/client.pem" 2>/dev/null ||
		die "openssl could not make the test certificates"
}

# fl_etcd_tls_start: a one-member cluster on https://10.99.0.9:2379 that
# wants a client certificate from our CA.
fl_etcd_tls_start() {
	local d=$WORK/tls
	ip -n "$FL_NS_DB" addr add 10.99.0.9/32 dev lo
	ip netns exec "$FL_NS_DB" etcd --name m9 --data-dir "$FL_DATA/m9" \
		--listen-client-urls https://10.99.0.9:2379 \
		--advertise-client-urls https://10.99.0.9:2379 \
		--listen-peer-urls http://10.99.0.9:2380 \
		--initial-advertise-peer-urls http://10.99.0.9:2380 \
		--initial-cluster m9=http://10.99.0.9:2380 --initial-cluster-token "$FL_TOKEN-tls" \
		--cert-file "$d/server.pem" --key-file "$d/server.key" \
		--trusted-ca-file "$d/ca.pem" --client-cert-auth \
		--logger zap --log-outputs stderr --log-level error >>"$WORK/etcd9.log" 2>&1 &
	FL_ETCD_PID[9]=$!
	HELPERS+=("$!:m9")
	disown "$!"
}

# ectl_tls ARGS...: etcdctl against the TLS member, with the client certificate.
ectl_tls() {
	in_db timeout 20 etcdctl --endpoints https://10.99.0.9:2379 --dial-timeout 2s \
		--cacert "$WORK/tls/ca.pem" --cert "$WORK/tls/client.pem" --key "$WORK/tls/client.key" "$@"
}
