# shellcheck shell=bash
# tests/pkg/lib.sh: what the packaging tests share: reporting, a work
# directory removed on exit, and the units' checks (paths, verify, the
# exposure score).
set -u
set -o pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TEST_NAME=$(basename "$0" .sh)
TEST_NAME=${TEST_NAME#test_}
UNITS="vpnd@.service vpnd-server@.service vpnd-client.service vpnd-killswitch.service"
# The most exposure systemd-analyze security may score a unit at.
MAX_EXPOSURE=2.0
FAILS=0
WORK=$(mktemp -d "/tmp/vpnd-pkg-$TEST_NAME.XXXXXX")
CLEANUPS=()
cleanup() {
	local i
	for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do eval "${CLEANUPS[i]}" || true; done
	[ "${KEEP_WORK:-0}" = 1 ] && echo "  work kept in $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT
on_exit() { CLEANUPS+=("$1"); }

say() { printf '  [%s] %s\n' "$TEST_NAME" "$*"; }
check() {
	local desc=$1; shift
	if "$@"; then say "ok   - $desc"; else say "FAIL - $desc"; FAILS=$((FAILS + 1)); fi
}
check_not() {
	local desc=$1; shift
	if "$@"; then say "FAIL - $desc"; FAILS=$((FAILS + 1)); else say "ok   - $desc"; fi
}
contains() {
	local desc=$1 text=$2 w; shift 2
	for w in "$@"; do
		case $text in *"$w"*) ;; *) say "FAIL - $desc (no '$w' in: ${text:0:300})"; FAILS=$((FAILS + 1)); return ;; esac
	done
	say "ok   - $desc"
}
finish() {
	if [ "$FAILS" = 0 ]; then say "all checks passed"; exit 0; fi
	say "$FAILS checks failed"; exit 1
}
need_root() { [ "$(id -u)" = 0 ] || { echo "$TEST_NAME: needs root" >&2; exit 1; }; }

# exposure TEXT: the number of systemd-analyze security's last line.
exposure() { printf '%s\n' "$1" | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p' | tail -1; }
# at_most A B: A <= B, as decimals.
at_most() { [ -n "$1" ] && awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'; }

# exec_paths UNITFILE: the programs its Exec*= lines run, one a line.
exec_paths() { sed -n 's/^Exec[A-Za-z]*=[-@:+!]*\([^ ]*\).*/\1/p' "$1" | sort -u; }
