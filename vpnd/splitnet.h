/* SPDX-License-Identifier: MIT */
/*
 * Split tunneling by network: the set of networks that are the exception
 * (exclude: these go outside the tunnel; include: only these go through
 * it), its checks, and the rewrite of the profile's [split] section for
 * "vpnctl split ... --save".  Pure: no sockets, no kernel; the routes
 * are splitroute.c's, the firewall rules killswitch.c's, the state
 * control.c's.  Shared by the profile reader (conf.c), so it depends on
 * nothing but conf.h's types.
 *
 * Why a set must not touch the tunnel's own prefixes
 * ----------------------------------------------------
 * An excluded network that covers a tunnel resolver would send DNS out
 * the physical link in clear text; one covering the tunnel's addresses or
 * the server's side of the tunnel would break it; one covering the
 * server's endpoint would change nothing (the daemon's own socket already
 * goes outside) but says the user misunderstood what is tunnelled.  For
 * include mode the same prefixes are kept in the tunnel by the daemon
 * itself, so naming them is refused as well rather than silently
 * meaning something else.  The tunnel's "inside" prefixes are computed as
 * netlink_tunnel_inside() does: each resolver, each address's network,
 * IPv6 networks never narrower than a /64.
 */
#ifndef VPND_SPLITNET_H
#define VPND_SPLITNET_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"

enum splitnet_limits {
	SPLITNET_MAX = CONF_SPLIT_MAX,
	SPLITNET_ERR_LEN = 256,
	/* "exclude = " and a list of SPLITNET_MAX full IPv6 prefixes. */
	SPLITNET_TEXT_MAX = SPLITNET_MAX * 46 + 16,
};

struct splitnet_set {
	enum conf_split mode;		/* NONE: no exception at all */
	struct conf_prefix net[SPLITNET_MAX];	/* masked, none overlapping */
	unsigned int n;
};

/* "exclude", "include" or "none". */
const char *splitnet_mode_name(enum conf_split mode);
/* The inverse, "exclude" and "include" only: false for anything else. */
bool splitnet_mode_parse(const char *text, enum conf_split *mode);

/*
 * One network, "ADDR/LEN" (IPv4 or IPv6; a plain address is a host
 * route), of @len bytes at @s.  Host bits must be zero, so that what the
 * user wrote is what is routed.  NULL, or why it is not one.
 */
const char *splitnet_parse(const char *s, size_t len, struct conf_prefix *p);

/* Whether a and b share an address (same family, one contains the other). */
bool splitnet_overlap(const struct conf_prefix *a, const struct conf_prefix *b);
/* The index of the set's network that contains the address @a of @family
 * (a struct in_addr or in6_addr), or -1. */
int splitnet_find_addr(const struct splitnet_set *s, int family,
		       const void *a);

/*
 * Whether @p may join a set: no overlap with the set's networks, nor the
 * tunnel's addresses (their networks, IPv6 at least a /64) or resolvers.
 * 0, or -EINVAL / -EEXIST with a sentence in why.
 */
int splitnet_check(const struct splitnet_set *s, const struct conf_prefix *p,
		   const struct conf_client *c, char *why, size_t len);

/*
 * Adds (or removes) the networks p[0..n) to (from) a copy of @s, in mode
 * @mode, checking each as splitnet_check() does; all or nothing: on error
 * *out is untouched and why says which entry and what.  Removing the last
 * network leaves mode NONE; adding in the other mode than the set's is
 * refused (both at once are not allowed).
 */
int splitnet_change(const struct splitnet_set *s, enum conf_split mode,
		    bool add, const struct conf_prefix *p, unsigned int n,
		    const struct conf_client *c, struct splitnet_set *out,
		    char *why, size_t len);

/* "198.51.100.0/24" into buf. */
const char *splitnet_text(const struct conf_prefix *p, char *buf, size_t len);
/* The set as "A, B, C" into buf (empty for none); false when too small. */
bool splitnet_list(const struct splitnet_set *s, char *buf, size_t len);

/*
 * The profile @in (@len bytes) with its [split] section saying @s, into
 * *out (malloc'd, NUL-terminated, *out_len bytes): the key of s's mode gets
 * the new list in place (a comment after the value kept), the other key's
 * line goes (and the key when the set is empty), a missing key is added
 * at the end of the section, a missing section at the end of the file.  Every other line, comments and order included, is
 * copied unchanged.  0 or -ENOMEM.
 */
int splitnet_profile_rewrite(const char *in, size_t len,
			     const struct splitnet_set *s, char **out,
			     size_t *out_len);

#endif /* VPND_SPLITNET_H */
