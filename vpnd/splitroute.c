// SPDX-License-Identifier: MIT
/*
 * Split tunneling by network: the routes in the tunnel's table; see
 * splitroute.h for what they are and in which order they change.
 */
#include <errno.h>
#include <string.h>

#include <linux/rtnetlink.h>

#include "splitroute.h"

static void to_netlink(const struct conf_prefix *c, struct netlink_prefix *p)
{
	netlink_prefix_set(p, c->family, &c->addr, c->cidr);
}

static struct netlink_route *put(const struct splitroute_tunnel *t,
				 struct netlink_route *out, unsigned int *n,
				 const struct netlink_prefix *dst,
				 uint8_t type, uint32_t metric)
{
	struct netlink_route *r = &out[(*n)++];

	memset(r, 0, sizeof(*r));
	r->dst = *dst;
	r->table = t->table;
	r->type = type;
	r->protocol = NETLINK_PROTO_VPND;
	r->metric = metric;
	return r;
}

/* A destination that must go through the tunnel while include mode
 * throws everything else out of T. */
static void put_inside(const struct splitroute_tunnel *t,
		       struct netlink_route *out, unsigned int *n,
		       const struct netlink_prefix *dst)
{
	bool has = dst->family == AF_INET ? t->has_ipv4 : t->has_ipv6;

	if (has)
		put(t, out, n, dst, RTN_UNICAST, SPLITROUTE_METRIC)->oif =
			t->ifindex;
	put(t, out, n, dst, RTN_UNREACHABLE, SPLITROUTE_BACKSTOP_METRIC);
}

unsigned int splitroute_plan(const struct splitroute_tunnel *t,
			     const struct splitnet_set *s,
			     struct netlink_route *out)
{
	static const int families[] = { AF_INET, AF_INET6 };
	struct netlink_prefix p;
	unsigned int n = 0, i;

	if (!s->n || s->mode == CONF_SPLIT_NONE)
		return 0;
	if (s->mode == CONF_SPLIT_EXCLUDE) {
		for (i = 0; i < s->n; i++) {
			to_netlink(&s->net[i], &p);
			put(t, out, &n, &p, RTN_THROW, SPLITROUTE_METRIC);
		}
		return n;
	}
	for (i = 0; i < 2; i++) {
		memset(&p, 0, sizeof(p));
		p.family = families[i];
		put(t, out, &n, &p, RTN_THROW, SPLITROUTE_METRIC);
	}
	for (i = 0; i < s->n; i++) {
		to_netlink(&s->net[i], &p);
		put_inside(t, out, &n, &p);
	}
	for (i = 0; i < t->n_inside && i < NETLINK_INSIDE_MAX; i++)
		put_inside(t, out, &n, &t->inside[i]);
	return n;
}

static bool same_route(const struct netlink_route *a,
		       const struct netlink_route *b)
{
	return a->dst.family == b->dst.family && a->dst.len == b->dst.len &&
	       !memcmp(&a->dst.addr, &b->dst.addr, sizeof(a->dst.addr)) &&
	       a->type == b->type && a->metric == b->metric &&
	       a->oif == b->oif;
}

static bool in_list(const struct netlink_route *r,
		    const struct netlink_route *l, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (same_route(r, &l[i]))
			return true;
	return false;
}

struct step {
	const struct netlink_route *r;
	bool add;
};

/* Adding what exists, or removing what is gone, counts as done: a
 * daemon's own earlier routes, or a takeover, leave such. */
static int step_do(struct netlink *nl, const struct step *s, bool undo)
{
	bool add = s->add != undo;
	int ret = add ? netlink_route_add(nl, s->r) :
			netlink_route_del(nl, s->r);

	if (ret == (add ? -EEXIST : -ESRCH) || (!add && ret == -ENOENT))
		return 0;
	return ret;
}

/* Appends the routes of @a missing from @b, of the kind @throw says. */
static void steps_add(struct step *st, unsigned int *k,
		      const struct netlink_route *a, unsigned int na,
		      const struct netlink_route *b, unsigned int nb,
		      bool throw, bool add)
{
	for (unsigned int i = 0; i < na; i++)
		if ((a[i].type == RTN_THROW) == throw &&
		    !in_list(&a[i], b, nb))
			st[(*k)++] = (struct step){ .r = &a[i], .add = add };
}

int splitroute_change(struct netlink *nl, const struct splitroute_tunnel *t,
		      const struct splitnet_set *from,
		      const struct splitnet_set *to)
{
	struct netlink_route old[SPLITROUTE_MAX], new[SPLITROUTE_MAX];
	struct step st[2 * SPLITROUTE_MAX];
	unsigned int no, nn, k = 0, i;
	int ret = 0;

	no = splitroute_plan(t, from, old);
	nn = splitroute_plan(t, to, new);
	steps_add(st, &k, new, nn, old, no, false, true);
	steps_add(st, &k, old, no, new, nn, true, false);
	steps_add(st, &k, new, nn, old, no, true, true);
	steps_add(st, &k, old, no, new, nn, false, false);
	for (i = 0; i < k; i++) {
		ret = step_do(nl, &st[i], false);
		if (ret)
			break;
	}
	if (!ret)
		return 0;
	while (i--)
		step_do(nl, &st[i], true);
	return ret;
}

int splitroute_flush(struct netlink *nl, uint32_t table)
{
	static const int families[] = { AF_INET, AF_INET6 };
	struct netlink_route r[SPLITROUTE_MAX * 2];
	int first = 0, n, ret;

	for (unsigned int f = 0; f < 2; f++) {
		n = netlink_route_list(nl, families[f], table,
				       NETLINK_PROTO_VPND, r,
				       SPLITROUTE_MAX * 2);
		if (n < 0) {
			first = first ? first : n;
			continue;
		}
		for (int i = 0; i < n; i++) {
			if (r[i].metric != SPLITROUTE_METRIC &&
			    r[i].metric != SPLITROUTE_BACKSTOP_METRIC)
				continue;
			ret = netlink_route_del(nl, &r[i]);
			if (ret && ret != -ESRCH && ret != -ENOENT && !first)
				first = ret;
		}
	}
	return first;
}
