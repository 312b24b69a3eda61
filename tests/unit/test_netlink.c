/* SPDX-License-Identifier: MIT */
/*
 * How vpnd/netlink.c reads replies it did not expect (what tests/fuzz/
 * fuzz_netlink.c found): an error or DONE code outside errno's range is a
 * protocol error, not a negated int; a route message too short for its
 * header is skipped before the header is read; a route dump lists only the
 * family asked for, with prefix lengths that family allows; a snapshot of
 * nothing is empty text; a torn dump (NLM_F_DUMP_INTR) is read to its end
 * before -EINTR, so the next request reads its own reply.  The kernel is replaced by a script of datagrams
 * (the real one answers in tests/netns/test_netlink.sh); the short
 * messages sit at the end of allocations of their own size, so that
 * `make asan` sees any read past them.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libmnl/libmnl.h>

static ssize_t fake_sendto(const struct mnl_socket *nl, const void *req,
			   size_t siz);
static ssize_t fake_recvfrom(const struct mnl_socket *nl, void *buf,
			     size_t siz);
#define mnl_socket_sendto fake_sendto
#define mnl_socket_recvfrom fake_recvfrom
/* Included so that the test builds alone and can reach the statics. */
#include "../../vpnd/netlink.c"
#undef mnl_socket_sendto
#undef mnl_socket_recvfrom

enum { SCRIPT_MAX = 8, DGRAM_MAX = 512 };

/* The kernel's side: datagrams handed out in turn, each renumbered to the
 * request last sent. */
static struct {
	uint8_t dgram[SCRIPT_MAX][DGRAM_MAX];
	size_t len[SCRIPT_MAX];
	size_t n, next;
	uint32_t seq;
} script;

static ssize_t fake_sendto(const struct mnl_socket *nl, const void *req,
			   size_t siz)
{
	(void)nl;
	script.seq = ((const struct nlmsghdr *)req)->nlmsg_seq;
	return (ssize_t)siz;
}

static ssize_t fake_recvfrom(const struct mnl_socket *nl, void *buf,
			     size_t siz)
{
	struct nlmsghdr *nlh = buf;
	size_t n;
	int left;

	(void)nl;
	if (script.next == script.n) {
		errno = EAGAIN;
		return -1;
	}
	n = script.len[script.next];
	assert_true(n <= siz);
	memcpy(buf, script.dgram[script.next++], n);
	for (left = (int)n; mnl_nlmsg_ok(nlh, left);
	     nlh = mnl_nlmsg_next(nlh, &left))
		nlh->nlmsg_seq = script.seq;
	return (ssize_t)n;
}

/* Appends a message to the datagram being scripted; returns its payload. */
static void *script_msg(uint16_t type, uint16_t flags, size_t payload)
{
	size_t i = script.n - 1, len = MNL_ALIGN(sizeof(struct nlmsghdr) +
						  payload);
	struct nlmsghdr *nlh = (void *)(script.dgram[i] + script.len[i]);

	assert_true(script.len[i] + len <= DGRAM_MAX);
	memset(nlh, 0, len);
	nlh->nlmsg_len = (uint32_t)(sizeof(*nlh) + payload);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	script.len[i] += len;
	return nlh + 1;
}

static void script_dgram(void)
{
	assert_true(script.n < SCRIPT_MAX);
	script.len[script.n++] = 0;
}

static void script_error(int32_t error)
{
	struct nlmsgerr *e;

	script_dgram();
	e = script_msg(NLMSG_ERROR, NLM_F_CAPPED, sizeof(*e));
	e->error = error;
	e->msg.nlmsg_len = sizeof(e->msg);
}

static void script_done(int32_t error)
{
	int32_t *e = script_msg(NLMSG_DONE, NLM_F_MULTI, sizeof(*e));

	*e = error;
}

/* A route of a dump, with its table and destination as attributes. */
static void script_route(uint8_t family, uint8_t dst_len, uint32_t table)
{
	size_t alen = family == AF_INET ? 4 : 16;
	struct rtmsg *rtm;
	struct nlattr *a;
	uint8_t *p;

	rtm = script_msg(RTM_NEWROUTE, NLM_F_MULTI,
			 sizeof(*rtm) + 2 * MNL_ATTR_HDRLEN + 4 + alen);
	rtm->rtm_family = family;
	rtm->rtm_dst_len = dst_len;
	rtm->rtm_table = RT_TABLE_UNSPEC;
	rtm->rtm_protocol = NETLINK_PROTO_VPND;
	rtm->rtm_type = RTN_UNICAST;
	a = (struct nlattr *)(rtm + 1);
	a->nla_type = RTA_TABLE;
	a->nla_len = MNL_ATTR_HDRLEN + 4;
	memcpy(a + 1, &table, 4);
	a = (struct nlattr *)((uint8_t *)a + MNL_ALIGN(a->nla_len));
	a->nla_type = RTA_DST;
	a->nla_len = (uint16_t)(MNL_ATTR_HDRLEN + alen);
	p = (uint8_t *)(a + 1);
	memset(p, 0, alen);
	p[0] = family == AF_INET ? 10 : 0xfd;
}

