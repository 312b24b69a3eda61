#!/usr/bin/env bash
# tests/phases.sh PHASE...: what `make check` runs after deps and the build:
# `make PHASE` for each phase in turn (unit, asan, valgrind, fuzz, netns),
# stopping at the first that fails, as make itself would.  Its last lines
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
	rc=${PIPESTATUS[0]}
	times+=("$(printf '%-9s %4d s%s' "$phase" $((SECONDS - start)) \
		"$([ "$rc" = 0 ] || echo '  FAILED')")")
	# The runner's closing line, e.g. "netns: 22 passed, 0 failed".
	line=$(grep -E '^[a-z]+: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n1)
	if [ -n "$line" ]; then
		p=${line#*: }; p=${p%% passed*}
		f=${line#*passed, }; f=${f%% failed*}
		passed=$((passed + p))
		failed=$((failed + f))
	fi
	[ "$rc" = 0 ] || break
done
echo "time per phase:"
printf '  %s\n' "${times[@]}"
[ "$rc" = 0 ] || failed=$((failed > 0 ? failed : 1))
echo "check: $passed passed, $failed failed"
exit "$rc"
