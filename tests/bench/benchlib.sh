# tests/bench/benchlib.sh: what handshake.sh and peers.sh share. Sourced after
# tests/netns/lib.sh; the caller defines measure IMPL.

# bench_one IMPL SEQ: measure IMPL once, in a subshell with its own resources
# torn down on exit; returns measure's status.
bench_one() {
	(
		IMPL_A=$1 IMPL_B=$1 SEQ=$2 PAIR_LABEL="$1"
		reset_state
		trap cleanup EXIT
		trap 'exit 130' INT TERM HUP
		check_prereqs
		measure "$1"
	)
}

# median FILE COLUMN
median() { awk -v c="$2" '{ print $c }' "$1" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
