/* SPDX-License-Identifier: MIT */
/*
 * Tests of vpnd/sticky.c: which peers' sticky sources a routing change
 * makes us forget.  The route lookup is replaced by a script (the real one
 * is exercised against the kernel by tests/netns/test_route_source.sh):
 * each peer's endpoint names the answer the "kernel" gives for it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/* Included so that the test builds alone and can reach the statics. */
#include "../../vpnd/sticky.c"

/* What the lookups were asked, and what they answer. */
static struct {
	unsigned int calls;
	int family, oif;
	uint32_t mark;
	uint8_t dst[16], src[16];
	int answer;
} look;

int netlink_route_oif(struct netlink *nl, int family, const void *dst,
		      const void *src, int oif, uint32_t mark)
{
	size_t alen = family == AF_INET ? 4 : 16;

	(void)nl;
	look.calls++;
	look.family = family;
	look.oif = oif;
	look.mark = mark;
	memcpy(look.dst, dst, alen);
	memcpy(look.src, src, alen);
	return look.answer;
}

/* sticky_watch_start/stop are not run here; they need a kernel. */
int netlink_open(struct netlink **nlp)
{
	*nlp = NULL;
	return -ENOSYS;
}

void netlink_close(struct netlink *nl)
{
	(void)nl;
}

static struct device dev;
/* The peer's state, where the endpoint and source are; the peer is the_peer. */
static struct peer_state peer;
static struct peer the_peer;

static void setup_peer4(const char *ep, const char *src, int ifindex)
{
	memset(&dev, 0, sizeof(dev));
	memset(&peer, 0, sizeof(peer));
	memset(&the_peer, 0, sizeof(the_peer));
	memset(&look, 0, sizeof(look));
	dev.log_level = LOG_LEVEL_SILENT;
	dev.sticky.query = (struct netlink *)&dev;	/* any non-NULL */
	dev.fwmark = 0x51820;
	dev.peers.head = &the_peer;
	the_peer.dev = &dev;
	the_peer.st = &peer;
	peer.endpoint.sin.sin_family = AF_INET;
	peer.endpoint.sin.sin_port = htons(51820);
	assert_int_equal(inet_pton(AF_INET, ep, &peer.endpoint.sin.sin_addr), 1);
	if (src) {
		peer.src.family = AF_INET;
		peer.src.ifindex = ifindex;
		assert_int_equal(inet_pton(AF_INET, src, &peer.src.addr.v4), 1);
	}
}

static void setup_peer6(const char *ep, uint32_t scope, const char *src,
			int ifindex)
{
	setup_peer4("192.0.2.1", NULL, 0);
	memset(&peer.endpoint, 0, sizeof(peer.endpoint));
	peer.endpoint.sin6.sin6_family = AF_INET6;
	peer.endpoint.sin6.sin6_port = htons(51820);
	peer.endpoint.sin6.sin6_scope_id = scope;
	assert_int_equal(inet_pton(AF_INET6, ep, &peer.endpoint.sin6.sin6_addr), 1);
	peer.src.family = AF_INET6;
	peer.src.ifindex = ifindex;
	assert_int_equal(inet_pton(AF_INET6, src, &peer.src.addr.v6), 1);
}

static void test_same_interface_keeps_source(void **state)
{
	(void)state;
	setup_peer4("203.0.113.2", "192.0.2.1", 3);
	look.answer = 3;
	sticky_revalidate(&dev);
	assert_int_equal(look.calls, 1);
	assert_int_equal(peer.src.family, AF_INET);
	assert_int_equal(peer.src.ifindex, 3);
	/* The lookup was for this endpoint, from this source, our mark. */
	assert_int_equal(look.family, AF_INET);
	assert_memory_equal(look.dst, &peer.endpoint.sin.sin_addr, 4);
	assert_memory_equal(look.src, &peer.src.addr.v4, 4);
	assert_int_equal(look.mark, 0x51820);
	assert_int_equal(look.oif, 0);
}

static void test_other_interface_forgets_source(void **state)
{
	(void)state;
	setup_peer4("203.0.113.2", "192.0.2.1", 3);
	look.answer = 4;
	sticky_revalidate(&dev);
	assert_int_equal(look.calls, 1);
	assert_int_equal(peer.src.family, 0);
	assert_int_equal(peer.src.ifindex, 0);
	assert_int_equal(peer.src.addr.v4.s_addr, 0);
}

