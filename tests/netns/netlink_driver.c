/* SPDX-License-Identifier: MIT */
/*
 * One vpnd/netlink.c operation per invocation, for test_netlink.sh, which
 * runs it inside a namespace and judges the result with ip(8).  Exit
 * status: 0 done, 1 the operation failed (netlink_strerror on stderr),
 * 2 bad usage.  Words follow ip(8) where they can.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/rtnetlink.h>

#include "netlink.h"

static const char usage[] =
	"usage: netlink_driver OP ARGS...\n"
	"  index IFNAME | up IFNAME | down IFNAME | mtu IFNAME MTU\n"
	"  addr-add|addr-del IFNAME PREFIX\n"
	"  route-add|route-del PREFIX [via ADDR] [dev IFNAME] [table N]\n"
	"      [type unicast|unreachable|blackhole|throw] [metric N]\n"
	"      [proto N]\n"
	"  rule-add|rule-del -4|-6 priority N [not] [fwmark M[/MASK]]\n"
	"      [table N] [suppress_prefixlength N] [proto N]\n"
	"  snapshot\n"
	"  tunnel-up|tunnel-down dev IFNAME|ifindex N fwmark M table N\n"
	"      [priority N] [ipv4] [ipv6] [nofamily unreachable|tunnel]\n"
	"      [fail-closed] [allow-lan] [inside PREFIX]...\n";

static void die_usage(const char *why)
{
	fprintf(stderr, "netlink_driver: %s\n%s", why, usage);
	exit(2);
}

static unsigned long number(const char *text, unsigned long max)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(text, &end, 0);
	if (errno || end == text || *end || v > max)
		die_usage("bad number");
	return v;
}

/* Keyword arguments: "key value" pairs and bare flags, in any order. */
struct args {
	int argc;
	char **argv;
	int i;
};

static const char *next_value(struct args *a)
{
	if (a->i + 1 >= a->argc)
		die_usage("missing value");
	return a->argv[++a->i];
}

static int ifindex_of(struct netlink *nl, const char *name)
{
	int index = netlink_link_index(nl, name);

	if (index < 0) {
		fprintf(stderr, "netlink_driver: %s\n", netlink_strerror(nl));
		exit(1);
	}
	return index;
}

static uint8_t route_type(const char *name)
{
	if (!strcmp(name, "unicast"))
		return RTN_UNICAST;
	if (!strcmp(name, "unreachable"))
		return RTN_UNREACHABLE;
	if (!strcmp(name, "blackhole"))
		return RTN_BLACKHOLE;
	if (!strcmp(name, "throw"))
		return RTN_THROW;
	die_usage("unknown route type");
	return 0;
}

static int do_route(struct netlink *nl, bool add, struct args *a)
{
	struct netlink_prefix gw;
	struct netlink_route r;
	const char *w;

	memset(&r, 0, sizeof(r));
	if (a->i >= a->argc || netlink_prefix_parse(a->argv[a->i], &r.dst))
		die_usage("bad prefix");
	for (a->i++; a->i < a->argc; a->i++) {
		w = a->argv[a->i];
		if (!strcmp(w, "via")) {
			if (netlink_prefix_parse(next_value(a), &gw) ||
			    gw.family != r.dst.family)
				die_usage("bad gateway");
			r.has_gateway = true;
			r.gateway = gw.addr;
		} else if (!strcmp(w, "dev")) {
			r.oif = ifindex_of(nl, next_value(a));
		} else if (!strcmp(w, "table")) {
			r.table = number(next_value(a), UINT32_MAX);
		} else if (!strcmp(w, "type")) {
			r.type = route_type(next_value(a));
		} else if (!strcmp(w, "metric")) {
			r.metric = number(next_value(a), UINT32_MAX);
		} else if (!strcmp(w, "proto")) {
			r.protocol = number(next_value(a), UINT8_MAX);
		} else {
			die_usage("unknown route keyword");
		}
	}
	return add ? netlink_route_add(nl, &r) : netlink_route_del(nl, &r);
}

static void parse_mark(const char *text, struct netlink_rule *r)
{
	char buf[32], *slash;

	snprintf(buf, sizeof(buf), "%s", text);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	r->match_fwmark = true;
	r->fwmark = number(buf, UINT32_MAX);
	r->fwmask = slash ? number(slash, UINT32_MAX) : 0;
}

static int do_rule(struct netlink *nl, bool add, struct args *a)
{
	struct netlink_rule r;
	bool has_priority = false;
	const char *w;

	memset(&r, 0, sizeof(r));
	for (; a->i < a->argc; a->i++) {
		w = a->argv[a->i];
		if (!strcmp(w, "-4")) {
			r.family = AF_INET;
		} else if (!strcmp(w, "-6")) {
			r.family = AF_INET6;
		} else if (!strcmp(w, "priority")) {
			r.priority = number(next_value(a), UINT32_MAX);
			has_priority = true;
		} else if (!strcmp(w, "not")) {
			r.invert = true;
		} else if (!strcmp(w, "fwmark")) {
			parse_mark(next_value(a), &r);
		} else if (!strcmp(w, "table")) {
			r.table = number(next_value(a), UINT32_MAX);
		} else if (!strcmp(w, "suppress_prefixlength")) {
			r.suppress_prefixlen = number(next_value(a), 128);
			r.has_suppress_prefixlen = true;
		} else if (!strcmp(w, "proto")) {
			r.protocol = number(next_value(a), UINT8_MAX);
		} else {
			die_usage("unknown rule keyword");
		}
	}
	if (!r.family || !has_priority)
		die_usage("a rule needs -4 or -6 and a priority");
	return add ? netlink_rule_add(nl, &r) : netlink_rule_del(nl, &r);
}

