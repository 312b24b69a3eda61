/* SPDX-License-Identifier: MIT */
/*
 * vpnd's door to the kernel's routing state, over rtnetlink with libmnl.
 * This file owns the conversation (one request, its replies, the ack and
 * the kernel's extended-ack text), the message layouts for links,
 * addresses, routes and rules, the canonical snapshot, and the plan of
 * routes and rules that puts a tunnel in charge of all unmarked traffic.
 * netlink.h explains why that plan defeats TunnelVision.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "netlink.h"

enum {
	/* The kernel never builds a message bigger than 32 KiB for a reader
	 * whose buffer is that big, so a dump is never truncated. */
	NL_BUFSIZE = 32768,
	NL_KMSG_LEN = 160,
	NL_ERR_LEN = 400,
	NL_DESC_LEN = 256,
	/* A dump interrupted by a concurrent change is retried this often. */
	NL_DUMP_TRIES = 5,
	/* Per family a default and a backstop route, the LAN throws, the
	 * inside routes, and the two rules; checked against the LAN ranges
	 * where they are defined. */
	TUNNEL_MAX_STEPS = 40,
};

/* The first table id reserved by the kernel: compat, default, main, local. */
#define RT_TABLE_FIRST_RESERVED 252

struct netlink {
	struct mnl_socket *sock;
	uint32_t portid;
	uint32_t seq;
	char kmsg[NL_KMSG_LEN];	/* extended ack of the request in flight */
	char err[NL_ERR_LEN];	/* what netlink_strerror() says */
	char buf[NL_BUFSIZE];	/* the request, then its replies */
};

/* One request in flight: the caller's handler for data messages, and
 * whether the kernel flagged the dump as torn by a concurrent change. */
struct nl_call {
	struct netlink *nl;
	mnl_cb_t cb;
	void *data;
	bool intr;
};

/* ------------------------------------------------------------ plumbing */

static int nl_fail(struct netlink *nl, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Records "what: why (kernel: detail)" and hands the error back, so that
 * every failure path is one line: return nl_fail(...). */
static int nl_fail(struct netlink *nl, int err, const char *fmt, ...)
{
	char what[NL_ERR_LEN / 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (nl->kmsg[0])
		snprintf(nl->err, sizeof(nl->err), "%s: %s (kernel: %s)", what,
			 strerror(-err), nl->kmsg);
	else
		snprintf(nl->err, sizeof(nl->err), "%s: %s", what,
			 strerror(-err));
	nl->kmsg[0] = '\0';
	return err;
}

static struct nlmsghdr *nl_msg(struct netlink *nl, uint16_t type,
			       uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(nl->buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++nl->seq;
	return nlh;
}

static int nl_data_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_call *call = data;

	return call->cb ? call->cb(nlh, call->data) : MNL_CB_OK;
}

/*
 * libmnl stops at the first message flagged NLM_F_DUMP_INTR, which would
 * leave the rest of the torn dump in the socket for the next request to
 * read as replies with the wrong sequence number (-EPROTO, again and
 * again).  The flag is taken off here and noted, so that the dump is read
 * to its end and the call says -EINTR then.
 */
static bool nl_take_intr(char *buf, size_t len)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	int left = (int)len;
	bool intr = false;

	while (left >= (int)sizeof(*nlh) && nlh->nlmsg_len >= sizeof(*nlh) &&
	       nlh->nlmsg_len <= (unsigned int)left) {
		if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) {
			nlh->nlmsg_flags &= ~NLM_F_DUMP_INTR;
			intr = true;
		}
		nlh = mnl_nlmsg_next(nlh, &left);
	}
	return intr;
}

static int nl_extack_cb(const struct nlattr *a, void *data)
{
	struct netlink *nl = data;

	if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
	    !mnl_attr_validate(a, MNL_TYPE_NUL_STRING))
		snprintf(nl->kmsg, sizeof(nl->kmsg), "%s", mnl_attr_get_str(a));
	return MNL_CB_OK;
}

/* The errno of an error or a failed dump's DONE, which the kernel sends
 * negative; anything outside errno's range is not a message of its. */
static int nl_errno(int32_t err)
{
	return err < 0 && err >= -4095 ? -err : EPROTO;
}

/* The ack: zero ends the request, anything else is its errno, and the
 * kernel's explanation, when it gave one, follows the echoed header. */
static int nl_error_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	size_t len = mnl_nlmsg_get_payload_len(nlh), off = sizeof(*e);
	struct nl_call *call = data;

	if (len < sizeof(*e)) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (!e->error)
		return MNL_CB_STOP;
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED) &&
		    e->msg.nlmsg_len > sizeof(e->msg))
			off += NLMSG_ALIGN(e->msg.nlmsg_len - sizeof(e->msg));
		if (off < len)
			mnl_attr_parse_payload((const char *)e + off, len - off,
					       nl_extack_cb, call->nl);
	}
	errno = nl_errno(e->error);
	return MNL_CB_ERROR;
}

/* A dump the kernel could not finish says why in its DONE message. */
static int nl_done_cb(const struct nlmsghdr *nlh, void *data)
{
	int err;

	(void)data;
	if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(err)) {
		memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(err));
		if (err < 0) {
			errno = nl_errno(err);
			return MNL_CB_ERROR;
		}
	}
	return MNL_CB_STOP;
}

/*
 * Sends the request in nl->buf and reads until its ack or the end of its
 * dump.  Data handlers never fail the call: they note their own errors and
 * let the reading go on, so a request always leaves the socket drained.
 * Returns -EINTR when a dump was torn by a concurrent change.
 */
static int nl_call(struct netlink *nl, struct nlmsghdr *nlh, mnl_cb_t cb,
		   void *data)
{
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = {
		[NLMSG_ERROR] = nl_error_cb,
		[NLMSG_DONE] = nl_done_cb,
	};
	struct nl_call call = { .nl = nl, .cb = cb, .data = data };
	unsigned int seq = nlh->nlmsg_seq;
	int ret = MNL_CB_OK;
	ssize_t n;

	nl->kmsg[0] = '\0';
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	while (ret == MNL_CB_OK) {
		n = mnl_socket_recvfrom(nl->sock, nl->buf, sizeof(nl->buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (nl_take_intr(nl->buf, (size_t)n))
			call.intr = true;
		errno = 0;
		ret = mnl_cb_run2(nl->buf, n, seq, nl->portid, nl_data_cb,
				  &call, ctl, MNL_ARRAY_SIZE(ctl));
	}
	if (ret == MNL_CB_ERROR)
		return errno ? -errno : -EIO;
	return call.intr ? -EINTR : 0;
}

int netlink_open(struct netlink **nlp)
{
	struct netlink *nl;
	int one = 1, ret;

	*nlp = NULL;
	nl = calloc(1, sizeof(*nl));
	if (!nl)
		return -ENOMEM;
	nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl->sock || mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		if (nl->sock)
			mnl_socket_close(nl->sock);
		free(nl);
		return ret;
	}
	/* Best effort: without these, errors are bare errnos and acks echo
	 * whole requests, which costs nothing but clarity. */
	mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof(one));
	nl->portid = mnl_socket_get_portid(nl->sock);
	*nlp = nl;
	return 0;
}

