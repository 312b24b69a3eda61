#!/usr/bin/env bash
# tests/phases.sh PHASE...: what `make check` runs after deps and the build:
# `make PHASE` for each phase in turn (unit, asan, valgrind, fuzz, netns,
# pkg).  A failed phase does not stop the later ones: a CI run that fails
# early should still say how everything else fared.  Its last lines
# say how long each phase took and, summed from each runner's closing
# "NAME: N passed, N failed" line, one closing line for the whole check.
set -u
cd "$(dirname "$0")/.." || exit 1
MAKE=${MAKE:-make}
times=()
passed=0
failed=0
rc=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for phase in "$@"; do
	start=$SECONDS
	"$MAKE" --no-print-directory "$phase" 2>&1 | tee "$log"
	prc=${PIPESTATUS[0]}
	[ "$prc" = 0 ] || rc=$prc
	times+=("$(printf '%-9s %4d s%s' "$phase" $((SECONDS - start)) \
		"$([ "$prc" = 0 ] || echo '  FAILED')")")
	# The runner's closing line, e.g. "netns: 22 passed, 0 failed".
	line=$(grep -E '^[a-z]+: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n1)
	p=0 f=0
	if [ -n "$line" ]; then
		p=${line#*: }; p=${p%% passed*}
		f=${line#*passed, }; f=${f%% failed*}
	fi
	# A phase that failed without counting a failure (a build error, a
	# runner that died) still counts as one.
	[ "$prc" = 0 ] || [ "$f" -gt 0 ] || f=1
	passed=$((passed + p))
	failed=$((failed + f))
done
echo "time per phase:"
printf '  %s\n' "${times[@]}"
echo "check: $passed passed, $failed failed"
exit "$rc"
