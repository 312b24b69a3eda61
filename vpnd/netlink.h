/* SPDX-License-Identifier: MIT */
/*
 * rtnetlink through libmnl: links, addresses, routes and policy (FIB) rules,
 * a canonical snapshot of the routing state, and the client's policy-routing
 * set for a tunnel.  Nothing here shells out to ip(8); nothing here keeps
 * global state: the socket is a struct netlink the caller opens and closes,
 * and it also carries the text of the last error.
 *
 * Every operation returns 0 (or a non-negative result) or -errno, and on
 * failure leaves in netlink_strerror() a sentence saying what failed, why,
 * and the kernel's own extended-ack message when it sent one.
 *
 * Why the tunnel's rules look the way they do (TunnelVision)
 * ----------------------------------------------------------
 * wg-quick routes everything into a tunnel with two rules and one table M:
 *
 *     32764: from all lookup main suppress_prefixlength 0
 *     32765: not from all fwmark M lookup M        (M: 0.0.0.0/0 dev wg0)
 *
 * A rule added without a priority lands just before the first one after
 * the local rule, so the suppress rule, added second, is consulted FIRST.
 * It means "use the main table unless the answer is a default route": any
 * route in main with a prefix length of 1 or more wins over the tunnel.
 * That is exactly what a rogue DHCP server exploits with option 121
 * classless static routes (TunnelVision, CVE-2024-3661), and a rogue
 * router with RFC 4191 route information options for IPv6: it pushes
 * 0.0.0.0/1 and 128.0.0.0/1, or one victim's /24, via the physical gateway
 * into main, and the suppress rule hands that traffic to the physical link
 * in clear text.
 * The rule exists so LAN routes keep working; the price is that whoever
 * controls the LAN's DHCP decides what bypasses the tunnel.
 *
 * vpnd installs no suppress rule.  Per family it installs one rule,
 *
 *     P: not from all fwmark M lookup T               (P < 32766, main)
 *
 * and table T always holds a default route (into the tunnel, or
 * unreachable when the tunnel has no address of that family).  Every
 * unmarked lookup therefore ends in T and never reaches main, whatever
 * prefix length a route in main has; only the daemon's own socket, marked
 * M, falls through to main and the physical gateway.  The local table
 * (priority 0) still answers first, so the machine's own addresses work.
 * The worst a route in main can do is steer the daemon's already encrypted
 * packets, which is a denial of service, not a leak.
 *
 * A side effect to know about: the kernel resolves the gateway of a route
 * added to main without a device through the rules too, so after up such
 * a route points into the tunnel.  Whoever adds a route to main (the
 * client for its endpoint, a DHCP client) must name the device.
 *
 * LAN access is the caller's explicit choice (allow_lan): "throw" routes in
 * T for the fixed private ranges only, which make those lookups continue to
 * main.  A range the DHCP server calls local but that is not one of them
 * still goes into the tunnel.
 *
 * The tunnel's own resolvers and the networks of its addresses usually lie
 * in those ranges too (10.64.0.1, fc00:bbbb::/64), and a throw would send
 * them, DNS included, out the physical link in clear text.  So with
 * allow_lan the caller also names them ("inside" prefixes, computed by
 * netlink_tunnel_inside(): an IPv6 address counts as at least its /64,
 * where the server's side of the tunnel lives), and T gets a
 * route for each that goes where the default goes (into the tunnel, or
 * unreachable for a family without address): being longer, it beats the
 * throw around it by longest-prefix match.  A LAN range that lies within
 * an inside prefix gets no throw at all, since the throw would be the
 * longer (or, equal, the same route key, refused as existing).
 *
 * Routing cannot stop a socket bound to the physical device
 * (SO_BINDTODEVICE: its lookups skip nexthops on other devices and fall
 * through to main), and routes on the tunnel vanish when its device goes
 * down or away.  fail_closed adds an unreachable default at the worst
 * metric in T for the latter; the firewall (kill switch) is what closes
 * both for good.
 */
#ifndef VPND_NETLINK_H
#define VPND_NETLINK_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

struct netlink;

/* The routing protocol number vpnd tags its tunnel routes and rules with,
 * so that removing them can never match a route or rule someone else added
 * (the kernel compares it on delete).  Unassigned in iproute2's rt_protos. */
#define NETLINK_PROTO_VPND 118
/* Default priority of the tunnel rule: before main (32766). */
#define NETLINK_TUNNEL_PRIORITY 32000
/* Metrics in the tunnel table: the real default route, and the fail-closed
 * backstop that only answers when the real one is gone. */
#define NETLINK_TUNNEL_METRIC 1024
#define NETLINK_BACKSTOP_METRIC UINT32_MAX
/* Inside prefixes a tunnel may name: conf's CONF_ADDRESS_MAX addresses and
 * CONF_DNS_MAX resolvers. */
