/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes what vpnd reads from rtnetlink: the replies to its requests
 * (vpnd/netlink.c: acks and errors with the kernel's extended ack, link
 * lookups, route dumps and route lookups, the dumps of a snapshot, the
 * many acks of a tunnel's routing going up or down, multipart dumps ended
 * by NLMSG_DONE, torn dumps) and the notifications its monitors read (the
 * link events of vpnd/iface.c, the route events of vpnd/sticky.c that
 * netchange.c follows).
 *
 * Requests go through netlink.c's own functions, with its two socket calls
 * replaced: mnl_socket_sendto() checks the request and sends nothing,
 * mnl_socket_recvfrom() hands out the next datagram of the input as the
 * kernel's answer (and, once the input is used up, fails with EAGAIN).
 * The monitors' callbacks are run with mnl_cb_run() as iface_cb() and
 * events_cb() run them, on a copy of each datagram sized to it.  The rest
 * of netlink.c's receive buffer is poisoned for ASan while a datagram is in
 * it, until mnl_cb_run2() is done with it, so that a handler that reads
 * past what the kernel sent is caught.  (Past its padding: libmnl puts the
 * end of a message's attributes at its length rounded up to 4, and the
 * kernel's lengths are always so rounded; the padding reads as zeros.)
 *
 * Input layout: byte 0 picks the request (low nibble, see ops[]; bit 7:
 * follow it with a second, plain request that must end in its own ack);
 * then datagrams, each a little-endian 16-bit length and that many bytes.
 *
 * What is checked, besides ASan/UBSan/LSan:
 *  - every request sent is well-formed (length, NLM_F_REQUEST, the
 *    sequence number netlink.c counts), so a reply is judged against it;
 *  - results are in range: an index > 0 or -errno; a route list holds at
 *    most the room given, only the family, table and protocol asked for,
 *    prefix lengths the family allows;
 *    a path found has an interface; a snapshot is NUL-terminated sorted
 *    lines; every failure is a negative errno with netlink_strerror()
 *    saying something, bounded, NUL-terminated;
 *  - errors do not leak: a kernel message ("(kernel: ...)") in the text of
 *    a failure came with that request's own error, never an earlier one's;
 *  - the link monitor changes the device only for an event about its own
 *    index, keeps its name NUL-terminated, never sets an MTU of 0.
 *
 * FUZZ_WRITE_SEEDS=DIR records seeds instead: each request is sent to the
 * real kernel and its replies are written as an input of this harness.  It
 * changes routes and rules, so run it only in a scratch namespace; the
 * seeds in tests/fuzz/corpus/netlink/ came from one set up as
 *
 *   ip netns add rec; ip -n rec link set lo up
 *   ip -n rec link add vpnd0 index 7 type veth peer name p0
 *   ip -n rec link set p0 up; ip -n rec link set vpnd0 up
 *   ip -n rec addr add 192.0.2.1/24 dev vpnd0
 *   ip -n rec addr add 2001:db8::1/64 dev vpnd0 nodad
 *   ip -n rec addr add fe80::1/64 dev vpnd0 nodad
 *   ip -n rec route add 10.9.0.0/16 dev vpnd0 table 0x5670 proto 118
 *   ip -n rec route add unreachable default table 0x5670 proto 118
 *   ip -n rec -6 route add fd00::/8 dev vpnd0 table 0x5670 proto 118
 *   ip netns exec rec env FUZZ_WRITE_SEEDS=DIR build/fuzz/fuzz_netlink
 *
 * (run twice for the seeds of a second run: addr-add-exists, snapshot-2;
 * with vpnd0 down for route-path*-unreachable/-error), plus a few made
 * from them: the monitors' link-events, link-gone and route-events, and
 * addr-add-then-link-up for the second request.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <sanitizer/asan_interface.h>

static ssize_t fz_sendto(const struct mnl_socket *nl, const void *req,
			 size_t siz);
static ssize_t fz_recvfrom(const struct mnl_socket *nl, void *buf,
			   size_t siz);
static int fz_cb_run2(const void *buf, size_t numbytes, unsigned int seq,
		      unsigned int portid, mnl_cb_t cb_data, void *data,
		      mnl_cb_t *cb_ctl_array,
		      unsigned int cb_ctl_array_len);
#define mnl_socket_sendto fz_sendto
#define mnl_socket_recvfrom fz_recvfrom
#define mnl_cb_run2 fz_cb_run2
#include "../../vpnd/netlink.c"
#undef mnl_socket_sendto
#undef mnl_socket_recvfrom
#undef mnl_cb_run2

/* The two monitors both call their handlers msg_cb and attr_cb. */
#define msg_cb iface_msg_cb
#define attr_cb iface_attr_cb
#include "../../vpnd/iface.c"
#undef msg_cb
#undef attr_cb
#define msg_cb sticky_msg_cb
#include "../../vpnd/sticky.c"
#undef msg_cb

#include "device.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FAIL(...)                                               \
	do {                                                    \
		fprintf(stderr, "fuzz_netlink: " __VA_ARGS__);  \
		fputc('\n', stderr);                            \
		abort();                                        \
	} while (0)

enum {
	FUZZ_PORTID = 0x4711,
	FUZZ_IFINDEX = 7,
	FUZZ_MTU = 1420,
	ROUTES_MAX = 8,
	OP_SECOND = 0x80,
	SEED_MAX = 60000,
};

/* Where the datagrams come from: the input, or the kernel (seeds). */
static struct {
	const uint8_t *p;
	size_t len, off;
	/* Whether an error with extended-ack attributes was served since
	 * the operation began. */
	bool extack_served;
	/* Recording seeds: the real socket and what it answered. */
	struct mnl_socket *real;
	uint8_t *rec;
	size_t rec_len;
	/* netlink.c's buffer, poisoned past the datagram in it. */
	char *poisoned;
	size_t poisoned_len;
} src;

static void unpoison(void)
{
	if (src.poisoned)
		ASAN_UNPOISON_MEMORY_REGION(src.poisoned, src.poisoned_len);
	src.poisoned = NULL;
}

static ssize_t fz_sendto(const struct mnl_socket *nl, const void *req,
			 size_t siz)
{
	const struct nlmsghdr *nlh = req;

	(void)nl;
	unpoison();
	if (siz < sizeof(*nlh) || nlh->nlmsg_len != siz ||
	    !(nlh->nlmsg_flags & NLM_F_REQUEST))
		FAIL("a malformed request (%zu bytes)", siz);
	if (src.real)
		return mnl_socket_sendto(src.real, req, siz);
	return (ssize_t)siz;
}

/*
 * Where a datagram must end for libmnl: mnl_nlmsg_ok() compares the length
 * field as an int, so a message claiming 2 GiB or more passes it and its
 * handler reads far past the datagram.  The kernel never sends one (it
 * writes at most a buffer's worth), and it is libmnl's to check, so such a
 * message and what follows it are dropped here.
 */
static size_t mnl_sane_len(const uint8_t *buf, size_t len)
{
	size_t off = 0;
	uint32_t mlen;

	while (len - off >= sizeof(struct nlmsghdr)) {
		memcpy(&mlen, buf + off, sizeof(mlen));
		if (mlen >= 0x80000000u)
			return off;
		if (mlen < sizeof(struct nlmsghdr) || mlen > len - off)
			break;
		off += MNL_ALIGN(mlen);
		if (off > len)
			break;
	}
	return len;
}

/* Whether a datagram holds an error that carries attributes: only that
 * may put a kernel message into the failure's text. */
static bool has_extack(const void *buf, size_t len)
{
	const struct nlmsghdr *nlh = buf;
	int left = (int)len;

	while (mnl_nlmsg_ok(nlh, left)) {
		if (nlh->nlmsg_type == NLMSG_ERROR &&
		    (nlh->nlmsg_flags & NLM_F_ACK_TLVS))
			return true;
		nlh = mnl_nlmsg_next(nlh, &left);
	}
	return false;
}

static ssize_t record(void *buf, size_t siz)
{
	ssize_t n = mnl_socket_recvfrom(src.real, buf, siz);
	uint8_t *grown;

	if (n <= 0)
		return n;
	if (src.rec_len + 2 + (size_t)n > SEED_MAX)
		FAIL("a seed over %d bytes", SEED_MAX);
	grown = realloc(src.rec, src.rec_len + 2 + (size_t)n);
	if (!grown)
		FAIL("out of memory");
	src.rec = grown;
	src.rec[src.rec_len] = (uint8_t)(n & 0xff);
	src.rec[src.rec_len + 1] = (uint8_t)(n >> 8);
	memcpy(src.rec + src.rec_len + 2, buf, (size_t)n);
	src.rec_len += 2 + (size_t)n;
	return n;
}

/* The next datagram of the input; a length beyond it takes what is left. */
static bool next_datagram(const uint8_t **p, size_t *len)
{
	size_t n;

	if (src.len - src.off < 2)
		return false;
	n = (size_t)src.p[src.off] | (size_t)src.p[src.off + 1] << 8;
	src.off += 2;
	if (n > src.len - src.off)
		n = src.len - src.off;
	*p = src.p + src.off;
	*len = n;
	src.off += n;
	return true;
}

static ssize_t fz_recvfrom(const struct mnl_socket *nl, void *buf,
			   size_t siz)
{
	const uint8_t *p;
	size_t n, pad;

	(void)nl;
	unpoison();
	if (src.real)
		return record(buf, siz);
	if (!next_datagram(&p, &n)) {
		errno = EAGAIN;
		return -1;
	}
	/* A datagram longer than the buffer is cut, as MSG_TRUNC would. */
	if (n > siz)
		n = siz;
	n = mnl_sane_len(p, n);
	memcpy(buf, p, n);
	if (has_extack(buf, n))
		src.extack_served = true;
	pad = MNL_ALIGN(n) <= siz ? MNL_ALIGN(n) - n : 0;
	memset((char *)buf + n, 0, pad);
	src.poisoned = (char *)buf + n + pad;
	src.poisoned_len = siz - n - pad;
	ASAN_POISON_MEMORY_REGION(src.poisoned, src.poisoned_len);
	return (ssize_t)n;
}

/* The datagram is handled: the buffer is netlink.c's again. */
static int fz_cb_run2(const void *buf, size_t numbytes, unsigned int seq,
		      unsigned int portid, mnl_cb_t cb_data, void *data,
		      mnl_cb_t *cb_ctl_array,
		      unsigned int cb_ctl_array_len)
{
	int ret = mnl_cb_run2(buf, numbytes, seq, portid, cb_data, data,
			      cb_ctl_array, cb_ctl_array_len);
	int saved = errno;

	unpoison();
	errno = saved;
	return ret;
}

/* The requests vpnd makes, as control.c, netchange.c and the tunnel
 * setup make them. */

static const uint8_t dst4[4] = { 192, 0, 2, 10 };
static const uint8_t dst6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x10 };
static const uint8_t src6[16] = { 0xfe, 0x80, [15] = 0x01 };

