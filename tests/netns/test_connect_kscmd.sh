#!/bin/bash
# test_connect_kscmd.sh: the kill switch as the user drives it (issue 5):
# `vpnctl killswitch on|off|lockdown|status` and `--allow-lan`, its state
# file ($VPND_STATEDIR/killswitch), what `vpnctl status` says about the
# kernel, the boot unit's `vpnd --killswitch-boot`, a missing or corrupt
# state file, and arp_ignore across a crash.  nft(8), sysctl(8) and
# tcpdump on the client's physical link are the referees; the leak matrix
# itself is test_connect_killswitch.sh's.
#
#   - no daemon, no state file: status says so, the kernel unchecked;
#   - lockdown set with no daemon: vpnd starts, blocks (nft lists the
#     table; probes to the internet are not on the wire), stays to guard
#     it, and the state file says lockdown;
#   - the table deleted by hand: status says the kernel differs;
#   - on, while disconnected: no table, the daemon goes;
#   - up: tunnel rules, kernel matches, hold=yes and arp_ignore raised in
#     the file; --allow-lan yes while up reaches the kernel (the LAN
#     ranges) and the file; off while up removes the table, on brings it
#     back, the tunnel carries traffic all along;
#   - SIGKILL while up: the table stays; --killswitch-boot leaves a table
#     alone, and after a "reboot" (no table) puts the block back because
#     the file says hold; the next up takes over, down restores arp_ignore
#     and removes the table;
#   - a corrupt, a missing and a world-writable state file each make a
#     starting daemon (and the boot unit) block until the user's word;
#   - a profile edited after vpnctl set the mode wins; SIGTERM while up
#     keeps blocking in lockdown, and leaves nothing with the mode off;
#   - one client daemon per host: a second one is refused, the first's
#     table and arp_ignore untouched;
#   - sixteen changes in a row (a daemon that stays, then one that goes):
#     none finds the last one half gone;
#   - bad input: unknown modes and values are refused, nothing changes.
CL_TAG=m
. "$(dirname "$0")/connect_lib.sh"

prereqs
keys
topology
write_helpers
start_internet
write_servers "$WORK/servers.conf"
write_server_conf "$WORK/server.conf"
start_vpnd_server "$WORK/server.conf"
PROFILE=$WORK/client.conf
write_profile "$PROFILE" "$TUN_C/32"
STATE=$STATEDIR/killswitch
LEAK_FILTER="not (udp and host $S_ADDR and port $PORT) and not ($LINK_NOISE)"

