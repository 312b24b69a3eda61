/* SPDX-License-Identifier: MIT */
/*
 * The client's kill switch: the nftables table "inet vpnd_killswitch" that
 * decides, whatever the routing table says, that nothing of the user's
 * leaves the machine outside the tunnel.  This module owns the rules for
 * each state of the client, applying them as one transaction per state,
 * checking that the kernel still holds what it applied, taking over a
 * table left by a daemon that died, and arp_ignore.  The state machine
 * that decides when to call it is control.c's.
 *
 * One table for the host, not one per tunnel
 * ------------------------------------------
 * In nftables an "accept" ends only its own base chain: every other
 * table's chain on the same hook still sees the packet, and any "drop"
 * anywhere is final.  Two kill-switch tables with a default drop, one per
 * tunnel, would therefore each drop the other tunnel's traffic.  A kill
 * switch is a property of the host ("nothing leaves outside THE tunnel"),
 * so there is exactly one table, and one owner: the client daemon.  A
 * fixed name also lets a restarted daemon find the table of one that died
 * whatever interface that one had.  Serving several tunnels at once would
 * mean listing all of them in this one table.
 *
 * What the table holds (KILLSWITCH_RULES_TUNNEL)
 * ----------------------------------------------
 * output (policy drop), in this order, first match wins:
 *   1. oifname lo accept: local traffic never leaves, and the ICMP errors
 *      and TCP resets of the rejects below reach their sockets through lo.
 *   2. meta mark FWMARK, daddr SERVER, udp dport PORT: accept.  Only a
 *      socket with SO_MARK, which needs CAP_NET_ADMIN, carries the mark;
 *      an unprivileged process sending to the same address and port is
 *      rejected.  Before the DNS rejects so that a server on port 53
 *      still works; the match is exact, so it carries nothing else.
 *   3. DHCPv4 (udp 68 -> 67, any address: renewals are unicast to the
 *      server) and DHCPv6 (udp 546 -> 547 to ff02::1:2): both ports are
 *      privileged, so only root's DHCP client can use them.
 *   4. IPv6 neighbour discovery out: router solicitation, neighbour
 *      solicitation and advertisement (133, 135, 136) with hop limit 255,
 *      so link-only; and MLD listener reports (131, 143) to ff02::16 with
 *      hop limit 1, because a switch that snoops MLD stops forwarding our
 *      solicited-node group, and with it the neighbour solicitations for
 *      our address, when we never report it.  134 (router advertisement)
 *      is not sent by a client, nothing else is needed.
 *   5. DNS to the tunnel's resolvers through the tunnel (tcp and udp, 53
 *      and 853): accept.
 *   6. every other destination of tcp/udp port 53 or 853: reject, before
 *      the tunnel and LAN accepts: no query goes to the LAN's resolver, or
 *      a public one through the tunnel, allow_lan or not.
 *   7. oifname TUNNEL accept.
 *   8. allow_lan only: the tunnel's inside prefixes, its resolvers and
 *      the networks of its addresses (netlink_tunnel_inside(): IPv6 ones
 *      at least a /64), drop by destination.  They usually lie in the
 *      ranges of 9 (10.64.0.1 in 10/8, fc00:bbbb::/64 in fc00::/7), and
 *      without this rule they would pass as LAN, in clear text, on any
 *      interface; with it they leave through the tunnel (7) or not at all
 *      (netlink.c routes them into the tunnel for the same reason).  One
 *      set per family, ascending, touching intervals merged, as nft lists
 *      it.
 *   9. allow_lan only, by destination: 10/8, 172.16/12, 192.168/16,
 *      169.254/16, fe80::/10, fc00::/7; local multicast 224.0.0.0/24 and
 *      ff02::/16, which routers never forward (link-local scope), and the
 *      limited broadcast 255.255.255.255, which never leaves the link
 *      either (netlink.c throws the same back to main).  Fixed ranges
 *      only: what a DHCP server or a route calls local is not looked at.
 *      Admin-scoped multicast (239/8, SSDP's 239.255.255.250) can cross
 *      routers and is left out.
 *  10. tcp: reject with a reset; everything else: reject with icmpx
 *      admin-prohibited.  The local user gets a fast failure rather than
 *      a timeout; the policy drop stays as the backstop.
 * input (policy drop): lo accept; anything for a tunnel address arriving
 *   on another interface drop (before the replies: such a packet is never
 *   one); the tunnel accept; ICMP and ICMPv6 redirects drop (conntrack
 *   would call them "related"); ct state established,related accept;
 *   DHCP replies (udp 67 -> 68; DHCPv6 547 -> 546 from fe80::/10); router
 *   advertisements, neighbour solicitations and advertisements with hop
 *   limit 255; MLD queries from fe80::/10 with hop limit 1; with
 *   allow_lan, anything from the inside prefixes drop, then anything from
 *   the LAN source ranges above accept.
 * forward (policy drop): the same DNS accepts and drops as output, the
 *   tunnel out, the tunnel's replies back, and with allow_lan the inside
 *   prefixes dropped, then the LAN destinations; drops rather than
 *   rejects, since what is forwarded is not the local user's and nothing
 *   here should answer the network.
 *
 * With split tunneling by application (bypass_mark not 0), output accepts
 * that mark right after lo, and input accepts connections carrying it
 * (ct mark) right after lo, in TUNNEL and BLOCK rules alike: a bypassing
 * application is outside the tunnel by the user's choice, tunnel up or
 * not.  Only a socket in vpnd's bypass cgroup, or one with SO_MARK (root),
 * carries the mark.
 *
 * KILLSWITCH_RULES_BLOCK (lockdown while disconnected, or a held table):
 * the same without the server, the tunnel, the resolvers and the inside
 * prefixes: loopback, DHCP, ND, all DNS rejected, LAN when allow_lan, the
 * rest rejected.
 *
 * Which rules a state gets
 *   off                              no table
 *   on, disconnected                 no table (BLOCK while held)
 *   lockdown, disconnected           BLOCK
 *   on or lockdown, any other phase  TUNNEL
 * "Held" (killswitch_takeover() found a table): the mode counts as
 * lockdown until killswitch_release(), so that a daemon restarted after a
 * crash, which starts disconnected, keeps blocking until the user says
 * up, down or off: a crash never turns into an open door on its own.
 *
 * Not covered, by design: root (it can delete the table); AF_PACKET
 * sockets, which bypass the inet hooks (DHCP clients use them, and only
 * root can open them); IPv6 has no ARP, and Linux answers a neighbour
 * solicitation only for addresses of the interface it arrived on.
 */