#define NETLINK_INSIDE_MAX 16

int netlink_open(struct netlink **nlp);
void netlink_close(struct netlink *nl);
/* The last failure of any operation on nl, as one line of text. */
const char *netlink_strerror(const struct netlink *nl);

/* Links.  netlink_link_index returns the index (> 0) or -errno. */
int netlink_link_index(struct netlink *nl, const char *name);
int netlink_link_set_up(struct netlink *nl, int ifindex, bool up);
int netlink_link_set_mtu(struct netlink *nl, int ifindex, uint32_t mtu);

union netlink_inaddr {
	struct in_addr v4;
	struct in6_addr v6;
	uint8_t bytes[16];
};

struct netlink_prefix {
	int family;		/* AF_INET or AF_INET6 */
	union netlink_inaddr addr;
	uint8_t len;
};

/* "192.0.2.1/24", "2001:db8::1/64"; without "/len", a host prefix. */
int netlink_prefix_parse(const char *text, struct netlink_prefix *p);
/* Fills p (zeroing it first) from a binary address of family and a length. */
void netlink_prefix_set(struct netlink_prefix *p, int family, const void *addr,
			uint8_t len);
/* Whether every address of inner is in outer (same family, no longer). */
bool netlink_prefix_contains(const struct netlink_prefix *outer,
			     const struct netlink_prefix *inner);
/*
 * Reduces p[0..n) in place to the prefixes no other one contains, each
 * masked to its length (host bits cleared), duplicates dropped, sorted by
 * family then address; adjacent prefixes are not merged.  Returns how many
 * are left.  The prefixes must be valid.
 */
unsigned int netlink_prefixes_reduce(struct netlink_prefix *p, unsigned int n);

/*
 * The "inside" prefixes of a tunnel (see allow_lan above) from its
 * addresses addr[0..n_addr) (address/length) and its resolvers
 * dns[0..n_dns) (the length is ignored): each resolver, and the network of
 * each address, where an IPv6 network is never narrower than a /64.  IPv6
 * links are /64s (SLAAC needs one), so no LAN shares a /64 with the
 * tunnel's address, and a provider's gateway and resolver commonly sit in
 * it (fc00:bbbb::1 next to fc00:bbbb::2/128); an IPv4 /32 has no such
 * rule and stays a /32.  Invalid entries are skipped.  out has room for
 * n_addr + n_dns; reduced as by netlink_prefixes_reduce(); returns how
 * many.
 */
#define NETLINK_INSIDE_IPV6_LEN 64
unsigned int netlink_tunnel_inside(const struct netlink_prefix *addr,
				   unsigned int n_addr,
				   const struct netlink_prefix *dns,
				   unsigned int n_dns, struct netlink_prefix *out);

/* Addresses.  IPv6 ones are added with IFA_F_NODAD: a tunnel has no
 * neighbours to collide with, and nothing should wait for DAD. */
int netlink_addr_add(struct netlink *nl, int ifindex,
		     const struct netlink_prefix *a);
int netlink_addr_del(struct netlink *nl, int ifindex,
		     const struct netlink_prefix *a);

/*
 * A route.  Zero fields mean what ip(8) means by leaving them out: table 0
 * is main; type 0 is unicast when adding and any type when deleting;
 * protocol 0 is "boot" when adding and any protocol when deleting; metric 0
 * is the family's default when adding (IPv6: 1024) and any metric when
 * deleting.  Adding an existing route fails with -EEXIST.
 */
struct netlink_route {
	struct netlink_prefix dst;
	bool has_gateway;
	union netlink_inaddr gateway;	/* same family as dst */
	int oif;			/* 0: none */
	uint32_t table;
	/* RTN_UNICAST, RTN_UNREACHABLE, RTN_BLACKHOLE or RTN_THROW */
	uint8_t type;
	uint8_t protocol;	/* RTPROT_* */
	uint32_t metric;
};

int netlink_route_add(struct netlink *nl, const struct netlink_route *r);
int netlink_route_del(struct netlink *nl, const struct netlink_route *r);
/*
 * The routes of @family in @table tagged with @protocol, at most @max into
 * out (dst, type, protocol, table, metric, oif; no gateways): how many,
 * or -errno (-E2BIG: more than @max).
 */
int netlink_route_list(struct netlink *nl, int family, uint32_t table,
		       uint8_t protocol, struct netlink_route *out,
		       unsigned int max);
/*
 * The interface a packet to dst would leave by, as `ip route get DST from
 * SRC oif OIF mark MARK` says (src NULL: any source; oif, mark 0: none).
 * Returns the interface index, or -errno: -EINVAL when src is no longer
 * one of our addresses, -ENETUNREACH when no route leads there.
 */
int netlink_route_oif(struct netlink *nl, int family, const void *dst,
		      const void *src, int oif, uint32_t mark);

