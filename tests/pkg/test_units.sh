#!/bin/bash
# test_units.sh: the systemd units as `make install` puts them: each runs
# the installed programs (Exec*= paths under BINDIR, no @BINDIR@ left),
# the three daemons are Type=notify with a watchdog, `systemd-analyze
# verify` finds nothing wrong, and `systemd-analyze security --offline`
# scores each at 2.0 or below; PREFIX=/usr/local moves the paths with it.
. "$(dirname "$0")/lib.sh"

for prefix in /usr /usr/local; do
	dest=$WORK/root${prefix//\//-}
	out=$(make -s -C "$REPO" install DESTDIR="$dest" PREFIX="$prefix" 2>&1)
	check "make install PREFIX=$prefix: exit 0${out:+ ($out)}" test $? = 0
	for f in bin/vpnd bin/vpnctl share/man/man8/vpnd.8 share/man/man8/vpnctl.8 \
		 share/man/man5/vpnd.conf.5 share/bash-completion/completions/vpnctl; do
		check "PREFIX=$prefix: $prefix/$f installed" test -s "$dest$prefix/$f"
	done
	for u in $UNITS; do
		f=$dest$prefix/lib/systemd/system/$u
		check "PREFIX=$prefix: unit $u installed, 0644" test "$(stat -c %a "$f" 2>/dev/null)" = 644
		check "$u: no @BINDIR@ left" sh -c "! grep -q '@BINDIR@' '$f'"
		paths=$(exec_paths "$f")
		check "$u: runs something" test -n "$paths"
		for p in $paths; do
			case $p in
			"$prefix/bin/vpnd"|"$prefix/bin/vpnctl")
				check "$u: $p is installed and executable" test -x "$dest$p" ;;
			*)	check "$u: Exec path $p is one of the installed programs" false ;;
			esac
		done
	done
done

root=$WORK/root-usr
sys=$root/usr/lib/systemd/system
for u in vpnd@.service vpnd-server@.service vpnd-client.service; do
	contains "$u: Type=notify, a watchdog, restarts on failure" "$(cat "$sys/$u")" \
		"Type=notify" "WatchdogSec=" "Restart=on-failure" "ExecStart=/usr/bin/vpnd -f "
done
contains "vpnd-server@: the config /etc/vpnd/%i.conf as a credential, on interface %i" \
	"$(cat "$sys/vpnd-server@.service")" "LoadCredential=server.conf:/etc/vpnd/%i.conf" " %i"
contains "vpnd-client: connects with /etc/vpnd/client.conf, stop is vpnctl down" \
	"$(cat "$sys/vpnd-client.service")" "--up -c /etc/vpnd/client.conf" "ExecStop=-/usr/bin/vpnctl down"
contains "vpnd@: the engine on %i" "$(cat "$sys/vpnd@.service")" "ExecStart=/usr/bin/vpnd -f %i"

# Verified and scored where their programs are (DESTDIR is not where they
# would run); the man pages are checked by the package test, installed.
mkdir -p "$WORK/units"
for u in $UNITS; do
	sed "s|^\(Exec[A-Za-z]*=[-@:+!]*\)/usr/bin/|\1$root/usr/bin/|" "$sys/$u" >"$WORK/units/$u"
done
for u in $UNITS; do
	out=$(cd "$WORK/units" && systemd-analyze verify --man=no "$u" 2>&1)
	check "systemd-analyze verify $u: clean${out:+: $out}" test -z "$out"
	out=$(cd "$WORK/units" && systemd-analyze security --offline=yes --no-pager "$u" 2>&1)
	e=$(exposure "$out")
	check "systemd-analyze security --offline=yes $u: $e <= $MAX_EXPOSURE" at_most "$e" "$MAX_EXPOSURE"
done
finish
