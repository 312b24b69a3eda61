/* SPDX-License-Identifier: MIT */
/*
 * The kill switch: the rules of "table inet vpnd_killswitch" for each
 * state of the client, written through firewall.c's text builder and
 * applied with one firewall_table_replace() (or delete) per state; the
 * listing kept after each apply, against which the kernel is checked; the
 * takeover of a table left by a daemon that died; and arp_ignore.
 * killswitch.h says what the rules are and why.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "killswitch.h"

/* Where arp_ignore lives; a unit test that includes this file points it
 * at a directory of its own. */
static const char *arp_conf_dir = "/proc/sys/net/ipv4/conf";

enum {
	ADDR_LIST_MAX = KILLSWITCH_ADDR_MAX > KILLSWITCH_DNS_MAX ?
				KILLSWITCH_ADDR_MAX : KILLSWITCH_DNS_MAX,
};

/* The fixed LAN ranges and link-scope multicast of allow_lan, in the order
 * nft lists interval sets (ascending), so that the text applied reads the
 * same as the listing.  Constants: nothing from outside goes in here. */
static const char lan4_dst[] =
	"{ 10.0.0.0/8, 169.254.0.0/16, 172.16.0.0/12, 192.168.0.0/16, "
	"224.0.0.0/24, 255.255.255.255 }";
static const char lan6_dst[] = "{ fc00::/7, fe80::/10, ff02::/16 }";
static const char lan4_src[] =
	"{ 10.0.0.0/8, 169.254.0.0/16, 172.16.0.0/12, 192.168.0.0/16 }";
static const char lan6_src[] = "{ fc00::/7, fe80::/10 }";
static const char dns_ports[] = "{ 53, 853 }";

/* -------------------------------------------------------------- errors */

static void ks_fail(struct killswitch *ks, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void ks_fail(struct killswitch *ks, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ks->err, sizeof(ks->err), fmt, ap);
	va_end(ap);
}

/* Records a failure in the text the way firewall.c's builder does: the
 * first one wins and the text can no longer be applied. */
static void text_fail(struct firewall_text *t, int err, const char *why)
{
	if (t->err)
		return;
	t->err = err;
	snprintf(t->why, sizeof(t->why), "%s", why);
}

/* --------------------------------------------------------- which rules */

enum killswitch_rules killswitch_rules_for(const struct killswitch_state *s,
					   bool held)
{
	enum killswitch_mode mode = held ? KILLSWITCH_LOCKDOWN : s->mode;

	if (mode == KILLSWITCH_OFF)
		return KILLSWITCH_RULES_NONE;
	if (s->phase != KILLSWITCH_DISCONNECTED)
		return KILLSWITCH_RULES_TUNNEL;
	return mode == KILLSWITCH_LOCKDOWN ? KILLSWITCH_RULES_BLOCK :
					     KILLSWITCH_RULES_NONE;
}

static unsigned int family_bits(int family)
{
	return family == AF_INET ? 32 : family == AF_INET6 ? 128 : 0;
}

static const char *family_kw(int family)
{
	return family == AF_INET ? "ip" : "ip6";
}

/* with_len: the prefix length counts and must fit the family. */
static bool addrs_valid(const struct netlink_prefix *p, unsigned int n,
			unsigned int max, bool with_len)
{
	unsigned int i;

	if (n > max)
		return false;
	for (i = 0; i < n; i++)
		if (!family_bits(p[i].family) ||
		    (with_len && p[i].len > family_bits(p[i].family)))
			return false;
	return true;
}

/* Everything the TUNNEL rules use, checked before any text is written, so
 * that the reason is ours rather than the builder's. */
static void check_tunnel_state(const struct killswitch_state *s,
			       struct firewall_text *t)
{
	const struct killswitch_endpoint *e = &s->server;

