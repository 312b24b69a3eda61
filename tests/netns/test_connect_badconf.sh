#!/bin/bash
# test_connect_badconf.sh: every malformed configuration fails with a clear
# message and changes nothing.
#
# Each case writes one bad file (client profile, server list or server
# config) and runs `vpnd -c FILE IFNAME` and, for client profiles, `vpnctl up
# -c FILE`, in the client namespace. Each must:
#   - exit non-zero (1);
#   - print one message naming the file, the line and [section] key where the
#     problem has one, and the problem (asserted substrings, in the form of
#     docs/config.md: FILE:LINE: [SECTION] KEY: what is wrong);
#   - never quote a key (secret or public) or, for endpoints, the endpoint;
#   - leave the namespace as the baseline snapshot taken at the start (see
#     snapshot() in connect_lib.sh), with no vpnd process left (within a
#     second: a failed daemon's child may still be exiting), no tunnel
#     interface, no socket in VPND_RUNDIR and no UAPI socket.
# Cases: the issue's (missing private key, malformed CIDR, unknown server,
# hostname endpoint, permissions wider than 0600 on a file holding a private
# key, bad server.conf) and neighbours of each; a server whose listen port is
# taken (a failure after some start-up steps: they must be undone); a server
# config given to `vpnctl up`; `vpnctl up UNKNOWN-SERVER`. Last, a good
# profile as a control: `vpnd -c` starts, `vpnctl down` restores.
CL_TAG=b
. "$(dirname "$0")/connect_lib.sh"

prereqs
keys
PSK=$(wg genpsk)
topology
snapshot "$NS_C" >"$WORK/baseline"
D=$WORK/conf
mkdir -m 700 "$D"

# A profile with known line numbers: 1 [interface], 2 private_key,
# 3 address, 4 dns, 5 servers, 6 server, then EXTRA lines.
profile() { # FILE SERVERS-FILE [EXTRA...]
	local f=$1 s=$2; shift 2
	printf '%s\n' "[interface]" "private_key = $KC" "address = $TUN_C/32" "dns = $TUN_S" \
		"servers = $s" "server = $SERVER_ID" "$@" >"$f"
	chmod 600 "$f"
}
# A server list: 1 [se-sto-01], 2 endpoint, 3 public_key, 4 country, EXTRA.
servers() { # FILE ENDPOINT [EXTRA...]
	local f=$1 e=$2; shift 2
	printf '%s\n' "[$SERVER_ID]" "endpoint = $e" "public_key = $PS" "country = se" "$@" >"$f"
	chmod 600 "$f"
}
# A server config: 1 [interface], 2 private_key, 3 listen_port, 4 address,
# 5 nat, 6 blank, 7 [peer alice], 8 public_key, 9 allowed_ips, EXTRA.
server_conf() { # FILE [EXTRA...]
	local f=$1; shift
	printf '%s\n' "[interface]" "private_key = $KS" "listen_port = $PORT" "address = $TUN_S/24" \
		"nat = $C_PHYS" "" "[peer alice]" "public_key = $PC" "allowed_ips = $TUN_C/32" "$@" >"$f"
	chmod 600 "$f"
}
edit() { sed -i "$1" "$2"; }

servers "$D/servers.conf" "$S_ADDR:$PORT"