static int op_link_index(struct netlink *nl)
{
	int ret = netlink_link_index(nl, "vpnd0");

	if (ret == 0)
		FAIL("link index 0 returned as found");
	return ret < 0 ? ret : 0;
}

static int op_link_up(struct netlink *nl)
{
	return netlink_link_set_up(nl, FUZZ_IFINDEX, true);
}

static int op_addr_add(struct netlink *nl)
{
	struct netlink_prefix a;

	netlink_prefix_parse("10.64.3.7/32", &a);
	return netlink_addr_add(nl, FUZZ_IFINDEX, &a);
}

static int check_route_list(int family, int ret,
			    const struct netlink_route *out)
{
	if (ret > ROUTES_MAX)
		FAIL("%d routes listed into room for %d", ret, ROUTES_MAX);
	for (int i = 0; i < ret; i++)
		if (out[i].dst.family != family ||
		    out[i].dst.len > (family == AF_INET ? 32 : 128) ||
		    out[i].table != 0x5670 ||
		    out[i].protocol != NETLINK_PROTO_VPND)
			FAIL("route %d is not of the family, table and "
			     "protocol asked for", i);
	return ret < 0 ? ret : 0;
}

static int op_route_list4(struct netlink *nl)
{
	struct netlink_route out[ROUTES_MAX];

	return check_route_list(AF_INET,
				netlink_route_list(nl, AF_INET, 0x5670,
						   NETLINK_PROTO_VPND, out,
						   ROUTES_MAX), out);
}

