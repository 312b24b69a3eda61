#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# vpnd/netlink.c, one operation at a time through tests/netns/netlink_driver,
# with ip(8) as the referee, in a namespace of its own:
#  - links, addresses, routes (every type, tables above 255), policy rules,
#    and the error text of each kind of failure;
#  - the snapshot: sorted, blind to lifetimes and expiry, sensitive to a
#    real change;
#  - tunnel routing: unmarked traffic goes into the tunnel, the daemon's
#    mark goes out the physical link, IPv6 without a tunnel address is
#    unreachable, and routes pushed into main via the physical gateway
#    (TunnelVision: 0.0.0.0/1, 128.0.0.0/1, a /24) do not pull traffic out,
#    while wg-quick's suppress_prefixlength rule would let them;
#  - down restores byte for byte what ip showed before up, leaving rules
#    and routes of others alone; up twice and down twice are harmless; a
#    failing up rolls back; fail-closed, allow-lan and bad descriptions;
#  - allow-lan's inside prefixes (the tunnel's resolvers and address
#    networks) stay in the tunnel although a throw covers them, reduced
#    when given twice or nested, and go with down.
# Nothing is sent: `ip route get` only asks the kernel what it would do.
set -u
REPO=$(cd "$(dirname "$0")/../.." && pwd)
NS=vnl$$
WORK=$(mktemp -d)
DRIVER=${NETLINK_DRIVER:-$REPO/build/tests/netlink_driver}
MARK=0xca6c
TABLE=51820
TUN=(fwmark "$MARK" table "$TABLE")

cleanup() {
	ip netns del "$NS" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "  [netlink] FAIL - $*"; exit 1; }
ok() { echo "  [netlink] ok   - $*"; }
ns() { ip netns exec "$NS" "$@"; }
drv() { ns "$DRIVER" "$@"; }
# expect_err TEXT ARGS...: the driver must fail, saying TEXT.
expect_err() {
	local text=$1 out
	shift
	out=$(drv "$@" 2>&1) && fail "driver $* succeeded"
	grep -qF -- "$text" <<<"$out" || fail "driver $*: wanted \"$text\", got: $out"
}
# The device `ip route get` resolves to, or "unreachable".
route_dev() {
	local out
	out=$(ns ip "$@" 2>&1) || { grep -Eq 'unreachable|No route to host' <<<"$out" && echo unreachable; return; }
	sed -n 's/.* dev \([^ ]*\).*/\1/p' <<<"$out" | head -n1
}
# expect_route DEV ip-route-get-args...
expect_route() {
	local want=$1 got
	shift
	got=$(route_dev "$@")
	[ "$got" = "$want" ] || fail "ip $*: resolves to '$got', wanted '$want'"
}
# What the issue compares: everything ip shows of addresses, routes, rules.
dump() {
	ns ip addr
	ns ip -4 route show table all
	ns ip -6 route show table all
	ns ip -4 rule
	ns ip -6 rule
}
same_as() {
	dump >"$WORK/now"
	diff -u "$WORK/$1" "$WORK/now" >"$WORK/diff" || fail "$2: state differs:
$(cat "$WORK/diff")"
}
# A stand-in for a device: dummy when the kernel has it, else a veth whose
# peer stays up in the namespace.
mklink() {
	ns ip link add "$1" type dummy 2>/dev/null && return
	ns ip link add "$1" type veth peer name "${1}p" && ns ip link set "${1}p" up
}

if [ ! -x "$DRIVER" ]; then
	DRIVER=$WORK/netlink_driver
	${CC:-cc} -std=gnu11 -O2 -Wall -Wextra -D_GNU_SOURCE -I"$REPO/include" \
		-I"$REPO/vpnd" -o "$DRIVER" "$REPO/tests/netns/netlink_driver.c" \
		"$REPO/vpnd/netlink.c" -lmnl || fail "cannot build the driver"
fi

# A client: "phys0" with a default route via 192.0.2.1 (and 2001:db8:1::1),
# and "tun0", the tunnel.  DAD off, so no address changes state mid-test.
ip netns add "$NS" || fail "cannot create namespace"
ns sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
ns ip link set lo up
mklink phys0 || fail "cannot create phys0"
mklink tun0 || fail "cannot create tun0"
ns ip link set phys0 up
ns ip addr add 192.0.2.2/24 dev phys0
ns ip addr add 2001:db8:1::2/64 dev phys0 nodad
ns ip route add default via 192.0.2.1 dev phys0
ns ip -6 route add default via 2001:db8:1::1 dev phys0