void netlink_close(struct netlink *nl)
{
	if (!nl)
		return;
	mnl_socket_close(nl->sock);
	free(nl);
}

const char *netlink_strerror(const struct netlink *nl)
{
	return nl->err[0] ? nl->err : "no error";
}

/* ------------------------------------------------------------ prefixes */

static size_t family_addrlen(int family)
{
	if (family == AF_INET)
		return sizeof(struct in_addr);
	if (family == AF_INET6)
		return sizeof(struct in6_addr);
	return 0;
}

static const char *family_name(int family)
{
	return family == AF_INET ? "IPv4" : family == AF_INET6 ? "IPv6" : "?";
}

static const char *inaddr_str(int family, const union netlink_inaddr *a,
			      char *buf, size_t len)
{
	if (!family_addrlen(family) || !inet_ntop(family, a, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

static bool prefix_valid(const struct netlink_prefix *p)
{
	size_t alen = family_addrlen(p->family);

	return alen && p->len <= alen * 8;
}

void netlink_prefix_set(struct netlink_prefix *p, int family, const void *addr,
			uint8_t len)
{
	memset(p, 0, sizeof(*p));
	p->family = family;
	p->len = len;
	memcpy(&p->addr, addr, family == AF_INET ? 4 : 16);
}

int netlink_prefix_parse(const char *text, struct netlink_prefix *p)
{
	char buf[INET6_ADDRSTRLEN + 4], *slash, *end;
	unsigned long len;
	unsigned int max;

	memset(p, 0, sizeof(*p));
	if (strlen(text) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, text);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	if (inet_pton(AF_INET, buf, &p->addr.v4) == 1) {
		p->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, &p->addr.v6) == 1) {
		p->family = AF_INET6;
		max = 128;
	} else {
		return -EINVAL;
	}
	p->len = max;
	if (!slash)
		return 0;
	if (!isdigit((unsigned char)*slash))
		return -EINVAL;
	len = strtoul(slash, &end, 10);
	if (*end || len > max)
		return -EINVAL;
	p->len = len;
	return 0;
}

/* Clears every bit of a after the first len, the bytes an IPv4 address
 * does not use included, so that equal prefixes compare equal bytewise. */
static void inaddr_mask(union netlink_inaddr *a, unsigned int len)
{
	unsigned int i;

	for (i = 0; i < sizeof(a->bytes); i++)
		if (len < 8 * (i + 1))
			a->bytes[i] &= len > 8 * i ?
				(uint8_t)(0xff00u >> (len - 8 * i)) : 0;
}

bool netlink_prefix_contains(const struct netlink_prefix *outer,
			     const struct netlink_prefix *inner)
{
	union netlink_inaddr a = outer->addr, b = inner->addr;

	if (outer->family != inner->family || outer->len > inner->len)
		return false;
	inaddr_mask(&a, outer->len);
	inaddr_mask(&b, outer->len);
	return !memcmp(&a, &b, sizeof(a));
}

static int prefix_cmp_family(const struct netlink_prefix *x,
			     const struct netlink_prefix *y)
{
	return (x->family > y->family) - (x->family < y->family);
}

/* Family, then length, then address: a prefix comes after every prefix
 * that can contain it. */
static int prefix_cmp_len(const void *a, const void *b)
{
	const struct netlink_prefix *x = a, *y = b;
	int d = prefix_cmp_family(x, y);

	if (!d)
		d = (x->len > y->len) - (x->len < y->len);
	return d ? d : memcmp(&x->addr, &y->addr, sizeof(x->addr));
}

/* Family, then address: ascending, as nft lists an interval set. */
static int prefix_cmp_addr(const void *a, const void *b)
{
	const struct netlink_prefix *x = a, *y = b;
	int d = prefix_cmp_family(x, y);

	if (!d)
		d = memcmp(&x->addr, &y->addr, sizeof(x->addr));
	return d ? d : (x->len > y->len) - (x->len < y->len);
}

unsigned int netlink_prefixes_reduce(struct netlink_prefix *p, unsigned int n)
{
	unsigned int i, k, kept = 0;

	if (!n)
		return 0;
	for (i = 0; i < n; i++)
		inaddr_mask(&p[i].addr, p[i].len);
	qsort(p, n, sizeof(*p), prefix_cmp_len);
	for (i = 0; i < n; i++) {
		for (k = 0; k < kept; k++)
			if (netlink_prefix_contains(&p[k], &p[i]))
				break;
		if (k == kept)
			p[kept++] = p[i];
	}
	qsort(p, kept, sizeof(*p), prefix_cmp_addr);
	return kept;
}

unsigned int netlink_tunnel_inside(const struct netlink_prefix *addr,
				   unsigned int n_addr,
				   const struct netlink_prefix *dns,
				   unsigned int n_dns, struct netlink_prefix *out)
{
	unsigned int i, n = 0;

	for (i = 0; i < n_addr; i++) {
		out[n] = addr[i];
		if (out[n].family == AF_INET6 &&
		    out[n].len > NETLINK_INSIDE_IPV6_LEN)
			out[n].len = NETLINK_INSIDE_IPV6_LEN;
		if (prefix_valid(&out[n]))
			n++;
	}
	for (i = 0; i < n_dns; i++) {
		out[n] = dns[i];
		out[n].len = (uint8_t)(family_addrlen(dns[i].family) * 8);
		if (prefix_valid(&out[n]))
			n++;
	}
	return netlink_prefixes_reduce(out, n);
}

static const char *prefix_str(const struct netlink_prefix *p, char *buf,
			      size_t len)
{
	char addr[INET6_ADDRSTRLEN];

	snprintf(buf, len, "%s/%u", inaddr_str(p->family, &p->addr, addr,
						sizeof(addr)), p->len);
	return buf;
}

/* ------------------------------------------------------------ links */

static int link_index_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_type == RTM_NEWLINK &&
	    mnl_nlmsg_get_payload_len(nlh) >= sizeof(*ifi))
		*(int *)data = ifi->ifi_index;
	return MNL_CB_OK;
}