static int op_route_list6(struct netlink *nl)
{
	struct netlink_route out[ROUTES_MAX];

	return check_route_list(AF_INET6,
				netlink_route_list(nl, AF_INET6, 0x5670,
						   NETLINK_PROTO_VPND, out,
						   ROUTES_MAX), out);
}

static int op_route_path4(struct netlink *nl)
{
	struct netlink_path path;
	int ret;

	ret = netlink_route_path(nl, AF_INET, dst4, NULL, 0, 0x5670, &path);
	if (!ret && path.oif <= 0)
		FAIL("a path without an interface");
	return ret;
}

static int op_route_path6(struct netlink *nl)
{
	struct netlink_path path;
	int ret;

	ret = netlink_route_path(nl, AF_INET6, dst6, src6, 0, 0x5670, &path);
	if (!ret && path.oif <= 0)
		FAIL("a path without an interface");
	return ret;
}

static int op_snapshot(struct netlink *nl)
{
	char *text = NULL;
	int ret;

	ret = netlink_snapshot(nl, &text);
	if (ret) {
		if (text)
			FAIL("a failed snapshot left text");
		return ret;
	}
	if (!text)
		FAIL("a snapshot without text");
	if (*text && text[strlen(text) - 1] != '\n')
		FAIL("a snapshot not ending in a newline");
	free(text);
	return 0;
}