# ------------------------------------------------------------------ links
idx=$(drv index tun0) || fail "index tun0"
[ "$idx" = "$(ns cat /sys/class/net/tun0/ifindex)" ] || fail "index $idx"
expect_err "looking up link nosuch0: No such device" index nosuch0
drv up tun0 || fail "up"
ns ip -o link show tun0 | grep -q '[<,]UP[,>]' || fail "tun0 not up"
drv down tun0 || fail "down"
ns ip -o link show tun0 | grep -q '[<,]UP[,>]' && fail "tun0 still up"
drv up tun0 || fail "up again"
drv mtu tun0 1420 || fail "mtu"
ns ip -o link show tun0 | grep -q ' mtu 1420 ' || fail "mtu not 1420"
expect_err "setting MTU 10 on link $idx: Invalid argument" mtu tun0 10
ok "link index, up, down, MTU, and their errors"

# -------------------------------------------------------------- addresses
drv addr-add tun0 10.64.0.2/32 || fail "addr-add v4"
drv addr-add tun0 2001:db8:ff::2/64 || fail "addr-add v6"
drv addr-add tun0 198.51.100.7/24 || fail "addr-add second v4"
ns ip -4 -o addr show dev tun0 | grep -q 'inet 10.64.0.2/32 ' || fail "v4 address missing"
ns ip -4 -o addr show dev tun0 | grep -q 'inet 198.51.100.7/24 ' || fail "second v4 address missing"
ns ip -6 -o addr show dev tun0 | grep 'inet6 2001:db8:ff::2/64 ' | grep -q nodad || fail "v6 address missing or not nodad"
ns ip -6 -o addr show dev tun0 | grep -q tentative && fail "v6 address tentative"
expect_err "adding address 10.64.0.2/32 to link $idx: File exists" addr-add tun0 10.64.0.2/32
drv addr-del tun0 198.51.100.7/24 || fail "addr-del"
ns ip -4 -o addr show dev tun0 | grep -q 198.51.100.7 && fail "address not removed"
expect_err "removing address 198.51.100.7/24 from link $idx" addr-del tun0 198.51.100.7/24
ok "IPv4 and IPv6 addresses (nodad) added and removed, duplicates refused"

# ----------------------------------------------------- routes, rules, snapshot
drv snapshot >"$WORK/snap0" || fail "snapshot"
LC_ALL=C sort -c "$WORK/snap0" || fail "snapshot not sorted"
grep -q '^route IPv6 .* dst 2001:db8:ff::' "$WORK/snap0" || fail "snapshot lacks the tun0 prefix route"
grep -q '^rule IPv4 .* table 254 .*priority 32766' "$WORK/snap0" || fail "snapshot lacks the main rule"

drv route-add 198.51.100.0/24 via 192.0.2.1 dev phys0 table 100 metric 7 || fail "route via"
drv route-add 203.0.113.0/24 dev tun0 table 100 || fail "route dev"
drv route-add 198.18.0.0/15 type unreachable table 100 || fail "route unreachable"
drv route-add 192.0.0.0/24 type blackhole table 100 || fail "route blackhole"
drv route-add 10.0.0.0/8 type throw table 100 || fail "route throw"
drv route-add 198.51.100.128/25 via 192.0.2.1 dev phys0 || fail "route in main"
drv route-add 2001:db8:5::/48 via 2001:db8:1::1 dev phys0 table 51821 metric 5 || fail "v6 route"
drv route-add 2001:db8:6::/48 type unreachable table 51821 || fail "v6 unreachable"
t100=$(ns ip -4 route show table 100)
for want in "198.51.100.0/24 via 192.0.2.1 dev phys0 metric 7" \
	    "203.0.113.0/24 dev tun0 scope link" "unreachable 198.18.0.0/15" \
	    "blackhole 192.0.0.0/24" "throw 10.0.0.0/8"; do
	grep -qF "$want" <<<"$t100" || fail "table 100 lacks '$want': $t100"
done
ns ip -4 route show | grep -qF "198.51.100.128/25 via 192.0.2.1 dev phys0" || fail "main lacks the route"
t6=$(ns ip -6 route show table 51821)
grep -qF "2001:db8:5::/48 via 2001:db8:1::1 dev phys0 metric 5" <<<"$t6" || fail "table 51821: $t6"
grep -qF "unreachable 2001:db8:6::/48" <<<"$t6" || fail "table 51821: $t6"
expect_err "adding IPv4 unicast route 203.0.113.0/24 dev $idx table 100 metric 0: File exists" \
	route-add 203.0.113.0/24 dev tun0 table 100