	if (!firewall_ifname_valid(s->tunnel_ifname))
		text_fail(t, -EINVAL, "invalid tunnel interface name");
	else if (!s->fwmark)
		text_fail(t, -EINVAL, "fwmark 0 would match every process");
	else if (e->family && !family_bits(e->family))
		text_fail(t, -EINVAL, "invalid server address family");
	else if (e->family && !e->port)
		text_fail(t, -EINVAL, "server port 0");
	else if (e->family && e->protocol != IPPROTO_UDP)
		text_fail(t, -EPROTONOSUPPORT, "server protocol is not UDP");
	else if (!addrs_valid(s->tunnel_addr, s->n_tunnel_addr,
			      KILLSWITCH_ADDR_MAX, true))
		text_fail(t, -EINVAL, "invalid tunnel addresses");
	else if (!addrs_valid(s->resolver, s->n_resolver, KILLSWITCH_DNS_MAX,
			      false))
		text_fail(t, -EINVAL, "invalid resolver addresses");
}

/* ---------------------------------------------------------------- text */

static void rule(struct firewall_text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* One whole rule of fixed text. */
static void rule(struct firewall_text *t, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		text_fail(t, -E2BIG, "kill switch rule too long");
	else
		firewall_text_add(t, "\t\t%s\n", line);
}

static void host_addr(struct firewall_text *t, int family,
		      const union netlink_inaddr *a)
{
	struct netlink_prefix p = { .family = family, .addr = *a };

	p.len = (uint8_t)family_bits(family);
	firewall_text_prefix(t, &p);
}

static int addr_cmp(const void *a, const void *b)
{
	const struct netlink_prefix *x = a, *y = b;

	return memcmp(&x->addr, &y->addr, sizeof(x->addr));
}

/*
 * The addresses of one family in in[], as host addresses (the length is
 * dropped), sorted and without duplicates: the order nft lists a set in,
 * and a set must not name an element twice.  Returns how many.
 */
static unsigned int host_set(const struct netlink_prefix *in, unsigned int n,
			     int family, struct netlink_prefix *out)
{
	unsigned int i, k = 0, bytes = family_bits(family) / 8;

	for (i = 0; i < n; i++) {
		if (in[i].family != family)
			continue;
		memset(&out[k], 0, sizeof(out[k]));
		out[k].family = family;
		out[k].len = (uint8_t)(bytes * 8);
		memcpy(&out[k].addr, &in[i].addr, bytes);
		k++;
	}
	qsort(out, k, sizeof(*out), addr_cmp);
	if (!k)
		return 0;
	for (i = 1, n = 1; i < k; i++)
		if (addr_cmp(&out[i], &out[n - 1]))
			out[n++] = out[i];
	return n;
}

/* "A" for one address, "{ A, B }" for several. */
static void addr_set(struct firewall_text *t, const struct netlink_prefix *a,
		     unsigned int n)
{
	unsigned int i;

	if (n > 1)
		firewall_text_add(t, "{ ");
	for (i = 0; i < n; i++) {
		firewall_text_add(t, i ? ", " : "");
		firewall_text_prefix(t, &a[i]);
	}
	if (n > 1)
		firewall_text_add(t, " }");
}

/*
 * The inside prefixes (netlink_tunnel_inside()) as intervals, both ends
 * included.  nft merges intervals of an anonymous set that touch when one
 * of them is a prefix or a range (10.64.0.0/25 and 10.64.0.128/25 list as
 * 10.64.0.0/24, a /24 and the next address as "A-B"), but not two single
 * addresses.  Every run of touching intervals is merged here, so nft finds
 * nothing left to merge and lists exactly what was written.
 */
struct span {
	int family;
	union netlink_inaddr lo, hi;
};

static unsigned int addr_bit(const union netlink_inaddr *a, unsigned int i)
{
	return (a->bytes[i / 8] >> (7 - i % 8)) & 1;
}

/* Sets the bits of a from len to the end of its family: the last address
 * of the prefix. */
static void addr_fill(union netlink_inaddr *a, unsigned int len,
		      unsigned int bits)
{
	for (; len < bits; len++)
		a->bytes[len / 8] |= (uint8_t)(0x80 >> (len % 8));
}

/* a + 1; false when a is the family's last address. */
static bool addr_next(union netlink_inaddr *a, unsigned int bits)
{
	unsigned int i = bits / 8;

	while (i--)
		if (++a->bytes[i])
			return true;
	return false;
}

/* Whether r's next address is where p starts: nft would merge the two. */
static bool span_touches(const struct span *r, const struct netlink_prefix *p)
{
	union netlink_inaddr next = r->hi;

	return addr_next(&next, family_bits(r->family)) &&
	       !memcmp(&next, &p->addr, sizeof(next));
}

static unsigned int inside_spans(const struct killswitch_state *s, int family,
				 struct span *out)
{
	struct netlink_prefix in[KILLSWITCH_ADDR_MAX + KILLSWITCH_DNS_MAX];
	unsigned int i, n, k = 0, bits = family_bits(family);

	/* Sorted, masked, none inside another: only touching is left. */
	n = netlink_tunnel_inside(s->tunnel_addr, s->n_tunnel_addr,
				  s->resolver, s->n_resolver, in);
	for (i = 0; i < n; i++) {
		if (in[i].family != family)
			continue;
		if (!k || !span_touches(&out[k - 1], &in[i])) {
			out[k].family = family;
			out[k].lo = in[i].addr;
			k++;
		}
		out[k - 1].hi = in[i].addr;
		addr_fill(&out[k - 1].hi, in[i].len, bits);
	}
	return k;
}

/* The length of the prefix that is exactly r, or -1 when r is a range no
 * prefix spans. */
static int span_prefix_len(const struct span *r)
{
	unsigned int bits = family_bits(r->family), len = 0, i;

	while (len < bits && addr_bit(&r->lo, len) == addr_bit(&r->hi, len))
		len++;
	for (i = len; i < bits; i++)
		if (addr_bit(&r->lo, i) || !addr_bit(&r->hi, i))
			return -1;
	return (int)len;
}

/* As nft lists an interval: "A" for one address, "A/LEN" for a prefix,
 * "A-B" for anything else. */
static void span_text(struct firewall_text *t, const struct span *r)
{
	struct netlink_prefix p = { .family = r->family, .addr = r->lo };
	int len = span_prefix_len(r);

	p.len = (uint8_t)(len < 0 ? (int)family_bits(r->family) : len);
	firewall_text_prefix(t, &p);
	if (len >= 0)
		return;
	p.addr = r->hi;
	firewall_text_add(t, "-");
	firewall_text_prefix(t, &p);
}

/*
 * allow_lan only: what is inside the tunnel never reaches the LAN accepts
 * after this rule, by destination ("daddr") or source ("saddr").  Without
 * it 10.64.0.1, in 10/8, would leave the physical link as "LAN".
 */
static void inside_drops(struct firewall_text *t,
			 const struct killswitch_state *s, const char *dir)
{
	static const int families[] = { AF_INET, AF_INET6 };
	struct span set[KILLSWITCH_ADDR_MAX + KILLSWITCH_DNS_MAX];
	unsigned int f, i, n;

	for (f = 0; f < 2; f++) {
		n = inside_spans(s, families[f], set);
		if (!n)
			continue;
		firewall_text_add(t, "\t\t%s %s %s", family_kw(families[f]),
				  dir, n > 1 ? "{ " : "");
		for (i = 0; i < n; i++) {
			firewall_text_add(t, i ? ", " : "");
			span_text(t, &set[i]);
		}
		firewall_text_add(t, "%s drop\n", n > 1 ? " }" : "");
	}
}

static void chain_head(struct firewall_text *t, const char *name, bool first)
{
	firewall_text_add(t, "%s\tchain %s {\n"
			  "\t\ttype filter hook %s priority filter; "
			  "policy drop;\n", first ? "" : "\n", name, name);
}

static void chain_end(struct firewall_text *t)
{
	firewall_text_add(t, "\t}\n");
}

/* DNS to the tunnel's resolvers, through the tunnel, in output and
 * forward: the only DNS that passes the rejects after it. */
static void resolver_accepts(struct firewall_text *t,
			     const struct killswitch_state *s)
{
	static const int families[] = { AF_INET, AF_INET6 };
	struct netlink_prefix set[ADDR_LIST_MAX];
	unsigned int i, n;

	for (i = 0; i < 2; i++) {
		n = host_set(s->resolver, s->n_resolver, families[i], set);
		if (!n)
			continue;
		firewall_text_add(t, "\t\toifname ");
		firewall_text_ifname(t, s->tunnel_ifname);
		firewall_text_add(t, " %s daddr ", family_kw(families[i]));
		addr_set(t, set, n);
		firewall_text_add(t, " meta l4proto { tcp, udp } th dport %s "
				  "accept\n", dns_ports);
	}
}

static void tunnel_rule(struct firewall_text *t, const char *dir,
			const char *name, const char *rest)
{
	firewall_text_add(t, "\t\t%sname ", dir);
	firewall_text_ifname(t, name);
	firewall_text_add(t, " %s\n", rest);
}

/* The daemon's own packets to one endpoint. */
static void endpoint_accept(struct firewall_text *t,
			    const struct killswitch_state *s,
			    const struct killswitch_endpoint *e)
{
	firewall_text_add(t, "\t\tmeta mark 0x%08x %s daddr ",
			  (unsigned int)s->fwmark, family_kw(e->family));
	host_addr(t, e->family, &e->addr);
	firewall_text_add(t, " udp dport %u accept\n", (unsigned int)e->port);
}

static void output_chain(struct firewall_text *t,
			 const struct killswitch_state *s, bool tunnel)
{
	const struct killswitch_endpoint *e = &s->server;

	chain_head(t, "output", true);
	rule(t, "oifname \"lo\" accept");
	if (s->bypass_mark)
		rule(t, "meta mark 0x%08x accept", (unsigned int)s->bypass_mark);
	if (tunnel && e->family)
		endpoint_accept(t, s, e);
	for (unsigned int i = 0; i < s->n_probe; i++)
		endpoint_accept(t, s, &s->probe[i]);
	rule(t, "udp sport 68 udp dport 67 accept");
	rule(t, "ip6 daddr ff02::1:2 udp sport 546 udp dport 547 accept");
	rule(t, "ip6 hoplimit 255 icmpv6 type { nd-router-solicit, "
		"nd-neighbor-solicit, nd-neighbor-advert } accept");
	rule(t, "ip6 hoplimit 1 ip6 daddr ff02::16 icmpv6 type "
		"{ mld-listener-report, mld2-listener-report } accept");
	if (tunnel)
		resolver_accepts(t, s);
	rule(t, "tcp dport %s reject with tcp reset", dns_ports);
	rule(t, "udp dport %s reject", dns_ports);
	if (tunnel)
		tunnel_rule(t, "oif", s->tunnel_ifname, "accept");
	if (tunnel && s->allow_lan)
		inside_drops(t, s, "daddr");
	if (s->allow_lan) {
		rule(t, "ip daddr %s accept", lan4_dst);
		rule(t, "ip6 daddr %s accept", lan6_dst);
	}
	rule(t, "meta l4proto tcp reject with tcp reset");
	rule(t, "reject with icmpx admin-prohibited");
	chain_end(t);
}

static void input_chain(struct firewall_text *t,
			const struct killswitch_state *s, bool tunnel)
{
	static const int families[] = { AF_INET, AF_INET6 };
	struct netlink_prefix set[ADDR_LIST_MAX];
	unsigned int i, n;

	chain_head(t, "input", false);
	rule(t, "iifname \"lo\" accept");
	if (s->bypass_mark)
		rule(t, "ct mark 0x%08x accept", (unsigned int)s->bypass_mark);
	for (i = 0; tunnel && i < 2; i++) {
		n = host_set(s->tunnel_addr, s->n_tunnel_addr, families[i],
			     set);
		if (!n)
			continue;
		firewall_text_add(t, "\t\tiifname != ");
		firewall_text_ifname(t, s->tunnel_ifname);
		firewall_text_add(t, " %s daddr ", family_kw(families[i]));
		addr_set(t, set, n);
		firewall_text_add(t, " drop\n");
	}
	if (tunnel)
		tunnel_rule(t, "iif", s->tunnel_ifname, "accept");
	rule(t, "icmp type redirect drop");
	rule(t, "icmpv6 type nd-redirect drop");
	rule(t, "ct state established,related accept");
	rule(t, "udp sport 67 udp dport 68 accept");
	rule(t, "ip6 saddr fe80::/10 udp sport 547 udp dport 546 accept");
	rule(t, "ip6 hoplimit 255 icmpv6 type { nd-router-advert, "
		"nd-neighbor-solicit, nd-neighbor-advert } accept");
	rule(t, "ip6 hoplimit 1 ip6 saddr fe80::/10 icmpv6 type "
		"mld-listener-query accept");
	if (tunnel && s->allow_lan)
		inside_drops(t, s, "saddr");
	if (s->allow_lan) {
		rule(t, "ip saddr %s accept", lan4_src);
		rule(t, "ip6 saddr %s accept", lan6_src);
	}
	chain_end(t);
}

static void forward_chain(struct firewall_text *t,
			  const struct killswitch_state *s, bool tunnel)
{
	chain_head(t, "forward", false);
	if (tunnel)
		resolver_accepts(t, s);
	rule(t, "meta l4proto { tcp, udp } th dport %s drop", dns_ports);
	if (tunnel) {
		tunnel_rule(t, "oif", s->tunnel_ifname, "accept");
		tunnel_rule(t, "iif", s->tunnel_ifname,
			    "ct state established,related accept");
	}
	if (tunnel && s->allow_lan)
		inside_drops(t, s, "daddr");
	if (s->allow_lan) {
		rule(t, "ip daddr %s accept", lan4_dst);
		rule(t, "ip6 daddr %s accept", lan6_dst);
	}
	chain_end(t);
}

int killswitch_render(const struct killswitch_state *s, bool held,
		      struct firewall_text *body, enum killswitch_rules *rules)
{
	bool tunnel;

	*rules = KILLSWITCH_RULES_NONE;
	if ((unsigned int)s->mode > KILLSWITCH_LOCKDOWN ||
	    (unsigned int)s->phase > KILLSWITCH_ERROR) {
		text_fail(body, -EINVAL, "unknown kill switch mode or phase");
		return body->err;
	}
	*rules = killswitch_rules_for(s, held);
	if (*rules == KILLSWITCH_RULES_NONE)
		return body->err;
	tunnel = *rules == KILLSWITCH_RULES_TUNNEL;
	if (tunnel)
		check_tunnel_state(s, body);
	for (unsigned int i = 0; !body->err && i < s->n_probe; i++)
		if (!s->fwmark || !family_bits(s->probe[i].family) ||
		    !s->probe[i].port ||
		    s->probe[i].protocol != IPPROTO_UDP)
			text_fail(body, -EINVAL, "invalid probe endpoint");
	if (body->err)
		return body->err;
	output_chain(body, s, tunnel);
	input_chain(body, s, tunnel);
	forward_chain(body, s, tunnel);
	return body->err;
}

/* -------------------------------------------------------------- kernel */

void killswitch_init(struct killswitch *ks, struct firewall *fw)
{
	memset(ks, 0, sizeof(*ks));
	ks->fw = fw;
}

/* Forgets what the last apply left; the kernel is not touched. */
static void forget_applied(struct killswitch *ks)
{
	free(ks->body);
	free(ks->listing);
	ks->body = NULL;
	ks->listing = NULL;
	ks->applied = false;
	ks->present = false;
}

void killswitch_free(struct killswitch *ks)
{
	forget_applied(ks);
}

const char *killswitch_strerror(const struct killswitch *ks)
{
	return ks->err[0] ? ks->err : "no error";
}

int killswitch_apply(struct killswitch *ks, const struct killswitch_state *s)
{
	struct firewall_text body = FIREWALL_TEXT_INIT;
	enum killswitch_rules rules;
	char *text = NULL, *listing = NULL;
	int ret;

	ret = killswitch_render(s, ks->held, &body, &rules);
	if (ret) {
		ks_fail(ks, "refusing the kill switch rules: %s", body.why);
		goto out;
	}
	if (rules == KILLSWITCH_RULES_NONE) {
		ret = firewall_table_delete(ks->fw, FIREWALL_INET,
					    KILLSWITCH_TABLE);
		if (ret) {
			ks_fail(ks, "%s", firewall_strerror(ks->fw));
			goto out;
		}
		forget_applied(ks);
		ks->applied = true;
		goto out;
	}
	text = strdup(firewall_text_str(&body));
	if (!text) {
		ret = -ENOMEM;
		ks_fail(ks, "kill switch rules: out of memory");
		goto out;
	}
	ret = firewall_table_replace(ks->fw, FIREWALL_INET, KILLSWITCH_TABLE,
				     &body);
	if (ret) {
		ks_fail(ks, "%s", firewall_strerror(ks->fw));
		goto out;
	}
	forget_applied(ks);
	ks->applied = true;
	ks->present = true;
	ks->body = text;
	text = NULL;
	/* nft's own rendering of what it was given: the only text a later
	 * listing can be compared with.  Without it verify says "differs". */
	ret = firewall_table_text(ks->fw, FIREWALL_INET, KILLSWITCH_TABLE,
				  &listing);
	if (ret)
		ks_fail(ks, "kill switch applied, but not listed: %s",
			firewall_strerror(ks->fw));
	else
		ks->listing = listing;
	/* The kernel holds the new table: that is what the caller must
	 * believe.  Without the listing, verify only says "differs". */
	ret = 0;
out:
	free(text);
	firewall_text_free(&body);
	return ret;
}

int killswitch_verify(struct killswitch *ks, const struct killswitch_state *s,
		      bool *matches)
{
	struct firewall_text body = FIREWALL_TEXT_INIT;
	enum killswitch_rules rules;
	char *now = NULL;
	bool exists;
	int ret;

	*matches = false;
	ret = killswitch_render(s, ks->held, &body, &rules);
	if (ret) {
		ks_fail(ks, "refusing the kill switch rules: %s", body.why);
		goto out;
	}
	if (rules == KILLSWITCH_RULES_NONE) {
		ret = firewall_table_exists(ks->fw, FIREWALL_INET,
					    KILLSWITCH_TABLE, &exists);
		if (ret)
			ks_fail(ks, "%s", firewall_strerror(ks->fw));
		else
			*matches = !exists;
		goto out;
	}
	/* Another state than the one applied: the kernel cannot be right. */
	if (!ks->present || !ks->listing ||
	    strcmp(ks->body, firewall_text_str(&body)))
		goto out;
	ret = firewall_table_text(ks->fw, FIREWALL_INET, KILLSWITCH_TABLE,
				  &now);
	if (ret == -ENOENT) {
		ret = 0;
		goto out;
	}
	if (ret) {
		ks_fail(ks, "%s", firewall_strerror(ks->fw));
		goto out;
	}
	*matches = !strcmp(now, ks->listing);
out:
	free(now);
	firewall_text_free(&body);
	return ret;
}

int killswitch_takeover(struct killswitch *ks,
			const struct killswitch_state *s, bool *found)
{
	static const struct killswitch_state block = {
		.mode = KILLSWITCH_LOCKDOWN,
		.phase = KILLSWITCH_DISCONNECTED,
	};
	char err[KILLSWITCH_ERR_LEN];
	bool exists = false;
	int first, ret;

	*found = false;
	first = firewall_table_exists(ks->fw, FIREWALL_INET, KILLSWITCH_TABLE,
				      &exists);
	if (first)
		ks_fail(ks, "%s", firewall_strerror(ks->fw));
	/* Not knowing is treated as finding one: hold, never open. */
	if (first || exists)
		ks->held = true;
	*found = exists;
	memcpy(err, ks->err, sizeof(err));
	ret = killswitch_apply(ks, s);
	if (ret && ks->held) {
		/* Whatever failed, the table found must become ours or stay:
		 * the minimal block is all that is left to try. */
		if (!first)
			memcpy(err, ks->err, sizeof(err));
		killswitch_apply(ks, &block);
	}
	if (!first)
		first = ret;
	/* The message of the failure returned, not of the fallback. */
	if (first)
		memcpy(ks->err, err, sizeof(err));
	return first;
}

void killswitch_release(struct killswitch *ks)
{
	ks->held = false;
}

void killswitch_hold(struct killswitch *ks)
{
	ks->held = true;
}

int killswitch_endpoint_from_sockaddr(struct killswitch_endpoint *e,
				      const struct sockaddr *sa,
				      socklen_t len)
{
	const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

	memset(e, 0, sizeof(*e));
	if (sa->sa_family == AF_INET && len >= sizeof(*in4)) {
		e->family = AF_INET;
		memcpy(&e->addr.v4, &in4->sin_addr, 4);
		e->port = ntohs(in4->sin_port);
	} else if (sa->sa_family == AF_INET6 && len >= sizeof(*in6)) {
		/* The kernel sends to ::ffff:a.b.c.d as IPv4: an ip6 rule
		 * would never match it, and the server would be blocked. */
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			e->family = AF_INET;
			memcpy(&e->addr.v4, &in6->sin6_addr.s6_addr[12], 4);
		} else {
			e->family = AF_INET6;
			e->addr.v6 = in6->sin6_addr;
		}
		e->port = ntohs(in6->sin6_port);
	} else {
		return -EAFNOSUPPORT;
	}
	e->protocol = IPPROTO_UDP;
	return 0;
}

