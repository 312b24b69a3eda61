#!/bin/bash
# test_connect_killswitch.sh: the kill switch issue's leak matrix against the
# real daemon (`vpnctl up` starts `vpnd --client -c PROFILE IFNAME` in the
# client namespace), on connect_lib.sh's topology. The kill switch MODULE
# alone, through a driver, is test_killswitch.sh's; this is end to end.
#
# The judge: tcpdump -Q out on the client's physical link (cph0), the
# capture read back afterwards. A LEAK is every captured frame except:
#   - the daemon's WireGuard UDP: IPv4 UDP to the server endpoint
#     192.0.2.1:51820 whose payload starts like a WireGuard message (type
#     byte 1..4, then three zero bytes). Another process's datagram to the
#     same address and port has another payload and IS counted (case 7);
#   - link maintenance, which the kill switch allows by design and which
#     carries no user data and never leaves the link: ARP replies we send,
#     and ARP requests for the gateway 192.0.2.1 (the endpoint is reached
#     through it); IPv6 neighbour discovery (ICMPv6 133-136 with hop limit
#     255) and MLD listener reports (131, 143 behind a hop-by-hop header,
#     hop limit 1). An ARP request for any other address (a LAN resolver, a
#     "local" public host) is counted: it means something got past the
#     output hook;
#   - the canary (below). DHCP is allowed by the kill switch, but no DHCP
#     client runs here, so it is not excluded: a DHCP frame would count.
#
# Probes in every capture window (kt.py spray, each probe once "routed",
# through the routing table, and once "bound", SO_BINDTODEVICE / ping -I to
# cph0, which routing cannot stop and only the firewall can): ping and ping
# -6 to the internet host 198.51.100.2 / 2001:db8:2::2, TCP and UDP to it
# over IPv4 and IPv6, DNS over UDP and TCP to the internet's resolver
# 198.51.100.53, the LAN's resolver 192.0.2.53 (LAN_DNS, added to the
# server namespace's link with a DNS responder, so a leak would be answered
# and seen), the gateway 192.0.2.1 and 2001:db8:1::1, ping/TCP/UDP to a LAN
# host 192.168.50.1 and to 203.0.113.77, a public address a route in the
# client's main table calls "on the link" (203.0.113.0/24 dev cph0), and ping
# and DNS to the tunnel's own server and resolver 10.64.0.1 / fc00:bbbb::1.
#
# Positive controls, so that an empty capture means something:
#   - every window ends with two canary frames (IPv4 and IPv6 UDP to the
#     internet host) written on cph0 through an AF_PACKET socket, which the
#     inet hooks never see: the judge's filter must count exactly those two,
#     or the capture, or the filter, is broken;
#   - "open" rounds where nothing blocks (before the first up, after down
#     with mode on, lockdown's table deleted by hand): every kind of probe
#     IS on the wire, and the LAN and public hosts answer;
#   - the daemon's own UDP to the endpoint is counted where it must flow.
#
# Cases (profile keys kill_switch / allow_lan; VPND_UP_TIMEOUT=2):
#   1 on, server unreachable (its UDP dropped in the server namespace):
#     up exits 4, the daemon keeps sending initiations (counted > 0), zero
#     leaks once the table is in (mode on blocks from up, not before);
#   2 connected: zero leaks; ping of the tunnel's server over IPv4 and
#     IPv6, DNS to the tunnel's resolver (UDP, TCP), a download from the
#     internet host through the tunnel;
#   3 the server stops answering: zero leaks while the client keeps sending;
#   4 SIGKILL while connected: the table outlives the daemon, zero leaks;
#     `up` again: the new daemon takes the table over (nft never lists it
#     missing while probes run throughout) and connects; SIGKILL while
#     connecting, zero leaks; restart while the server is still
#     unreachable, zero leaks throughout;
#   5 cph0 down and up (the kernel drops its IPv6 address and default
#     routes: put back): zero leaks during and after, the tunnel comes back;
#   6 0.0.0.0/1, 128.0.0.0/1, 198.51.100.0/24, ::/1, 8000::/1 via the
#     physical gateway in main: zero leaks, the tunnel still carries traffic;
#   7 other processes (root, and nobody without capabilities), routed and
#     bound to cph0, send UDP to 192.0.2.1:51820: none of it on the wire
#     (counted by payload), while the daemon's own UDP is (> 0);
#   8 DNS to the LAN's resolver and the gateway, UDP and TCP, IPv4 and
#     IPv6, routed and bound: zero leaks, each refused in under 0.5 s;
#  11 `vpnctl down` with mode on: no table, the client namespace's rules,
#     routes and ruleset as before the first up (after two SIGKILLs and two
#     takeovers), resolv.conf back byte for byte, and full connectivity
#     (an open round: the probes are answered and on the wire);
#  10 allow_lan = yes: 192.168.50.1 on the link is reachable (routed and
#     bound; its packets are the only extra ones allowed), 203.0.113.77,
#     "local" by a route only, is not: nothing to it on the wire, not even
#     ARP; DNS to the LAN resolver still refused; the tunnel's own server
#     and resolver (in 10/8 and fc00::/7, ranges allow_lan opens) are still
#     reached through the tunnel, nothing to them on the wire, and DNS to
#     the resolver works; down removes the table;
#   9 lockdown, up then down (the daemon stays to guard the table): the
#     table stays, zero leaks, and even a marked (SO_MARK 0x5670, the
#     daemon's mark) WireGuard-looking datagram to the endpoint is refused
#     and not on the wire; then the table is deleted by hand and the same
#     probes and that datagram ARE seen.
# Not here: the module's own cases (test_killswitch.sh, through its driver:
# verify, nft-syntax names, inbound rules, multicast, marked datagrams to
# other ports and hosts, valgrind) and `vpnctl killswitch`, the state file
# and arp_ignore (test_connect_kscmd.sh).
CL_TAG=k
. "$(dirname "$0")/connect_lib.sh"

NOBODY_PYTHON=${NOBODY_PYTHON:-/usr/bin/python3}
prereqs setpriv "$NOBODY_PYTHON"
# A daemon started by `up` inherits this: an unreachable server costs 2 s.
export VPND_UP_TIMEOUT=2