static int op_rule_add(struct netlink *nl)
{
	struct netlink_rule r = {
		.family = AF_INET6, .priority = 32000, .table = 0x5670,
		.match_fwmark = true, .fwmark = 0x5670, .invert = true,
		.protocol = NETLINK_PROTO_VPND,
	};

	return netlink_rule_add(nl, &r);
}

static const struct netlink_prefix fuzz_inside[] = {
	{ .family = AF_INET, .addr.bytes = { 10, 64, 0, 1 }, .len = 32 },
	{ .family = AF_INET6, .addr.bytes = { 0xfc, 0, 0xbb, 0xbb }, .len = 64 },
};

static const struct netlink_tunnel fuzz_tunnel = {
	.ifindex = FUZZ_IFINDEX, .fwmark = 0x5670, .table = 0x5670,
	.has_ipv4 = true, .has_ipv6 = true, .fail_closed = true,
	.allow_lan = true, .inside = fuzz_inside, .n_inside = 2,
	.app_table = 0x5672,
};

static int op_routing_up(struct netlink *nl)
{
	return netlink_tunnel_routing_up(nl, &fuzz_tunnel);
}

static int op_routing_down(struct netlink *nl)
{
	return netlink_tunnel_routing_down(nl, &fuzz_tunnel);
}

static int op_route_del(struct netlink *nl)
{
	struct netlink_route r = {
		.dst = { .family = AF_INET, .addr.bytes = { 192, 0, 2, 10 },
			 .len = 32 },
		.oif = FUZZ_IFINDEX,
		.protocol = NETLINK_PROTO_VPND,
	};

	return netlink_route_del(nl, &r);
}

static const struct op {
	const char *name;
	int (*run)(struct netlink *nl);
} ops[] = {
	{ "link-index", op_link_index },
	{ "link-up", op_link_up },
	{ "addr-add", op_addr_add },
	{ "route-list4", op_route_list4 },
	{ "route-list6", op_route_list6 },
	{ "route-path4", op_route_path4 },
	{ "route-path6", op_route_path6 },
	{ "snapshot", op_snapshot },
	{ "rule-add", op_rule_add },
	{ "routing-up", op_routing_up },
	{ "routing-down", op_routing_down },
	{ "route-del", op_route_del },
};

enum {
	N_OPS = sizeof(ops) / sizeof(*ops),
	/* The monitors come after the requests. */
	OP_LINK_EVENTS = N_OPS,
	OP_ROUTE_EVENTS,
	N_KINDS,
};

static void check_failure(const struct netlink *nl, int ret)
{
	const char *text = netlink_strerror(nl);
	size_t len = strnlen(text, NL_ERR_LEN);

	if (ret >= 0)
		return;
	if (ret < -4095)
		FAIL("failure %d is not a negative errno", ret);
	if (len == NL_ERR_LEN || !len || !strcmp(text, "no error"))
		FAIL("failure %d without a text", ret);
	if (strstr(text, "(kernel: ") && !src.extack_served)
		FAIL("a kernel message not sent for this request: %s", text);
}

static struct netlink *fake_netlink(void)
{
	struct netlink *nl = calloc(1, sizeof(*nl));

	if (!nl)
		FAIL("out of memory");
	nl->portid = FUZZ_PORTID;
	return nl;
}

static void run_request(unsigned int kind, bool second)
{
	struct netlink *nl = fake_netlink();
	int ret;

	ret = ops[kind].run(nl);
	unpoison();
	check_failure(nl, ret);
	if (second) {
		src.extack_served = false;
		ret = op_link_up(nl);
		unpoison();
		check_failure(nl, ret);
	}
	free(nl);
}

/* A datagram as a monitor's buffer holds it, zero-padded to 4 bytes. */
static uint8_t *padded_copy(const uint8_t *p, size_t n)
{
	uint8_t *copy = calloc(1, MNL_ALIGN(n) ? MNL_ALIGN(n) : 1);

	if (!copy)
		FAIL("out of memory");
	memcpy(copy, p, n);
	return copy;
}