#ifndef VPND_KILLSWITCH_H
#define VPND_KILLSWITCH_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "firewall.h"
#include "netlink.h"

#define KILLSWITCH_TABLE "vpnd_killswitch"

enum killswitch_limits {
	KILLSWITCH_ADDR_MAX = 8,	/* conf's CONF_ADDRESS_MAX */
	KILLSWITCH_DNS_MAX = 8,		/* conf's CONF_DNS_MAX */
	KILLSWITCH_ERR_LEN = 512,
	/* arp_ignore 1: answer ARP only for addresses of the interface the
	 * request arrived on. */
	KILLSWITCH_ARP_IGNORE = 1,
};

enum killswitch_mode {
	KILLSWITCH_OFF,
	KILLSWITCH_ON,
	KILLSWITCH_LOCKDOWN,
};

enum killswitch_phase {
	KILLSWITCH_DISCONNECTED,
	KILLSWITCH_CONNECTING,
	KILLSWITCH_CONNECTED,
	KILLSWITCH_ERROR,
};

/* What a state comes down to in the kernel. */
enum killswitch_rules {
	KILLSWITCH_RULES_NONE,		/* no table */
	KILLSWITCH_RULES_BLOCK,		/* loopback, DHCP, ND, LAN if allowed */
	KILLSWITCH_RULES_TUNNEL,	/* BLOCK + server, resolvers, tunnel */
};

/* The server the daemon's marked socket may reach. */
struct killswitch_endpoint {
	int family;			/* AF_INET, AF_INET6, or 0: none */
	union netlink_inaddr addr;
	uint16_t port;			/* host byte order, not 0 */
	int protocol;			/* IPPROTO_UDP; nothing else yet */
};

struct killswitch_state {
	enum killswitch_mode mode;
	enum killswitch_phase phase;
	/* The tunnel device; needed for TUNNEL rules, ignored otherwise.
	 * Refused unless firewall_ifname_valid(). */
	const char *tunnel_ifname;
	uint32_t fwmark;		/* the daemon's SO_MARK; not 0 */
	struct killswitch_endpoint server;	/* family 0: none yet */
	/* While the daemon probes servers (servers.c): their endpoints,
	 * let through for the daemon's mark alone, in every phase that has
	 * rules; NULL and 0 otherwise. */
	const struct killswitch_endpoint *probe;
	unsigned int n_probe;
	/* The tunnel's own addresses with their prefix lengths.  Packets for
	 * the addresses themselves are dropped on other devices; with
	 * allow_lan their networks are also inside prefixes. */
	struct netlink_prefix tunnel_addr[KILLSWITCH_ADDR_MAX];
	unsigned int n_tunnel_addr;
	/* The tunnel's resolvers (addresses; the length is ignored).  None:
	 * all DNS is rejected. */
	struct netlink_prefix resolver[KILLSWITCH_DNS_MAX];
	unsigned int n_resolver;
	bool allow_lan;
	/* Split tunneling by application (splitapp.h): packets with this
	 * mark, and the connections they open, pass in every phase that has
	 * rules, out of any interface; 0: none. */
	uint32_t bypass_mark;
};