# The kernel's extended ack reaches the message.
expect_err "(kernel: " route-add 1.2.3.0/24 via 9.9.9.9 table 100

drv rule-add -4 priority 1000 not fwmark 0x1/0xff table 100 || fail "rule v4"
drv rule-add -6 priority 1001 table 254 suppress_prefixlength 0 || fail "rule v6"
drv rule-add -4 priority 1002 table 70000 || fail "rule big table"
ns ip -4 rule | grep -qP '^1000:\tnot from all fwmark 0x1/0xff lookup 100\s*$' || fail "v4 rule: $(ns ip -4 rule)"
ns ip -6 rule | grep -qP '^1001:\tfrom all lookup main suppress_prefixlength 0\s*$' || fail "v6 rule: $(ns ip -6 rule)"
ns ip -4 rule | grep -qP '^1002:\tfrom all lookup 70000\s*$' || fail "big table rule: $(ns ip -4 rule)"
expect_err "adding IPv4 rule priority 1000 not fwmark 0x1/0xff lookup 100: File exists" \
	rule-add -4 priority 1000 not fwmark 0x1/0xff table 100
[ "$(ns ip -4 rule | grep -c '^1000:')" = 1 ] || fail "duplicate rule stacked"

drv snapshot >"$WORK/snap1" || fail "snapshot"
cmp -s "$WORK/snap0" "$WORK/snap1" && fail "snapshot blind to new routes and rules"
grep -q '^rule IPv4 .*flags 0x2 table 100 .*priority 1000 fwmark 0x1 fwmask 0xff' "$WORK/snap1" || fail "snapshot lacks the rule"

for r in "198.51.100.0/24 via 192.0.2.1 dev phys0 table 100 metric 7" \
	 "203.0.113.0/24 dev tun0 table 100" "198.18.0.0/15 type unreachable table 100" \
	 "192.0.0.0/24 type blackhole table 100" "10.0.0.0/8 type throw table 100" \
	 "198.51.100.128/25 via 192.0.2.1 dev phys0" \
	 "2001:db8:5::/48 via 2001:db8:1::1 dev phys0 table 51821 metric 5" \
	 "2001:db8:6::/48 type unreachable table 51821"; do
	# shellcheck disable=SC2086
	drv route-del $r || fail "route-del $r"
done
[ -z "$(ns ip -4 route show table 100)$(ns ip -6 route show table 51821)" ] || fail "routes left"
expect_err "removing IPv4 unicast route 10.0.0.0/8 dev 0 table 100 metric 0: No such process" \
	route-del 10.0.0.0/8 table 100
drv rule-del -4 priority 1000 not fwmark 0x1/0xff table 100 || fail "rule-del v4"
drv rule-del -6 priority 1001 table 254 suppress_prefixlength 0 || fail "rule-del v6"
drv rule-del -4 priority 1002 table 70000 || fail "rule-del big table"
ns ip rule | grep -q '^100[012]:' && fail "rule left"
expect_err "removing IPv4 rule priority 1000 lookup 100: No such file or directory" \
	rule-del -4 priority 1000 table 100

drv snapshot >"$WORK/snap2" || fail "snapshot"
cmp -s "$WORK/snap0" "$WORK/snap2" || fail "snapshot after undoing everything:
$(diff "$WORK/snap0" "$WORK/snap2")"
# Lifetimes and expiry count down; the snapshot must not see them move.
ns ip addr add 2001:db8:9::1/64 dev phys0 nodad valid_lft 300 preferred_lft 200
ns ip -6 route add 2001:db8:77::/48 via 2001:db8:1::1 dev phys0 expires 300
drv snapshot >"$WORK/snap3" || fail "snapshot"
sleep 1.1
drv snapshot >"$WORK/snap4" || fail "snapshot"
cmp -s "$WORK/snap3" "$WORK/snap4" || fail "snapshot moved by itself:
$(diff "$WORK/snap3" "$WORK/snap4")"
ns ip addr del 2001:db8:9::1/64 dev phys0
# The kernel leaves the prefix route of an address with a lifetime behind.
ns ip -6 route del 2001:db8:9::/64 dev phys0 2>/dev/null
ns ip -6 route del 2001:db8:77::/48 via 2001:db8:1::1 dev phys0
ok "routes (unicast, dev, unreachable, blackhole, throw; tables 100, main, 51821), rules (not, fwmark/mask, suppress_prefixlength, table 70000), their errors, and the snapshot"