int netlink_link_index(struct netlink *nl, const char *name)
{
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	int index = 0, ret;

	nl->kmsg[0] = '\0';
	if (!*name || strlen(name) >= IFNAMSIZ)
		return nl_fail(nl, -EINVAL, "looking up link \"%s\"", name);
	nlh = nl_msg(nl, RTM_GETLINK, NLM_F_ACK);
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	ret = nl_call(nl, nlh, link_index_cb, &index);
	if (!ret && index <= 0)
		ret = -ENODEV;
	if (ret)
		return nl_fail(nl, ret, "looking up link %s", name);
	return index;
}

/* An RTM_NEWLINK without NLM_F_CREATE changes an existing link only. */
static struct nlmsghdr *link_msg(struct netlink *nl, int ifindex,
				 struct ifinfomsg **ifi)
{
	struct nlmsghdr *nlh = nl_msg(nl, RTM_NEWLINK, NLM_F_ACK);

	*ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(**ifi));
	(*ifi)->ifi_family = AF_UNSPEC;
	(*ifi)->ifi_index = ifindex;
	return nlh;
}

int netlink_link_set_up(struct netlink *nl, int ifindex, bool up)
{
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	int ret = -ENODEV;

	nl->kmsg[0] = '\0';
	if (ifindex > 0) {
		nlh = link_msg(nl, ifindex, &ifi);
		ifi->ifi_change = IFF_UP;
		ifi->ifi_flags = up ? IFF_UP : 0;
		ret = nl_call(nl, nlh, NULL, NULL);
	}
	if (ret)
		return nl_fail(nl, ret, "setting link %d %s", ifindex,
			       up ? "up" : "down");
	return 0;
}

int netlink_link_set_mtu(struct netlink *nl, int ifindex, uint32_t mtu)
{
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	int ret = -ENODEV;

	nl->kmsg[0] = '\0';
	if (ifindex > 0) {
		nlh = link_msg(nl, ifindex, &ifi);
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
		ret = nl_call(nl, nlh, NULL, NULL);
	}
	if (ret)
		return nl_fail(nl, ret, "setting MTU %u on link %d", mtu,
			       ifindex);
	return 0;
}

/* ------------------------------------------------------------ addresses */

static int addr_change(struct netlink *nl, bool add, int ifindex,
		       const struct netlink_prefix *a)
{
	size_t alen = family_addrlen(a->family);
	char desc[NL_DESC_LEN];
	struct ifaddrmsg *ifa;
	struct nlmsghdr *nlh;
	int ret = -EINVAL;

	nl->kmsg[0] = '\0';
	if (prefix_valid(a) && ifindex > 0) {
		nlh = nl_msg(nl, add ? RTM_NEWADDR : RTM_DELADDR,
			     NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0));
		ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
		ifa->ifa_family = a->family;
		ifa->ifa_prefixlen = a->len;
		ifa->ifa_index = ifindex;
		ifa->ifa_scope = RT_SCOPE_UNIVERSE;
		/* Both, as ip(8) sends them: IPv4 reads the local address
		 * from IFA_LOCAL and the peer or prefix from IFA_ADDRESS. */
		mnl_attr_put(nlh, IFA_LOCAL, alen, &a->addr);
		mnl_attr_put(nlh, IFA_ADDRESS, alen, &a->addr);
		if (a->family == AF_INET6) {
			ifa->ifa_flags = IFA_F_NODAD;
			mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
		}
		ret = nl_call(nl, nlh, NULL, NULL);
	}
	if (ret)
		return nl_fail(nl, ret, "%s address %s %s link %d",
			       add ? "adding" : "removing",
			       prefix_str(a, desc, sizeof(desc)),
			       add ? "to" : "from", ifindex);
	return 0;
}

int netlink_addr_add(struct netlink *nl, int ifindex,
		     const struct netlink_prefix *a)
{
	return addr_change(nl, true, ifindex, a);
}

int netlink_addr_del(struct netlink *nl, int ifindex,
		     const struct netlink_prefix *a)
{
	return addr_change(nl, false, ifindex, a);
}

/* ------------------------------------------------------------ routes */

static const char *route_type_name(uint8_t type)
{
	switch (type) {
	case RTN_UNSPEC:
	case RTN_UNICAST:
		return "unicast";
	case RTN_UNREACHABLE:
		return "unreachable";
	case RTN_BLACKHOLE:
		return "blackhole";
	case RTN_THROW:
		return "throw";
	case RTN_PROHIBIT:
		return "prohibit";
	default:
		return "other";
	}
}

static void route_describe(const struct netlink_route *r, char *buf,
			   size_t len)
{
	char dst[NL_DESC_LEN / 2], gw[INET6_ADDRSTRLEN] = "";

	prefix_str(&r->dst, dst, sizeof(dst));
	if (r->has_gateway)
		inaddr_str(r->dst.family, &r->gateway, gw, sizeof(gw));
	snprintf(buf, len, "%s %s route %s%s%s dev %d table %u metric %u",
		 family_name(r->dst.family), route_type_name(r->type), dst,
		 r->has_gateway ? " via " : "", gw, r->oif,
		 r->table ? r->table : RT_TABLE_MAIN, r->metric);
}

static void route_fill(struct nlmsghdr *nlh, bool add,
		       const struct netlink_route *r)
{
	size_t alen = family_addrlen(r->dst.family);
	uint32_t table = r->table ? r->table : RT_TABLE_MAIN;
	uint8_t type = r->type;
	struct rtmsg *rtm;

	if (add && type == RTN_UNSPEC)
		type = RTN_UNICAST;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = r->dst.family;
	rtm->rtm_dst_len = r->dst.len;
	/* Ids above 255 only fit the attribute; the header says "see it". */
	rtm->rtm_table = table < 256 ? table : RT_TABLE_UNSPEC;
	rtm->rtm_type = type;
	rtm->rtm_protocol = add && !r->protocol ? RTPROT_BOOT : r->protocol;
	/* As ip(8): a route without a gateway is on the link; a delete
	 * matches any scope. */
	if (!add)
		rtm->rtm_scope = RT_SCOPE_NOWHERE;
	else if (type == RTN_UNICAST && !r->has_gateway)
		rtm->rtm_scope = RT_SCOPE_LINK;
	else
		rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	mnl_attr_put_u32(nlh, RTA_TABLE, table);
	if (r->dst.len)
		mnl_attr_put(nlh, RTA_DST, alen, &r->dst.addr);
	if (r->has_gateway)
		mnl_attr_put(nlh, RTA_GATEWAY, alen, &r->gateway);
	if (r->oif)
		mnl_attr_put_u32(nlh, RTA_OIF, r->oif);
	if (r->metric)
		mnl_attr_put_u32(nlh, RTA_PRIORITY, r->metric);
}