LAN_HOST=192.168.50.1 LAN_C=192.168.50.2 PUB_LOCAL=203.0.113.77
MARK=0x5670

keys
topology
write_helpers
start_internet
write_servers "$WORK/servers.conf"
write_server_conf "$WORK/server.conf"
start_vpnd_server "$WORK/server.conf"

# The physical network's resolver, a LAN host and a public address, all on
# the server namespace's link, so that a leak to any of them is answered.
ip -n "$NS_S" addr add $LAN_DNS/24 dev $S_DOWN
ip -n "$NS_S" addr add $LAN_HOST/24 dev $S_DOWN
ip -n "$NS_S" addr add $PUB_LOCAL/24 dev $S_DOWN
ip -n "$NS_C" addr add $LAN_C/24 dev $C_PHYS
# The vpnd server forwards IPv4 only from its tunnel (forwarding is per
# ingress interface): let the client's direct traffic through too, so that
# "full connectivity" after down means the internet answers.
in_s sysctl -qw net.ipv4.conf.$S_DOWN.forwarding=1
# What a rogue DHCP server would push: a public range "on the link".
ip -n "$NS_C" route add 203.0.113.0/24 dev $C_PHYS
MAC_C=$(ip -n "$NS_C" link show $C_PHYS | awk '/link\/ether/ { print $2 }')
MAC_S=$(ip -n "$NS_S" link show $S_DOWN | awk '/link\/ether/ { print $2 }')
[ -n "$MAC_C" ] && [ -n "$MAC_S" ] || die "no MAC addresses on the physical link"

# ------------------------------------------------------------ the helpers

# LAN services in the server namespace: DNS over UDP and TCP (53, answers A
# 192.0.2.99), TCP 8080 (says "lan"), UDP echo 9999. TCP on every address;
# UDP on each address given, so that a reply comes from the address asked.
# They also serve the tunnel's resolver 10.64.0.1 / fc00:bbbb::1, and answer
# through the tunnel, which is fine: that is not the physical link.
cat >"$WORK/lan.py" <<'EOF'
import socket, struct, sys, threading
def dns(q):
    if len(q) < 12: return None
    end = 12
    while end < len(q) and q[end]: end += 1 + q[end]
    return (q[:2] + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + q[12:end + 5] +
            b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + bytes([192, 0, 2, 99]))
def sock(kind, port):
    s = socket.socket(socket.AF_INET6, kind)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", port))
    return s
def udp(port, fn):
  for a in sys.argv[2:]:
    s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a, port))
    def loop(s=s):
        while True:
            d, a = s.recvfrom(2048)
            out = fn(d)
            if out: s.sendto(out, a)
    threading.Thread(target=loop, daemon=True).start()
def tcp(port, fn):
    s = sock(socket.SOCK_STREAM, port); s.listen(64)
    def one(c):
        try:
            c.settimeout(2); fn(c)
        except OSError: pass
        finally: c.close()
    def loop():
        while True:
            c, _ = s.accept()
            threading.Thread(target=one, args=(c,), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()
def dns_tcp(c):
    n = struct.unpack(">H", c.recv(2))[0]
    q = b""
    while len(q) < n: q += c.recv(n - len(q))
    r = dns(q); c.sendall(struct.pack(">H", len(r)) + r)
udp(53, dns); udp(9999, lambda d: d)
tcp(53, dns_tcp); tcp(8080, lambda c: c.sendall(b"lan\n"))
open(sys.argv[1], "w").close()
threading.Event().wait()
EOF
helper lan.py ip netns exec "$NS_S" "$PYTHON" "$WORK/lan.py" "$WORK/lan.ready" \
	$LAN_DNS $S_ADDR $S_ADDR6 $LAN_HOST $PUB_LOCAL $TUN_S $TUN_S6
wait_for "[ -e $WORK/lan.ready ]" 10 || die "the LAN services did not start"

# kt.py: the probes. Constants first, then the code (quoted: no expansion).
{
	printf 'INET, INET6, INET_DNS, LAN_DNS, GW, GW6 = %s, %s, %s, %s, %s, %s\n' \
		"'$INET'" "'$INET6'" "'$INET_DNS'" "'$LAN_DNS'" "'$GW'" "'$S_ADDR6'"
	printf 'LAN_HOST, PUB_LOCAL, C_ADDR, C_ADDR6, SERVER, PORT = %s, %s, %s, %s, %s, %s\n' \
		"'$LAN_HOST'" "'$PUB_LOCAL'" "'$C_ADDR'" "'$C_ADDR6'" "'$S_ADDR'" "$PORT"
	printf 'TUN_S, TUN_S6 = %s, %s\n' "'$TUN_S'" "'$TUN_S6'"
	cat <<'EOF'
# kt.py spray IF | canary IF SRCMAC DSTMAC | impostor IF | marked IF MARK
# Each probe prints "NAME RESULT MS". NAME starts with r- (routed) or b-
# (bound to IF). RESULT: answered, connected, or how it failed (timeout,
# refused, reset, PermissionError, unreachable, ...), or sent.
import socket, struct, subprocess, sys, threading, time
SO_MARK = getattr(socket, "SO_MARK", 36)
SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)
T = 0.5

def fam(h): return socket.AF_INET6 if ":" in h else socket.AF_INET
def mk(h, kind, bind, mark=None):
    s = socket.socket(fam(h), kind)
    if bind: s.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, bind.encode())
    if mark is not None: s.setsockopt(socket.SOL_SOCKET, SO_MARK, mark)
    s.settimeout(T)
    return s
def why(e):
    if isinstance(e, socket.timeout): return "timeout"
    if isinstance(e, ConnectionRefusedError): return "refused"
    if isinstance(e, ConnectionResetError): return "reset"
    if isinstance(e, OSError) and e.errno in (101, 113): return "unreachable"
    return type(e).__name__
def query():
    q = struct.pack(">HHHHHH", 0x564B, 0x0100, 1, 0, 0, 0)
    for part in ("vktprobe", "example"): q += bytes([len(part)]) + part.encode()
    return q + b"\x00\x00\x01\x00\x01"