static struct netlink *nl;

static int setup(void **state)
{
	(void)state;
	memset(&script, 0, sizeof(script));
	nl = calloc(1, sizeof(*nl));
	return nl ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(nl);
	return 0;
}

static void test_error_codes(void **state)
{
	(void)state;
	script_error(-EINVAL);
	assert_int_equal(netlink_link_set_up(nl, 7, true), -EINVAL);
	/* Negating INT_MIN was undefined; a positive code was taken as is. */
	script_error(INT_MIN);
	assert_int_equal(netlink_link_set_up(nl, 7, true), -EPROTO);
	script_error(452984849);
	assert_int_equal(netlink_link_set_up(nl, 7, true), -EPROTO);
	script_error(-4096);
	assert_int_equal(netlink_link_set_up(nl, 7, true), -EPROTO);
	script_error(0);
	assert_int_equal(netlink_link_set_up(nl, 7, true), 0);
}

static void test_done_codes(void **state)
{
	struct netlink_route out[4];

	(void)state;
	script_dgram();
	script_done(-EBUSY);
	assert_int_equal(netlink_route_list(nl, AF_INET, 0x5670,
					    NETLINK_PROTO_VPND, out, 4),
			 -EBUSY);
	script_dgram();
	script_done(INT_MIN);
	assert_int_equal(netlink_route_list(nl, AF_INET, 0x5670,
					    NETLINK_PROTO_VPND, out, 4),
			 -EPROTO);
}

/* A message of @type with nothing after its netlink header, alone in an
 * allocation of its size. */
static struct nlmsghdr *bare_msg(uint16_t type)
{
	struct nlmsghdr *nlh = malloc(sizeof(*nlh));

	assert_non_null(nlh);
	memset(nlh, 0, sizeof(*nlh));
	nlh->nlmsg_len = sizeof(*nlh);
	nlh->nlmsg_type = type;
	return nlh;
}

static void test_short_route_messages(void **state)
{
	struct netlink_route out[1];
	struct route_list l = { .family = AF_INET, .table = 0x5670,
				.protocol = NETLINK_PROTO_VPND, .out = out,
				.max = 1 };
	struct netlink_path path = { .oif = 3 };
	struct nlmsghdr *nlh = bare_msg(RTM_NEWROUTE);

	(void)state;
	assert_int_equal(route_list_cb(nlh, &l), MNL_CB_OK);
	assert_int_equal(l.n, 0);
	assert_int_equal(route_path_cb(nlh, &path), MNL_CB_OK);
	assert_int_equal(path.oif, 3);
	free(nlh);
}

static void test_route_list_takes_only_what_was_asked(void **state)
{
	struct netlink_route out[4];

	(void)state;
	script_dgram();
	script_route(AF_INET6, 8, 0x5670);	/* another family */
	script_route(AF_INET, 33, 0x5670);	/* longer than IPv4 allows */
	script_route(AF_INET, 16, 0x5671);	/* another table */
	script_route(AF_INET, 16, 0x5670);
	script_done(0);
	assert_int_equal(netlink_route_list(nl, AF_INET, 0x5670,
					    NETLINK_PROTO_VPND, out, 4), 1);
	assert_int_equal(out[0].dst.family, AF_INET);
	assert_int_equal(out[0].dst.len, 16);
	assert_int_equal(out[0].dst.addr.bytes[0], 10);
	assert_int_equal(out[0].table, 0x5670);
}

/* A torn dump is read to its end: the next request must find its own
 * reply, not the rest of the dump. */
static void test_torn_dump_drained(void **state)
{
	struct netlink_route out[4];

	(void)state;
	script_dgram();
	script_route(AF_INET, 16, 0x5670);
	((struct nlmsghdr *)script.dgram[0])->nlmsg_flags |= NLM_F_DUMP_INTR;
	script_dgram();
	script_route(AF_INET, 24, 0x5670);
	script_done(0);
	script_error(0);
	assert_int_equal(netlink_route_list(nl, AF_INET, 0x5670,
					    NETLINK_PROTO_VPND, out, 4),
			 -EINTR);
	assert_int_equal(script.next, 2);
	assert_int_equal(netlink_link_set_up(nl, 7, true), 0);
	assert_int_equal(script.next, 3);
}

static void test_empty_snapshot(void **state)
{
	char *text = NULL;

	(void)state;
	/* Addresses, IPv4 and IPv6 routes, IPv4 and IPv6 rules: none. */
	for (int i = 0; i < 5; i++) {
		script_dgram();
		script_done(0);
	}
	assert_int_equal(netlink_snapshot(nl, &text), 0);
	assert_non_null(text);
	assert_string_equal(text, "");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_error_codes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_done_codes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_short_route_messages,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_route_list_takes_only_what_was_asked, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_torn_dump_drained, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_empty_snapshot, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