static int route_change(struct netlink *nl, bool add,
			const struct netlink_route *r)
{
	char desc[NL_DESC_LEN];
	struct nlmsghdr *nlh;
	int ret = -EINVAL;

	nl->kmsg[0] = '\0';
	if (prefix_valid(&r->dst)) {
		nlh = nl_msg(nl, add ? RTM_NEWROUTE : RTM_DELROUTE,
			     NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0));
		route_fill(nlh, add, r);
		ret = nl_call(nl, nlh, NULL, NULL);
	}
	if (ret) {
		route_describe(r, desc, sizeof(desc));
		return nl_fail(nl, ret, "%s %s", add ? "adding" : "removing",
			       desc);
	}
	return 0;
}

int netlink_route_add(struct netlink *nl, const struct netlink_route *r)
{
	return route_change(nl, true, r);
}

int netlink_route_del(struct netlink *nl, const struct netlink_route *r)
{
	return route_change(nl, false, r);
}

/* One dump of netlink_route_list(): what it matches and where it goes. */
struct route_list {
	int family;
	uint32_t table;
	uint8_t protocol;
	struct netlink_route *out;
	unsigned int n, max;
	bool more;
};

static int route_list_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct route_list *l = data;
	struct netlink_route r = { 0 };
	struct nlattr *a;
	size_t alen;

	/* The header is read only once the message is known to hold it. */
	if (nlh->nlmsg_type != RTM_NEWROUTE ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm))
		return MNL_CB_OK;
	alen = family_addrlen(rtm->rtm_family);
	if (!alen || rtm->rtm_family != l->family ||
	    rtm->rtm_dst_len > alen * 8 ||
	    (rtm->rtm_flags & RTM_F_CLONED) ||
	    rtm->rtm_protocol != l->protocol)
		return MNL_CB_OK;
	r.dst.family = rtm->rtm_family;
	r.dst.len = rtm->rtm_dst_len;
	r.type = rtm->rtm_type;
	r.protocol = rtm->rtm_protocol;
	r.table = rtm->rtm_table;
	mnl_attr_for_each(a, nlh, sizeof(*rtm)) {
		uint16_t t = mnl_attr_get_type(a);

		if (t == RTA_TABLE && !mnl_attr_validate(a, MNL_TYPE_U32))
			r.table = mnl_attr_get_u32(a);
		else if (t == RTA_PRIORITY &&
			 !mnl_attr_validate(a, MNL_TYPE_U32))
			r.metric = mnl_attr_get_u32(a);
		else if (t == RTA_OIF && !mnl_attr_validate(a, MNL_TYPE_U32))
			r.oif = (int)mnl_attr_get_u32(a);
		else if (t == RTA_DST && mnl_attr_get_payload_len(a) == alen)
			memcpy(&r.dst.addr, mnl_attr_get_payload(a), alen);
	}
	if (r.table != l->table)
		return MNL_CB_OK;
	if (l->n == l->max) {
		l->more = true;
		return MNL_CB_OK;
	}
	l->out[l->n++] = r;
	return MNL_CB_OK;
}

int netlink_route_list(struct netlink *nl, int family, uint32_t table,
		       uint8_t protocol, struct netlink_route *out,
		       unsigned int max)
{
	struct route_list l = { .family = family, .table = table,
				.protocol = protocol, .out = out, .max = max };
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	int ret;

	nlh = nl_msg(nl, RTM_GETROUTE, NLM_F_DUMP);
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)family;
	ret = nl_call(nl, nlh, route_list_cb, &l);
	if (!ret && l.more)
		ret = -E2BIG;
	if (ret)
		return nl_fail(nl, ret, "listing the %s routes of table %u",
			       family_name(family), table);
	return (int)l.n;
}

static int route_path_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct netlink_path *path = data;
	struct nlattr *a;
	size_t alen;

	if (nlh->nlmsg_type != RTM_NEWROUTE ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm))
		return MNL_CB_OK;
	alen = family_addrlen(rtm->rtm_family);
	mnl_attr_for_each(a, nlh, sizeof(*rtm)) {
		if (mnl_attr_get_type(a) == RTA_OIF &&
		    !mnl_attr_validate(a, MNL_TYPE_U32))
			path->oif = (int)mnl_attr_get_u32(a);
		else if (mnl_attr_get_type(a) == RTA_PREFSRC && alen &&
			 mnl_attr_get_payload_len(a) == alen)
			memcpy(&path->src, mnl_attr_get_payload(a), alen);
	}
	return MNL_CB_OK;
}

int netlink_route_path(struct netlink *nl, int family, const void *dst,
		       const void *src, int oif, uint32_t mark,
		       struct netlink_path *path)
{
	size_t alen = family_addrlen(family);
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	int ret;

	memset(path, 0, sizeof(*path));
	nl->kmsg[0] = '\0';
	if (!alen)
		return -EAFNOSUPPORT;
	/* The ack ends the call after the one reply. */
	nlh = nl_msg(nl, RTM_GETROUTE, NLM_F_ACK);
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)family;
	rtm->rtm_dst_len = (uint8_t)(alen * 8);
	mnl_attr_put(nlh, RTA_DST, alen, dst);
	if (src) {
		rtm->rtm_src_len = (uint8_t)(alen * 8);
		mnl_attr_put(nlh, RTA_SRC, alen, src);
	}
	if (oif > 0)
		mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)oif);
	if (mark)
		mnl_attr_put_u32(nlh, RTA_MARK, mark);
	ret = nl_call(nl, nlh, route_path_cb, path);
	if (!ret && path->oif <= 0)
		ret = -ENETUNREACH;
	if (ret)
		return nl_fail(nl, ret, "looking up the route to a %s address",
			       family_name(family));
	return 0;
}

int netlink_route_oif(struct netlink *nl, int family, const void *dst,
		      const void *src, int oif, uint32_t mark)
{
	struct netlink_path path;
	int ret;

	ret = netlink_route_path(nl, family, dst, src, oif, mark, &path);
	return ret ? ret : path.oif;
}

/* ------------------------------------------------------------ rules */

static void rule_describe(const struct netlink_rule *r, char *buf,
			  size_t len)
{
	char mark[48] = "", suppress[40] = "";

	if (r->match_fwmark)
		snprintf(mark, sizeof(mark), " fwmark 0x%x/0x%x", r->fwmark,
			 r->fwmask ? r->fwmask : UINT32_MAX);
	if (r->has_suppress_prefixlen)
		snprintf(suppress, sizeof(suppress),
			 " suppress_prefixlength %u", r->suppress_prefixlen);
	snprintf(buf, len, "%s rule priority %u%s%s lookup %u%s",
		 family_name(r->family), r->priority, r->invert ? " not" : "",
		 mark, r->table ? r->table : RT_TABLE_MAIN, suppress);
}

