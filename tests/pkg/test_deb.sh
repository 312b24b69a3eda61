#!/bin/bash
# test_deb.sh: the Debian package.  `make deb` builds it with
# dpkg-buildpackage and leaves the tree as it was; lintian reports no
# error; `dpkg -i` installs vpnd, vpnctl, the four units (none enabled),
# the examples, the man pages, the bash completion and a system group
# vpnd; each installed unit passes `systemd-analyze verify` and scores
# 2.0 or below offline; `dpkg -r` then `dpkg -P` leave the machine as it
# was (every path named like vpnd, the group files, systemd's state).
#
# It installs on this machine: it refuses to run when a vpnd package is
# installed already, runs one at a time (a lock), and purges on any exit.
. "$(dirname "$0")/lib.sh"
need_root

exec 9>/run/lock/vpnd-pkg-test.lock
flock -w 300 9 || { say "FAIL - another package test holds the lock"; exit 1; }
if dpkg-query -W -f='${Status}' vpnd 2>/dev/null | grep -q installed; then
	say "FAIL - a vpnd package is installed on this machine already: not touching it"
	exit 1
fi

# dpkg_retry ARGS: dpkg, waiting while another dpkg or apt holds the lock.
dpkg_retry() {
	local i out rc
	for ((i = 0; i < 60; i++)); do
		out=$(dpkg "$@" 2>&1); rc=$?
		case $out in *"lock"*"held"*|*"locked by another"*) sleep 2; continue ;; esac
		printf '%s\n' "$out"
		return $rc
	done
	printf '%s\n' "$out"; return 1
}

# The machine's state as far as vpnd could touch it.
snapshot() {
	find /etc /lib /usr/lib /usr/bin /usr/sbin /usr/share/doc /usr/share/man \
	     /usr/share/bash-completion /var/lib/systemd /var/lib/dpkg/info /var/lib/vpnd \
	     /run/vpnd -xdev \( -iname '*vpnd*' -o -path /var/lib/vpnd \) 2>/dev/null | sort
	echo "group: $(getent group vpnd)"
	sha256sum /etc/group /etc/gshadow /etc/passwd /etc/shadow
	find /etc/systemd/system -name '*vpnd*' 2>/dev/null
}

BEFORE=$(snapshot)
tree_before=$(cd "$REPO" && git status --porcelain 2>/dev/null)

out=$(make -s -C "$REPO" deb 2>&1)
check "make deb: exit 0" test $? = 0
DEB=$(ls "$REPO"/build/vpnd_*_*.deb 2>/dev/null | head -1)
check "make deb: build/vpnd_VERSION_ARCH.deb ($DEB)" test -s "$DEB"
ver=$(sed -n 's/.*VPN_VERSION "\(.*\)"/\1/p' "$REPO/include/vpn/version.h")
contains "the package's version is vpnd's ($ver)" "$(dpkg-deb -f "$DEB" Version 2>&1)" "$ver"
tree_after=$(cd "$REPO" && git status --porcelain 2>/dev/null)
check "dpkg-buildpackage left the tree as it was" test "$tree_before" = "$tree_after"

out=$(lintian --fail-on error "$DEB" 2>&1); rc=$?
errors=$(printf '%s\n' "$out" | grep '^E:')
check "lintian: no error (exit $rc, $(printf '%s\n' "$out" | grep -c '^W:') warnings)${errors:+: $errors}" \
	test "$rc" = 0 -a -z "$errors"

on_exit 'dpkg-query -W vpnd >/dev/null 2>&1 && dpkg_retry -P vpnd >/dev/null'
out=$(dpkg_retry -i "$DEB"); rc=$?
check "dpkg -i: exit 0$([ $rc = 0 ] || printf ' (exit %s: %s)' $rc "$out")" test $rc = 0
for f in /usr/bin/vpnd /usr/bin/vpnctl /usr/share/man/man8/vpnd.8.gz /usr/share/man/man8/vpnctl.8.gz \
	 /usr/share/man/man5/vpnd.conf.5.gz /usr/share/bash-completion/completions/vpnctl \
	 /usr/share/doc/vpnd/examples/client.conf /usr/share/doc/vpnd/examples/server.conf \
	 /usr/share/doc/vpnd/examples/servers.conf /usr/share/doc/vpnd/copyright; do
	check "installed: $f" test -s "$f"
done
check "vpnd runs from /usr/bin" sh -c "/usr/bin/vpnd --version | grep -qx 'vpnd v$ver'"
gid=$(getent group vpnd | cut -d: -f3)
check "a system group vpnd (gid $gid)" sh -c "[ -n '$gid' ] && [ '$gid' -lt 1000 ]"
check "bash completion: vpnctl k<TAB> gives killswitch" \
	bash -c '. /usr/share/bash-completion/completions/vpnctl; COMP_WORDS=(vpnctl k); COMP_CWORD=1; _vpnctl; [ "${COMPREPLY[*]}" = killswitch ]'
check "no unit enabled" test -z "$(find /etc/systemd/system -name '*vpnd*' 2>/dev/null)"
for u in $UNITS; do
	f=/lib/systemd/system/$u
	check "installed unit $u" test -s "$f"
	for p in $(exec_paths "$f"); do
		check "$u runs $p, installed by the package" sh -c "dpkg -S '$p' >/dev/null 2>&1 && [ -x '$p' ]"
	done
	out=$(systemd-analyze verify "$f" 2>&1)
	check "systemd-analyze verify $u (its man pages too): clean${out:+: $out}" test -z "$out"
	out=$(systemd-analyze security --offline=yes --no-pager "$f" 2>&1)
	e=$(exposure "$out")
	check "systemd-analyze security --offline=yes $u: $e <= $MAX_EXPOSURE" at_most "$e" "$MAX_EXPOSURE"
done

out=$(dpkg_retry -r vpnd)
check "dpkg -r: exit 0" test $? = 0
check "removed: no /usr/bin/vpnd, no units" sh -c '! [ -e /usr/bin/vpnd ] && ! ls /lib/systemd/system/vpnd* 2>/dev/null'
out=$(dpkg_retry -P vpnd)
check "dpkg -P: exit 0" test $? = 0
check "purged: no group vpnd" sh -c '! getent group vpnd'
AFTER=$(snapshot)
check "purged: the machine is as before$( [ "$BEFORE" = "$AFTER" ] || printf ': %s' "$(diff <(echo "$BEFORE") <(echo "$AFTER") | tail -5)")" \
	test "$BEFORE" = "$AFTER"
finish