static void test_failed_lookup_forgets_source(void **state)
{
	static const int errs[] = { -EINVAL, -ENETUNREACH, -ENOBUFS, 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		setup_peer4("203.0.113.2", "192.0.2.1", 3);
		look.answer = errs[i];
		sticky_revalidate(&dev);
		assert_int_equal(look.calls, 1);
		assert_int_equal(peer.src.family, 0);
	}
}

static void test_no_source_no_lookup(void **state)
{
	(void)state;
	setup_peer4("203.0.113.2", NULL, 0);
	look.answer = 3;
	sticky_revalidate(&dev);
	assert_int_equal(look.calls, 0);
	assert_int_equal(peer.src.family, 0);
}

static void test_no_query_socket_changes_nothing(void **state)
{
	(void)state;
	setup_peer4("203.0.113.2", "192.0.2.1", 3);
	dev.sticky.query = NULL;
	look.answer = 4;
	sticky_revalidate(&dev);
	assert_int_equal(look.calls, 0);
	assert_int_equal(peer.src.family, AF_INET);
}

static void test_family_mismatch_forgets_without_lookup(void **state)
{
	(void)state;
	setup_peer6("2001:db8:3::2", 0, "2001:db8:1::1", 3);
	peer.src.family = AF_INET;	/* the endpoint changed family */
	sticky_revalidate(&dev);
	assert_int_equal(look.calls, 0);
	assert_int_equal(peer.src.family, 0);
}

static void test_ipv6_with_scope(void **state)
{
	(void)state;
	setup_peer6("fe80::2", 7, "fe80::1", 7);
	look.answer = 7;
	sticky_revalidate(&dev);
	assert_int_equal(look.calls, 1);
	assert_int_equal(look.family, AF_INET6);
	assert_int_equal(look.oif, 7);
	assert_memory_equal(look.dst, &peer.endpoint.sin6.sin6_addr, 16);
	assert_memory_equal(look.src, &peer.src.addr.v6, 16);
	assert_int_equal(peer.src.family, AF_INET6);
	look.answer = 8;
	sticky_revalidate(&dev);
	assert_int_equal(peer.src.family, 0);
}

static void test_each_peer_checked_once(void **state)
{
	struct peer more[4];
	struct peer_state st[3];

	(void)state;
	setup_peer4("203.0.113.2", "192.0.2.1", 3);
	for (int i = 0; i < 4; i++) {
		more[i] = the_peer;
		more[i].st = i < 3 ? &st[i] : NULL;	/* the last never talked */
		more[i].list_next = i < 3 ? &more[i + 1] : NULL;
	}
	for (int i = 0; i < 3; i++)
		st[i] = peer;
	st[1].src.family = 0;		/* nothing to check */
	the_peer.list_next = &more[0];
	look.answer = 3;
	sticky_revalidate(&dev);
	assert_int_equal(look.calls, 3);
}

/* A route event as the kernel sends it; flags of the rtmsg given. */
static bool changed_by(uint16_t type, unsigned int rtm_flags)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;
	bool changed = false;

	nlh->nlmsg_type = type;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = AF_INET;
	rtm->rtm_flags = rtm_flags;
	msg_cb(nlh, &changed);
	return changed;
}

static void test_events_that_count(void **state)
{
	(void)state;
	assert_true(changed_by(RTM_NEWROUTE, 0));
	assert_true(changed_by(RTM_DELROUTE, 0));
	assert_true(changed_by(RTM_NEWRULE, 0));
	assert_true(changed_by(RTM_DELRULE, 0));
	/* A PMTU exception moves no route choice. */
	assert_false(changed_by(RTM_NEWROUTE, RTM_F_CLONED));
	assert_false(changed_by(RTM_DELROUTE, RTM_F_CLONED));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_interface_keeps_source),
		cmocka_unit_test(test_other_interface_forgets_source),
		cmocka_unit_test(test_failed_lookup_forgets_source),
		cmocka_unit_test(test_no_source_no_lookup),
		cmocka_unit_test(test_no_query_socket_changes_nothing),
		cmocka_unit_test(test_family_mismatch_forgets_without_lookup),
		cmocka_unit_test(test_ipv6_with_scope),
		cmocka_unit_test(test_each_peer_checked_once),
		cmocka_unit_test(test_events_that_count),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