# ---------------------------------------------------------- tunnel routing
# Someone else's rule with our mark and route in our table: down must
# leave them alone, since vpnd matches its own protocol number.
ns ip rule add fwmark $MARK lookup main priority 31000
ns ip route add 198.51.100.0/24 dev phys0 table $TABLE
dump >"$WORK/before"
drv snapshot >"$WORK/snap_before" || fail "snapshot"

drv tunnel-up dev tun0 "${TUN[@]}" ipv4 || fail "tunnel-up: see above"
ns ip -4 rule | grep -qP "^32000:\tnot from all fwmark $MARK lookup $TABLE proto 118\s*$" ||
	fail "v4 tunnel rule: $(ns ip -4 rule)"
ns ip -6 rule | grep -qP "^32000:\tnot from all fwmark $MARK lookup $TABLE proto 118\s*$" ||
	fail "v6 tunnel rule: $(ns ip -6 rule)"
ns ip rule | grep -q suppress_prefixlength && fail "a suppress rule was installed"
expect_route tun0 route get 8.8.8.8
expect_route phys0 route get 8.8.8.8 mark $MARK
expect_route unreachable -6 route get 2001:4860::8888
expect_route phys0 -6 route get 2001:4860::8888 mark $MARK
ok "up: unmarked traffic into tun0, marked traffic out phys0, IPv6 without tunnel address unreachable"

# TunnelVision: a DHCP server's option 121 routes, installed as a DHCP
# client installs them (gateway and device), and an RA's route for IPv6.
for p in 0.0.0.0/1 128.0.0.0/1 203.0.113.0/24; do
	ns ip route add $p via 192.0.2.1 dev phys0 || fail "adding $p"
done
ns ip -6 route add 2000::/3 via 2001:db8:1::1 dev phys0
for a in 8.8.8.8 1.1.1.1 200.1.2.3 203.0.113.5; do
	expect_route tun0 route get $a
done
expect_route phys0 route get 203.0.113.5 mark $MARK
expect_route unreachable -6 route get 2001:4860::8888
# The same routes given only a gateway: the kernel resolves the gateway
# through the rules, so they even point into the tunnel themselves.
ns ip route add 192.0.0.0/29 via 192.0.2.1
expect_route tun0 route get 192.0.0.5
ns ip route del 192.0.0.0/29
ok "routes to 0.0.0.0/1, 128.0.0.0/1, 203.0.113.0/24 and 2000::/3 via the physical gateway do not pull traffic out"
# Control: wg-quick's rule, consulted before the tunnel's, hands the same
# traffic to the physical link; the checks above would have seen it.
ns ip rule add table main suppress_prefixlength 0 priority 31999
expect_route phys0 route get 203.0.113.5
expect_route phys0 route get 8.8.8.8
ns ip rule del priority 31999
ok "control: with wg-quick's suppress_prefixlength rule first, the same routes leak (TunnelVision)"
for p in 0.0.0.0/1 128.0.0.0/1 203.0.113.0/24; do
	ns ip route del $p via 192.0.2.1 dev phys0
done
ns ip -6 route del 2000::/3 via 2001:db8:1::1 dev phys0

dump >"$WORK/up1"
drv tunnel-up dev tun0 "${TUN[@]}" ipv4 || fail "second tunnel-up"
same_as up1 "second up"
drv tunnel-down dev tun0 "${TUN[@]}" ipv4 || fail "tunnel-down"
same_as before "after down"
drv tunnel-down dev tun0 "${TUN[@]}" ipv4 || fail "second tunnel-down"
same_as before "after a second down"
drv snapshot >"$WORK/snap_after" || fail "snapshot"
cmp -s "$WORK/snap_before" "$WORK/snap_after" || fail "snapshot after down differs"
ok "up twice changes nothing more; down (twice) restores ip's full dump byte for byte, foreign rule and route kept"

