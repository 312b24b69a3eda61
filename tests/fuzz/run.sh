#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Builds the libFuzzer harnesses of tests/fuzz/ with clang (ASan, UBSan,
# LSan) against a copy of the core compiled with coverage, writes a small
# seed corpus for each, and runs each for a bounded time.  Exits non-zero
# when a harness fails to build or reports a crash, a leak, undefined
# behaviour, a timeout or an out-of-memory.
#
#   tests/fuzz/run.sh [TARGET...]     targets: uapi receive handshake key
#                                     offload fleet ctlreply netlink ctlreq
#
# Environment:
#   FUZZ_SECONDS=30     run time of each target (libFuzzer -max_total_time)
#   FUZZ_BUILD_ONLY=1   build and write the seeds, run nothing
#   FUZZ_FRESH=1        start from the seeds alone, dropping what earlier
#                       runs added to tests/fuzz/corpus-TARGET/
#   FUZZ_COVERAGE=1     after the runs, replay each corpus through a build
#                       with clang's source coverage and print the line
#                       coverage of each vpnd/ file the target reaches
#   FUZZ_BUILD=DIR      where objects and binaries go (build/fuzz)
#   CLANG=clang         the compiler; Debian's package is "clang"
#
# Corpora (tests/fuzz/corpus-*) and crash files (tests/fuzz/crash-*) are
# ignored by git.  To replay a crash:  build/fuzz/fuzz_TARGET crash-FILE
set -euo pipefail

cd "$(dirname "$0")/../.."

FUZZ_SECONDS=${FUZZ_SECONDS:-30}
FUZZ_BUILD=${FUZZ_BUILD:-build/fuzz}
CLANG=${CLANG:-clang}
ALL_TARGETS=(uapi receive handshake key offload fleet ctlreply netlink ctlreq)

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
if ! [[ $FUZZ_SECONDS =~ ^[0-9]+$ ]] || [ "$FUZZ_SECONDS" -lt 1 ]; then
	echo "run.sh: FUZZ_SECONDS must be a positive number of seconds" >&2
	exit 2
fi
if ! command -v "$CLANG" >/dev/null; then
	echo "run.sh: $CLANG not found; install it with: apt-get install clang" >&2
	exit 2
fi

SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"
# The project's own language and definitions, without -Werror: a warning
# that a newer clang adds must not stop a fuzzing run.
COMMON="-std=gnu11 -D_GNU_SOURCE -Iinclude -Ivpnd -g -O1 -fno-omit-frame-pointer \
	-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes"
LIBS="-lsodium -lcrypto -lev -lmnl -ljson-c -liniparser"

mkdir -p "$FUZZ_BUILD/core" "$FUZZ_BUILD/logs"

say() { printf '  %-7s %s\n' "$1" "$2"; }