static void rule_fill(struct nlmsghdr *nlh, const struct netlink_rule *r)
{
	uint32_t table = r->table ? r->table : RT_TABLE_MAIN;
	struct fib_rule_hdr *frh;

	frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	frh->family = r->family;
	frh->action = FR_ACT_TO_TBL;
	frh->table = table < 256 ? table : RT_TABLE_UNSPEC;
	frh->flags = r->invert ? FIB_RULE_INVERT : 0;
	mnl_attr_put_u32(nlh, FRA_PRIORITY, r->priority);
	mnl_attr_put_u32(nlh, FRA_TABLE, table);
	if (r->match_fwmark) {
		mnl_attr_put_u32(nlh, FRA_FWMARK, r->fwmark);
		mnl_attr_put_u32(nlh, FRA_FWMASK,
				 r->fwmask ? r->fwmask : UINT32_MAX);
	}
	if (r->has_suppress_prefixlen)
		mnl_attr_put_u32(nlh, FRA_SUPPRESS_PREFIXLEN,
				 r->suppress_prefixlen);
	if (r->protocol)
		mnl_attr_put_u8(nlh, FRA_PROTOCOL, r->protocol);
}

static int rule_change(struct netlink *nl, bool add,
		       const struct netlink_rule *r)
{
	char desc[NL_DESC_LEN];
	struct nlmsghdr *nlh;
	int ret = -EINVAL;

	nl->kmsg[0] = '\0';
	if (family_addrlen(r->family)) {
		/* NLM_F_EXCL: without it the kernel stacks identical rules,
		 * and a second up would need a second down. */
		nlh = nl_msg(nl, add ? RTM_NEWRULE : RTM_DELRULE,
			     NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0));
		rule_fill(nlh, r);
		ret = nl_call(nl, nlh, NULL, NULL);
	}
	if (ret) {
		rule_describe(r, desc, sizeof(desc));
		return nl_fail(nl, ret, "%s %s", add ? "adding" : "removing",
			       desc);
	}
	return 0;
}

int netlink_rule_add(struct netlink *nl, const struct netlink_rule *r)
{
	return rule_change(nl, true, r);
}

int netlink_rule_del(struct netlink *nl, const struct netlink_rule *r)
{
	return rule_change(nl, false, r);
}

/* ------------------------------------------------------------ snapshot */

/*
 * Attributes print through tables: a name and how to show the value.
 * Anything a table does not name prints as "a<type>=<hex>", so a new
 * kernel attribute makes snapshots differ rather than silently agree; the
 * few the kernel changes on its own are marked SKIP.
 */
enum attr_kind {
	ATTR_HEX = 0,
	ATTR_SKIP,
	ATTR_U8,
	ATTR_U32,
	ATTR_X32,
	ATTR_STR,
	ATTR_ADDR,
};

struct attr_desc {
	const char *name;
	enum attr_kind kind;
};

static const struct attr_desc addr_attrs[] = {
	[IFA_ADDRESS] = { "address", ATTR_ADDR },
	[IFA_LOCAL] = { "local", ATTR_ADDR },
	[IFA_LABEL] = { "label", ATTR_STR },
	[IFA_BROADCAST] = { "brd", ATTR_ADDR },
	[IFA_ANYCAST] = { "anycast", ATTR_ADDR },
	/* Lifetimes count down and timestamps move. */
	[IFA_CACHEINFO] = { NULL, ATTR_SKIP },
	[IFA_MULTICAST] = { "multicast", ATTR_ADDR },
	/* Printed apart, without the bits DAD and lifetimes flip. */
	[IFA_FLAGS] = { NULL, ATTR_SKIP },
	[IFA_RT_PRIORITY] = { "metric", ATTR_U32 },
	[IFA_PROTO] = { "proto", ATTR_U8 },
};

static const struct attr_desc route_attrs[] = {
	[RTA_DST] = { "dst", ATTR_ADDR },
	[RTA_SRC] = { "src", ATTR_ADDR },
	[RTA_IIF] = { "iif", ATTR_U32 },
	[RTA_OIF] = { "oif", ATTR_U32 },
	[RTA_GATEWAY] = { "via", ATTR_ADDR },
	[RTA_PRIORITY] = { "metric", ATTR_U32 },
	[RTA_PREFSRC] = { "prefsrc", ATTR_ADDR },
	[RTA_METRICS] = { "metrics", ATTR_HEX },
	[RTA_MULTIPATH] = { "multipath", ATTR_HEX },
	[RTA_FLOW] = { "realms", ATTR_U32 },
	/* Use counters, expiry and error counts of the cached entry. */
	[RTA_CACHEINFO] = { NULL, ATTR_SKIP },
	[RTA_TABLE] = { "table", ATTR_U32 },
	[RTA_MARK] = { "mark", ATTR_X32 },
	[RTA_PREF] = { "pref", ATTR_U8 },
	/* Seconds left of a route learned from a router advertisement. */
	[RTA_EXPIRES] = { NULL, ATTR_SKIP },
	[RTA_NH_ID] = { "nhid", ATTR_U32 },
};

static const struct attr_desc rule_attrs[] = {
	[FRA_DST] = { "to", ATTR_ADDR },
	[FRA_SRC] = { "from", ATTR_ADDR },
	[FRA_IIFNAME] = { "iif", ATTR_STR },
	[FRA_GOTO] = { "goto", ATTR_U32 },
	[FRA_PRIORITY] = { "priority", ATTR_U32 },
	[FRA_FWMARK] = { "fwmark", ATTR_X32 },
	[FRA_FLOW] = { "realms", ATTR_U32 },
	[FRA_SUPPRESS_IFGROUP] = { "suppress_ifgroup", ATTR_U32 },
	[FRA_SUPPRESS_PREFIXLEN] = { "suppress_prefixlength", ATTR_U32 },
	[FRA_TABLE] = { "table", ATTR_U32 },
	[FRA_FWMASK] = { "fwmask", ATTR_X32 },
	[FRA_OIFNAME] = { "oif", ATTR_STR },
	[FRA_L3MDEV] = { "l3mdev", ATTR_U8 },
	[FRA_PROTOCOL] = { "proto", ATTR_U8 },
	[FRA_IP_PROTO] = { "ipproto", ATTR_U8 },
};

struct snap {
	char **lines;
	size_t n, cap;
	int err;		/* first failure of a handler, if any */
};

struct snap_line {
	FILE *f;
	char *text;
	size_t len;
};

static bool line_begin(struct snap *s, struct snap_line *l)
{
	l->text = NULL;
	l->f = open_memstream(&l->text, &l->len);
	if (!l->f && !s->err)
		s->err = -ENOMEM;
	return l->f;
}