/* ----------------------------------------------------------- arp_ignore */

static int arp_path(char *buf, size_t len, const char *name)
{
	int n;

	/* The name becomes a path: "." and ".." are valid characters for
	 * an interface name but not interfaces. */
	if (strcmp(name, "all") && (!firewall_ifname_valid(name) ||
				    !strcmp(name, ".") || !strcmp(name, "..")))
		return -EINVAL;
	n = snprintf(buf, len, "%s/%s/arp_ignore", arp_conf_dir, name);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

static int arp_read(const char *path, int *value)
{
	char buf[32], *end;
	ssize_t n;
	long v;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	close(fd);
	buf[n] = '\0';
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n') || v < 0 ||
	    v > 255)
		return -EINVAL;
	*value = (int)v;
	return 0;
}

static int arp_write(const char *path, int value)
{
	char buf[16];
	ssize_t n;
	int fd, len, ret = 0;

	len = snprintf(buf, sizeof(buf), "%d\n", value);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, buf, (size_t)len);
	if (n < 0)
		ret = -errno;
	else if (n != len)
		ret = -EIO;
	if (close(fd) && !ret)
		ret = -errno;
	return ret;
}

int killswitch_arp_value(const char *name, int *value)
{
	char path[256];
	int ret;

	ret = arp_path(path, sizeof(path), name);
	if (!ret)
		ret = arp_read(path, value);
	return ret;
}

int killswitch_arp_guard(struct killswitch_arp *a, const char *name)
{
	char path[256];
	int ret, cur;

	memset(a, 0, sizeof(*a));
	a->ours = -1;
	if (!name)
		return -EINVAL;
	ret = arp_path(path, sizeof(path), name);
	if (!ret)
		ret = arp_read(path, &cur);
	if (ret)
		return ret;
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->old = cur;
	if (cur >= KILLSWITCH_ARP_IGNORE)
		return 0;
	ret = arp_write(path, KILLSWITCH_ARP_IGNORE);
	if (ret)
		return ret;
	a->ours = KILLSWITCH_ARP_IGNORE;
	return 0;
}

int killswitch_arp_restore(struct killswitch_arp *a)
{
	char path[256];
	int ret, cur;

	if (!a->name[0] || a->ours < 0)
		return 0;
	ret = arp_path(path, sizeof(path), a->name);
	if (!ret)
		ret = arp_read(path, &cur);
	if (!ret && cur == a->ours)
		ret = arp_write(path, a->old);
	if (!ret)
		a->ours = -1;
	return ret;
}
