#!/usr/bin/env bash
# The local demo (`sudo make demo`): a vpnd server and a vpnd client in
# network namespaces of their own, joined by a veth pair, with an
# "internet" namespace behind the server.  The client connects with
# `vpnctl up`, pings and downloads from the internet host through the
# tunnel, and a capture on the server's client-facing link shows that
# nothing but encrypted UDP crossed it.  Everything is torn down at the end,
# whatever happens; nothing outside the three namespaces is touched.
set -u
REPO=$(cd "$(dirname "$0")/../.." && pwd)
VPND=$REPO/vpnd/vpnd
VPNCTL=$REPO/vpnctl/vpnctl
C=demo-client-$$ S=demo-server-$$ I=demo-internet-$$
WORK=$(mktemp -d /tmp/vpnd-demo.XXXXXX)
PORT=51820

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { printf '\ndemo failed: %s\n' "$*" >&2; exit 1; }

cleanup() {
	for ns in "$C" "$S" "$I"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
	done
	sleep 0.5
	for ns in "$C" "$S" "$I"; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$WORK" "/etc/netns/$C" /var/run/wireguard/vpnds0.sock
	[ "$etc_netns_ours" = yes ] && rmdir /etc/netns 2>/dev/null
}
etc_netns_ours=no
trap cleanup EXIT

[ "$(id -u)" = 0 ] || die "run it as root: sudo make demo"
[ -x "$VPND" ] && [ -x "$VPNCTL" ] || die "build first: make"

step "Three namespaces: client <-> server <-> internet"
for ns in "$C" "$S" "$I"; do ip netns add "$ns" && ip -n "$ns" link set lo up; done
ip link add c-eth0 netns "$C" type veth peer name s-eth0 netns "$S"
ip link add s-eth1 netns "$S" type veth peer name i-eth0 netns "$I"
# The demo's links are IPv4 only, so that their own IPv6 housekeeping
# (neighbour discovery, MLD) does not crowd the capture below.
ip netns exec "$C" sysctl -qw net.ipv6.conf.c-eth0.disable_ipv6=1
ip netns exec "$S" sysctl -qw net.ipv6.conf.s-eth0.disable_ipv6=1
ip -n "$C" addr add 192.0.2.2/24 dev c-eth0 && ip -n "$C" link set c-eth0 up
ip -n "$C" route add default via 192.0.2.1
ip -n "$S" addr add 192.0.2.1/24 dev s-eth0 && ip -n "$S" link set s-eth0 up
ip -n "$S" addr add 198.51.100.1/24 dev s-eth1 && ip -n "$S" link set s-eth1 up
ip -n "$I" addr add 198.51.100.2/24 dev i-eth0 && ip -n "$I" link set i-eth0 up
ip -n "$I" route add default via 198.51.100.1
[ -e /etc/netns ] || etc_netns_ours=yes
mkdir -p "/etc/netns/$C"
echo "nameserver 192.0.2.53" >"/etc/netns/$C/resolv.conf"
echo "client 192.0.2.2  --  192.0.2.1 server 198.51.100.1  --  198.51.100.2 internet"

step "Keys and configuration"
ks=$(wg genkey) kc=$(wg genkey)
ps=$(echo "$ks" | wg pubkey) pc=$(echo "$kc" | wg pubkey)
umask 077
cat >"$WORK/server.conf" <<EOF
[interface]
private_key = $ks
listen_port = $PORT
address = 10.64.0.1/24
nat = s-eth1

[peer demo-user]
public_key = $pc
allowed_ips = 10.64.0.2/32
EOF
cat >"$WORK/servers.conf" <<EOF
[demo-01]
endpoint = 192.0.2.1:$PORT
public_key = $ps
country = se
city = Stockholm
EOF
cat >"$WORK/client.conf" <<EOF
[interface]
private_key = $kc
address = 10.64.0.2/32
dns = 10.64.0.1
servers = $WORK/servers.conf
server = demo-01
kill_switch = off
EOF
echo "server.conf, servers.conf and client.conf written to $WORK (mode 0600)"

step "Start the server: vpnd -c server.conf vpnds0"
ip netns exec "$S" "$VPND" -c "$WORK/server.conf" vpnds0 || die "server did not start"
ip -n "$S" -brief addr show vpnds0

step "The internet host serves a 4 MiB file"
head -c $((4 << 20)) /dev/urandom >"$WORK/file.bin"
(cd "$WORK" && exec ip netns exec "$I" python3 -m http.server 8080 --bind 198.51.100.2) \
	>/dev/null 2>&1 &
for _ in $(seq 50); do
	ip netns exec "$I" ss -ltn 2>/dev/null | grep -q ':8080' && break
	sleep 0.1
done

step "Capture on the server's client-facing link"
ip netns exec "$S" tcpdump -n -i s-eth0 -w "$WORK/link.pcap" >/dev/null 2>&1 &
sleep 1

step "vpnctl up"
export VPND VPND_RUNDIR=$WORK/run VPND_STATEDIR=$WORK/state
ip netns exec "$C" "$VPNCTL" up -c "$WORK/client.conf" || die "vpnctl up failed"

step "vpnctl status"
ip netns exec "$C" "$VPNCTL" status

step "Ping the internet host through the tunnel"
ip netns exec "$C" ping -c 3 -i 0.3 198.51.100.2 || die "ping failed"

step "Download the file through the tunnel"
ip netns exec "$C" python3 - "$WORK/file.bin" <<'EOF' || die "download failed"
import hashlib, sys, time, urllib.request
t = time.time()
data = urllib.request.urlopen("http://198.51.100.2:8080/file.bin", timeout=20).read()
dt = time.time() - t
want = hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest()
got = hashlib.sha256(data).hexdigest()
print(f"{len(data)} bytes in {dt:.2f} s, sha256 {got[:16]}... "
      + ("matches" if got == want else "DIFFERS"))
sys.exit(got != want)
EOF

step "What crossed the client's link, as the server saw it"
sleep 0.5
ip netns pids "$S" | while read -r pid; do
	[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = tcpdump ] && kill -INT "$pid"
done
sleep 0.5
total=$(tcpdump -n -r "$WORK/link.pcap" 2>/dev/null | wc -l)
udp=$(tcpdump -n -r "$WORK/link.pcap" "udp and port $PORT" 2>/dev/null | wc -l)
other=$(tcpdump -n -r "$WORK/link.pcap" "not (udp and port $PORT) and not arp" 2>/dev/null | wc -l)
echo "$total packets captured: $udp WireGuard UDP on port $PORT, $other anything else (ARP aside)"
tcpdump -n -r "$WORK/link.pcap" -c 3 2>/dev/null | sed 's/^/  /'
[ "$other" = 0 ] || die "something other than the tunnel crossed the link"

step "vpnctl down"
ip netns exec "$C" "$VPNCTL" down || die "vpnctl down failed"
ip netns exec "$C" ip rule
ip netns exec "$C" cat /etc/resolv.conf

step "Done: tearing the namespaces down"
