#!/bin/bash
# test_connect_signed.sh: signed server lists (issue 11, TunnelCrack's
# ServerIP defence).
#
#   1. `vpnctl servers keygen` makes a key pair (the secret key file new, mode
#      0600, never overwritten); `vpnctl servers sign` writes LIST.sig;
#   2. a profile with servers_key: the signed list loads (vpnctl servers -c,
#      and vpnd for up);
#   3. while that daemon runs, the list is replaced by: the list with one
#      byte changed, the list signed by another key, the list without .sig, a
#      malformed .sig, an expired list (correctly signed): vpnctl servers -c
#      refuses each with its message (exit 1); a new daemon refuses to start
#      on it (up exits 1, no daemon left); the running daemon keeps its list
#      and its connection.
CL_TAG=z
. "$(dirname "$0")/connect_lib.sh"

prereqs
keys
topology
write_server_conf "$WORK/server.conf"
start_vpnd_server "$WORK/server.conf"
LIST=$WORK/servers.conf
write_profile "$WORK/client.conf" "$TUN_C/32" "kill_switch = off"

say "--- keygen and sign"
ctl servers keygen -k "$WORK/list.key"
check "keygen exits 0 (got $CTL_RC: $CTL_ERR)" test "$CTL_RC" = 0
PUB=$CTL_OUT
check "keygen prints a 32-byte base64 key ($PUB)" test "$(printf '%s' "$PUB" | base64 -d 2>/dev/null | wc -c)" = 32
check "the secret key file is mode 0600" test "$(stat -c %a "$WORK/list.key")" = 600
cp "$WORK/list.key" "$WORK/list.key.orig"
ctl servers keygen -k "$WORK/list.key"
check "keygen refuses to overwrite a key (exit $CTL_RC)" test "$CTL_RC" = 1
contains "keygen says the file exists" "$CTL_ERR" "File exists"
check "the existing key is unchanged" cmp -s "$WORK/list.key" "$WORK/list.key.orig"
ctl servers keygen -k "$WORK/other.key"
OTHER_PUB=$CTL_OUT

write_list() { # FILE EXPIRES
	write_servers "$1"
	printf '\n[list]\nexpires = %s\n' "$2" >>"$1"
}
write_list "$LIST" 2999-01-01T00:00:00Z
ctl servers sign -k "$WORK/list.key" "$LIST"
check "sign exits 0 (got $CTL_RC: $CTL_ERR)" test "$CTL_RC" = 0
check "sign wrote $LIST.sig" test -s "$LIST.sig"
check "the signature is 64 bytes of base64" test "$(base64 -d "$LIST.sig" 2>/dev/null | wc -c)" = 64
chmod 0644 "$WORK/list.key"
ctl servers sign -k "$WORK/list.key" "$LIST"
check "sign refuses a secret key file others may read (exit $CTL_RC)" test "$CTL_RC" = 1
contains "sign says why" "$CTL_ERR" "chmod 600"
chmod 0600 "$WORK/list.key"
cp "$LIST" "$WORK/good.conf"; cp "$LIST.sig" "$WORK/good.conf.sig"

say "--- a profile with servers_key"
write_profile "$WORK/client.conf" "$TUN_C/32" "kill_switch = off" "servers_key = $PUB"
ctl servers -c "$WORK/client.conf"
check "servers -c accepts the signed list (exit $CTL_RC: $CTL_ERR)" test "$CTL_RC" = 0
contains "servers -c lists both servers" "$CTL_OUT" "$SERVER_ID" "wg-go-01"
ctl up -c "$WORK/client.conf" -i "$IF_C"
check "up with the signed list exits 0 (got $CTL_RC: $CTL_ERR)" test "$CTL_RC" = 0
contains "up connected to $SERVER_ID" "$CTL_OUT" "connected to $SERVER_ID ($S_ADDR:$PORT)"

# refused LABEL MESSAGE: the list as it stands now is refused by vpnctl and
# by a new daemon; the running one keeps its list and its connection.
refused() {
	local label=$1 msg=$2
	ctl servers -c "$WORK/client.conf"
	check "$label: servers -c exits 1 (got $CTL_RC)" test "$CTL_RC" = 1
	contains "$label: servers -c says why" "$CTL_ERR" "$msg"
	check_not "$label: servers -c lists nothing" test -n "$CTL_OUT"
	ctl servers -i "$IF_C"
	check "$label: the running daemon still answers servers (exit $CTL_RC)" test "$CTL_RC" = 0
	contains "$label: ... with its old list" "$CTL_OUT" "$SERVER_ID" "wg-go-01" "$S_ADDR:$PORT"
	ctl status --json -i "$IF_C"
	contains "$label: ... and its connection" "$CTL_OUT" '"state":"connected"' "\"server\":\"$SERVER_ID\""
	# A second daemon on another interface: refused before it changes
	# anything (it would also find the kill switch lock taken, but the list
	# is read first).
	ctl up -c "$WORK/client.conf" -i "${IF_C}x"
	check "$label: a new daemon refuses to start (exit $CTL_RC)" test "$CTL_RC" = 1
	contains "$label: ... saying why" "$CTL_ERR" "$msg"
	check_not "$label: ... and left no socket" test -e "$RUNDIR/${IF_C}x.sock"
	cp "$WORK/good.conf" "$LIST"; cp "$WORK/good.conf.sig" "$LIST.sig"
}

sed -i 's/^city = Stockholm$/city = Stockholn/' "$LIST"
refused "one byte changed" "servers.conf: refused: the signature in $LIST.sig does not match"

ctl servers sign -k "$WORK/other.key" "$LIST"
check "signed with the other key" test "$CTL_RC" = 0
refused "another key" "does not match: the list was changed after it was signed, or signed by a key other than the profile's servers_key"

rm -f "$LIST.sig"
refused "no .sig" "the profile's servers_key requires a signed list, and $LIST.sig cannot be opened: No such file or directory"

printf 'this is not a signature\n' >"$LIST.sig"
refused "a malformed .sig" "$LIST.sig is not a signature"

write_list "$LIST" 2020-06-01T12:00:00Z
ctl servers sign -k "$WORK/list.key" "$LIST"
check "sign refuses a list that has expired (exit $CTL_RC)" test "$CTL_RC" = 1
contains "sign says why" "$CTL_ERR" "not signed:" "[list] expires: the list expired at 2020-06-01T12:00:00Z"
# A list signed while it was good, and then outlived.
SOON=$(date -u -d '+2 seconds' +%Y-%m-%dT%H:%M:%SZ)
write_list "$LIST" "$SOON"
ctl servers sign -k "$WORK/list.key" "$LIST"
check "a list good for 2 more seconds is signed with the right key" test "$CTL_RC" = 0
sleep 3
refused "expired" "[list] expires: the list expired at $SOON"

write_profile "$WORK/client2.conf" "$TUN_C/32" "kill_switch = off" "servers_key = $OTHER_PUB"
ctl servers -c "$WORK/client2.conf"
check "a profile naming the other key refuses the good list (exit $CTL_RC)" test "$CTL_RC" = 1

ctl down -i "$IF_C"
check "down exits 0" test "$CTL_RC" = 0
check "the client daemon has exited" wait_for "! client_pid" 5
finish