static void line_end(struct snap *s, struct snap_line *l)
{
	char **grown;
	size_t cap;

	if (fclose(l->f) || !l->text)
		goto fail;
	if (s->n == s->cap) {
		cap = s->cap ? s->cap * 2 : 64;
		grown = realloc(s->lines, cap * sizeof(*grown));
		if (!grown)
			goto fail;
		s->lines = grown;
		s->cap = cap;
	}
	s->lines[s->n++] = l->text;
	return;
fail:
	free(l->text);
	if (!s->err)
		s->err = -ENOMEM;
}

static void snap_free(struct snap *s)
{
	while (s->n)
		free(s->lines[--s->n]);
	free(s->lines);
	memset(s, 0, sizeof(*s));
}

static void print_hex(FILE *f, const uint8_t *p, size_t len)
{
	while (len--)
		fprintf(f, "%02x", *p++);
}

/* Falls back to hex when the payload is not the size its kind promises. */
static void print_value(FILE *f, enum attr_kind kind, const struct nlattr *a)
{
	const uint8_t *p = mnl_attr_get_payload(a);
	uint16_t len = mnl_attr_get_payload_len(a);
	char addr[INET6_ADDRSTRLEN];

	if (kind == ATTR_U8 && len == 1)
		fprintf(f, "%u", *p);
	else if (kind == ATTR_U32 && len == 4)
		fprintf(f, "%u", mnl_attr_get_u32(a));
	else if (kind == ATTR_X32 && len == 4)
		fprintf(f, "0x%x", mnl_attr_get_u32(a));
	else if (kind == ATTR_STR && !mnl_attr_validate(a, MNL_TYPE_NUL_STRING))
		fputs(mnl_attr_get_str(a), f);
	else if (kind == ATTR_ADDR && (len == 4 || len == 16) &&
		 inet_ntop(len == 4 ? AF_INET : AF_INET6, p, addr,
			   sizeof(addr)))
		fputs(addr, f);
	else
		print_hex(f, p, len);
}

static void print_attrs(FILE *f, const struct nlmsghdr *nlh, size_t hdrlen,
			const struct attr_desc *desc, size_t ndesc)
{
	const struct nlattr *a;
	uint16_t type;

	mnl_attr_for_each(a, nlh, hdrlen) {
		type = mnl_attr_get_type(a);
		if (type < ndesc && desc[type].kind == ATTR_SKIP)
			continue;
		if (type >= ndesc || !desc[type].name) {
			fprintf(f, " a%u=", type);
			print_hex(f, mnl_attr_get_payload(a),
				  mnl_attr_get_payload_len(a));
			continue;
		}
		fprintf(f, " %s ", desc[type].name);
		print_value(f, desc[type].kind, a);
	}
}

static int snap_addr_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct snap *s = data;
	struct snap_line l;
	const struct nlattr *a;
	uint32_t flags;

	if (nlh->nlmsg_type != RTM_NEWADDR ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifa) || !line_begin(s, &l))
		return MNL_CB_OK;
	flags = ifa->ifa_flags;
	mnl_attr_for_each(a, nlh, sizeof(*ifa))
		if (mnl_attr_get_type(a) == IFA_FLAGS &&
		    mnl_attr_get_payload_len(a) == sizeof(flags))
			flags = mnl_attr_get_u32(a);
	/* DAD and lifetimes change these by themselves, after the fact. */
	flags &= ~(IFA_F_TENTATIVE | IFA_F_OPTIMISTIC | IFA_F_DEPRECATED);
	fprintf(l.f, "addr %s if %u/%u scope %u flags 0x%x",
		family_name(ifa->ifa_family), ifa->ifa_index,
		ifa->ifa_prefixlen, ifa->ifa_scope, flags);
	print_attrs(l.f, nlh, sizeof(*ifa), addr_attrs,
		    MNL_ARRAY_SIZE(addr_attrs));
	line_end(s, &l);
	return MNL_CB_OK;
}

static int snap_route_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct snap *s = data;
	struct snap_line l;

	if (nlh->nlmsg_type != RTM_NEWROUTE ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm) ||
	    (rtm->rtm_flags & RTM_F_CLONED) || !line_begin(s, &l))
		return MNL_CB_OK;
	/* Hardware offload state is the driver's, not configuration. */
	fprintf(l.f, "route %s /%u from /%u tos %u proto %u scope %u type %u "
		"flags 0x%x", family_name(rtm->rtm_family), rtm->rtm_dst_len,
		rtm->rtm_src_len, rtm->rtm_tos, rtm->rtm_protocol,
		rtm->rtm_scope, rtm->rtm_type, rtm->rtm_flags &
		~(RTM_F_OFFLOAD | RTM_F_TRAP | RTM_F_OFFLOAD_FAILED));
	print_attrs(l.f, nlh, sizeof(*rtm), route_attrs,
		    MNL_ARRAY_SIZE(route_attrs));
	line_end(s, &l);
	return MNL_CB_OK;
}

static int snap_rule_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct fib_rule_hdr *frh = mnl_nlmsg_get_payload(nlh);
	struct snap *s = data;
	struct snap_line l;

	if (nlh->nlmsg_type != RTM_NEWRULE ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*frh) || !line_begin(s, &l))
		return MNL_CB_OK;
	fprintf(l.f, "rule %s to /%u from /%u tos %u action %u flags 0x%x",
		family_name(frh->family), frh->dst_len, frh->src_len,
		frh->tos, frh->action, frh->flags);
	print_attrs(l.f, nlh, sizeof(*frh), rule_attrs,
		    MNL_ARRAY_SIZE(rule_attrs));
	line_end(s, &l);
	return MNL_CB_OK;
}

static int snap_collect(struct netlink *nl, struct snap *s)
{
	/* ifaddrmsg, rtmsg and fib_rule_hdr all begin with the family. */
	static const struct {
		uint16_t type;
		uint8_t family;
		size_t hdrlen;
		mnl_cb_t cb;
	} dumps[] = {
		{ RTM_GETADDR, AF_UNSPEC, sizeof(struct ifaddrmsg),
		  snap_addr_cb },
		{ RTM_GETROUTE, AF_INET, sizeof(struct rtmsg), snap_route_cb },
		{ RTM_GETROUTE, AF_INET6, sizeof(struct rtmsg), snap_route_cb },
		{ RTM_GETRULE, AF_INET, sizeof(struct fib_rule_hdr),
		  snap_rule_cb },
		{ RTM_GETRULE, AF_INET6, sizeof(struct fib_rule_hdr),
		  snap_rule_cb },
	};
	struct nlmsghdr *nlh;
	uint8_t *hdr;
	size_t i;
	int ret;

	for (i = 0; i < MNL_ARRAY_SIZE(dumps); i++) {
		nlh = nl_msg(nl, dumps[i].type, NLM_F_DUMP);
		hdr = mnl_nlmsg_put_extra_header(nlh, dumps[i].hdrlen);
		hdr[0] = dumps[i].family;
		ret = nl_call(nl, nlh, dumps[i].cb, s);
		if (ret)
			return ret;
		if (s->err)
			return s->err;
	}
	return 0;
}