# A tunnel with an IPv6 address; then IPv6 routed into the tunnel anyway.
drv tunnel-up dev tun0 "${TUN[@]}" ipv4 ipv6 || fail "tunnel-up ipv6"
expect_route tun0 -6 route get 2001:4860::8888
expect_route phys0 -6 route get 2001:4860::8888 mark $MARK
drv tunnel-down dev tun0 "${TUN[@]}" ipv4 ipv6 || fail "tunnel-down ipv6"
drv tunnel-up dev tun0 "${TUN[@]}" ipv4 nofamily tunnel || fail "tunnel-up nofamily tunnel"
expect_route tun0 -6 route get 2001:4860::8888
drv tunnel-down dev tun0 "${TUN[@]}" ipv4 nofamily tunnel || fail "tunnel-down nofamily tunnel"
same_as before "after the IPv6 variants"
ok "IPv6 with a tunnel address, or nofamily=tunnel, goes into tun0"

# allow-lan: only the fixed private ranges go back to main.
ns ip route add 192.168.7.0/24 dev phys0
ns ip -6 route add fd00:7::/64 dev phys0
drv tunnel-up dev tun0 "${TUN[@]}" ipv4 allow-lan || fail "tunnel-up allow-lan"
expect_route phys0 route get 192.168.7.9
expect_route phys0 -6 route get fd00:7::9
expect_route tun0 route get 192.0.2.50
expect_route tun0 route get 8.8.8.8
drv tunnel-down dev tun0 "${TUN[@]}" ipv4 allow-lan || fail "tunnel-down allow-lan"
ns ip route del 192.168.7.0/24 dev phys0
ns ip -6 route del fd00:7::/64 dev phys0
same_as before "after allow-lan"
ok "allow-lan: 192.168/16 and fc00::/7 reach the LAN, the physical /24 (public range) stays in the tunnel"

# allow-lan with inside prefixes: the tunnel's resolvers and address
# networks stay in the tunnel although a throw covers them.  Duplicates and
# a resolver inside a network are given too: they must be reduced away.
IN=(inside 10.64.0.1 inside 10.64.0.0/24 inside 10.64.0.1 inside fc00:bbbb::1
    inside fc00:bbbb::/64 inside fc00:bbbb::1)
drv tunnel-up dev tun0 "${TUN[@]}" ipv4 ipv6 allow-lan "${IN[@]}" || fail "tunnel-up allow-lan inside"
t4=$(ns ip -4 route show table $TABLE)
t6=$(ns ip -6 route show table $TABLE)
grep -qF "10.64.0.0/24 dev tun0 proto 118 scope link metric 1024" <<<"$t4" || fail "no inside route 10.64.0.0/24: $t4"
grep -qF "fc00:bbbb::/64 dev tun0 proto 118 metric 1024" <<<"$t6" || fail "no inside route fc00:bbbb::/64: $t6"
grep -q "^10.64.0.1 " <<<"$t4" && fail "the resolver inside 10.64.0.0/24 got a route of its own: $t4"
grep -qF "throw 10.0.0.0/8" <<<"$t4" || fail "the 10/8 throw is gone: $t4"
expect_route tun0 route get 10.64.0.1
expect_route tun0 route get 10.64.0.77
expect_route phys0 route get 10.1.2.3
expect_route phys0 route get 10.64.0.1 mark $MARK
expect_route tun0 -6 route get fc00:bbbb::1
expect_route phys0 -6 route get fd00:7::9
dump >"$WORK/up_inside"
drv tunnel-up dev tun0 "${TUN[@]}" ipv4 ipv6 allow-lan "${IN[@]}" || fail "second tunnel-up allow-lan inside"
same_as up_inside "second up with inside prefixes"
drv tunnel-down dev tun0 "${TUN[@]}" ipv4 ipv6 allow-lan "${IN[@]}" || fail "tunnel-down allow-lan inside"
same_as before "after allow-lan with inside prefixes"
drv tunnel-down dev tun0 "${TUN[@]}" ipv4 ipv6 allow-lan "${IN[@]}" || fail "second tunnel-down allow-lan inside"
same_as before "after a second down with inside prefixes"
ok "allow-lan + inside: 10.64.0.1 and fc00:bbbb::1 go to tun0, 10.1.2.3 and fd00:7::9 to main; up twice, down twice restore ip's dump"