has_table() { in_c nft list tables | grep -qx 'table inet vpnd_killswitch'; }
table_text() { in_c nft list table inet vpnd_killswitch 2>/dev/null; }
state_has() { grep -qx "$1" "$STATE" 2>/dev/null; }
arp_all() { in_c sysctl -n net.ipv4.conf.all.arp_ignore; }
boot() { timeout 20 ip netns exec "$NS_C" env VPND_STATEDIR="$STATEDIR" "$VPND" --killswitch-boot 2>&1; }
json_get() { printf '%s' "$CTL_OUT" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$1"; }

# probes_blocked LABEL: DNS, UDP, TCP and ping to the internet host while a
# capture of everything but the tunnel's UDP runs: nothing may appear.
probes_blocked() {
	capture_start leak "$LEAK_FILTER"
	probe spray "$INET" "$INET_DNS" "$INET6" >/dev/null 2>&1
	quiet in_c ping -c 1 -W 1 "$INET"
	quiet in_c ping -6 -c 1 -W 1 "$INET6"
	capture_stop leak
	check "$1: nothing of the probes on the physical link ($CAP_COUNT packets${CAP_TEXT:+: $CAP_TEXT})" test "$CAP_COUNT" = 0
}

# start_client: vpnd for the profile, started directly (as a service would).
start_client() {
	timeout 20 ip netns exec "$NS_C" env VPND_RUNDIR="$RUNDIR" VPND_STATEDIR="$STATEDIR" \
		"$VPND" --client -c "$PROFILE" "$IF_C" >"$WORK/start.out" 2>&1 </dev/null
}

# ------------------------------------------------------------ no daemon

say "--- no daemon, no state file"
ctl killswitch status -i "$IF_C"
check "killswitch status without vpnd: exit 0 (got $CTL_RC)" test "$CTL_RC" = 0
contains "killswitch status without vpnd: says the kernel is unchecked and why" "$CTL_OUT" "unchecked" "no state file"
check_not "killswitch status without vpnd: started nothing" client_pid
check_not "no table yet" has_table

# ------------------------------------------------------------ lockdown

say "--- lockdown with no daemon running"
ctl killswitch lockdown -c "$PROFILE" -i "$IF_C" --json
check "killswitch lockdown: exit 0 ($CTL_ERR)" test "$CTL_RC" = 0
check "killswitch lockdown: reply says lockdown" test "$(json_get kill_switch)" = lockdown
check "killswitch lockdown: rules block" test "$(json_get kill_switch_rules)" = block
check "killswitch lockdown: kernel matches" test "$(json_get kill_switch_kernel)" = matches
check "lockdown: nft lists the table" has_table
check "lockdown: the daemon stays to guard it" wait_for "client_pid >/dev/null" 3
check "lockdown: the state file says mode=lockdown" state_has mode=lockdown
check "lockdown: the state file is 0644 root" test "$(stat -c '%a %U' "$STATE")" = "644 root"
check "lockdown: the table has no tunnel or server rule" sh -c "! ip netns exec $NS_C nft list table inet vpnd_killswitch | grep -q 'udp dport $PORT'"
probes_blocked "lockdown, disconnected"

ctl status -i "$IF_C"
contains "vpnctl status: mode and kernel" "$CTL_OUT" "kill switch:" "lockdown" "block, kernel matches"

say "--- the table deleted by hand"
in_c nft delete table inet vpnd_killswitch
ctl killswitch -i "$IF_C" --json
check "killswitch status: kernel differs once the table is gone" test "$(json_get kill_switch_kernel)" = differs
ctl status -i "$IF_C" --json
check "vpnctl status --json: kill_switch_kernel differs" test "$(json_get kill_switch_kernel)" = differs

say "--- on, while disconnected"
ctl killswitch on -i "$IF_C"
check "killswitch on: exit 0 ($CTL_ERR)" test "$CTL_RC" = 0
contains "killswitch on: reply" "$CTL_OUT" "kill switch:" "on" "none, kernel matches"
check_not "on, disconnected: no table" has_table
check "on, disconnected: the daemon goes (nothing to guard)" wait_for "! client_pid" 5
check "the state file says mode=on, hold=no" sh -c "grep -qx mode=on $STATE && grep -qx hold=no $STATE"

# ------------------------------------------------------------ up

say "--- up, then changes while up"
ARP_BEFORE=$(arp_all)
ctl up -c "$PROFILE" -i "$IF_C"
check "up: exit 0 ($CTL_ERR)" test "$CTL_RC" = 0
ctl status -i "$IF_C" --json
check "up: status rules tunnel" test "$(json_get kill_switch_rules)" = tunnel
check "up: status kernel matches" test "$(json_get kill_switch_kernel)" = matches
check "up: status allow_lan no" test "$(json_get allow_lan)" = no
check "up: the state file says hold=yes" state_has hold=yes
check "up: arp_ignore all raised to 1 (was $ARP_BEFORE)" test "$(arp_all)" = 1
check "up: the state file keeps the old arp_ignore" state_has "arp_ignore=$ARP_BEFORE"
check "up: ping through the tunnel" quiet in_c ping -c 2 -i 0.2 -W 2 "$INET"

ctl killswitch --allow-lan yes -i "$IF_C" --json
check "--allow-lan yes while up: exit 0 ($CTL_ERR)" test "$CTL_RC" = 0
check "--allow-lan yes: reply allow_lan yes" test "$(json_get allow_lan)" = yes
check "--allow-lan yes: kernel matches" test "$(json_get kill_switch_kernel)" = matches
contains "--allow-lan yes: the table lets the LAN through" "$(table_text)" "192.168.0.0/16" "10.0.0.0/8"
check "--allow-lan yes: state file" state_has allow_lan=yes
check "--allow-lan yes: routing throws 192.168.0.0/16 back to main" \
	sh -c "ip -n $NS_C route show table all | grep -q 'throw 192.168.0.0/16'"
ctl killswitch --allow-lan no -i "$IF_C"
check "--allow-lan no: the table is still there" has_table
check "--allow-lan no: the table no longer lets the LAN through" sh -c "! ip netns exec $NS_C nft list table inet vpnd_killswitch | grep -q 192.168.0.0/16"

ctl killswitch off -i "$IF_C"
check "off while up: exit 0 ($CTL_ERR)" test "$CTL_RC" = 0
check_not "off while up: no table" has_table
check "off while up: the state file says hold=no" state_has hold=no
check "off while up: still connected" quiet in_c ping -c 2 -i 0.2 -W 2 "$INET"
ctl killswitch on -i "$IF_C"
check "on again while up: the table is back" has_table
check "on again while up: still connected" quiet in_c ping -c 2 -i 0.2 -W 2 "$INET"
probes_blocked "on, connected (probes out of the physical link)"

say "--- one client daemon per host"
ctl killswitch on -c "$PROFILE" -i "${IF_C}x"
check "a second client daemon (another interface) is refused (exit $CTL_RC)" test "$CTL_RC" = 1
contains "a second client daemon: says why" "$CTL_ERR" "another vpnd client runs on this host and owns the kill switch"
check "a second client daemon: the table of the first stays" has_table
check "a second client daemon: the first's arp_ignore stays raised" test "$(arp_all)" = 1
check "a second client daemon: its interface is gone" sh -c "! ip -n $NS_C link show ${IF_C}x 2>/dev/null"
ctl status -i "$IF_C" --json
check "a second client daemon: the first still says its kernel matches" test "$(json_get kill_switch_kernel)" = matches

# ------------------------------------------------------------ crash, boot

say "--- SIGKILL while up, boot unit, restart"
PID=$(client_pid)
kill -KILL "$PID"
wait_for "! client_pid" 5
check "after SIGKILL: the table stays" has_table
check "after SIGKILL: the state file says hold=yes" state_has hold=yes
probes_blocked "after SIGKILL"
out=$(boot); rc=$?
check "--killswitch-boot with a table in place: exit 0 ($out)" test "$rc" = 0
contains "--killswitch-boot leaves a table it finds alone" "$out" "left as it is"
in_c nft delete table inet vpnd_killswitch    # what a reboot does
out=$(boot); rc=$?
check "--killswitch-boot after a reboot (hold=yes): exit 0 ($out)" test "$rc" = 0
check "--killswitch-boot: blocks" has_table
probes_blocked "boot unit, hold from a crash"
check "--killswitch-boot: no server rule" sh -c "! ip netns exec $NS_C nft list table inet vpnd_killswitch | grep -q 'udp dport $PORT'"

ctl up -c "$PROFILE" -i "$IF_C"
check "restart: up exits 0 ($CTL_ERR)" test "$CTL_RC" = 0
check "restart: ping through the tunnel" quiet in_c ping -c 2 -i 0.2 -W 2 "$INET"
ctl down -i "$IF_C"
check "down: exit 0" test "$CTL_RC" = 0
wait_for "! client_pid" 5
check_not "down (mode on): no table" has_table
check "down: arp_ignore back to $ARP_BEFORE" test "$(arp_all)" = "$ARP_BEFORE"
check "down: the state file says hold=no, arp_ignore=-1" sh -c "grep -qx hold=no $STATE && grep -qx arp_ignore=-1 $STATE"
out=$(boot)
check_not "--killswitch-boot with mode on and no hold: does not block ($out)" has_table

say "--- the boot unit as installed"
make -s -C "$REPO" install DESTDIR="$WORK/inst" PREFIX=/usr >/dev/null 2>&1
UNIT=$WORK/inst/usr/lib/systemd/system/vpnd-killswitch.service
check "make install puts the unit in place" test -f "$UNIT"
contains "the unit runs the installed vpnd --killswitch-boot, before the network, after nftables' flush" \
	"$(cat "$UNIT" 2>/dev/null)" "ExecStart=/usr/bin/vpnd --killswitch-boot" "Before=network-pre.target" \
	"After=local-fs.target nftables.service" "DefaultDependencies=no" "WantedBy=sysinit.target"
# Verified where its binary is (DESTDIR is not where it would run).
mkdir -p "$WORK/unit"
sed "s|^ExecStart=/usr/bin/|ExecStart=$WORK/inst/usr/bin/|" "$UNIT" >"$WORK/unit/vpnd-killswitch.service"
out=$(systemd-analyze verify "$WORK/unit/vpnd-killswitch.service" 2>&1)
check "systemd-analyze verify finds nothing wrong with it${out:+: $out}" test -z "$out"

# ------------------------------------------------------------ bad state files

# bad_state LABEL: the state file was made bad; a starting daemon blocks
# until the user's word, and so does the boot unit.
bad_state() {
	local label=$1
	out=$(boot)
	check "$label: --killswitch-boot blocks ($out)" has_table
	in_c nft delete table inet vpnd_killswitch
	start_client; rc=$?
	check "$label: vpnd starts (exit 0: $(cat "$WORK/start.out"))" test "$rc" = 0
	check "$label: the starting daemon blocks" has_table
	ctl status -i "$IF_C" --json
	check "$label: status says held" test "$(json_get kill_switch_held)" = yes
	check "$label: status rules block" test "$(json_get kill_switch_rules)" = block
	probes_blocked "$label"
	ctl down -i "$IF_C"
	check "$label: down ends the hold (exit $CTL_RC)" wait_for "! client_pid" 5
	check_not "$label: then no table (mode on)" has_table
	check "$label: the state file is good again" state_has mode=on
}

say "--- corrupt state file"
printf 'mode=on\nhold=maybe\n' >"$STATE"; chmod 644 "$STATE"
bad_state "corrupt state file"
say "--- missing state file"
rm -f "$STATE"
bad_state "missing state file"
# A file that an earlier daemon wrote and that is gone is an alarm (a
# first run, with no trace of any daemon, is not: test_connect_updown).
contains "missing state file: the starting daemon says so at error level" \
	"$(cat "$WORK/start.out")" "ERROR" "no kill switch state file in $STATEDIR"
say "--- world-writable state file"
chmod 666 "$STATE"
bad_state "world-writable state file"

# ------------------------------------------------------------ profile wins

say "--- the profile edited after vpnctl set the mode"
ctl killswitch lockdown -c "$PROFILE" -i "$IF_C"
check "lockdown set" state_has mode=lockdown
ctl down -i "$IF_C"   # lockdown: the table stays, the daemon too
check "down in lockdown: the table stays" has_table
check "down in lockdown: the daemon stays" quiet client_pid
PID=$(client_pid); kill -TERM "$PID"; wait_for "! client_pid" 5
check "SIGTERM in lockdown: the table stays" has_table
write_profile "$PROFILE" "$TUN_C/32" "kill_switch = off"
ctl killswitch --allow-lan no -c "$PROFILE" -i "$IF_C" --json
check "profile now says off: it wins over the older lockdown" test "$(json_get kill_switch)" = off
check_not "off: no table" has_table
check "off: state file mode=off" state_has mode=off
ctl up -c "$PROFILE" -i "$IF_C"
check "off: up exits 0 ($CTL_ERR)" test "$CTL_RC" = 0
PID=$(client_pid); kill -TERM "$PID"; wait_for "! client_pid" 5
check_not "off: SIGTERM while up leaves no table (there is no kill switch to keep)" has_table
write_profile "$PROFILE" "$TUN_C/32"

# ------------------------------------------------------------ bad input

say "--- changes in a row, each starting a daemon that goes (or stays)"
fails=0
for i in 1 2 3 4 5 6 7 8; do
	ctl killswitch lockdown -c "$PROFILE" -i "$IF_C"; [ "$CTL_RC" = 0 ] || fails=$((fails + 1))
	ctl killswitch on -c "$PROFILE" -i "$IF_C"; [ "$CTL_RC" = 0 ] || fails=$((fails + 1))
done
check "16 changes in a row, alternately staying and going: all succeed ($fails failed)" test "$fails" = 0
check "after the last (on, disconnected): no table, no daemon" sh -c "! ip netns exec $NS_C nft list tables | grep -q vpnd_killswitch"

say "--- bad input"
cp "$STATE" "$WORK/state.before"
ctl killswitch sideways -i "$IF_C"
check "killswitch sideways: usage error, exit 2 (got $CTL_RC)" test "$CTL_RC" = 2
contains "killswitch sideways: message" "$CTL_ERR" "unknown mode 'sideways'"
ctl killswitch on --allow-lan maybe -i "$IF_C"
check "--allow-lan maybe: exit 2 (got $CTL_RC)" test "$CTL_RC" = 2
ctl killswitch on extra -i "$IF_C"
check "an extra argument: exit 2 (got $CTL_RC)" test "$CTL_RC" = 2
check_not "bad input started no daemon" client_pid
check "bad input left the state file alone" cmp -s "$STATE" "$WORK/state.before"
# The daemon refuses what vpnctl would not send.
start_client
cp "$STATE" "$WORK/state.before"
reply=$(printf 'killswitch=1\nmode=open\n\n' | timeout 5 ip netns exec "$NS_C" "$PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.stdin.buffer.read())
out = b""
while not out.endswith(b"\n\n"):
    d = s.recv(4096)
    if not d: break
    out += d
sys.stdout.write(out.decode())' "$RUNDIR/$IF_C.sock")
contains "control: mode=open refused with its reason" "$reply" "errno=-22" "mode: 'open' is not off, on or lockdown"
reply=$(printf 'killswitch=1\nallow_lan=1\n\n' | timeout 5 ip netns exec "$NS_C" "$PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.stdin.buffer.read())
print(s.recv(4096).decode())' "$RUNDIR/$IF_C.sock")
contains "control: allow_lan=1 refused" "$reply" "errno=-22" "allow_lan"
check "refused requests left the state file alone" cmp -s "$STATE" "$WORK/state.before"
ctl down -i "$IF_C"
wait_for "! client_pid" 5
finish
