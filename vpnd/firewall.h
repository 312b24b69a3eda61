/* SPDX-License-Identifier: MIT */
/*
 * nftables through libnftables: vpnd's tables, each replaced as a whole in
 * one transaction, the text they are written in, and the server's NAT.
 * Nothing here shells out to nft(8); nothing here keeps global state: the
 * libnftables context lives in a struct firewall the caller opens and
 * closes, and it also carries the text of the last error.
 *
 * Every operation returns 0 or -errno, and on failure leaves in
 * firewall_strerror() one line saying what failed and why, with the first
 * message nftables gave and the command it was about.
 *
 * One primitive, one transaction
 * ------------------------------
 * Everything that changes the kernel goes through firewall_apply(): one
 * buffer, one nft_run_cmd_from_buffer(), which nftables commits as one
 * netlink batch.  Either every command in it takes effect or none does, and
 * packets see the old ruleset or the new one, never a mix.  A table is
 * replaced with the idiom
 *
 *     add table inet T        (creates it if missing, so that...)
 *     delete table inet T     (...this cannot fail)
 *     table inet T { ... }    (the new contents)
 *
 * in one buffer, because nftables 1.0.6 (Debian 12) has no "destroy".
 * That is what the kill switch needs: one firewall_table_replace() per
 * client state, and there is never a moment with no rules.
 *
 * No injection
 * ------------
 * Rule text is built with struct firewall_text.  Interface names go in
 * only through firewall_text_ifname(), which refuses anything but
 * [A-Za-z0-9_.-] and fewer than IFNAMSIZ characters, and addresses only
 * through firewall_text_prefix(), which formats binary addresses with
 * inet_ntop().  No text from a configuration file or a peer is ever copied
 * into a ruleset, so nothing can close a string or a block and add
 * commands of its own.  firewall_text_add() is for the fixed nft syntax
 * and numbers (ports, marks).
 *
 * Server NAT
 * ----------
 * firewall_nat_up() gives a tunnel the table "inet vpnd_nat_<tunnel>"
 * (one per tunnel, so several daemons do not replace each other's):
 *
 *   postrouting (nat, srcnat): what comes from a tunnel prefix and leaves
 *     by the egress interface is masqueraded to the egress address, IPv4
 *     and IPv6 alike.
 *   forward (filter, priority filter, policy accept):
 *     tunnel -> egress from a tunnel prefix    accept
 *     egress -> tunnel established, related    accept
 *     tunnel -> tunnel                         accept only if peer_to_peer
 *     anything else from or to the tunnel      drop
 *
 * The drops are the choice of a VPN provider: clients reach the internet
 * through the egress and nothing else, not each other (unless
 * peer_to_peer), not the server's other networks, and nobody outside can
 * open a connection to a client.  A packet from the tunnel whose source is
 * not a tunnel prefix is not forwarded either: the server forwards only
 * what it masquerades.  Forwarding that involves neither the tunnel nor
 * its traffic is left alone (policy accept), and so is traffic to and from
 * the server itself (input and output are not hooked): that is the
 * operator's firewall, not vpnd's.
 * An "accept" in one table does not stop another table's chains on the
 * same hook, so a host firewall that drops forwarded traffic (Docker's,
 * firewalld's) still does; a "drop" here is final.  Interfaces are
 * matched by name, so the rules hold even while a device is absent.
 * IP forwarding itself (the sysctls) is not this module's.
 */
#ifndef VPND_FIREWALL_H
#define VPND_FIREWALL_H

#include <stdbool.h>
#include <stddef.h>

#include "netlink.h"	/* struct netlink_prefix */

struct firewall;

/* The NAT table of tunnel T is FIREWALL_NAT_TABLE_PREFIX T. */
#define FIREWALL_NAT_TABLE_PREFIX "vpnd_nat_"

enum firewall_limits {
	/* Longest table name this module writes or accepts (nftables allows
	 * 255; ours are a prefix and an interface name). */
	FIREWALL_TABLE_NAME_MAX = 64,
	/* Prefixes a NAT may masquerade (conf's CONF_ADDRESS_MAX is 8). */
	FIREWALL_NAT_PREFIX_MAX = 16,
	/* A ruleset text larger than this is refused: vpnd's are a few KiB. */
	FIREWALL_TEXT_MAX = 1 << 20,
	FIREWALL_ERR_LEN = 512,
};

/* nftables address families; an enum so no caller text names one. */
enum firewall_family {
	FIREWALL_INET,		/* IPv4 and IPv6: every table of vpnd's */
	FIREWALL_IP,
	FIREWALL_IP6,
	FIREWALL_ARP,
	FIREWALL_BRIDGE,
	FIREWALL_NETDEV,
};

