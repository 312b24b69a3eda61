#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Builds the libFuzzer harnesses tests/fuzz/fuzz_TARGET.c with clang (ASan,
# UBSan, LSan; any sanitizer report aborts) against a copy of the core
# compiled with coverage, then runs them, FUZZ_JOBS at a time, and prints
# one row per target.  Exits non-zero when a harness fails to build, a
# regression input fails, or a run reports a crash, a leak, undefined
# behaviour, a timeout or an out-of-memory.  See tests/fuzz/README.md.
#
#   tests/fuzz/run.sh [smoke|long] [TARGET...]
#
#   smoke (default, `make fuzz`, CI): every target a few seconds from its
#         committed seeds alone, in a scratch corpus thrown away each time.
#   long  (`make fuzz-long FUZZ_SECONDS=N`): every target N seconds on its
#         working corpus, which keeps what earlier runs found.
#
# A target is a file: tests/fuzz/fuzz_TARGET.c.  With it go its committed
# seeds, tests/fuzz/corpus/TARGET/ (small files), an optional dictionary,
# tests/fuzz/TARGET.dict, and the inputs of crashes found and fixed,
# tests/fuzz/regress/TARGET/, replayed (-runs=0) before every run.
#
# Environment:
#   FUZZ_SECONDS=N      run time of each target (libFuzzer -max_total_time);
#                       smoke: 5, long: 600
#   FUZZ_TIMEOUT=S      libFuzzer's -timeout for one input (10): wall time,
#                       so a campaign beside other work takes 30 or more,
#                       lest a starved process count as a hang
#   FUZZ_JOBS=N         targets fuzzed (and harnesses built) at once;
#                       smoke: 2, long: the number of cores
#   FUZZ_CORPUS_DIR=D   where long runs keep their working corpora, one
#                       directory per target (build/fuzz/corpus)
#   FUZZ_FRESH=1        long: drop the working corpora first
#   FUZZ_BUILD_ONLY=1   build, run nothing
#   FUZZ_REGEN_SEEDS=1  rewrite tests/fuzz/corpus/TARGET/ for the harnesses
#                       that make their own seeds (FUZZ_WRITE_SEEDS=DIR),
#                       after a change to such a harness's message layout
#   FUZZ_COVERAGE=1     after the runs, replay each corpus through a build
#                       with clang's source coverage and print the line
#                       coverage of each vpnd/ and vpnctl/ file the
#                       target reaches
#   FUZZ_BUILD=DIR      objects, binaries, logs, artifacts (build/fuzz)
#   CLANG=clang         the compiler; Debian's package is "clang"
#
# A crash, leak or timeout input is written to build/fuzz/artifacts/TARGET/;
# replay it with:  build/fuzz/fuzz_TARGET FILE
set -euo pipefail

cd "$(dirname "$0")/../.."

MODE=smoke
case ${1:-} in
smoke | long) MODE=$1; shift ;;
esac
if [ "$MODE" = long ]; then
	FUZZ_SECONDS=${FUZZ_SECONDS:-600}
	FUZZ_JOBS=${FUZZ_JOBS:-$(nproc)}
else
	FUZZ_SECONDS=${FUZZ_SECONDS:-5}
	FUZZ_JOBS=${FUZZ_JOBS:-2}
fi
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-10}
FUZZ_BUILD=${FUZZ_BUILD:-build/fuzz}
FUZZ_CORPUS_DIR=${FUZZ_CORPUS_DIR:-$FUZZ_BUILD/corpus}
CLANG=${CLANG:-clang}
FUZZ_DIR=tests/fuzz

# Every harness in the directory is a target: adding one is adding its file.
ALL_TARGETS=()
for src in "$FUZZ_DIR"/fuzz_*.c; do
	t=${src##*/fuzz_}
	ALL_TARGETS+=("${t%.c}")
done

if [ $# -gt 0 ]; then
	targets=("$@")
else
	targets=("${ALL_TARGETS[@]}")
fi
for t in "${targets[@]}"; do
	case " ${ALL_TARGETS[*]} " in
	*" $t "*) ;;
	*) echo "run.sh: unknown target '$t' (${ALL_TARGETS[*]})" >&2; exit 2 ;;
	esac
