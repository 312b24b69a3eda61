#!/bin/bash
# test_connect_failover.sh: automatic failover to the next best server
# (issue 11), with the kill switch closed throughout.
#
# Three servers behind delaying relays and a silent endpoint
# (servers_lib.sh): A a vpnd server +5 ms, B wireguard-go +40 ms, C a vpnd
# server +80 ms; the profile says failover_after = 3.  A ping runs through
# the tunnel all along, and tcpdump watches the client's link from before
# the first up to after the last down.
#
#   1. up --fastest: A.  A's relay goes silent: within failover_after and a
#      few seconds the client is connected to B, the next best; status
#      counts one failover, with its reason; traffic flows again;
#   2. every server silent: the client keeps trying (failovers go on
#      counting, the state is connecting); A comes back: it connects to A;
#   3. up se-got-01 (named), then B silent: no failover, ever;
#   4. tcpdump saw nothing but UDP between the client and the relays.
CL_TAG=o
. "$(dirname "$0")/connect_lib.sh"
. "$(dirname "$0")/servers_lib.sh"

FAILOVER_AFTER=3
servers_setup "failover_after = $FAILOVER_AFTER" "probe_timeout_ms = 1000"
capture_start link "$RELAYS_ONLY"

connected_to() { [ "$(status_field state)" = connected ] && [ "$(status_field server)" = "$1" ]; }
pings() { quiet in_c ping -n -c 3 -i 0.3 -W 2 $TUN_S; }

say "--- failover to the next best"
ctl up --fastest -c "$WORK/client.conf" -i "$IF_C"
check "up --fastest exits 0 (got $CTL_RC: $CTL_ERR)" test "$CTL_RC" = 0
contains "connected to A" "$CTL_OUT" "connected to de-fra-01"
check "status: no failover yet" test "$(status_field failovers)" = 0
# Traffic all along: a silent server is one that leaves what we send
# unanswered.
helper ping ip netns exec "$NS_C" ping -n -q -i 0.2 -W 1 $TUN_S >/dev/null
PING_PID=$LAST_HELPER
check "traffic flows through A" pings

T=$(date +%s.%N)
relay_silent 51001
# failover_after, the probe (1 s), the handshake, and room for a busy machine.
check "within failover_after + 12 s the client is connected to B" wait_for "connected_to se-got-01" $((FAILOVER_AFTER + 12))
note "failover took $(elapsed "$T") s after A went silent (failover_after $FAILOVER_AFTER s)"
check "status: one failover" test "$(status_field failovers)" = 1
contains "status: its reason names A" "$(status_field last_failover_reason)" "no answer from de-fra-01 for $FAILOVER_AFTER s"
check "status: its time is now" test $(( $(date +%s) - $(status_field last_failover_time) )) -lt 30
check "status: the selection is still fastest" test "$(status_field selection)" = fastest
check "traffic flows again, through B" pings
ctl status -i "$IF_C"
contains "status (text) says it" "$CTL_OUT" "selection:        fastest" "failovers:        1, the last"

say "--- every server silent"
relay_silent 51002
relay_silent 51003
check "the client leaves B: two failovers and on" wait_for "[ \$(status_field failovers) -ge 3 ]" 30
check "status: not connected" test "$(status_field state)" = connecting
check "no traffic gets through" test "$(in_c ping -n -c 2 -W 1 $TUN_S | grep -c ' bytes from ')" = 0
N=$(status_field failovers)
T=$(date +%s.%N)
relay_loud 51001
check "A back: the client connects to it" wait_for "connected_to de-fra-01" 40
note "reconnected $(elapsed "$T") s after A came back, after $(status_field failovers) failovers"
check "traffic flows through A again" pings

say "--- a server named is never replaced"
relay_loud 51002
ctl up se-got-01 -i "$IF_C"
check "up se-got-01 exits 0 (got $CTL_RC: $CTL_ERR)" test "$CTL_RC" = 0
check "status: selection se-got-01, failovers 0" test "$(status_field selection):$(status_field failovers)" = "se-got-01:0"
relay_silent 51002
sleep $((FAILOVER_AFTER + 5))
check "B silent for failover_after + 5 s: still B" test "$(status_field server)" = se-got-01
check "... and no failover" test "$(status_field failovers)" = 0

# After down, kill_switch = on lets traffic out in clear, as it should: the
# ping ends first.
kill -INT "$PING_PID"; wait "$PING_PID" 2>/dev/null
ctl down -i "$IF_C"
check "down exits 0" test "$CTL_RC" = 0
check "the client daemon has exited" wait_for "! client_pid" 5

capture_stop link
check "nothing but the relays' UDP crossed the client's link, through every switch ($CAP_COUNT packets)" test "$CAP_COUNT" = 0
[ "$CAP_COUNT" = 0 ] || printf '%s\n' "$CAP_TEXT" | head -20 | sed 's/^/    | /'
finish