def tcp(h, port, bind):
    s = None
    try:
        s = mk(h, socket.SOCK_STREAM, bind); s.connect((h, port)); return "connected"
    except OSError as e: return why(e)
    finally:
        if s: s.close()
def udp(h, port, bind, payload=b"VKTPROBE udp"):
    s = None
    try:
        s = mk(h, socket.SOCK_DGRAM, bind); s.connect((h, port)); s.send(payload)
        s.recv(512); return "answered"
    except OSError as e: return why(e)
    finally:
        if s: s.close()
def dnsu(h, bind): return udp(h, 53, bind, query())
def dnst(h, bind):
    s = None
    try:
        s = mk(h, socket.SOCK_STREAM, bind); s.connect((h, 53))
        q = query(); s.sendall(struct.pack(">H", len(q)) + q)
        return "answered" if s.recv(2) else "closed"
    except OSError as e: return why(e)
    finally:
        if s: s.close()
def ping(h, bind):
    cmd = ["ping", "-n", "-q", "-c", "1", "-W", "1"] + (["-6"] if ":" in h else [])
    cmd += (["-I", bind] if bind else []) + [h]
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode == 0: return "answered"
    err = r.stderr.strip().splitlines()
    return "silent" if r.returncode == 1 else "error:" + (err[-1].split(":")[-1].strip().replace(" ", "_") if err else "?")
def send(h, port, bind, payload, mark=None):
    s = None
    try:
        s = mk(h, socket.SOCK_DGRAM, bind, mark); s.sendto(payload, (h, port)); return "sent"
    except OSError as e: return why(e)
    finally:
        if s: s.close()

def run(probes):
    out = []
    def one(name, fn, args):
        t = time.monotonic(); r = fn(*args)
        out.append("%s %s %d" % (name, r, (time.monotonic() - t) * 1000))
    th = [threading.Thread(target=one, args=p) for p in probes]
    for x in th: x.start()
    for x in th: x.join()
    print("\n".join(sorted(out)), flush=True)

def spray(ifname):
    p = []
    for pre, b in (("r-", None), ("b-", ifname)):
        p += [(pre + "ping4-inet", ping, (INET, b)), (pre + "ping6-inet", ping, (INET6, b)),
              (pre + "ping4-lan", ping, (LAN_HOST, b)), (pre + "ping4-pub", ping, (PUB_LOCAL, b)),
              (pre + "tcp4-inet", tcp, (INET, 8080, b)), (pre + "tcp6-inet", tcp, (INET6, 8080, b)),
              (pre + "udp4-inet", udp, (INET, 9999, b)), (pre + "udp6-inet", udp, (INET6, 9999, b)),
              (pre + "tcp4-lan", tcp, (LAN_HOST, 8080, b)), (pre + "tcp4-pub", tcp, (PUB_LOCAL, 8080, b)),
              (pre + "udp4-pub", udp, (PUB_LOCAL, 9999, b)),
              # The tunnel's server and resolver (the profile's dns).
              (pre + "ping4-tun", ping, (TUN_S, b)), (pre + "ping6-tun", ping, (TUN_S6, b)),
              (pre + "dnsu-tun", dnsu, (TUN_S, b)), (pre + "dnst-tun", dnst, (TUN_S, b))]
        for tag, h in (("landns", LAN_DNS), ("gw", GW), ("gw6", GW6), ("inetdns", INET_DNS)):
            p += [(pre + "dnsu-" + tag, dnsu, (h, b)), (pre + "dnst-" + tag, dnst, (h, b))]
    run(p)

def canary(ifname, src, dst):
    smac, dmac = bytes.fromhex(src.replace(":", "")), bytes.fromhex(dst.replace(":", ""))
    pl = b"VKTCANARY"
    u = struct.pack(">HHHH", 40000, 9, 8 + len(pl), 0) + pl
    h = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(u), 0, 0, 64, 17, 0,
                    socket.inet_aton(C_ADDR), socket.inet_aton(INET))
    c = sum(struct.unpack(">10H", h)); c = (c & 0xffff) + (c >> 16); c = ~((c & 0xffff) + (c >> 16)) & 0xffff
    h = h[:10] + struct.pack(">H", c) + h[12:]
    h6 = struct.pack(">IHBB16s16s", 0x60000000, len(u), 17, 64,
                     socket.inet_pton(socket.AF_INET6, C_ADDR6), socket.inet_pton(socket.AF_INET6, INET6))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((ifname, 0))
    s.send(dmac + smac + b"\x08\x00" + h + u)
    s.send(dmac + smac + b"\x86\xdd" + h6 + u)
    print("canary sent")

cmd = sys.argv[1]
if cmd == "spray": spray(sys.argv[2])
elif cmd == "canary": canary(sys.argv[2], sys.argv[3], sys.argv[4])
elif cmd == "impostor":     # not the daemon: UDP to the endpoint, routed and bound
    run([("r-impostor", send, (SERVER, PORT, None, b"VKTIMPOSTOR")),
         ("b-impostor", send, (SERVER, PORT, sys.argv[2], b"VKTIMPOSTOR"))])
elif cmd == "marked":       # the daemon's mark, a WireGuard-looking payload
    pl = b"\x01\x00\x00\x00VKTMARKED" + bytes(135)
    run([("r-marked", send, (SERVER, PORT, None, pl, int(sys.argv[3], 0))),
         ("b-marked", send, (SERVER, PORT, sys.argv[2], pl, int(sys.argv[3], 0)))])
EOF
} >"$WORK/kt.py"

kt() { timeout 20 ip netns exec "$NS_C" "$PYTHON" "$WORK/kt.py" "$@"; }
# As nobody: no groups, no capabilities; the script on stdin (WORK is 0700).
kt_nobody() {
	timeout 20 ip netns exec "$NS_C" setpriv --reuid=65534 --regid=65534 --clear-groups \
		--inh-caps=-all "$NOBODY_PYTHON" - "$@" <"$WORK/kt.py"
}

# ---------------------------------------------------------------- the judge