static int line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *snap_join(const struct snap *s)
{
	size_t i, total = 1, len;
	char *text, *p;

	for (i = 0; i < s->n; i++)
		total += strlen(s->lines[i]) + 1;
	text = p = malloc(total);
	if (!text)
		return NULL;
	for (i = 0; i < s->n; i++) {
		len = strlen(s->lines[i]);
		memcpy(p, s->lines[i], len);
		p += len;
		*p++ = '\n';
	}
	*p = '\0';
	return text;
}

int netlink_snapshot(struct netlink *nl, char **text)
{
	struct snap s = { 0 };
	int tries = NL_DUMP_TRIES, ret;

	*text = NULL;
	do {
		snap_free(&s);
		ret = snap_collect(nl, &s);
	} while (ret == -EINTR && --tries);
	if (!ret) {
		/* qsort() takes no NULL, even for no lines at all. */
		if (s.n)
			qsort(s.lines, s.n, sizeof(*s.lines), line_cmp);
		*text = snap_join(&s);
		if (!*text)
			ret = -ENOMEM;
	}
	snap_free(&s);
	if (ret)
		return nl_fail(nl, ret, "taking a snapshot of addresses, "
			       "routes and rules");
	return 0;
}

/* ------------------------------------------------------------ tunnel */

/*
 * routing_up and routing_down both work from one plan built from the
 * description, so that down removes exactly what up adds: routes first,
 * rules last, and down walks it backwards.
 */
struct tunnel_step {
	bool is_rule;
	struct netlink_route route;
	struct netlink_rule rule;
};

struct tunnel_plan {
	struct tunnel_step step[TUNNEL_MAX_STEPS];
	size_t n;
	/* The description's inside prefixes, reduced (masked, none inside
	 * another); none without allow_lan, where the default covers them. */
	struct netlink_prefix inside[NETLINK_INSIDE_MAX];
	unsigned int n_inside;
};

/* Ranges that are local by definition, never by announcement. */
static const char *const lan_ipv4[] = {
	"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16",
	"224.0.0.0/4", "255.255.255.255/32",
};

/* IPv6 multicast is answered by the local table before any rule. */
static const char *const lan_ipv6[] = { "fe80::/10", "fc00::/7" };

_Static_assert(MNL_ARRAY_SIZE(lan_ipv4) + MNL_ARRAY_SIZE(lan_ipv6) +
		       2 * 2 * 2 + 2 + NETLINK_INSIDE_MAX <= TUNNEL_MAX_STEPS,
	       "a tunnel plan does not fit in TUNNEL_MAX_STEPS");

static struct netlink_route *plan_route(struct tunnel_plan *p,
					const struct netlink_tunnel *t,
					int family, uint8_t type,
					uint32_t metric)
{
	struct tunnel_step *s = &p->step[p->n++];

	memset(s, 0, sizeof(*s));
	s->route.dst.family = family;
	s->route.table = t->table;
	s->route.type = type;
	s->route.protocol = NETLINK_PROTO_VPND;
	s->route.metric = metric;
	if (type == RTN_UNICAST)
		s->route.oif = t->ifindex;
	return &s->route;
}

/* What the default route of a family is: into the tunnel, or unreachable
 * for a family without address when the policy says so. */
static uint8_t family_type(const struct netlink_tunnel *t, bool has_addr)
{
	return !has_addr && t->nofamily == NETLINK_NOFAMILY_UNREACHABLE ?
		       RTN_UNREACHABLE : RTN_UNICAST;
}

/*
 * The inside prefixes of a family, routed the way the default is, so that
 * by longest-prefix match they beat the throws around them.  Planned
 * before the throws: when allow_lan is switched on while up (rules in
 * place), no throw is ever in without the inside routes that cut it.  A
 * /0 is the default route itself (conf refuses one anyway).
 */
static void plan_inside(struct tunnel_plan *p, const struct netlink_tunnel *t,
			int family, uint8_t type)
{
	struct netlink_route *r;
	unsigned int i;

	for (i = 0; i < p->n_inside; i++) {
		if (p->inside[i].family != family || !p->inside[i].len)
			continue;
		r = plan_route(p, t, family, type, NETLINK_TUNNEL_METRIC);
		r->dst = p->inside[i];
	}
}

/* A LAN range that lies within an inside prefix gets no throw: for a
 * longer prefix the throw would win there, and one equal to it is the
 * same route key, which the kernel refuses (EEXIST), so the inside route
 * would silently not be there. */
static bool lan_is_inside(const struct tunnel_plan *p,
			  const struct netlink_prefix *lan)
{
	unsigned int i;

	for (i = 0; i < p->n_inside; i++)
		if (netlink_prefix_contains(&p->inside[i], lan))
			return true;
	return false;
}

static void plan_throws(struct tunnel_plan *p, const struct netlink_tunnel *t,
			int family, const char *const *lan, size_t nlan)
{
	struct netlink_prefix range;
	struct netlink_route *r;
	size_t i;

	for (i = 0; i < nlan; i++) {
		netlink_prefix_parse(lan[i], &range);
		if (lan_is_inside(p, &range))
			continue;
		r = plan_route(p, t, family, RTN_THROW, NETLINK_TUNNEL_METRIC);
		r->dst = range;
	}
}

static void plan_family(struct tunnel_plan *p, const struct netlink_tunnel *t,
			int family, bool has_addr, const char *const *lan,
			size_t nlan)
{
	uint8_t type = family_type(t, has_addr);

	if (t->allow_lan) {
		plan_inside(p, t, family, type);
		plan_throws(p, t, family, lan, nlan);
	}
	plan_route(p, t, family, type, NETLINK_TUNNEL_METRIC);
	if (type == RTN_UNICAST && t->fail_closed)
		plan_route(p, t, family, RTN_UNREACHABLE,
			   NETLINK_BACKSTOP_METRIC);
	if (!t->app_table)
		return;
	plan_route(p, t, family, type, NETLINK_TUNNEL_METRIC)->table =
		t->app_table;
	if (type == RTN_UNICAST && t->fail_closed)
		plan_route(p, t, family, RTN_UNREACHABLE,
			   NETLINK_BACKSTOP_METRIC)->table = t->app_table;
}