/*
 * Creates a libnftables context whose output and errors are kept in memory
 * and whose listings leave out counter values, so that two listings of the
 * same rules compare equal.  Nothing is printed, with one exception that
 * is libnftables' own: without CAP_NET_ADMIN it writes "Operation not
 * permitted (you must be root)" to stderr before failing with -EPERM.
 */
int firewall_open(struct firewall **fwp);
void firewall_close(struct firewall *fw);
/* The last failure of any operation on fw, as one line of text. */
const char *firewall_strerror(const struct firewall *fw);

/*
 * Ruleset text under construction.  Each append either succeeds or records
 * the first failure in err and why; later appends then do nothing, so a
 * builder is a straight sequence of calls checked once, by
 * firewall_apply_text() or firewall_table_replace(), which refuse a text
 * with an error before anything reaches nftables.  Zero-initialise it (or
 * use FIREWALL_TEXT_INIT) and release it with firewall_text_free().
 */
struct firewall_text {
	char *buf;		/* NUL-terminated once anything was added */
	size_t len;
	size_t cap;
	int err;		/* 0, or the first failure as -errno */
	char why[128];		/* what that failure was */
};

#define FIREWALL_TEXT_INIT { 0 }

void firewall_text_free(struct firewall_text *t);
/* The text so far ("" when empty). */
const char *firewall_text_str(const struct firewall_text *t);
/* Fixed nft syntax and numbers only: never a name or an address. */
void firewall_text_add(struct firewall_text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Appends "NAME", quoted, or fails with -EINVAL if NAME is not valid. */
void firewall_text_ifname(struct firewall_text *t, const char *name);
/* Appends "192.0.2.0/24" or "2001:db8::/32" with the host bits cleared,
 * or only the address for a /32 or /128; -EINVAL for a bad family or
 * length. */
void firewall_text_prefix(struct firewall_text *t,
			  const struct netlink_prefix *p);

/* 1 to IFNAMSIZ - 1 characters of [A-Za-z0-9_.-].  Linux allows more, but
 * nothing vpnd creates or is configured with needs more. */
bool firewall_ifname_valid(const char *name);
/* A letter or '_', then [A-Za-z0-9_.-], shorter than
 * FIREWALL_TABLE_NAME_MAX: an nft identifier that needs no quoting. */
bool firewall_table_name_valid(const char *name);

/*
 * Applies ruleset text (nft syntax, any number of commands) as one
 * transaction: all of it or, on any error, none of it.  The errno comes
 * from the kernel when it refused the batch, and is -EINVAL when nftables
 * itself rejected the text.
 */
int firewall_apply(struct firewall *fw, const char *ruleset_text);
/* The same for built text; a text with an error is refused unsent. */
int firewall_apply_text(struct firewall *fw, const struct firewall_text *t);

/* *exists tells whether the table is in the kernel. */
int firewall_table_exists(struct firewall *fw, enum firewall_family family,
			  const char *name, bool *exists);
/* Deleting a table that does not exist succeeds. */
int firewall_table_delete(struct firewall *fw, enum firewall_family family,
			  const char *name);
/*
 * Replaces the table, or creates it, with body as its contents (chains,
 * sets, ... the text between the table's braces), atomically: nothing in
 * between is ever visible, and on failure the old table is untouched.
 */
int firewall_table_replace(struct firewall *fw, enum firewall_family family,
			   const char *name, const struct firewall_text *body);

/*
 * Listings as nft(8) prints them, without counter values.  *text is
 * malloc'd and NUL-terminated; the caller frees it.  Listing a table that
 * does not exist fails with -ENOENT.
 */
int firewall_table_text(struct firewall *fw, enum firewall_family family,
			const char *name, char **text);
int firewall_ruleset_text(struct firewall *fw, char **text);

struct firewall_nat {
	const char *tunnel;	/* the tunnel interface */
	const char *egress;	/* traffic is masqueraded out of this one */
	/* The tunnel's IPv4 and IPv6 prefixes (host bits are ignored);
	 * 1 to FIREWALL_NAT_PREFIX_MAX, none of them a /0. */
	const struct netlink_prefix *prefixes;
	size_t n_prefixes;
	/* Let clients reach each other through the server. */
	bool peer_to_peer;
};

/* Writes the NAT table's name for a tunnel into name[size]. */
int firewall_nat_table_name(const char *tunnel, char *name, size_t size);
/* Installs or atomically replaces the tunnel's NAT table (see above). */
int firewall_nat_up(struct firewall *fw, const struct firewall_nat *n);
/* Removes the tunnel's NAT table; already gone counts as removed. */
int firewall_nat_down(struct firewall *fw, const char *tunnel);

#endif /* VPND_FIREWALL_H */