ip2hex() { printf '0x%02x%02x%02x%02x' ${1//./ }; }
WG="(ip and udp and dst host $S_ADDR and dst port $PORT and udp[8] >= 1 and udp[8] <= 4 and udp[9:2] == 0 and udp[11] == 0)"
NOISE="(arp and (arp[6:2] == 2 or arp[24:4] == $(ip2hex $GW))) or
 (ip6 and ip6[6] == 58 and ip6[7] == 255 and ip6[40] >= 133 and ip6[40] <= 136) or
 (ip6 and ip6[6] == 0 and ip6[7] == 1 and ip6[40] == 58 and (ip6[48] == 131 or ip6[48] == 143))"
CANARY="(ip and udp and dst port 9 and udp[8:4] == 0x564b5443) or
 (ip6 and ip6[6] == 17 and ip6[42:2] == 9 and ip6[48:4] == 0x564b5443)"
# Allowed with allow_lan: the LAN host (not DNS), and ARP for it.
LAN_OK="(ip and dst net 192.168.0.0/16 and not port 53 and not port 853) or
 (arp and arp[24:4] == $(ip2hex $LAN_HOST))"
# What every probe kind looks like on the wire (for the open rounds).
KINDS=(
	"ICMP to $INET|icmp and dst host $INET"
	"ICMPv6 to $INET6|icmp6 and dst host $INET6"
	"TCP to $INET|ip and tcp and dst host $INET and dst port 8080"
	"TCP to $INET6|ip6 and tcp and dst host $INET6 and dst port 8080"
	"UDP to $INET|ip and udp and dst host $INET and dst port 9999"
	"UDP to $INET6|ip6 and udp and dst host $INET6 and dst port 9999"
	"DNS/UDP to $LAN_DNS|udp and dst host $LAN_DNS and dst port 53"
	"DNS/TCP to $LAN_DNS|tcp and dst host $LAN_DNS and dst port 53"
	"DNS/UDP to $GW|udp and dst host $GW and dst port 53"
	"DNS/TCP to $GW|tcp and dst host $GW and dst port 53"
	"DNS/UDP to $S_ADDR6|ip6 and udp and dst host $S_ADDR6 and dst port 53"
	"DNS/TCP to $S_ADDR6|ip6 and tcp and dst host $S_ADDR6 and dst port 53"
	"DNS/UDP to $INET_DNS|udp and dst host $INET_DNS and dst port 53"
	"DNS/TCP to $INET_DNS|tcp and dst host $INET_DNS and dst port 53"
	"traffic to the LAN host $LAN_HOST|ip and dst host $LAN_HOST"
	"traffic to the \"local\" public $PUB_LOCAL|ip and dst host $PUB_LOCAL"
)

# cap_start NAME [FILTER] / cap_stop NAME: tcpdump -Q out on the client's
# physical link. Immediate mode: without it libpcap hands packets over in
# blocks with a 1 s timeout, and a capture stopped sooner after the last
# packets loses them (the canary showed it). CAP_COUNT: packets captured.
cap_start() {
	helper tcpdump ip netns exec "$NS_C" tcpdump -p -Z root -i "$C_PHYS" -Q out -n -U \
		--immediate-mode -s 512 -w "$WORK/$1.pcap" ${2:+"$2"} 2>"$WORK/$1.err"
	eval "KTCAP_$1=$LAST_HELPER"
	wait_for "grep -q 'listening on' $WORK/$1.err" 5 || die "tcpdump $1 did not start: $(cat "$WORK/$1.err")"
}
cap_stop() {
	local pid
	pid=$(eval echo "\$KTCAP_$1")
	sleep 0.3
	kill -INT "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	CAP_COUNT=$(tcpdump -n -r "$WORK/$1.pcap" 2>/dev/null | grep -c .)
}
# cnt NAME FILTER: packets of the capture NAME that FILTER matches; -1 (which
# fails every check) when tcpdump cannot read the file or the filter.
cnt() {
	local out
	if ! out=$(tcpdump -n -r "$WORK/$1.pcap" "$2" 2>"$WORK/cnt.err"); then
		note "tcpdump -r $1.pcap '$2': $(tail -n 1 "$WORK/cnt.err")"
		echo -1
		return
	fi
	printf '%s' "$out" | grep -c .
}
show() { tcpdump -n -r "$WORK/$1.pcap" ${2:+"$2"} 2>/dev/null | head -"${3:-15}" | sed 's/^/    | /'; }

# win_open LABEL: starts the capture of one window; probe results go to
# $WORK/LABEL.probes.
win_open() {
	KT_LABEL=$1
	: >"$WORK/$1.probes"
	cap_start "$1"
}
spray() { kt spray "$C_PHYS" >>"$WORK/$KT_LABEL.probes" 2>&1; }
# loop_start / loop_stop: the probes over and over in the background (at
# most 40 rounds), for windows in which something else happens.
loop_start() {
	rm -f "$WORK/loop.stop"
	(
		for ((i = 0; i < 40; i++)); do
			[ -e "$WORK/loop.stop" ] || [ ! -d "$WORK" ] && break
			spray
		done
	) &
	KT_LOOP=$!
	HELPERS+=("$KT_LOOP:$TEST_NAME")
}
loop_stop() { touch "$WORK/loop.stop"; wait "$KT_LOOP"; }

# win_close [nowg]: the canary, then the capture stops and is judged.
# LEAKS: frames that are none of the allowed ones (with nowg, the daemon's
# UDP is not allowed either: lockdown while down). KT_EXTRA: more allowed.
# WGN: the daemon's UDP seen.
win_close() {
	local label=$KT_LABEL allowed="$WG" base canaries out
	[ "${1:-}" = nowg ] && allowed="ether proto 0xffff"
	out=$(kt canary "$C_PHYS" "$MAC_C" "$MAC_S" 2>&1)
	[ "$out" = "canary sent" ] || note "$label: canary: $out"
	cap_stop "$label"
	base="not ($NOISE) and not ($allowed)${KT_EXTRA:+ and not ($KT_EXTRA)}"
	canaries=$(cnt "$label" "$base and ($CANARY)")
	LEAK_F="$base and not ($CANARY)"
	LEAKS=$(cnt "$label" "$LEAK_F")
	WGN=$(cnt "$label" "$WG")
	PROBES=$(grep -c '^[rb]-' "$WORK/$label.probes")
	check "$label: positive control: the judge counts the 2 canary frames written on $C_PHYS (counted $canaries)" \
		test "$canaries" = 2 || show "$label" "" 10
}

# no_leak DESC: zero leaks, else the first ones and the probe results.
no_leak() {
	if [ "$LEAKS" = 0 ]; then
		ok "$KT_LABEL: $1: 0 leaks ($PROBES probes, $WGN WireGuard packets to the endpoint)"
		return 0
	fi
	bad "$KT_LABEL: $1: $LEAKS packets left outside the tunnel ($PROBES probes):"
	show "$KT_LABEL" "$LEAK_F" 20
	grep -E ' (answered|connected|sent) ' "$WORK/$KT_LABEL.probes" | sort | uniq -c | head -20 | sed 's/^/    probe: /'
	return 1
}

# bound_blocked [EXCEPT_RE]: no probe bound to cph0 got through (answered,
# connected); the routing table cannot stop those, only the firewall.
bound_blocked() {
	local through
	through=$(grep -E '^b-\S+ (answered|connected) ' "$WORK/$KT_LABEL.probes" |
		grep -Ev "${1:-^$}" | sort -u | head -10)
	if [ -z "$through" ]; then
		ok "$KT_LABEL: no probe bound to $C_PHYS got an answer"
	else
		bad "$KT_LABEL: probes bound to $C_PHYS got through: $(printf '%s' "$through" | tr '\n' ';')"
	fi
}

# all_kinds_seen: every kind of probe is on the wire (open rounds).
all_kinds_seen() {
	local k n miss=()
	for k in "${KINDS[@]}"; do
		n=$(cnt "$KT_LABEL" "${k#*|}")
		[ "$n" -gt 0 ] || miss+=("${k%%|*}")
	done
	if [ ${#miss[@]} = 0 ]; then
		ok "$KT_LABEL: positive control: every kind of probe is on the wire ($LEAKS packets counted as leaks)"
	else
		bad "$KT_LABEL: positive control: not on the wire: $(printf '%s; ' "${miss[@]}")"
		show "$KT_LABEL" "not ($NOISE)" 20
	fi
}

# answered NAME...: each probe NAME answered (connected) in this window.
answered() {
	local n miss=()
	for n in "$@"; do
		grep -Eq "^$n (answered|connected) " "$WORK/$KT_LABEL.probes" || miss+=("$n")
	done
	if [ ${#miss[@]} = 0 ]; then ok "$KT_LABEL: answered: $*"; else
		bad "$KT_LABEL: not answered: ${miss[*]}: $(grep -E "^($(IFS='|'; echo "${miss[*]}")) " "$WORK/$KT_LABEL.probes" | sort -u | tr '\n' ';')"
	fi
}

has_table() { in_c nft list tables 2>/dev/null | grep -qx 'table inet vpnd_killswitch'; }
block_server() {
	in_s nft -f - <<EOF
table inet kt_block {
	chain input { type filter hook input priority -300; policy accept; udp dport $PORT drop; }
}
EOF
}
unblock_server() { in_s nft delete table inet kt_block; }
json_state() {
	ctl status --json -i "$IF_C"
	"$PYTHON" -c 'import json,sys; print(json.loads(sys.argv[1]).get("state",""))' "$CTL_OUT" 2>/dev/null
}
tunnel_works() { # LABEL
	check "$1: ping $TUN_S through the tunnel" quiet in_c ping -n -q -c 1 -W 2 $TUN_S
	check "$1: ping -6 $TUN_S6 through the tunnel" quiet in_c ping -n -q -6 -c 1 -W 2 $TUN_S6
}
# sigkill LABEL: SIGKILL the client daemon and wait for it to be gone.
sigkill() {
	local pid
	pid=$(client_pid)
	check "$1: a client daemon runs (pid ${pid:-none})" test -n "$pid" || return 1
	kill -KILL "$pid"
	check "$1: the daemon is gone after SIGKILL" wait_for "! pid_is $pid $IF_C" 5
}
# watch_table_start / _stop: polls `nft list tables` while a daemon
# restarts; GAPS counts the polls that did not list the table.
watch_table_start() {
	rm -f "$WORK/watch.stop" "$WORK/watch.gaps"
	(
		n=0
		while [ ! -e "$WORK/watch.stop" ] && [ -d "$WORK" ] && [ $n -lt 400 ]; do
			has_table || echo gap >>"$WORK/watch.gaps"
			n=$((n + 1))
		done
		echo "$n" >"$WORK/watch.polls"
	) &
	KT_WATCH=$!
	HELPERS+=("$KT_WATCH:$TEST_NAME")
}
watch_table_stop() {
	touch "$WORK/watch.stop"; wait "$KT_WATCH"
	GAPS=$(cat "$WORK/watch.gaps" 2>/dev/null | grep -c .)
	POLLS=$(cat "$WORK/watch.polls" 2>/dev/null)
}
# Rules, routes (sorted: a flap reorders them) and the ruleset of the
# client namespace, to compare before the first up and after the last down.
routing_state() {
	{
		echo "### ip -4 rule"; ip -n "$NS_C" -4 rule show
		echo "### ip -6 rule"; ip -n "$NS_C" -6 rule show
		echo "### ip -4 route show table all"; ip -n "$NS_C" -4 route show table all | sort
		echo "### ip -6 route show table all"; ip -n "$NS_C" -6 route show table all | sort
		echo "### nft list ruleset"; in_c nft list ruleset
	} 2>&1
}

write_profile "$WORK/on.conf" "$TUN_C/32, $TUN_C6/128" "kill_switch = on"
write_profile "$WORK/lan.conf" "$TUN_C/32, $TUN_C6/128" "kill_switch = on" "allow_lan = yes"
write_profile "$WORK/lockdown.conf" "$TUN_C/32, $TUN_C6/128" "kill_switch = lockdown"
routing_state >"$WORK/routing.before"
in_c cat /etc/resolv.conf >"$WORK/resolv.before"

# ------------------------------------------------------- 0: nothing blocks
say "--- 0: before any up (no daemon, no table): the probes are seen"
win_open c0_open
spray
win_close
all_kinds_seen
answered r-dnsu-landns r-dnst-landns r-dnsu-gw6 r-dnst-gw6 r-dnsu-inetdns r-ping4-pub b-tcp4-pub \
	r-ping4-lan r-tcp4-inet r-tcp6-inet r-udp6-inet r-ping6-inet
check "c0_open: the leak count sees them ($LEAKS packets)" test "$LEAKS" -gt 40

# ------------------------------------------- 1: connecting, server unreachable
say "--- 1: kill_switch = on, connecting to an unreachable server"
check "c1: the server's UDP port is dropped in the server namespace" block_server
# Mode on blocks from up: the leak window opens once the table is in; a
# second capture from before up counts the daemon's attempts.
cap_start c1_wg "$WG"
t=$(date +%s.%N)
(ctl up -c "$WORK/on.conf" -i "$IF_C"; echo "$CTL_RC" >"$WORK/c1.rc") &
UP_PID=$!
wait_for has_table 10
note "c1: the table appeared $(elapsed "$t") s after up started"
win_open c1_connecting
loop_start
wait "$UP_PID"
UP_RC=$(cat "$WORK/c1.rc" 2>/dev/null)
loop_stop
spray
win_close
cap_stop c1_wg
C1_WG=$CAP_COUNT
# ctl ran in a subshell: read its results from the files it wrote.
check "c1: vpnctl up exits 4, no handshake in time (got $UP_RC: $(cat "$WORK/ctl.out" "$WORK/ctl.err" | tr '\n' ' '))" \
	test "$UP_RC" = 4
no_leak "connecting to an unreachable server"
bound_blocked
check "c1: positive control: the daemon keeps sending WireGuard to the endpoint ($C1_WG packets)" test "$C1_WG" -gt 0
check "c1: state connecting" test "$(json_state)" = connecting
check "c1: the kill-switch table is in the kernel" has_table

# --------------------------------------------------------------- 2: connected
say "--- 2: connected"
unblock_server
ctl up -c "$WORK/on.conf" -i "$IF_C"
check "c2: vpnctl up exits 0 once the server answers (got $CTL_RC: $CTL_OUT$CTL_ERR)" test "$CTL_RC" = 0
win_open c2_connected
spray
tunnel_works c2
out=$(probe http "http://$INET:8080/blob.bin" "$BLOB_SHA" 2>&1 | tail -n 1)
check "c2: TCP download from $INET through the tunnel: $out" test "${out##* }" = ok
win_close
no_leak "connected"
bound_blocked
answered r-ping4-tun r-ping6-tun r-dnsu-tun r-dnst-tun
# 2 MiB: at least 23 datagrams even as 64-segment UDP GSO super-packets.
check "c2: positive control: the tunnel's UDP is on the wire ($WGN packets)" test "$WGN" -gt 20
check "c2: ip route get $INET -> the tunnel" sh -c "ip -n $NS_C route get $INET | grep -q 'dev $IF_C '"

# ------------------------------------------------- 3: server stops answering
say "--- 3: the server stops answering"
block_server
win_open c3_silent
spray
quiet in_c ping -n -q -c 2 -i 0.2 -W 1 $TUN_S
win_close
no_leak "server silent"
bound_blocked
check "c3: positive control: the client keeps sending to the endpoint ($WGN packets)" test "$WGN" -gt 0
unblock_server
check "c3: the tunnel carries traffic again once the server answers" \
	wait_for "in_c ping -n -q -c 1 -W 1 $TUN_S" 5

# -------------------------------------------------------------- 4: SIGKILL
say "--- 4: SIGKILL while connected, restart"
sigkill c4a
check "c4a: the table outlives the daemon (nft list table inet vpnd_killswitch)" \
	quiet in_c nft list table inet vpnd_killswitch
win_open c4a_killed
spray
win_close
no_leak "daemon killed while connected"
bound_blocked

win_open c4b_restart
loop_start
watch_table_start
ctl up -c "$WORK/on.conf" -i "$IF_C"
watch_table_stop
loop_stop
spray
win_close
check "c4b: vpnctl up after the SIGKILL starts a daemon that connects (got $CTL_RC: $CTL_OUT$CTL_ERR)" test "$CTL_RC" = 0
no_leak "restart after SIGKILL, probes throughout"
bound_blocked
check "c4b: nft listed the table in each of $POLLS polls during the restart (missing $GAPS times)" \
	test "$GAPS" = 0 -a "${POLLS:-0}" -gt 0
tunnel_works c4b

say "--- 4: SIGKILL while connecting, restart"
ctl down -i "$IF_C"
check "c4c: vpnctl down exits 0 (got $CTL_RC)" test "$CTL_RC" = 0
wait_for "! client_pid" 5
block_server
ctl up -c "$WORK/on.conf" -i "$IF_C"
check "c4c: vpnctl up to the unreachable server exits 4 (got $CTL_RC)" test "$CTL_RC" = 4
sigkill c4c
check "c4c: the table outlives the daemon killed while connecting" has_table
win_open c4c_killed
spray
win_close
no_leak "daemon killed while connecting"
bound_blocked

win_open c4d_restart
loop_start
watch_table_start
ctl up -c "$WORK/on.conf" -i "$IF_C"
watch_table_stop
loop_stop
spray
win_close
check "c4d: vpnctl up restarts the daemon; still no handshake: exits 4 (got $CTL_RC: $CTL_ERR)" test "$CTL_RC" = 4
no_leak "restart while the server is unreachable, probes throughout"
bound_blocked
check "c4d: positive control: the new daemon sends to the endpoint ($WGN packets)" test "$WGN" -gt 0
check "c4d: nft listed the table in each of $POLLS polls during the restart (missing $GAPS times)" \
	test "$GAPS" = 0 -a "${POLLS:-0}" -gt 0
unblock_server
ctl up -c "$WORK/on.conf" -i "$IF_C"
check "c4d: connects once the server answers (got $CTL_RC: $CTL_OUT$CTL_ERR)" test "$CTL_RC" = 0
tunnel_works c4d

# -------------------------------------------------------- 5: link down and up
say "--- 5: the physical link down and up"
win_open c5_flap
loop_start
sleep 0.3
ip -n "$NS_C" link set $C_PHYS down
sleep 0.7
ip -n "$NS_C" link set $C_PHYS up
# The kernel flushed the IPv6 address and both default routes; name the
# device (after up, a gateway without one resolves into the tunnel).
ip -n "$NS_C" -6 addr show dev $C_PHYS | grep -q "$C_ADDR6" ||
	ip -n "$NS_C" addr add $C_ADDR6/64 dev $C_PHYS nodad
ip -n "$NS_C" route show default | grep -q . || ip -n "$NS_C" route add default via $GW dev $C_PHYS
ip -n "$NS_C" -6 route show default | grep -q . || ip -n "$NS_C" -6 route add default via $S_ADDR6 dev $C_PHYS
ip -n "$NS_C" route show 203.0.113.0/24 | grep -q . || ip -n "$NS_C" route add 203.0.113.0/24 dev $C_PHYS
check "c5: the tunnel carries traffic again after the link comes back" \
	wait_for "in_c ping -n -q -c 1 -W 1 $TUN_S" 8
loop_stop
spray
win_close
no_leak "link down and up, probes throughout"
bound_blocked
check "c5: positive control: the tunnel's UDP is on the wire after the flap ($WGN packets)" test "$WGN" -gt 0
tunnel_works c5

# ------------------------------------------------------------ 6: hostile routes
say "--- 6: hostile routes in main via the physical gateway"
HOSTILE4="0.0.0.0/1 128.0.0.0/1 198.51.100.0/24"
HOSTILE6="::/1 8000::/1"
hostile() { # add|del
	local r
	for r in $HOSTILE4; do ip -n "$NS_C" route "$1" "$r" via $GW dev $C_PHYS || return 1; done
	for r in $HOSTILE6; do ip -n "$NS_C" -6 route "$1" "$r" via $S_ADDR6 dev $C_PHYS || return 1; done
}
check "c6: routes $HOSTILE4 $HOSTILE6 added to main via the gateway" hostile add
win_open c6_hostile
spray
tunnel_works c6
win_close
no_leak "hostile routes in main"
bound_blocked
check "c6: positive control: the tunnel's UDP is on the wire ($WGN packets)" test "$WGN" -gt 0
check "c6: hostile routes removed" hostile del

# --------------------------------------------- 7: another process to the endpoint
say "--- 7: other processes send to the server's endpoint $S_ADDR:$PORT"
win_open c7_impostor
for i in 1 2 3; do
	kt impostor "$C_PHYS" >>"$WORK/c7_impostor.probes" 2>&1
	kt_nobody impostor "$C_PHYS" 2>&1 | sed 's/^/nobody-/' >>"$WORK/c7_impostor.probes" 2>&1
done
quiet in_c ping -n -q -c 3 -i 0.2 -W 1 $TUN_S
win_close
no_leak "impostors to the endpoint"
n=$(cnt c7_impostor "ip and udp and dst host $S_ADDR and dst port $PORT and not $WG")
check "c7: no datagram to $S_ADDR:$PORT but the daemon's WireGuard ($n others)" test "$n" = 0
n=$(tcpdump -n -A -r "$WORK/c7_impostor.pcap" 2>/dev/null | grep -c VKTIMPOSTOR)
check "c7: the impostors' payload is nowhere on the wire ($n)" test "$n" = 0
check "c7: positive control: the daemon's own UDP to the endpoint is ($WGN packets)" test "$WGN" -gt 0
r=$(grep '^b-impostor\|^nobody-b-impostor' "$WORK/c7_impostor.probes" | awk '{ print $1 "=" $2 }' | sort | uniq -c | tr -s ' \n' ' ')
check "c7: the bound datagrams (root and nobody) are refused at send ($r)" \
	sh -c "! grep -E '^(nobody-)?b-impostor sent' '$WORK/c7_impostor.probes' && grep -q '^nobody-b-impostor' '$WORK/c7_impostor.probes'"
note "c7: routed ones go into the tunnel, encrypted: $(grep '^r-impostor\|^nobody-r-impostor' "$WORK/c7_impostor.probes" | awk '{ print $1 "=" $2 }' | sort -u | tr '\n' ' ')"

# --------------------------------------------------- 8: the LAN's resolvers
say "--- 8: DNS to the physical network's resolvers"
win_open c8_dns
spray
win_close
no_leak "DNS to the LAN resolver and the gateway"
slow=$(grep -E '^[rb]-dns[ut]-(landns|gw|gw6|inetdns) ' "$WORK/c8_dns.probes" |
	awk '$2 !~ /^(refused|reset|PermissionError)$/ || $3 >= 500')
check "c8: each DNS query to $LAN_DNS, $GW, $S_ADDR6, $INET_DNS (UDP and TCP, routed and bound) is refused in under 0.5 s${slow:+: $(printf '%s' "$slow" | tr '\n' ';')}" \
	test -z "$slow"
note "c8: $(grep -E '^[rb]-dns' "$WORK/c8_dns.probes" | awk '{ print $1 "=" $2 }' | tr '\n' ' ')"

# ------------------------------------------------------ 11: down with mode on
say "--- 11: vpnctl down with kill_switch = on"
ctl down -i "$IF_C"
check "c11: vpnctl down exits 0 (got $CTL_RC: $CTL_ERR)" test "$CTL_RC" = 0
check "c11: the daemon exits" wait_for "! client_pid" 5
check "c11: nft list tables shows no vpnd_killswitch ($(in_c nft list tables | tr '\n' ' '))" \
	sh -c "! ip netns exec $NS_C nft list tables | grep -q vpnd_killswitch"
routing_state >"$WORK/routing.after"
same_snapshot "c11: rules, routes and ruleset as before the first up (after two SIGKILLs and takeovers)" \
	"$WORK/routing.before" "$WORK/routing.after"
in_c cat /etc/resolv.conf >"$WORK/resolv.after"
check "c11: resolv.conf as before the first up, byte for byte" cmp -s "$WORK/resolv.before" "$WORK/resolv.after"
win_open c11_open
spray
out=$(probe http "http://$INET:8080/blob.bin" "$BLOB_SHA" 2>&1 | tail -n 1)
check "c11: TCP download from $INET directly: $out" test "${out##* }" = ok
win_close
all_kinds_seen
answered r-ping4-inet r-ping6-inet r-tcp4-inet r-tcp6-inet r-udp4-inet r-udp6-inet r-dnsu-inetdns \
	r-dnsu-landns r-dnst-landns r-dnsu-gw6 b-ping4-inet b-tcp6-inet
check "c11: nothing of it is the tunnel's ($WGN WireGuard packets)" test "$WGN" = 0

# ------------------------------------------------------------- 10: allow_lan
say "--- 10: allow_lan = yes"
ctl up -c "$WORK/lan.conf" -i "$IF_C"
check "c10: vpnctl up with allow_lan exits 0 (got $CTL_RC: $CTL_OUT$CTL_ERR)" test "$CTL_RC" = 0
KT_EXTRA=$LAN_OK
win_open c10_lan
spray
win_close
KT_EXTRA=
no_leak "allow_lan (the LAN host's packets allowed)"
answered r-ping4-lan b-ping4-lan r-tcp4-lan b-tcp4-lan
bound_blocked '^b-(ping4|tcp4)-lan '
# The tunnel's own server and resolver (10.64.0.1, fc00:bbbb::1) are in
# ranges allow_lan opens (10/8, fc00::/7); they must still be reached
# through the tunnel, and DNS to the resolver must work.
answered r-ping4-tun r-ping6-tun r-dnsu-tun r-dnst-tun
TUN_NETS="(ip and dst net ${TUN_S%.*}.0/24) or (ip6 and dst net ${TUN_S6%::*}::/64)"
n=$(cnt c10_lan "$TUN_NETS")
check "c10: nothing to the tunnel's server $TUN_S / $TUN_S6 on the physical link ($n)" test "$n" = 0 ||
	show c10_lan "$TUN_NETS" 6
n=$(cnt c10_lan "ip and dst host $LAN_HOST")
check "c10: positive control: the LAN host's packets are on the wire ($n)" test "$n" -gt 0
n=$(cnt c10_lan "host $PUB_LOCAL or (arp and arp[24:4] == $(ip2hex $PUB_LOCAL))")
check "c10: nothing to $PUB_LOCAL (a route calls it local) on the wire, not even ARP ($n)" test "$n" = 0
check "c10: the bound probes to $PUB_LOCAL fail" \
	sh -c "! grep -Eq '^b-[a-z0-9]+-pub (answered|connected) ' '$WORK/c10_lan.probes'"
check "c10: ip route get $PUB_LOCAL -> the tunnel, not $C_PHYS" \
	sh -c "ip -n $NS_C route get $PUB_LOCAL | grep -q 'dev $IF_C '"
n=$(grep -E '^[rb]-dns[ut]-landns (answered|connected) ' "$WORK/c10_lan.probes")
check "c10: DNS to the LAN resolver is still refused${n:+: $n}" test -z "$n"
ctl down -i "$IF_C"
check "c10: vpnctl down exits 0" test "$CTL_RC" = 0
wait_for "! client_pid" 5
check "c10: no table after down" sh -c "! ip netns exec $NS_C nft list tables | grep -q vpnd_killswitch"

# -------------------------------------------------------------- 9: lockdown
say "--- 9: kill_switch = lockdown with the tunnel down"
ctl up -c "$WORK/lockdown.conf" -i "$IF_C"
check "c9: vpnctl up (lockdown) exits 0 (got $CTL_RC: $CTL_OUT$CTL_ERR)" test "$CTL_RC" = 0
ctl down -i "$IF_C"
check "c9: vpnctl down exits 0 (got $CTL_RC: $CTL_ERR)" test "$CTL_RC" = 0
ctl status --json -i "$IF_C"
contains "c9: status after down: disconnected" "$CTL_OUT" '"state":"disconnected"'
check "c9: the table stays after down (nft list table inet vpnd_killswitch)" \
	quiet in_c nft list table inet vpnd_killswitch
check "c9: no route into a tunnel is left: $INET goes to $C_PHYS, so the table alone blocks" \
	sh -c "ip -n $NS_C route get $INET | grep -q 'dev $C_PHYS '"
win_open c9_lockdown
spray
kt marked "$C_PHYS" "$MARK" >>"$WORK/c9_lockdown.probes" 2>&1
win_close nowg
no_leak "lockdown, tunnel down (the endpoint not allowed either)"
bound_blocked
check "c9: nothing to the endpoint $S_ADDR:$PORT on the wire ($(cnt c9_lockdown "udp and dst host $S_ADDR and dst port $PORT"))" \
	test "$(cnt c9_lockdown "udp and dst host $S_ADDR and dst port $PORT")" = 0
check "c9: a datagram with the daemon's mark to the endpoint is refused at send ($(grep marked "$WORK/c9_lockdown.probes" | tr '\n' ' '))" \
	sh -c "grep -q '^r-marked ' '$WORK/c9_lockdown.probes' && ! grep -q '^[rb]-marked sent' '$WORK/c9_lockdown.probes'"
n=$(grep -E '^r-(ping4|tcp4|udp4)-inet (answered|connected) ' "$WORK/c9_lockdown.probes")
check "c9: routed probes to the internet fail${n:+: $n}" test -z "$n"

# Positive control: the table alone held it all back.
check "c9: the table deleted by hand" in_c nft delete table inet vpnd_killswitch
win_open c9_open
spray
kt marked "$C_PHYS" "$MARK" >>"$WORK/c9_open.probes" 2>&1
win_close nowg
all_kinds_seen
n=$(cnt c9_open "udp and dst host $S_ADDR and dst port $PORT and udp[12:4] == 0x564b544d")
check "c9: positive control: without the table the marked datagrams to the endpoint are on the wire ($n)" test "$n" -gt 0
answered r-ping4-inet r-tcp4-inet r-dnsu-landns

finish