/*
 * The kill switch of one daemon.  Embed it, killswitch_init() it with an
 * open struct firewall (borrowed, not closed here), killswitch_free() it.
 * Freeing leaves the kernel as it is: the table outlives the daemon.
 */
struct killswitch {
	struct firewall *fw;
	bool held;		/* a table found by takeover keeps blocking */
	bool applied;		/* an apply succeeded since init */
	bool present;		/* it left a table (else it deleted it) */
	char *body;		/* the text of that table's body */
	char *listing;		/* nft's listing of it right after */
	char err[KILLSWITCH_ERR_LEN];
};

void killswitch_init(struct killswitch *ks, struct firewall *fw);
void killswitch_free(struct killswitch *ks);
/* The last failure, as one line. */
const char *killswitch_strerror(const struct killswitch *ks);

/* Which rules s gets; held as in killswitch_takeover(). */
enum killswitch_rules killswitch_rules_for(const struct killswitch_state *s,
					   bool held);

/*
 * The body of the table for s (the text between the table's braces),
 * appended to body, in the form nft lists it; *rules says which set it
 * is (nothing is appended for NONE).  Pure: nothing touches the kernel.
 * 0, or -EINVAL (-EPROTONOSUPPORT for a server protocol other than UDP)
 * with body->err and body->why set, so that the text cannot be applied.
 */
int killswitch_render(const struct killswitch_state *s, bool held,
		      struct firewall_text *body, enum killswitch_rules *rules);

/*
 * Puts the kernel in state s as one transaction: replaces (or creates)
 * the table, never deleting it first, or deletes it when s has none.  On
 * failure the kernel keeps what it had.  Then keeps nft's listing of the
 * table for killswitch_verify().
 */
int killswitch_apply(struct killswitch *ks, const struct killswitch_state *s);

/*
 * *matches: the kernel holds exactly what killswitch_apply(s) left,
 * compared as nft's listing then and now (nft rewrites what it is given,
 * so only listings compare); no table when s has none.  False also when s
 * is not the state last applied, or when nothing was applied and s needs
 * a table.  0 or -errno (then *matches is false).
 */
int killswitch_verify(struct killswitch *ks, const struct killswitch_state *s,
		      bool *matches);

/*
 * For a daemon that starts: when a table of this name is in the kernel
 * (*found), it is held (see above) and replaced by s's rules in one
 * transaction, so there is no moment without one; without a table, s is
 * simply applied.  If s cannot be applied while a table was found, the
 * minimal BLOCK set replaces it (or, if even that fails, the old table
 * stays): the error is still returned.
 */
int killswitch_takeover(struct killswitch *ks,
			const struct killswitch_state *s, bool *found);
/* The user said down or off: stop holding.  The next apply decides. */
void killswitch_release(struct killswitch *ks);
/* Hold without a takeover: for a daemon that stops while up (SIGTERM, not
 * "down"), so that its last apply leaves the BLOCK set, not nothing. */
void killswitch_hold(struct killswitch *ks);

/*
 * Fills e from a socket address (port included); an IPv4-mapped IPv6
 * address becomes IPv4, as the kernel sends it.  -EAFNOSUPPORT otherwise.
 */
int killswitch_endpoint_from_sockaddr(struct killswitch_endpoint *e,
				      const struct sockaddr *sa,
				      socklen_t len);

/*
 * arp_ignore for the tunnel's IPv4 addresses: Linux answers ARP on any
 * interface for any of its addresses (arp_ignore 0), so the physical link
 * would learn that this host has the tunnel's address.  Guarding sets
 * net.ipv4.conf.NAME.arp_ignore to KILLSWITCH_ARP_IGNORE when it is lower
 * (a stricter value is left alone).  The kernel uses the larger of "all"
 * and the device's value, so NAME "all" covers every interface, also the
 * ones that appear later (a new Wi-Fi): that is the one to use.
 */
struct killswitch_arp {
	char name[IFNAMSIZ];	/* "all" or an interface; "" when unused */
	int old;		/* the value found */
	int ours;		/* the value written, -1 if nothing was */
};

int killswitch_arp_guard(struct killswitch_arp *a, const char *name);
/* The value of net.ipv4.conf.NAME.arp_ignore now; 0 or -errno. */
int killswitch_arp_value(const char *name, int *value);
/* Writes the old value back, only if the value is still ours (someone who
 * changed it since has the last word).  Nothing guarded: nothing done. */
int killswitch_arp_restore(struct killswitch_arp *a);

#endif /* VPND_KILLSWITCH_H */