/* vpnd/iface.c's handler, on a device whose link is FUZZ_IFINDEX. */
static void run_link_events(void)
{
	struct device *dev = calloc(1, sizeof(*dev));
	const uint8_t *p;
	size_t n;

	if (!dev)
		FAIL("out of memory");
	dev->ifindex = FUZZ_IFINDEX;
	dev->mtu = FUZZ_MTU;
	memcpy(dev->iface.name, "vpnd0", 6);
	while (next_datagram(&p, &n)) {
		struct link_event ev = { .dev = dev };
		uint8_t *copy;
		bool about_us = false;
		const struct nlmsghdr *nlh;
		int left;

		n = mnl_sane_len(p, n);
		left = (int)n;
		copy = padded_copy(p, n);
		mnl_cb_run(copy, n, 0, 0, iface_msg_cb, &ev);
		/* Whether any message of the datagram is about our link
		 * (libmnl may stop before the end; this does not). */
		for (nlh = (const void *)copy; mnl_nlmsg_ok(nlh, left);
		     nlh = mnl_nlmsg_next(nlh, &left)) {
			const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

			if (nlh->nlmsg_type >= NLMSG_MIN_TYPE &&
			    mnl_nlmsg_get_payload_len(nlh) >= sizeof(*ifi) &&
			    ifi->ifi_index == FUZZ_IFINDEX)
				about_us = true;
		}
		if ((ev.gone || ev.changed) && !about_us)
			FAIL("an event about another link taken as ours");
		if (!dev->mtu)
			FAIL("an MTU of 0");
		if (!memchr(dev->iface.name, '\0', sizeof(dev->iface.name)))
			FAIL("the interface name lost its NUL");
		free(copy);
	}
	free(dev);
}

/* vpnd/sticky.c's handler: whether a burst changes anything. */
static void run_route_events(void)
{
	const uint8_t *p;
	size_t n;

	while (next_datagram(&p, &n)) {
		uint8_t *copy;
		bool changed = false;

		n = mnl_sane_len(p, n);
		copy = padded_copy(p, n);
		mnl_cb_run(copy, n, 0, 0, sticky_msg_cb, &changed);
		free(copy);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned int kind;

	if (size < 1)
		return 0;
	kind = (data[0] & 0x0f) % N_KINDS;
	memset(&src, 0, sizeof(src));
	src.p = data + 1;
	src.len = size - 1;
	if (kind == OP_LINK_EVENTS)
		run_link_events();
	else if (kind == OP_ROUTE_EVENTS)
		run_route_events();
	else
		run_request(kind, data[0] & OP_SECOND);
	return 0;
}

/* Seeds: each request against the kernel of the namespace we run in. */

static void seed_write(const char *dir, const char *name, uint8_t kind,
		       const uint8_t *body, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fputc(kind, f) == EOF ||
	    (len && fwrite(body, 1, len, f) != len) || fclose(f))
		FAIL("writing %s", path);
}

static void seeds_record(const char *dir)
{
	struct netlink *nl;
	int ret;

	for (unsigned int k = 0; k < N_OPS; k++) {
		ret = netlink_open(&nl);
		if (ret)
			FAIL("netlink_open: %s", strerror(-ret));
		/* The requests go out on nl's socket, numbered from 1 and
		 * carrying FUZZ_PORTID as the harness numbers them. */
		src.real = nl->sock;
		nl->seq = 0;
		src.rec_len = 0;
		ret = ops[k].run(nl);
		fprintf(stderr, "%-13s %d %s\n", ops[k].name, ret,
			ret < 0 ? netlink_strerror(nl) : "");
		/* Replies name the real port; the harness's is FUZZ_PORTID. */
		for (size_t off = 0; off + 2 <= src.rec_len;) {
			size_t n = src.rec[off] | (size_t)src.rec[off + 1] << 8;
			struct nlmsghdr *nlh = (void *)nl->buf;
			int left = (int)n;

			/* Patched where the messages are aligned. */
			memcpy(nl->buf, src.rec + off + 2, n);
			for (; mnl_nlmsg_ok(nlh, left);
			     nlh = mnl_nlmsg_next(nlh, &left))
				if (nlh->nlmsg_pid == nl->portid)
					nlh->nlmsg_pid = FUZZ_PORTID;
			memcpy(src.rec + off + 2, nl->buf, n);
			off += 2 + n;
		}
		seed_write(dir, ops[k].name, (uint8_t)k, src.rec, src.rec_len);
		src.real = NULL;
		netlink_close(nl);
	}
	free(src.rec);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FUZZ_WRITE_SEEDS");

	(void)argc;
	(void)argv;
	if (dir) {
		seeds_record(dir);
		exit(0);
	}
	return 0;
}