static void plan_rule(struct tunnel_plan *p, const struct netlink_tunnel *t,
		      int family)
{
	struct tunnel_step *s = &p->step[p->n++];

	memset(s, 0, sizeof(*s));
	s->is_rule = true;
	s->rule.family = family;
	s->rule.priority = t->priority ? t->priority : NETLINK_TUNNEL_PRIORITY;
	s->rule.table = t->table;
	s->rule.match_fwmark = true;
	s->rule.fwmark = t->fwmark;
	s->rule.invert = true;
	s->rule.protocol = NETLINK_PROTO_VPND;
}

/* Checks the description's inside prefixes and keeps them reduced in the
 * plan (a duplicate would be refused by the kernel as existing, and one
 * inside another adds nothing); only allow_lan needs them. */
static int plan_inside_prefixes(struct netlink *nl,
				const struct netlink_tunnel *t,
				struct tunnel_plan *p)
{
	unsigned int i;

	p->n_inside = 0;
	if (t->n_inside > NETLINK_INSIDE_MAX)
		return nl_fail(nl, -EINVAL, "tunnel routing: %u inside "
			       "prefixes, at most %u", t->n_inside,
			       (unsigned int)NETLINK_INSIDE_MAX);
	if (t->n_inside && !t->inside)
		return nl_fail(nl, -EINVAL, "tunnel routing: inside prefixes "
			       "counted but not given");
	for (i = 0; i < t->n_inside; i++)
		if (!prefix_valid(&t->inside[i]))
			return nl_fail(nl, -EINVAL, "tunnel routing: inside "
				       "prefix %u is invalid", i);
	if (!t->allow_lan || !t->n_inside)
		return 0;
	memcpy(p->inside, t->inside, t->n_inside * sizeof(*t->inside));
	p->n_inside = netlink_prefixes_reduce(p->inside, t->n_inside);
	return 0;
}

static int tunnel_plan(struct netlink *nl, const struct netlink_tunnel *t,
		       struct tunnel_plan *p)
{
	int ret;

	nl->kmsg[0] = '\0';
	if (t->ifindex <= 0)
		return nl_fail(nl, -ENODEV, "tunnel routing: no tunnel link");
	if (!t->fwmark)
		return nl_fail(nl, -EINVAL, "tunnel routing: fwmark 0 cannot "
			       "tell the daemon's socket from the rest");
	if (!t->table ||
	    (t->table >= RT_TABLE_FIRST_RESERVED && t->table <= 255))
		return nl_fail(nl, -EINVAL, "tunnel routing: table %u is "
			       "reserved", t->table);
	if (t->app_table == t->table ||
	    (t->app_table >= RT_TABLE_FIRST_RESERVED && t->app_table <= 255))
		return nl_fail(nl, -EINVAL, "tunnel routing: second table %u "
			       "is reserved or T itself", t->app_table);
	/* At or after main, routes in main would be consulted first. */
	if (t->priority >= 32766)
		return nl_fail(nl, -EINVAL, "tunnel routing: rule priority %u "
			       "is not before the main table's 32766",
			       t->priority);
	if (t->nofamily != NETLINK_NOFAMILY_UNREACHABLE &&
	    t->nofamily != NETLINK_NOFAMILY_TUNNEL)
		return nl_fail(nl, -EINVAL, "tunnel routing: unknown policy "
			       "%d for a family without address", t->nofamily);
	ret = plan_inside_prefixes(nl, t, p);
	if (ret)
		return ret;
	p->n = 0;
	plan_family(p, t, AF_INET, t->has_ipv4, lan_ipv4,
		    MNL_ARRAY_SIZE(lan_ipv4));
	plan_family(p, t, AF_INET6, t->has_ipv6, lan_ipv6,
		    MNL_ARRAY_SIZE(lan_ipv6));
	plan_rule(p, t, AF_INET);
	plan_rule(p, t, AF_INET6);
	return 0;
}

static int step_apply(struct netlink *nl, const struct tunnel_step *s,
		      bool add)
{
	return s->is_rule ? rule_change(nl, add, &s->rule)
			  : route_change(nl, add, &s->route);
}

/*
 * A kernel booted with ipv6.disable=1 has no IPv6 routing to install into
 * (routes: EOPNOTSUPP, rules: EAFNOSUPPORT), and nothing can leak over a
 * family that does not exist; only a tunnel that wants IPv6 must fail.
 */
static bool step_family_absent(const struct netlink_tunnel *t,
			       const struct tunnel_step *s, int err)
{
	int family = s->is_rule ? s->rule.family : s->route.dst.family;

	return family == AF_INET6 && !t->has_ipv6 &&
	       (err == -EOPNOTSUPP || err == -EAFNOSUPPORT);
}

/* Undoes the first n steps where added[] says this call added them,
 * keeping the error that caused the rollback as the one reported. */
static void tunnel_rollback(struct netlink *nl, const struct tunnel_plan *p,
			    const bool *added, size_t n)
{
	char why[NL_ERR_LEN], note[48];
	unsigned int failed = 0;

	memcpy(why, nl->err, sizeof(why));
	while (n--)
		if (added[n] && step_apply(nl, &p->step[n], false))
			failed++;
	memcpy(nl->err, why, sizeof(why));
	if (failed) {
		snprintf(note, sizeof(note), "; %u rollback step(s) failed",
			 failed);
		strncat(nl->err, note, sizeof(nl->err) - strlen(nl->err) - 1);
	}
}

int netlink_tunnel_routing_up(struct netlink *nl,
			      const struct netlink_tunnel *t)
{
	bool added[TUNNEL_MAX_STEPS] = { false };
	struct tunnel_plan plan;
	size_t i;
	int ret;

	ret = tunnel_plan(nl, t, &plan);
	if (ret)
		return ret;
	for (i = 0; i < plan.n; i++) {
		ret = step_apply(nl, &plan.step[i], true);
		if (!ret)
			added[i] = true;
		else if (ret != -EEXIST &&
			 !step_family_absent(t, &plan.step[i], ret))
			break;
	}
	if (i == plan.n)
		return 0;
	tunnel_rollback(nl, &plan, added, i);
	return ret;
}

int netlink_tunnel_routing_down(struct netlink *nl,
				const struct netlink_tunnel *t)
{
	char first_err[NL_ERR_LEN];
	struct tunnel_plan plan;
	int ret, first = 0;
	size_t i;

	ret = tunnel_plan(nl, t, &plan);
	if (ret)
		return ret;
	for (i = plan.n; i--;) {
		ret = step_apply(nl, &plan.step[i], false);
		/* Already gone: rules say ENOENT, routes ESRCH. */
		if (!ret || ret == -ENOENT || ret == -ESRCH ||
		    ret == -ENODEV || step_family_absent(t, &plan.step[i], ret))
			continue;
		if (!first) {
			first = ret;
			memcpy(first_err, nl->err, sizeof(first_err));
		}
	}
	if (first)
		memcpy(nl->err, first_err, sizeof(first_err));
	return first;
}