static int do_tunnel(struct netlink *nl, bool up, struct args *a)
{
	/* One more than allowed, so that the refusal can be tested. */
	static struct netlink_prefix inside[NETLINK_INSIDE_MAX + 1];
	struct netlink_tunnel t;
	const char *w;

	memset(&t, 0, sizeof(t));
	t.inside = inside;
	for (; a->i < a->argc; a->i++) {
		w = a->argv[a->i];
		if (!strcmp(w, "dev")) {
			t.ifindex = ifindex_of(nl, next_value(a));
		} else if (!strcmp(w, "ifindex")) {
			t.ifindex = number(next_value(a), INT32_MAX);
		} else if (!strcmp(w, "fwmark")) {
			t.fwmark = number(next_value(a), UINT32_MAX);
		} else if (!strcmp(w, "table")) {
			t.table = number(next_value(a), UINT32_MAX);
		} else if (!strcmp(w, "priority")) {
			t.priority = number(next_value(a), UINT32_MAX);
		} else if (!strcmp(w, "ipv4")) {
			t.has_ipv4 = true;
		} else if (!strcmp(w, "ipv6")) {
			t.has_ipv6 = true;
		} else if (!strcmp(w, "nofamily")) {
			w = next_value(a);
			if (!strcmp(w, "tunnel"))
				t.nofamily = NETLINK_NOFAMILY_TUNNEL;
			else if (!strcmp(w, "unreachable"))
				t.nofamily = NETLINK_NOFAMILY_UNREACHABLE;
			else
				die_usage("unknown nofamily policy");
		} else if (!strcmp(w, "fail-closed")) {
			t.fail_closed = true;
		} else if (!strcmp(w, "allow-lan")) {
			t.allow_lan = true;
		} else if (!strcmp(w, "inside")) {
			if (t.n_inside == NETLINK_INSIDE_MAX + 1 ||
			    netlink_prefix_parse(next_value(a),
						 &inside[t.n_inside]))
				die_usage("bad or too many inside prefixes");
			t.n_inside++;
		} else {
			die_usage("unknown tunnel keyword");
		}
	}
	return up ? netlink_tunnel_routing_up(nl, &t)
		  : netlink_tunnel_routing_down(nl, &t);
}

static int do_addr(struct netlink *nl, bool add, struct args *a)
{
	struct netlink_prefix p;
	int index;

	if (a->argc - a->i != 2)
		die_usage("addr needs IFNAME PREFIX");
	index = ifindex_of(nl, a->argv[a->i]);
	if (netlink_prefix_parse(a->argv[a->i + 1], &p))
		die_usage("bad prefix");
	return add ? netlink_addr_add(nl, index, &p)
		   : netlink_addr_del(nl, index, &p);
}

static int do_snapshot(struct netlink *nl)
{
	char *text;
	int ret;

	ret = netlink_snapshot(nl, &text);
	if (!ret) {
		fputs(text, stdout);
		free(text);
	}
	return ret;
}

static int run(struct netlink *nl, const char *op, struct args *a)
{
	int left = a->argc - a->i;

	if (!strcmp(op, "index") && left == 1) {
		printf("%d\n", ifindex_of(nl, a->argv[a->i]));
		return 0;
	}
	if ((!strcmp(op, "up") || !strcmp(op, "down")) && left == 1)
		return netlink_link_set_up(nl, ifindex_of(nl, a->argv[a->i]),
					   !strcmp(op, "up"));
	if (!strcmp(op, "mtu") && left == 2)
		return netlink_link_set_mtu(nl, ifindex_of(nl, a->argv[a->i]),
					    number(a->argv[a->i + 1],
						   UINT32_MAX));
	if (!strcmp(op, "addr-add") || !strcmp(op, "addr-del"))
		return do_addr(nl, !strcmp(op, "addr-add"), a);
	if (!strcmp(op, "route-add") || !strcmp(op, "route-del"))
		return do_route(nl, !strcmp(op, "route-add"), a);
	if (!strcmp(op, "rule-add") || !strcmp(op, "rule-del"))
		return do_rule(nl, !strcmp(op, "rule-add"), a);
	if (!strcmp(op, "tunnel-up") || !strcmp(op, "tunnel-down"))
		return do_tunnel(nl, !strcmp(op, "tunnel-up"), a);
	if (!strcmp(op, "snapshot") && !left)
		return do_snapshot(nl);
	die_usage("unknown operation or wrong arguments");
	return -EINVAL;
}

int main(int argc, char **argv)
{
	struct args a = { .argc = argc, .argv = argv, .i = 2 };
	struct netlink *nl;
	int ret;

	if (argc < 2)
		die_usage("no operation");
	ret = netlink_open(&nl);
	if (ret) {
		fprintf(stderr, "netlink_driver: opening rtnetlink: %s\n",
			strerror(-ret));
		return 1;
	}
	ret = run(nl, argv[1], &a);
	if (ret < 0)
		fprintf(stderr, "netlink_driver: %s\n", netlink_strerror(nl));
	netlink_close(nl);
	return ret < 0 ? 1 : 0;
}