done
for v in FUZZ_SECONDS FUZZ_JOBS; do
	if ! [[ ${!v} =~ ^[0-9]+$ ]] || [ "${!v}" -lt 1 ]; then
		echo "run.sh: $v must be a positive whole number" >&2
		exit 2
	fi
done
if ! command -v "$CLANG" >/dev/null; then
	echo "run.sh: $CLANG not found; install it with: apt-get install clang" >&2
	exit 2
fi

SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"
# The project's own language and definitions, without -Werror: a warning
# that a newer clang adds must not stop a fuzzing run.
COMMON="-std=gnu11 -D_GNU_SOURCE -Iinclude -Ivpnd -g -O1 -fno-omit-frame-pointer \
	-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes"
LIBS="-lsodium -lev -lmnl -ljson-c -liniparser"
LOGS=$FUZZ_BUILD/logs
RES=$FUZZ_BUILD/results

mkdir -p "$FUZZ_BUILD/core" "$LOGS" "$RES"
# Runs sharing a build directory would share objects, logs and results.
exec 9>"$FUZZ_BUILD/lock"
if ! flock -n 9; then
	echo "run.sh: another run uses $FUZZ_BUILD; wait, or give this one FUZZ_BUILD=DIR" >&2
	exit 2
fi
rm -f "$RES"/*

say() { printf '  %-7s %s\n' "$1" "$2"; }

# Runs "$@" in the background once fewer than FUZZ_JOBS jobs are running.
# Each job reports through a file in $RES, not through its exit status.
pool_start() {
	while [ "$(jobs -rp | wc -l)" -ge "$FUZZ_JOBS" ]; do
		wait -n || true
	done
	"$@" &
}

pool_drain() {
	wait || true
}

# What every harness links against, built with coverage: the core
# (vpnd/*.c but main.c) and the part of vpnctl that its subcommands share
# (ctl.c, json.c), which a harness that #includes a subcommand's .c needs,
# as the Makefile links test_leaktest.  They go into one archive, so an
# object is linked only when a harness uses it: one that #includes ctl.c
# itself (fuzz_ctlreply) does not get a second copy.
lib_sources() {
	local src
	for src in vpnd/*.c vpnctl/ctl.c vpnctl/json.c; do
		[ "$src" = vpnd/main.c ] || echo "$src"
	done
}

# An object's name: its path, flattened (vpnd/conf.c: vpnd-conf.o).
object_of() {
	local src=${2//\//-}
	echo "$1/${src%.c}.o"
}

# The newest header: a change to any of them rebuilds every object.
newest_header=
for h in include/vpn/*.h vpnd/*.h vpnctl/*.h; do
	if [ -z "$newest_header" ] || [ "$h" -nt "$newest_header" ]; then
		newest_header=$h
	fi
done

# Whether $1 is missing or older than any of the files after it.
stale() {
	local out=$1 f
	shift
	[ -e "$out" ] || return 0
	for f in "$@"; do
		[ "$f" -nt "$out" ] && return 0
	done
	return 1
}

core_object() {
	local src=$1 obj=$2
	say CC "$src"
	# shellcheck disable=SC2086
	if ! "$CLANG" $COMMON $SAN -fsanitize=fuzzer-no-link -c -o "$obj" \
		"$src"; then
		rm -f "$obj"
		echo "$src" >"$RES/core.failed"
	fi
}

build_core() {
	local src obj objs=()
	for src in $(lib_sources); do
		obj=$(object_of "$FUZZ_BUILD/core" "$src")
		objs+=("$obj")
		if stale "$obj" "$src" "$newest_header"; then
			pool_start core_object "$src" "$obj"
		fi
	done
	pool_drain
	if [ -e "$RES/core.failed" ]; then
		echo "run.sh: the core did not build" >&2
		exit 1
	fi
	if stale "$FUZZ_BUILD/libvpncore-fuzz.a" "${objs[@]}"; then
		say AR "$FUZZ_BUILD/libvpncore-fuzz.a"
		rm -f "$FUZZ_BUILD/libvpncore-fuzz.a"
		ar rcs "$FUZZ_BUILD/libvpncore-fuzz.a" "${objs[@]}"
	fi
}

build_target() {
	local t=$1 bin="$FUZZ_BUILD/fuzz_$1" src="$FUZZ_DIR/fuzz_$1.c"
	# A harness may #include any core .c, or any of vpnctl's, so any of
	# them makes it stale.
	if stale "$bin" "$src" "$FUZZ_BUILD/libvpncore-fuzz.a" vpnd/*.c \
		vpnctl/*.c vpnctl/*.h "$newest_header" "$FUZZ_DIR"/*.h; then
		say LD "$bin"
		# shellcheck disable=SC2086
		if ! "$CLANG" $COMMON $SAN -fsanitize=fuzzer -o "$bin" "$src" \
			"$FUZZ_BUILD/libvpncore-fuzz.a" $LIBS; then
			rm -f "$bin"
			touch "$RES/$t.build-failed"
		fi
	fi
}

# The harnesses that make their own seeds (messages with valid MACs and
# tags for the harness's keys, TCP flows with valid checksums) write them
# when asked; they are committed like any other seed.
regen_seeds() {
	local t=$1 d="$FUZZ_DIR/corpus/$1"
	grep -q FUZZ_WRITE_SEEDS "$FUZZ_DIR/fuzz_$t.c" || return 0
	rm -rf "$d"
	mkdir -p "$d"
	FUZZ_WRITE_SEEDS="$d" "$FUZZ_BUILD/fuzz_$t" -runs=0 \
		>"$LOGS/seeds-$t.log" 2>&1 || {
		echo "run.sh: fuzz_$t could not write its seeds:" >&2
		cat "$LOGS/seeds-$t.log" >&2
		exit 1
	}
	say SEEDS "$d: $(find "$d" -type f | wc -l) files"
}

# The working corpus: scratch for a smoke run, kept for long runs.  New
# inputs go to the first directory libFuzzer is given, so the committed
# seeds, given second, are read and never written.
corpus_of() {
	if [ "$MODE" = long ]; then
		echo "$FUZZ_CORPUS_DIR/$1"
	else
		echo "$FUZZ_BUILD/smoke/$1"
	fi
}

# What a run's log says went wrong; "" when nothing did.
verdict() {
	local log=$1 rc=$2
	if grep -a -q 'ERROR: libFuzzer: timeout' "$log"; then
		echo timeout
	elif grep -a -q -E 'ERROR: libFuzzer: (out-of-memory|malloc)' "$log"; then
		echo oom
	elif grep -a -q 'ERROR: LeakSanitizer' "$log"; then
		echo leak
	elif grep -a -q -E '^==[0-9]+==ERROR|runtime error:|deadly signal|ERROR: libFuzzer' "$log"; then
		echo crash
	elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		echo hang
	elif [ "$rc" != 0 ]; then
		echo "exit-$rc"
	fi
}

# Each input that once crashed the target, run once; libFuzzer given files
# (not directories) runs exactly those and writes nothing.
replay_regress() {
	local t=$1 files=() rc=0 v
	if [ -d "$FUZZ_DIR/regress/$t" ]; then
		mapfile -t files < <(find "$FUZZ_DIR/regress/$t" -type f | sort)
	fi
	echo "${#files[@]}" >"$RES/$t.regress"
	[ ${#files[@]} -gt 0 ] || return 0
	mkdir -p "$FUZZ_BUILD/artifacts/$t"
	timeout --kill-after=10 300 "$FUZZ_BUILD/fuzz_$t" -runs=0 \
		-timeout="$FUZZ_TIMEOUT" -rss_limit_mb=2048 \
		-artifact_prefix="$FUZZ_BUILD/artifacts/$t/regress-" "${files[@]}" \
		>"$LOGS/$t.regress.log" 2>&1 || rc=$?
	v=$(verdict "$LOGS/$t.regress.log" "$rc")
	[ -z "$v" ] || echo "regress-$v" >"$RES/$t.verdict"
}

# One target: its regression inputs, then FUZZ_SECONDS of fuzzing.  The CPU
# time is that of the fuzzer's process alone (bash's time reports the
# rusage of the children it waited for: timeout(1) and the fuzzer), so on
# a shared machine it says how much fuzzing the target really got.
fuzz_target() {
	local t=$1 log="$LOGS/$1.log" rc=0 corpus art before dict=() v
	local seeds="$FUZZ_DIR/corpus/$t" TIMEFORMAT='%3U %3S'
	rm -f "$log"
	replay_regress "$t"
	[ -e "$RES/$t.verdict" ] && return 0
	corpus=$(corpus_of "$t")
	art="$FUZZ_BUILD/artifacts/$t"
	[ "$MODE" = smoke ] && rm -rf "$corpus"
	mkdir -p "$corpus" "$art"
	[ -d "$seeds" ] || seeds=
	if [ -f "$FUZZ_DIR/$t.dict" ]; then
		dict=(-dict="$FUZZ_DIR/$t.dict")
	fi
	before=$(find "$art" -type f | wc -l)
	# -max_total_time bounds the run; timeout(1) is the backstop should
	# the harness itself hang past it.
	{ time timeout --kill-after=10 $((FUZZ_SECONDS + FUZZ_TIMEOUT + 120)) \
		"$FUZZ_BUILD/fuzz_$t" -max_total_time="$FUZZ_SECONDS" \
		-timeout="$FUZZ_TIMEOUT" -rss_limit_mb=2048 -print_final_stats=1 \
		"${dict[@]}" -artifact_prefix="$art/" \
		"$corpus" ${seeds:+"$seeds"} >"$log" 2>&1 || rc=$?; } \
		2>"$RES/$t.time"
	echo $(($(find "$art" -type f | wc -l) - before)) >"$RES/$t.crashes"
	find "$corpus" -type f | wc -l >"$RES/$t.corpus"
	v=$(verdict "$log" "$rc")
	echo "${v:-pass}" >"$RES/$t.verdict"
}

# The fuzzer's own figures, from the last status line and the final stats.
row() {
	local t=$1 log="$LOGS/$1.log" execs eps cov ft cpu u s crashes corp
	local v regress
	[ -e "$log" ] || log=/dev/null
	v=$(cat "$RES/$t.verdict" 2>/dev/null || echo missing)
	regress=$(cat "$RES/$t.regress" 2>/dev/null || echo -)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
	cov=$(grep -a -o 'cov: [0-9]*' "$log" | tail -n1 | cut -d' ' -f2 || true)
	ft=$(grep -a -o 'ft: [0-9]*' "$log" | tail -n1 | cut -d' ' -f2 || true)
	corp=$(cat "$RES/$t.corpus" 2>/dev/null || true)
	crashes=$(cat "$RES/$t.crashes" 2>/dev/null || true)
	cpu=
	if [ -e "$RES/$t.time" ] && read -r u s <"$RES/$t.time"; then
		cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.1f", u + s }')
	fi
	printf '%-10s %7s %11s %8s %6s %7s %7s %7s %8s  %s\n' "$t" "$regress" \
		"${execs:--}" "${eps:--}" "${cov:--}" "${ft:--}" "${corp:--}" \
		"${crashes:--}" "${cpu:--}" "$v"
}

explain_failure() {
	local t=$1 v log="$LOGS/$1.log"
	v=$(cat "$RES/$t.verdict" 2>/dev/null || echo missing)
	[ "$v" = pass ] && return 0
	case $v in regress-*) log="$LOGS/$t.regress.log" ;; esac
	echo "--- $t: $v; log: $log; inputs: $FUZZ_BUILD/artifacts/$t/" >&2
	grep -a -E -A30 '^==[0-9]+==ERROR|runtime error|^fuzz_[a-z]+:|deadly signal|Test unit written|ERROR: libFuzzer' \
		"$log" 2>/dev/null | head -n 60 | sed 's/^/    | /' >&2 || true
}

# Source coverage: the same harnesses built with -fcoverage-mapping, run
# once over their corpora (-runs=0 executes the corpus and stops).
coverage_report() {
	local t=$1 dir="$FUZZ_BUILD/cov" src obj objs=() files=() corpus
	mkdir -p "$dir/core"
	for src in $(lib_sources); do
		obj=$(object_of "$dir/core" "$src")
		objs+=("$obj")
		if stale "$obj" "$src" "$newest_header"; then
			# shellcheck disable=SC2086
			"$CLANG" $COMMON -fsanitize=fuzzer-no-link \
				-fprofile-instr-generate -fcoverage-mapping \
				-c -o "$obj" "$src"
		fi
	done
	rm -f "$dir/libvpncore-cov.a"
	ar rcs "$dir/libvpncore-cov.a" "${objs[@]}"
	# shellcheck disable=SC2086
	"$CLANG" $COMMON -fsanitize=fuzzer -fprofile-instr-generate \
		-fcoverage-mapping -o "$dir/fuzz_$t" "$FUZZ_DIR/fuzz_$t.c" \
		"$dir/libvpncore-cov.a" $LIBS
	rm -f "$dir/$t".*.profraw
	corpus=$(corpus_of "$t")
	LLVM_PROFILE_FILE="$dir/$t.%p.profraw" "$dir/fuzz_$t" -runs=0 \
		"$corpus" "$FUZZ_DIR/corpus/$t" >"$LOGS/cov-$t.log" 2>&1
	llvm-profdata merge -sparse -o "$dir/$t.profdata" "$dir/$t".*.profraw
	# vpnctl's other files are reached by harnesses that #include them.
	mapfile -t files < <({ lib_sources; ls vpnctl/*.c; } | sort -u)
	say COV "$t: line coverage of the files it reaches"
	llvm-cov report "$dir/fuzz_$t" -instr-profile="$dir/$t.profdata" \
		"${files[@]}" 2>/dev/null |
		awk 'NR > 2 && $1 ~ /\.c$/ && $8 != "-" && $10 != "0.00%" {
			n = split($1, part, "/")
			# vpnd/ and vpnctl/ share some names: both parts.
			printf "    %-30s lines %6s of %5s\n", part[n - 1] "/" part[n], $10, $8
		}'
}

start=$SECONDS
build_core
for t in "${targets[@]}"; do
	pool_start build_target "$t"
done
pool_drain
built=()
for t in "${targets[@]}"; do
	if [ -e "$RES/$t.build-failed" ]; then
		echo "run.sh: fuzz_$t did not build" >&2
		echo build-failed >"$RES/$t.verdict"
	else
		built+=("$t")
	fi
done
if [ "${FUZZ_REGEN_SEEDS:-0}" = 1 ]; then
	for t in "${built[@]}"; do
		regen_seeds "$t"
	done
fi
if [ "${FUZZ_BUILD_ONLY:-0}" = 1 ]; then
	[ ${#built[@]} -eq ${#targets[@]} ]
	exit
fi
if [ "$MODE" = long ] && [ "${FUZZ_FRESH:-0}" = 1 ]; then
	for t in "${built[@]}"; do
		rm -rf "$(corpus_of "$t")"
	done
fi

say FUZZ "$MODE: ${#built[@]} targets, ${FUZZ_SECONDS}s each, $FUZZ_JOBS at a time (built in $((SECONDS - start))s)"
for t in "${built[@]}"; do
	pool_start fuzz_target "$t"
done
pool_drain

passed=0
failed=0
printf '%-10s %7s %11s %8s %6s %7s %7s %7s %8s  %s\n' target regress \
	execs exec/s cov ft corpus crashes cpu_s result
for t in "${targets[@]}"; do
	row "$t"
	if [ "$(cat "$RES/$t.verdict" 2>/dev/null)" = pass ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		explain_failure "$t"
	fi
done
if [ "${FUZZ_COVERAGE:-0}" = 1 ]; then
	for t in "${built[@]}"; do
		coverage_report "$t" || say FAIL "coverage of $t"
	done
fi
echo "fuzz $MODE run: ${FUZZ_SECONDS}s per target, $FUZZ_JOBS at a time, wall $((SECONDS - start))s with the build"
echo "fuzz: $passed passed, $failed failed"
[ $failed -eq 0 ]