# The newest header: a change to any of them rebuilds every object.
newest_header=
for h in include/vpn/*.h vpnd/*.h; do
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

build_core() {
	local src obj objs=() pids=() rc=0 i=0
	for src in vpnd/*.c; do
		[ "$src" = vpnd/main.c ] && continue
		obj="$FUZZ_BUILD/core/$(basename "${src%.c}").o"
		objs+=("$obj")
		if stale "$obj" "$src" "$newest_header"; then
			say CC "$src"
			# shellcheck disable=SC2086
			"$CLANG" $COMMON $SAN -fsanitize=fuzzer-no-link \
				-c -o "$obj" "$src" &
			pids+=($!)
			i=$((i + 1))
			# Two at a time: the machines have two cores.
			if [ $((i % 2)) -eq 0 ]; then
				wait "${pids[@]}" || rc=1
				pids=()
			fi
		fi
	done
	if [ ${#pids[@]} -gt 0 ]; then
		wait "${pids[@]}" || rc=1
	fi
	[ $rc -eq 0 ] || { echo "run.sh: the core did not build" >&2; exit 1; }
	if stale "$FUZZ_BUILD/libvpncore-fuzz.a" "${objs[@]}"; then
		say AR "$FUZZ_BUILD/libvpncore-fuzz.a"
		rm -f "$FUZZ_BUILD/libvpncore-fuzz.a"
		ar rcs "$FUZZ_BUILD/libvpncore-fuzz.a" "${objs[@]}"
	fi
}

build_target() {
	local t=$1 bin="$FUZZ_BUILD/fuzz_$1" src="tests/fuzz/fuzz_$1.c"
	# A harness may #include any core .c, or vpnctl's (not in the core
	# library), so any of them makes it stale.
	if stale "$bin" "$src" "$FUZZ_BUILD/libvpncore-fuzz.a" vpnd/*.c \
		vpnctl/*.c vpnctl/*.h "$newest_header"; then
		say LD "$bin"
		# shellcheck disable=SC2086
		"$CLANG" $COMMON $SAN -fsanitize=fuzzer -o "$bin" "$src" \
			"$FUZZ_BUILD/libvpncore-fuzz.a" $LIBS
	fi
}

# Seeds.  Each file of the uapi corpus starts with the harness's three
# option bytes (see fuzz_uapi.c); the rest is what a client would send.
K1=0101010101010101010101010101010101010101010101010101010101010101
K2=e0f1d2c3b4a5968778695a4b3c2d1e0ff00112233445566778899aabbccddeef
K3=2222222222222222222222222222222222222222222222222222222222222222

seed_uapi() {
	local d=$1
	printf '\x00\x00\x00get=1\n\n' >"$d/seed-get"
	printf '\x01\x07\x00stats=1\n\nget=1\n\n' >"$d/seed-stats"
	printf '\x00\x13\x00set=1\nprivate_key=%s\nlisten_port=51820\nfwmark=0\nreplace_peers=true\npublic_key=%s\npreshared_key=%s\nendpoint=192.0.2.1:51820\npersistent_keepalive_interval=25\nreplace_allowed_ips=true\nallowed_ip=10.0.0.1/32\nallowed_ip=fd00::/8\nprotocol_version=1\n\nget=1\n\n' \
		"$K1" "$K2" "$K3" >"$d/seed-set-full"
	printf '\x02\x21\x00set=1\npublic_key=%s\nendpoint=[fe80::1%%eth7]:1\nallowed_ip=-10.1.2.3/8\nallowed_ip=::ffff:1.2.3.4/128\nupdate_only=true\n\npublic_key=%s\nremove=true\n\nget=1\n\n' \
		"$K2" "$K3" >"$d/seed-set-peers"
	printf '\x08\x42\x00set=1\r\nfwmark=13\r\n\r\nset=1\nfoo\n\nset=1\nlisten_port=70000\n\nget=1\nx' \
		>"$d/seed-errors"
	printf '\x04\x55\x05set=1\nprivate_key=%s\npublic_key=%s\npreshared_key=%s\nallowed_ip=1.2.3.4/32\n\n' \
		"$K1" "$K2" "$K3" >"$d/seed-enomem"
	printf '\x00\x00\x00set=1\nlisten_port=13\n\nget=1\n\nbogus=1\n' \
		>"$d/seed-get-error"
}

seed_key() {
	local d=$1
	printf 'AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=' >"$d/seed-b64"
	printf '%s' "$K2" >"$d/seed-hex"
	printf 'E0F1D2C3B4A5968778695A4B3C2D1E0FF00112233445566778899AABBCCDDEEF' \
		>"$d/seed-hex-upper"
	printf '\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f' \
		>"$d/seed-raw"
}

# A user's value (0), a watch message (1) and a range answer (2), whose
# keys and values are base64 as the gateway writes them.
seed_fleet() {
	local d=$1 v k
	printf '\x00{"public_key": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=", "allowed_ips": ["10.64.3.7/32", "fc00:bbbb::3:7/128"], "preshared_key": "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="}' \
		>"$d/seed-user"
	v=$(printf '{"public_key": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=", "allowed_ips": ["10.0.0.1/32"]}' | base64 -w0)
	k=$(printf '/u/alice' | base64 -w0)
	printf '\x01{"result":{"header":{"revision":"7"},"events":[{"kv":{"key":"%s","value":"%s","mod_revision":"6"}},{"type":"DELETE","kv":{"key":"%s","mod_revision":"7"}}]}}' \
		"$k" "$v" "$k" >"$d/seed-watch"
	printf '\x01{"result":{"header":{"revision":"9"},"canceled":true,"compact_revision":"8"}}' \
		>"$d/seed-compacted"
	printf '\x02{"header":{"revision":"42"},"kvs":[{"key":"%s","value":"%s","mod_revision":"40"}],"more":true,"count":"2"}' \
		"$k" "$v" >"$d/seed-range"
}

# The handshake and receive seeds are messages made by the harnesses
# themselves, so that they carry valid MACs and tags for the harness keys;
# the offload seeds are scripts of TCP flows and super-packets with valid
# checksums, which the harness builds too.
seed_from_harness() {
	local t=$1 d=$2
	FUZZ_WRITE_SEEDS="$d" "$FUZZ_BUILD/fuzz_$t" -runs=0 \
		>"$FUZZ_BUILD/logs/seeds-$t.log" 2>&1 || {
		echo "run.sh: fuzz_$t could not write its seeds:" >&2
		cat "$FUZZ_BUILD/logs/seeds-$t.log" >&2
		exit 1
	}
}

write_seeds() {
	local t=$1 d="tests/fuzz/corpus-$1"
	if [ "${FUZZ_FRESH:-0}" = 1 ]; then
		rm -rf "$d"
	fi
	mkdir -p "$d"
	case $t in
	uapi) seed_uapi "$d" ;;
	key) seed_key "$d" ;;
	fleet) seed_fleet "$d" ;;
	# Seeds committed with the harness.
	ctlreply | netlink | ctlreq) cp "tests/fuzz/corpus/$t"/* "$d"/ ;;
	*) seed_from_harness "$t" "$d" ;;
	esac
}

run_target() {
	local t=$1 log="$FUZZ_BUILD/logs/$1.log" rc=0 dict=()
	say FUZZ "$t for ${FUZZ_SECONDS}s"
	if [ -f "tests/fuzz/$t.dict" ]; then
		dict=(-dict="tests/fuzz/$t.dict")
	fi
	# -max_total_time bounds the run; timeout(1) is the backstop should
	# the harness itself hang past it.
	timeout --kill-after=10 $((FUZZ_SECONDS + 120)) \
		"$FUZZ_BUILD/fuzz_$t" -max_total_time="$FUZZ_SECONDS" \
		-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}" \
		-artifact_prefix="tests/fuzz/crash-$t-" \
		"tests/fuzz/corpus-$t" >"$log" 2>&1 || rc=$?
	local execs cov ft
	execs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n1 | cut -d' ' -f2)
	ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n1 | cut -d' ' -f2)
	if [ $rc -ne 0 ]; then
		say FAIL "$t (exit $rc), log: $log"
		grep -E -A30 '^==[0-9]+==ERROR|runtime error|^fuzz_[a-z]+:|deadly signal|Test unit written' \
			"$log" | head -n 60 | sed 's/^/    | /' >&2 || true
		return 1
	fi
	say OK "$t: ${execs:-?} exec/s, cov ${cov:-?}, features ${ft:-?}"
}

# Source coverage: the same harnesses built with -fcoverage-mapping, run
# once over their corpora (-runs=0 executes the corpus and stops).
coverage_report() {
	local t=$1 dir="$FUZZ_BUILD/cov" src obj objs=() files=()
	mkdir -p "$dir/core"
	for src in vpnd/*.c; do
		[ "$src" = vpnd/main.c ] && continue
		obj="$dir/core/$(basename "${src%.c}").o"
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
		-fcoverage-mapping -o "$dir/fuzz_$t" "tests/fuzz/fuzz_$t.c" \
		"$dir/libvpncore-cov.a" $LIBS
	rm -f "$dir/$t".*.profraw
	LLVM_PROFILE_FILE="$dir/$t.%p.profraw" "$dir/fuzz_$t" -runs=0 \
		"tests/fuzz/corpus-$t" >"$FUZZ_BUILD/logs/cov-$t.log" 2>&1
	llvm-profdata merge -sparse -o "$dir/$t.profdata" "$dir/$t".*.profraw
	for src in vpnd/*.c; do
		[ "$src" = vpnd/main.c ] || files+=("$src")
	done
	say COV "$t: line coverage of the files it reaches"
	llvm-cov report "$dir/fuzz_$t" -instr-profile="$dir/$t.profdata" \
		"${files[@]}" 2>/dev/null |
		awk 'NR > 2 && $1 ~ /\.c$/ && $8 != "-" && $10 != "0.00%" {
			n = split($1, part, "/")
			printf "    %-22s lines %6s of %5s\n", part[n], $10, $8
		}'
}

build_core
for t in "${targets[@]}"; do
	build_target "$t"
	write_seeds "$t"
done
if [ "${FUZZ_BUILD_ONLY:-0}" = 1 ]; then
	exit 0
fi

passed=0
failed=0
for t in "${targets[@]}"; do
	if run_target "$t"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
done
if [ "${FUZZ_COVERAGE:-0}" = 1 ]; then
	for t in "${targets[@]}"; do
		coverage_report "$t" || say FAIL "coverage of $t"
	done
fi
echo "fuzz: $passed passed, $failed failed"
[ $failed -eq 0 ]