# An inside prefix equal to a LAN range replaces its throw (the same route
# key would be refused as existing); without an IPv6 address, an IPv6
# inside prefix is unreachable like the rest of IPv6, not thrown.
IN=(inside 192.168.0.0/16 inside 10.64.0.1 inside fc00:bbbb::1)
drv tunnel-up dev tun0 "${TUN[@]}" ipv4 allow-lan "${IN[@]}" || fail "tunnel-up inside 192.168/16"
ns ip -4 route show table $TABLE | grep -qF "throw 192.168.0.0/16" && fail "a throw for the inside 192.168/16"
expect_route tun0 route get 192.168.7.9
expect_route tun0 route get 10.64.0.1
expect_route phys0 route get 172.16.0.9
expect_route unreachable -6 route get fc00:bbbb::1
expect_route phys0 -6 route get fd00:7::9
drv tunnel-down dev tun0 "${TUN[@]}" ipv4 allow-lan "${IN[@]}" || fail "tunnel-down inside 192.168/16"
same_as before "after an inside prefix equal to a LAN range"
# Without allow-lan the default covers them: no route of their own.
drv tunnel-up dev tun0 "${TUN[@]}" ipv4 "${IN[@]}" || fail "tunnel-up inside without allow-lan"
ns ip -4 route show table $TABLE | grep -qE "^(192.168.0.0/16|10.64.0.1) " && fail "inside routes without allow-lan"
drv tunnel-down dev tun0 "${TUN[@]}" ipv4 "${IN[@]}" || fail "tunnel-down inside without allow-lan"
same_as before "after inside prefixes without allow-lan"
many=()
for i in $(seq 17); do many+=(inside 10.99.$i.0/24); done
expect_err "17 inside prefixes, at most 16" tunnel-up dev tun0 "${TUN[@]}" ipv4 allow-lan "${many[@]}"
same_as before "after too many inside prefixes"
ok "an inside prefix replaces an equal throw; IPv6 inside without an IPv6 address is unreachable; none without allow-lan; 17 refused"

# All or nothing: IPv6 off on tun0 makes the IPv6 route fail after the IPv4
# one went in; the IPv4 one must be gone again.
ns sysctl -qw net.ipv6.conf.tun0.disable_ipv6=1
dump >"$WORK/before6"
expect_err "(kernel: IPv6 is disabled on nexthop device)" tunnel-up dev tun0 "${TUN[@]}" ipv4 ipv6
same_as before6 "after a failed up"
expect_err "(kernel: IPv6 is disabled on nexthop device)" tunnel-up dev tun0 "${TUN[@]}" ipv4 ipv6 \
	allow-lan inside 10.64.0.0/24 inside 10.64.0.1 inside fc00:bbbb::/64
same_as before6 "after a failed up with inside prefixes"
expect_err "adding IPv4 unicast route 0.0.0.0/0 dev 9999" tunnel-up ifindex 9999 "${TUN[@]}" ipv4
same_as before6 "after an up on a missing device"
expect_err "table 254 is reserved" tunnel-up dev tun0 fwmark $MARK table 254 ipv4
expect_err "fwmark 0" tunnel-up dev tun0 fwmark 0 table $TABLE ipv4
expect_err "not before the main table" tunnel-up dev tun0 "${TUN[@]}" priority 32766 ipv4
same_as before6 "after refused descriptions"
ns sysctl -qw net.ipv6.conf.tun0.disable_ipv6=0
ok "a failing up rolls back and says why; bad descriptions are refused"

# fail-closed: the tunnel's routes vanish with its link; the backstop keeps
# traffic from falling through to main.  Without it, it would.
drv tunnel-up dev tun0 "${TUN[@]}" ipv4 fail-closed || fail "tunnel-up fail-closed"
ns ip route show table $TABLE | grep -q 'unreachable default proto 118 metric 4294967295' ||
	fail "no backstop: $(ns ip route show table $TABLE)"
expect_route tun0 route get 8.8.8.8
ns ip link set tun0 down
expect_route unreachable route get 8.8.8.8
ns ip link set tun0 up
drv tunnel-down dev tun0 "${TUN[@]}" ipv4 fail-closed || fail "tunnel-down fail-closed"
drv tunnel-up dev tun0 "${TUN[@]}" ipv4 || fail "tunnel-up"
ns ip link set tun0 down
expect_route phys0 route get 8.8.8.8
ns ip link set tun0 up
drv tunnel-down dev tun0 "${TUN[@]}" ipv4 || fail "tunnel-down"
[ "$(ns ip route show table $TABLE | sed 's/ *$//')" = "198.51.100.0/24 dev phys0 scope link" ] ||
	fail "table $TABLE after down: $(ns ip route show table $TABLE)"
ns ip rule | grep -q "lookup $TABLE" && fail "rule left after down"
ok "fail-closed: tunnel link down means unreachable, not main (without it: main)"