# unchanged LABEL: nothing of the attempt remains.
unchanged() {
	local label=$1 left
	# A daemon's child that reported failure may still be exiting (a
	# zombie, or closing its TUN descriptor): allow it a second.
	wait_for "[ -z \"\$(ip netns pids $NS_C)\" ]" 1
	left=$(ip netns pids "$NS_C" | xargs -r ps -o pid=,args= -p 2>/dev/null)
	check "$label: no process left in the namespace${left:+: $left}" test -z "$left"
	check "$label: no tunnel interface" sh -c "! ip -n $NS_C link show $IF_C >/dev/null 2>&1"
	check "$label: VPND_RUNDIR empty$(ls -A "$RUNDIR" | tr '\n' ' ' | sed 's/^./: &/')" test -z "$(ls -A "$RUNDIR")"
	check "$label: no UAPI socket" test ! -e "/var/run/wireguard/$IF_C.sock"
	snapshot "$NS_C" >"$WORK/now"
	same_snapshot "$label: namespace unchanged (links, addresses, routes, rules, nftables, sysctls, resolv.conf)" \
		"$WORK/baseline" "$WORK/now"
	# Whatever a failing case left behind must not spill into the next one.
	kill_ns_procs "$NS_C"
	ip -n "$NS_C" link del "$IF_C" 2>/dev/null
	rm -f "$RUNDIR"/* "/var/run/wireguard/$IF_C.sock"
}

# no_secrets LABEL TEXT: keys are never quoted back.
no_secrets() {
	local k
	for k in "$KC" "$KS" "$PC" "$PS" "$PSK" "$KG"; do
		case $2 in *"$k"*) bad "$1: the message quotes a key"; return 1 ;; esac
	done
	ok "$1: no key quoted in the message"
}

# run_vpnd LABEL FILE NEEDLE...: vpnd -c FILE must fail saying every NEEDLE.
run_vpnd() {
	local label="$1 (vpnd -c)" f=$2 out rc
	shift 2
	out=$(timeout 20 ip netns exec "$NS_C" env VPND_RUNDIR="$RUNDIR" VPND_STATEDIR="$STATEDIR" "$VPND" -c "$f" "$IF_C" 2>&1 </dev/null)
	rc=$?
	note "$label: says: $(printf '%s' "$out" | head -n 1)"
	check "$label: exits 1 (got $rc)" test "$rc" = 1
	contains "$label: message" "$out" "$@"
	no_secrets "$label" "$out"
	LAST_MSG=$out
	unchanged "$label"
}

# run_ctl LABEL FILE NEEDLE...: vpnctl up -c FILE must fail saying every NEEDLE.
run_ctl() {
	local label="$1 (vpnctl up -c)" f=$2
	shift 2
	ctl up -c "$f" -i "$IF_C"
	check "$label: exits 1 (got $CTL_RC)" test "$CTL_RC" = 1
	contains "$label: message" "$CTL_ERR" "$@"
	no_secrets "$label" "$CTL_OUT$CTL_ERR"
	unchanged "$label"
}

# client_case LABEL FILE NEEDLE...: both runners.
client_case() {
	say "--- $1"
	run_vpnd "$@"
	run_ctl "$@"
}
server_case() {
	say "--- $1"
	run_vpnd "$@"
}

# ----------------------------------------------------------- client profile

f=$D/nokey.conf; profile "$f" "$D/servers.conf"; edit '/^private_key/d' "$f"
client_case "profile without private_key" "$f" "$f:1: [interface] private_key: missing"

f=$D/cidr33.conf; profile "$f" "$D/servers.conf"; edit "s|^address = .*|address = $TUN_C/33|" "$f"
client_case "profile address with prefix /33" "$f" "$f:3: [interface] address: " "\"$TUN_C/33\"" "prefix length"

f=$D/cidr6.conf; profile "$f" "$D/servers.conf"; edit "s|^address = .*|address = $TUN_C/32, fc00::zz/128|" "$f"
client_case "profile address with a malformed IPv6 prefix" "$f" "$f:3: [interface] address: entry 2 \"fc00::zz/128\": not an IP address"

f=$D/cidr0.conf; profile "$f" "$D/servers.conf"; edit "s|^address = .*|address = 10.64.0.2/0|" "$f"
client_case "profile address with prefix length 0" "$f" "$f:3: [interface] address: "

f=$D/unknown.conf; profile "$f" "$D/servers.conf"; edit 's|^server = .*|server = xx-nowhere-09|' "$f"
client_case "profile naming an unknown server" "$f" \
	"$f:6: [interface] server: unknown server \"xx-nowhere-09\"" "$D/servers.conf has no section [xx-nowhere-09]"

servers "$D/hostname.servers" "vpn.example.com:$PORT"
f=$D/hostname.conf; profile "$f" "$D/hostname.servers"
client_case "server list with a hostname endpoint" "$f" \
	"$D/hostname.servers:2: [$SERVER_ID] endpoint: hostnames are refused"
case $LAST_MSG in *vpn.example.com*) bad "hostname endpoint: the message quotes the endpoint" ;;
*) ok "hostname endpoint: the endpoint is not quoted" ;; esac
out=$(ip netns exec "$NS_C" "$VPNCTL" servers -c "$f" 2>&1); rc=$?
check "hostname endpoint (vpnctl servers -c): exits 1 (got $rc)" test "$rc" = 1
contains "hostname endpoint (vpnctl servers -c): same message" "$out" \
	"$D/hostname.servers:2: [$SERVER_ID] endpoint: hostnames are refused"

servers "$D/v6.servers" "2001:db8::1:$PORT"
f=$D/v6.conf; profile "$f" "$D/v6.servers"
client_case "server list with an IPv6 endpoint without brackets" "$f" \
	"$D/v6.servers:2: [$SERVER_ID] endpoint: " "brackets"

f=$D/mode644.conf; profile "$f" "$D/servers.conf"; chmod 644 "$f"
client_case "profile (holds a private key) with mode 0644" "$f" \
	"$f:2: [interface] private_key: mode 0644" "chmod 600 $f"

f=$D/mode640.conf; profile "$f" "$D/servers.conf"; chmod 640 "$f"
client_case "profile (holds a private key) with mode 0640" "$f" \
	"$f:2: [interface] private_key: mode 0640" "chmod 600 $f"

servers "$D/psk.servers" "$S_ADDR:$PORT" "preshared_key = $PSK"; chmod 644 "$D/psk.servers"
f=$D/psk.conf; profile "$f" "$D/psk.servers"
client_case "server list with a preshared key and mode 0644" "$f" \
	"$D/psk.servers:5: [$SERVER_ID] preshared_key: mode 0644" "chmod 600"

servers "$D/gw.servers" "$S_ADDR:$PORT"; chmod 664 "$D/gw.servers"
f=$D/gw.conf; profile "$f" "$D/gw.servers"
client_case "server list writable by its group" "$f" "$D/gw.servers: mode 0664" "write"

f=$D/owner.conf; profile "$f" "$D/servers.conf"; chown 65534 "$f"
client_case "profile owned by another user" "$f" "$f: owned by uid 65534"

f=$D/nolist.conf; profile "$f" "$D/no-such-servers.conf"
client_case "profile naming a server list that does not exist" "$f" "$D/no-such-servers.conf" "No such file"

f=$D/dnsname.conf; profile "$f" "$D/servers.conf"; edit 's|^dns = .*|dns = dns.example.com|' "$f"
client_case "profile dns given as a hostname" "$f" "$f:4: [interface] dns: " "not an IP address"

f=$D/typo.conf; profile "$f" "$D/servers.conf" "kill_swich = on"
client_case "profile with a misspelt key" "$f" "$f:7: [interface] kill_swich: unknown key"

f=$D/mtu.conf; profile "$f" "$D/servers.conf" "mtu = 1000"
client_case "profile mtu out of range" "$f" "$f:7: [interface] mtu: " "out of range"

f=$D/badkey.conf; profile "$f" "$D/servers.conf"; edit 's|^private_key = .*|private_key = c2hvcnQ=|' "$f"
client_case "profile private_key not a key" "$f" "$f:2: [interface] private_key: " "not a key"

# ------------------------------------------------------------ server config

f=$D/s-nokey.conf; server_conf "$f"; edit '/^private_key/d' "$f"
server_case "server.conf without private key" "$f" "$f:1: [interface] private_key: missing"

f=$D/s-hostbits.conf; server_conf "$f"; edit "s|^allowed_ips = .*|allowed_ips = $TUN_C/16|" "$f"
server_case "server.conf allowed_ips with host bits" "$f" \
	"$f:9: [peer alice] allowed_ips: " "has host bits set" "10.64.0.0/16" "$TUN_C/32"

f=$D/s-cidr.conf; server_conf "$f"; edit 's|^address = .*|address = 10.64.0.300/24|' "$f"
server_case "server.conf malformed address" "$f" "$f:4: [interface] address: " "not an IP address"

f=$D/s-aips.conf; server_conf "$f"; edit 's|^allowed_ips = .*|allowed_ips = 10.64.0.2/40|' "$f"
server_case "server.conf allowed_ips prefix /40" "$f" "$f:9: [peer alice] allowed_ips: "

f=$D/s-mode.conf; server_conf "$f"; chmod 644 "$f"
server_case "server.conf (holds a private key) with mode 0644" "$f" \
	"$f:2: [interface] private_key: mode 0644" "chmod 600 $f"

printf '%s\n' "$KS" >"$D/server.key"; chmod 640 "$D/server.key"
f=$D/s-keyfile.conf; server_conf "$f"; edit 's|^private_key = .*|private_key_file = server.key|' "$f"
server_case "server private_key_file with mode 0640" "$f" \
	"$f:2: [interface] private_key_file: " "$D/server.key: mode 0640" "chmod 600 $D/server.key"

f=$D/s-nokeyfile.conf; server_conf "$f"; edit 's|^private_key = .*|private_key_file = missing.key|' "$f"
server_case "server private_key_file that does not exist" "$f" "$f:2: [interface] private_key_file: " "missing.key"

chmod 600 "$D/server.key"
f=$D/s-both.conf; server_conf "$f"; edit '2a private_key_file = server.key' "$f"
server_case "server.conf with private_key and private_key_file" "$f" \
	"$f:3: [interface] private_key_file: " "both set"

f=$D/s-dup.conf; server_conf "$f" "" "[peer bob]" "public_key = $PC" "allowed_ips = 10.64.0.3/32"
server_case "server.conf with two peers with one key" "$f" "$f:12: [peer bob] public_key: " "the same key as [peer alice]"

f=$D/s-overlap.conf; server_conf "$f" "" "[peer bob]" "public_key = $PG" "allowed_ips = $TUN_C/32"
server_case "server.conf with one prefix for two peers" "$f" "$f:13: [peer bob] allowed_ips: " "already allowed for [peer alice]"

f=$D/s-own.conf; server_conf "$f"; edit "s|^public_key = .*|public_key = $PS|" "$f"
server_case "server.conf peer with the server's own key" "$f" "$f:8: [peer alice] public_key: " "own"

f=$D/s-noport.conf; server_conf "$f"; edit '/^listen_port/d' "$f"
server_case "server.conf without listen_port" "$f" "$f:1: [interface] listen_port: missing"

f=$D/s-nat.conf; server_conf "$f"; edit 's|^nat = .*|nat = eth0/1|' "$f"
server_case "server.conf nat not an interface name" "$f" "$f:5: [interface] nat: " "not an interface name"

f=$D/s-typo.conf; server_conf "$f"; edit 's|^listen_port|listen_prot|' "$f"
server_case "server.conf with a misspelt key" "$f" "$f:3: [interface] listen_prot: unknown key"

f=$D/s-section.conf; server_conf "$f" "" "[peers carol]" "public_key = $PG" "allowed_ips = 10.64.0.4/32"
server_case "server.conf with an unknown section" "$f" "$f:11: " "[peers carol]"

# A good file that fails later: the listen port is taken. Start-up steps
# already done (interface, peers, addresses, forwarding, nftables) must be
# undone, before vpnd's exit status says it failed.
f=$D/s-busy.conf; server_conf "$f"
helper portholder ip netns exec "$NS_C" "$PYTHON" -c \
	'import socket,time; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("0.0.0.0",'$PORT')); time.sleep(30)'
wait_for "ip netns exec $NS_C ss -uln | grep -q ':$PORT '" 5 || die "could not take port $PORT"
say "--- server whose listen port is taken"
out=$(timeout 20 ip netns exec "$NS_C" env VPND_STATEDIR="$STATEDIR" "$VPND" -c "$f" "$IF_C" 2>&1 </dev/null); rc=$?
link=$(ip -n "$NS_C" -br link show "$IF_C" 2>/dev/null)
check "listen port taken (vpnd -c): exits 1 (got $rc)" test "$rc" = 1
check "listen port taken (vpnd -c): when vpnd exits, its interface is already gone${link:+: $link}" test -z "$link"
contains "listen port taken (vpnd -c): message" "$out" "$f" "listen port" "in use"
kill "$LAST_HELPER"; wait "$LAST_HELPER" 2>/dev/null
unchanged "listen port taken (vpnd -c)"

# ------------------------------------------------------- wrong file, wrong id

# A server config is not a client profile: vpnctl must refuse it rather
# than start a server (interface, forwarding, masquerade) and lose track.
say "--- server config given to vpnctl up"
server_conf "$D/server.conf"
ctl up -c "$D/server.conf" -i "$IF_C"
check "vpnctl up -c server.conf: fails (got $CTL_RC)" test "$CTL_RC" != 0
contains "vpnctl up -c server.conf: message names the file" "$CTL_ERR" "$D/server.conf"
unchanged "vpnctl up -c server.conf"

# An unknown server named on the command line, with a good profile: a
# refused up, and the daemon it started must not stay behind (it runs only
# while a connection is wanted).  A kill switch state file as an earlier
# run leaves it: without one, vpnd starts blocking (test_connect_kscmd).
say "--- vpnctl up UNKNOWN with a good profile"
printf 'mode=off\nallow_lan=no\nhold=no\nprofile_mode=off\nprofile_allow_lan=no\narp_ignore=-1\n' \
	>"$STATEDIR/killswitch"
chmod 644 "$STATEDIR/killswitch"
profile "$D/good.conf" "$D/servers.conf" "kill_switch = off"
ctl up xx-nowhere-09 -c "$D/good.conf" -i "$IF_C"
check "vpnctl up xx-nowhere-09: exits 1 (got $CTL_RC)" test "$CTL_RC" = 1
contains "vpnctl up xx-nowhere-09: message" "$CTL_ERR" "unknown server \"xx-nowhere-09\"" "$D/servers.conf"
unchanged "vpnctl up xx-nowhere-09"

# ------------------------------------------- run and state directories

# The control socket's directory (VPND_RUNDIR) and the kill switch's
# (VPND_STATEDIR): one that others may write to is refused, left as it was.
for which in VPND_RUNDIR VPND_STATEDIR; do
	say "--- $which writable by others"
	wide=$WORK/wide-$which
	mkdir "$wide" && chmod 0777 "$wide"
	if [ $which = VPND_RUNDIR ]; then rd=$wide sd=$STATEDIR; else rd=$RUNDIR sd=$wide; fi
	out=$(timeout 20 ip netns exec "$NS_C" env VPND_RUNDIR="$rd" VPND_STATEDIR="$sd" \
		"$VPND" -c "$D/good.conf" "$IF_C" 2>&1 </dev/null); rc=$?
	check "$which 0777: vpnd -c exits 1 (got $rc)" test "$rc" = 1
	contains "$which 0777: message" "$out" "$wide has mode 0777" "refusing"
	check "$which 0777: the directory is left 0777 and empty" \
		test "$(stat -c %a "$wide")" = 777 -a -z "$(ls -A "$wide")"
	unchanged "$which 0777"
done

# Neither exists yet, under the tests' umask 077: both are made 0755, and
# this first run of a client says nothing at error level.
say "--- VPND_RUNDIR and VPND_STATEDIR that do not exist yet"
rd=$WORK/new-run sd=$WORK/new-state
out=$(umask 077; timeout 20 ip netns exec "$NS_C" env VPND_RUNDIR="$rd" VPND_STATEDIR="$sd" \
	"$VPND" -c "$D/good.conf" "$IF_C" 2>&1 </dev/null); rc=$?
check "new directories: vpnd -c exits 0 ($out)" test "$rc" = 0
check "new directories: VPND_RUNDIR made 0755 root" test "$(stat -c '%a %U' "$rd")" = "755 root"
check "new directories: VPND_STATEDIR made 0755 root" test "$(stat -c '%a %U' "$sd")" = "755 root"
check "new directories: control socket in the new VPND_RUNDIR" test -S "$rd/$IF_C.sock"
check_not "new directories: a first run prints no ERROR" \
	sh -c 'printf "%s\n" "$1" | grep -q ERROR' _ "$out"
timeout 20 ip netns exec "$NS_C" env VPND_RUNDIR="$rd" VPND_STATEDIR="$sd" \
	"$VPNCTL" down -i "$IF_C" >/dev/null 2>&1
check "new directories: vpnctl down ends the daemon" wait_for "[ -z \"\$(ip netns pids $NS_C)\" ]" 5
unchanged "new directories, after down"

# --------------------------------------------------------------- control

say "--- control: a good profile"
out=$(timeout 20 ip netns exec "$NS_C" env VPND_RUNDIR="$RUNDIR" VPND_STATEDIR="$STATEDIR" "$VPND" -c "$D/good.conf" "$IF_C" 2>&1 </dev/null); rc=$?
check "good profile: vpnd -c exits 0 ($out)" test "$rc" = 0
check "good profile: control socket ready" test -S "$RUNDIR/$IF_C.sock"
ctl down -i "$IF_C"
check "good profile: vpnctl down exits 0 (got $CTL_RC)" test "$CTL_RC" = 0
wait_for "[ -z \"\$(ip netns pids $NS_C)\" ]" 5
unchanged "good profile after down"
finish