/* Where that packet would go: its interface and the source address the
 * kernel would give it (all zeros when the route names none). */
struct netlink_path {
	int oif;
	union netlink_inaddr src;
};

/* As netlink_route_oif(), filling @path; 0 or -errno. */
int netlink_route_path(struct netlink *nl, int family, const void *dst,
		       const void *src, int oif, uint32_t mark,
		       struct netlink_path *path);

/*
 * A policy rule whose action is "lookup table".  The priority is always
 * explicit: a rule without one lands wherever the kernel puts it, which is
 * how wg-quick's suppress rule ended up first.  The suppress field has its
 * own flag because suppress_prefixlength 0 is a meaningful (and here the
 * dangerous) value, so a zeroed struct must not mean it.
 */
struct netlink_rule {
	int family;		/* AF_INET or AF_INET6 */
	uint32_t priority;
	uint32_t table;		/* 0: main */
	bool match_fwmark;
	uint32_t fwmark;
	uint32_t fwmask;	/* 0: all 32 bits */
	bool invert;		/* "not": FIB_RULE_INVERT */
	bool has_suppress_prefixlen;
	uint8_t suppress_prefixlen;
	uint8_t protocol;	/* 0: unspecified when adding, any on delete */
};

/* Adding an identical rule fails with -EEXIST rather than stacking up. */
int netlink_rule_add(struct netlink *nl, const struct netlink_rule *r);
int netlink_rule_del(struct netlink *nl, const struct netlink_rule *r);

/*
 * Addresses of every link, IPv4 and IPv6 routes of every table, and IPv4
 * and IPv6 rules, one object a line, sorted, with what the kernel changes
 * by itself left out (lifetimes, cache info, expiry, DAD progress), so that
 * two snapshots compare equal exactly when the configuration is the same.
 * *text is malloc'd and NUL-terminated; the caller frees it.
 */
int netlink_snapshot(struct netlink *nl, char **text);

/* What a family with no tunnel address gets in the tunnel table. */
enum netlink_nofamily {
	/* ::/0 (or 0.0.0.0/0) unreachable: applications fail fast and fall
	 * back to the other family, and nothing leaves outside the tunnel. */
	NETLINK_NOFAMILY_UNREACHABLE = 0,
	/* Routed into the tunnel anyway, where the server drops it. */
	NETLINK_NOFAMILY_TUNNEL,
};

struct netlink_tunnel {
	int ifindex;		/* the tunnel device; up before routing_up */
	uint32_t fwmark;	/* the mark on the daemon's UDP sockets; != 0 */
	uint32_t table;		/* dedicated to this tunnel; not main/local */
	uint32_t priority;	/* of the rules; 0: NETLINK_TUNNEL_PRIORITY */
	bool has_ipv4;		/* the tunnel has an address of that family */
	bool has_ipv6;
	enum netlink_nofamily nofamily;
	/* An unreachable default behind the tunnel's, so that traffic fails
	 * rather than falls through to main when the device disappears. */
	bool fail_closed;
	/* Throw the fixed private, link-local and multicast ranges back to
	 * main: 10/8, 172.16/12, 192.168/16, 169.254/16, 224/4,
	 * 255.255.255.255, fe80::/10, fc00::/7. */
	bool allow_lan;
	/* With allow_lan, what stays in the tunnel although a throw covers
	 * it: the tunnel's resolvers and the networks of its addresses, as
	 * netlink_tunnel_inside() computes them.  Borrowed for as long as this description is used; overlaps and
	 * duplicates are fine (reduced first); at most NETLINK_INSIDE_MAX,
	 * each valid, or the description is refused.  Unused without
	 * allow_lan, where the default route already covers them. */
	const struct netlink_prefix *inside;
	unsigned int n_inside;
	/* A second table that gets T's default routes (and backstops) and
	 * nothing else, for traffic that must go through the tunnel whatever
	 * else T holds (split tunneling's throws: the tunnel group of
	 * splitapp.h looks up this one).  No rule points at it here; 0: none. */
	uint32_t app_table;
};

/*
 * Installs the tunnel's routes in its table, then its rules, so there is
 * no moment where the rule points at a half-filled table.  All or nothing:
 * on failure whatever this call added is removed again.  Idempotent: what
 * is already there (-EEXIST) counts as done and is not rolled back.
 */
int netlink_tunnel_routing_up(struct netlink *nl,
			      const struct netlink_tunnel *t);
/*
 * Removes, rules first, exactly the set routing_up installs for the same
 * description, matching on vpnd's protocol number, and nothing else; what
 * is already gone counts as removed.  Keeps going after a failure and
 * returns the first one.
 */
int netlink_tunnel_routing_down(struct netlink *nl,
				const struct netlink_tunnel *t);

#endif /* VPND_NETLINK_H */
