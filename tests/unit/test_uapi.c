/* SPDX-License-Identifier: MIT */
/*
 * Tests of the UAPI protocol layer (vpnd/uapi.c), driven through a fake
 * daemon that records every plan it is asked to apply and answers get
 * requests from the last one, and the record of what the reference,
 * wireguard-go 0.0.20220316 as Debian 12 ships it, answered when the same
 * bytes were sent to its socket (/var/run/wireguard/wgtest0.sock, the
 * daemon running in a private network namespace, probed with a Python
 * client that recorded the raw replies).
 *
 * What wireguard-go was seen to do:
 *
 *  - get: the device lines private_key (omitted while the key is zero, and
 *    printed clamped: 0101..01 was set and 0001..0141 read back),
 *    listen_port and fwmark (each omitted while zero); then per peer
 *    public_key, preshared_key (zeros when none), protocol_version=1,
 *    endpoint (only when set), last_handshake_time_sec,
 *    last_handshake_time_nsec, tx_bytes, rx_bytes,
 *    persistent_keepalive_interval, and the allowed_ip lines with host
 *    bits cleared (10.0.0.1/8 reads back 10.0.0.0/8); then "errno=0", a
 *    blank line, and the connection stays open for the next request.
 *    IPv6 is printed by Go's rules, which differ from glibc's inet_ntop for
 *    ::102:304 (glibc: ::1.2.3.4); see observed_formats[].
 *  - errors are negative: errno=-71 (-EPROTO) for a set line without '=';
 *    errno=-22 (-EINVAL) for an unknown key, a bad hex key, a number out of
 *    range, a peer key before any public_key, a device key after one, an
 *    invalid endpoint or allowed_ip, a flag other than "true", a
 *    protocol_version other than "1", and a byte other than '\n' after
 *    "get=1\n"; errno=-5 (-EIO) for a set line longer than 64 KiB, after
 *    which it closes.  An operation line other than "get=1"/"set=1" (also
 *    "set=1\r") closes the connection with no reply at all.
 *  - set is applied line by line; at the first bad line it replies at once
 *    and stops reading the request.  Because its line scanner reads ahead,
 *    whatever the client had pipelined after the bad request was lost:
 *    "set=1\nfoo=bar\n\nget=1\n\n" got only "errno=-22\n\n".
 *  - keys it accepts with no effect: protocol_version=1.  It refuses
 *    last_handshake_time_sec, tx_bytes, errno and every other get-only key
 *    in a set with -22.
 *  - endpoint "[fe80::1%2]:51820" and "[fe80::1%lo]:51820" (a zone naming
 *    an existing interface) are accepted, "%nosuchif" and an empty zone are
 *    not; a get then prints "[fe80::1]:51820", without the zone.
 *  - "allowed_ip=-1.2.3.4/32" is refused with -22 (it has no removal form),
 *    and wireguard-tools 1.0.20210914 cannot send one ("wg set wg0 peer K
 *    allowed-ips -1.2.3.4/32" fails with "Unable to parse IP address").
 *    The form exists in the 2025 releases of wireguard-tools, wireguard-go
 *    and the kernel (WGALLOWEDIP_F_REMOVE_ME), so vpnd accepts it.
 *  - a set cut short by the client's end of stream (shutdown(SHUT_WR)) is
 *    applied up to where it stopped and answered errno=0.
 *
 * Where vpnd differs on purpose, each tested below: a set is applied whole
 * or not at all, a failed set is read to its blank line so that pipelined
 * requests are still answered, a set cut short by the end of stream is
 * discarded, lines are capped at 4096 bytes (errno=-5, then close), caps on
 * peers and allowed IPs per set answer errno=-7 (-E2BIG), endpoint zones
 * are printed as "%index", the removal form of allowed_ip is accepted, and
 * a prefix length with a sign ("/+8", which this Go let through) is not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

/*
 * Every sodium block uapi.c allocates is tracked, so that its release can
 * be checked to find it already wiped: the proof that secrets are zeroed
 * by uapi.c itself, before the memory is given back.
 */
static void *test_sodium_malloc(size_t size);
static void *test_sodium_allocarray(size_t count, size_t size);
static void test_sodium_free(void *ptr);
#define sodium_malloc test_sodium_malloc
#define sodium_allocarray test_sodium_allocarray
#define sodium_free test_sodium_free
#include "../../vpnd/uapi.c"
#undef sodium_malloc
#undef sodium_allocarray
#undef sodium_free

#define K00 "0000000000000000000000000000000000000000000000000000000000000000"
#define K01 "0101010101010101010101010101010101010101010101010101010101010101"
#define K11 "1111111111111111111111111111111111111111111111111111111111111111"
#define K22 "2222222222222222222222222222222222222222222222222222222222222222"
#define K33 "3333333333333333333333333333333333333333333333333333333333333333"
#define K44 "4444444444444444444444444444444444444444444444444444444444444444"
#define K55 "5555555555555555555555555555555555555555555555555555555555555555"
#define K66 "6666666666666666666666666666666666666666666666666666666666666666"
#define K77 "7777777777777777777777777777777777777777777777777777777777777777"
#define K88 "8888888888888888888888888888888888888888888888888888888888888888"
#define K99 "9999999999999999999999999999999999999999999999999999999999999999"
/* K01 as wireguard-go stores and prints it: clamped. */
#define K01_CLAMPED \
	"0001010101010101010101010101010101010101010101010101010101010141"

/* Sodium tracking. */

enum { TRACK_MAX = 64 };

static struct {
	void *ptr[TRACK_MAX];
	size_t size[TRACK_MAX];
	unsigned int frees;
	unsigned int dirty_frees;
} track;

static void track_add(void *p, size_t size)
{
	for (int i = 0; i < TRACK_MAX; i++) {
		if (!track.ptr[i]) {
			track.ptr[i] = p;
			track.size[i] = size;
			return;
		}
	}
	fail_msg("too many live sodium blocks");
}

static void *test_sodium_malloc(size_t size)
{
	void *p = sodium_malloc(size);

	if (p)
		track_add(p, size);
	return p;
}

static void *test_sodium_allocarray(size_t count, size_t size)
{
	void *p = sodium_allocarray(count, size);

	if (p)
		track_add(p, count * size);
	return p;
}

static void test_sodium_free(void *p)
{
	if (!p)
		return;
	for (int i = 0; i < TRACK_MAX; i++) {
		if (track.ptr[i] == p) {
			track.frees++;
			if (!sodium_is_zero(p, track.size[i]))
				track.dirty_frees++;
			track.ptr[i] = NULL;
			sodium_free(p);
			return;
		}
	}
	fail_msg("sodium_free of an untracked block");
}

/* Whether [p, p + n) lies inside a live sodium block. */
static bool in_sodium_memory(const void *p, size_t n)
{
	const char *c = p;

	for (int i = 0; i < TRACK_MAX; i++) {
		const char *b = track.ptr[i];

		if (b && c >= b && c + n <= b + track.size[i])
			return true;
	}
	return false;
}

static int live_blocks(void)
{
	int n = 0;

	for (int i = 0; i < TRACK_MAX; i++)
		n += track.ptr[i] != NULL;
	return n;
}

/* The fake daemon. */

enum { REC_PEERS = 8, REC_AIPS = 24 };

struct rec_peer {
	uint8_t public_key[KEY_LEN];
	unsigned int flags;
	uint8_t psk[KEY_LEN];
	union uapi_endpoint endpoint;
	uint16_t keepalive;
	struct uapi_allowed_ip aips[REC_AIPS];
	size_t naips;
};

struct fake {
	int apply_calls;
	int apply_ret;
	int get_calls;
	int (*get_impl)(struct fake *f, struct uapi_writer *w);
	/* A long get in chunks: peers in all, the next one, a chunk to fail. */
	unsigned int many, many_next, many_fail_call;
	/* The apply calls seen when the last get call began. */
	int apply_calls_at_get;
	/* The most output pending when a get call began. */
	size_t most_pending;
	/* The last plan applied. */
	unsigned int flags;
	uint8_t private_key[KEY_LEN];
	uint16_t listen_port;
	uint32_t fwmark;
	struct rec_peer peers[REC_PEERS];
	size_t npeers;
	bool secret_outside_sodium;
	/* What get reports besides the plan. */
	int64_t hs_sec, hs_nsec;
	uint64_t tx, rx;
	/* Every plan applied, as text, to compare runs. */
	char log[16384];
	size_t log_len;
};

static void log_add(struct fake *f, const char *s)
{
	size_t n = strlen(s);

	assert_true(f->log_len + n < sizeof(f->log));
	memcpy(f->log + f->log_len, s, n + 1);
	f->log_len += n;
}

static void log_key(struct fake *f, const char *name, const uint8_t *k)
{
	char hex[KEY_HEX_LEN + 1];

	log_add(f, name);
	if (k) {
		key_to_hex(hex, k);
		log_add(f, hex);
	} else {
		log_add(f, "-");
	}
}

static void log_peer(struct fake *f, const struct uapi_peer *p)
{
	char line[160];

	log_key(f, " peer ", p->public_key);
	log_key(f, " psk ", p->flags & UAPI_PEER_HAS_PRESHARED_KEY ?
				    p->preshared_key : NULL);
	if (p->flags & UAPI_PEER_HAS_ENDPOINT) {
		assert_int_equal(uapi_endpoint_format(line, sizeof(line),
						      &p->endpoint), 0);
		log_add(f, " ep ");
		log_add(f, line);
	}
	snprintf(line, sizeof(line), " flags %x ka %u aips", p->flags,
		 p->persistent_keepalive_interval);
	log_add(f, line);
	for (size_t i = 0; i < p->allowed_ips_len; i++) {
		const struct uapi_allowed_ip *a = &p->allowed_ips[i];
		char text[INET6_ADDRSTRLEN];

		inet_ntop(a->family, &a->addr, text, sizeof(text));
		snprintf(line, sizeof(line), " %s%s/%u", a->remove ? "-" : "",
			 text, a->cidr);
		log_add(f, line);
	}
	log_add(f, "\n");
}

static void record_peer(struct fake *f, struct rec_peer *r,
			const struct uapi_peer *p)
{
	memcpy(r->public_key, p->public_key, KEY_LEN);
	r->flags = p->flags;
	if (p->flags & UAPI_PEER_HAS_PRESHARED_KEY) {
		if (!in_sodium_memory(p->preshared_key, KEY_LEN))
			f->secret_outside_sodium = true;
		memcpy(r->psk, p->preshared_key, KEY_LEN);
	}
	r->endpoint = p->endpoint;
	r->keepalive = p->persistent_keepalive_interval;
	assert_true(p->allowed_ips_len <= REC_AIPS);
	assert_true(p->allowed_ips_len == 0 || p->allowed_ips != NULL);
	if (p->allowed_ips_len)
		memcpy(r->aips, p->allowed_ips,
		       p->allowed_ips_len * sizeof(*p->allowed_ips));
	r->naips = p->allowed_ips_len;
}

static int fake_apply(void *ctx, struct uapi_set *s)
{
	struct fake *f = ctx;
	const struct uapi_peer *p;
	char line[96];
	size_t n = 0;

	f->apply_calls++;
	if (f->apply_ret)
		return f->apply_ret;
	f->flags = s->flags;
	memset(f->private_key, 0, KEY_LEN);
	if (s->flags & UAPI_SET_HAS_PRIVATE_KEY) {
		if (!in_sodium_memory(s->private_key, KEY_LEN))
			f->secret_outside_sodium = true;
		memcpy(f->private_key, s->private_key, KEY_LEN);
	}
	f->listen_port = s->listen_port;
	f->fwmark = s->fwmark;
	f->npeers = s->peers_len < REC_PEERS ? s->peers_len : REC_PEERS;

	snprintf(line, sizeof(line), "apply flags %x port %u fwmark %u",
		 s->flags, s->listen_port, s->fwmark);
	log_add(f, line);
	log_key(f, " key ", s->flags & UAPI_SET_HAS_PRIVATE_KEY ?
				    s->private_key : NULL);
	log_add(f, "\n");
	/* Each section once, in order: the plan frees them as it goes. */
	while ((p = uapi_set_next_peer(s))) {
		if (n < f->npeers)
			record_peer(f, &f->peers[n], p);
		log_peer(f, p);
		n++;
	}
	assert_int_equal(n, s->peers_len);
	assert_null(uapi_set_next_peer(s));
	return 0;
}

/* Reports the last plan applied as the device's state. */
static int fake_get_device(struct fake *f, struct uapi_writer *w)
{
	struct uapi_device_view d = {
		.private_key = f->private_key,
		.listen_port = f->listen_port,
		.fwmark = f->fwmark,
	};
	int ret = uapi_write_device(w, &d);

	for (size_t i = 0; i < f->npeers && !ret; i++) {
		const struct rec_peer *r = &f->peers[i];
		struct uapi_peer_view p = {
			.public_key = r->public_key,
			.preshared_key = r->flags & UAPI_PEER_HAS_PRESHARED_KEY ?
						 r->psk : NULL,
			.endpoint = r->flags & UAPI_PEER_HAS_ENDPOINT ?
					    &r->endpoint : NULL,
			.last_handshake_time_sec = f->hs_sec,
			.last_handshake_time_nsec = f->hs_nsec,
			.tx_bytes = f->tx,
			.rx_bytes = f->rx,
			.persistent_keepalive_interval = r->keepalive,
		};

		ret = uapi_write_peer(w, &p);
		for (size_t j = 0; j < r->naips && !ret; j++)
			ret = uapi_write_allowed_ip(w, r->aips[j].family,
						    &r->aips[j].addr,
						    r->aips[j].cidr);
	}
	return ret;
}

static int fake_get(void *ctx, struct uapi_writer *w)
{
	struct fake *f = ctx;

	f->get_calls++;
	return f->get_impl ? f->get_impl(f, w) : fake_get_device(f, w);
}

/* Interface names for endpoint zones, without asking the system. */
static unsigned int fake_ifindex(void *ctx, const char *name)
{
	(void)ctx;
	return strcmp(name, "eth7") ? 0 : 7;
}

static struct uapi_conn *conn_new(struct fake *f)
{
	struct uapi_ops ops = {
		.ctx = f,
		.apply = fake_apply,
		.get = fake_get,
		.ifindex = fake_ifindex,
	};
	struct uapi_conn *c = uapi_conn_new(&ops);

	assert_non_null(c);
	return c;
}

/* Feeding, and collecting what came out. */

struct text {
	char *s;
	size_t len;
};

static void text_add(struct text *t, const char *s, size_t n)
{
	t->s = realloc(t->s, t->len + n + 1);
	assert_non_null(t->s);
	if (n)
		memcpy(t->s + t->len, s, n);
	t->len += n;
	t->s[t->len] = '\0';
}

static void drain_into(struct uapi_conn *c, struct text *t)
{
	const char *p;
	size_t n;

	uapi_conn_output(c, &p, &n);
	text_add(t, p, n);
	uapi_conn_consume_output(c, n);
}

/*
 * Feeds in pieces of chunk bytes (0: all at once), draining after each
 * piece as the daemon would, and stops where the daemon would stop.
 */
static int feed_chunked(struct uapi_conn *c, const char *in, size_t len,
			size_t chunk, struct text *out)
{
	int ret = UAPI_FEED_OPEN;
	size_t off = 0, n;

	text_add(out, "", 0);
	while (off < len && ret == UAPI_FEED_OPEN) {
		n = chunk && chunk < len - off ? chunk : len - off;
		ret = uapi_conn_feed(c, in + off, n);
		off += n;
		drain_into(c, out);
	}
	return ret;
}

static int feed_str(struct uapi_conn *c, const char *in, struct text *out)
{
	return feed_chunked(c, in, strlen(in), 0, out);
}

/* One request string on a fresh connection; returns its output. */
static char *run(struct fake *f, const char *in, size_t chunk, int *ret)
{
	struct uapi_conn *c = conn_new(f);
	struct text out = { 0 };
	int r = feed_chunked(c, in, strlen(in), chunk, &out);

	if (ret)
		*ret = r;
	uapi_conn_free(c);
	return out.s;
}

static void expect_reply(struct fake *f, const char *in, const char *reply)
{
	int ret;
	char *out = run(f, in, 0, &ret);

	assert_string_equal(out, reply);
	assert_int_equal(ret, UAPI_FEED_OPEN);
	free(out);
}

static int setup(void **state)
{
	(void)state;
	memset(&track, 0, sizeof(track));
	return 0;
}

/* Every test ends with no sodium block alive and none freed unwiped. */
static int teardown(void **state)
{
	(void)state;
	assert_int_equal(live_blocks(), 0);
	assert_int_equal(track.dirty_frees, 0);
	return 0;
}

/* Construction. */

static void test_new_rejects_missing_ops(void **state)
{
	struct uapi_ops ops = { .apply = fake_apply };

	(void)state;
	assert_null(uapi_conn_new(&ops));
	assert_null(uapi_conn_new(NULL));
}

static void test_default_caps(void **state)
{
	struct fake f = { 0 };
	struct uapi_conn *c = conn_new(&f);

	(void)state;
	assert_int_equal(c->max_peers, MAX_PEERS);
	assert_int_equal(c->max_allowed_ips, 1 << 20);
	assert_string_equal(uapi_conn_last_error(c), "");
	uapi_conn_free(c);
}

/* Every key, into the right field of the plan. */

static void test_set_device_fields(void **state)
{
	struct fake f = { 0 };
	uint8_t clamped[KEY_LEN];

	(void)state;
	expect_reply(&f, "set=1\nprivate_key=" K01 "\nlisten_port=51820\n"
			 "fwmark=4294967295\nreplace_peers=true\n\n",
		     "errno=0\n\n");
	assert_int_equal(f.apply_calls, 1);
	assert_int_equal(f.flags, UAPI_SET_HAS_PRIVATE_KEY |
					  UAPI_SET_HAS_LISTEN_PORT |
					  UAPI_SET_HAS_FWMARK |
					  UAPI_SET_REPLACE_PEERS);
	assert_int_equal(key_from_hex(clamped, K01_CLAMPED), 0);
	assert_memory_equal(f.private_key, clamped, KEY_LEN);
	assert_int_equal(f.listen_port, 51820);
	assert_int_equal(f.fwmark, 4294967295u);
	assert_int_equal(f.npeers, 0);
	assert_false(f.secret_outside_sodium);

	/* fwmark=0 clears the mark: present, with the value zero. */
	expect_reply(&f, "set=1\nfwmark=0\n\n", "errno=0\n\n");
	assert_int_equal(f.flags, UAPI_SET_HAS_FWMARK);
	assert_int_equal(f.fwmark, 0);
}

static void test_set_zero_private_key(void **state)
{
	struct fake f = { 0 };

	(void)state;
	memset(f.private_key, 0xaa, KEY_LEN);
	expect_reply(&f, "set=1\nprivate_key=" K00 "\n\n", "errno=0\n\n");
	assert_int_equal(f.flags, UAPI_SET_HAS_PRIVATE_KEY);
	/* Not clamped: all zero must still read "remove the key". */
	assert_true(sodium_is_zero(f.private_key, KEY_LEN));
}

static void assert_ip4(const struct uapi_allowed_ip *a, const char *text,
		       unsigned int cidr, bool remove)
{
	struct in_addr want;

	assert_int_equal(inet_pton(AF_INET, text, &want), 1);
	assert_int_equal(a->family, AF_INET);
	assert_memory_equal(&a->addr.ip4, &want, sizeof(want));
	assert_int_equal(a->cidr, cidr);
	assert_int_equal(a->remove, remove);
}

static void assert_ip6(const struct uapi_allowed_ip *a, const char *text,
		       unsigned int cidr, bool remove)
{
	struct in6_addr want;

	assert_int_equal(inet_pton(AF_INET6, text, &want), 1);
	assert_int_equal(a->family, AF_INET6);
	assert_memory_equal(&a->addr.ip6, &want, sizeof(want));
	assert_int_equal(a->cidr, cidr);
	assert_int_equal(a->remove, remove);
}

static void assert_endpoint(const union uapi_endpoint *ep, const char *text)
{
	char got[UAPI_ENDPOINT_STRLEN];

	assert_int_equal(uapi_endpoint_format(got, sizeof(got), ep), 0);
	assert_string_equal(got, text);
}

static void assert_key(const uint8_t *key, const char *hex)
{
	uint8_t want[KEY_LEN];

	assert_int_equal(key_from_hex(want, hex), 0);
	assert_memory_equal(key, want, KEY_LEN);
}

static const char peers_request[] =
	"set=1\n"
	"public_key=" K11 "\n"
	"preshared_key=" K00 "\n"
	"endpoint=192.0.2.1:51820\n"
	"persistent_keepalive_interval=0\n"
	"replace_allowed_ips=true\n"
	"allowed_ip=10.0.0.1/8\n"
	"allowed_ip=-192.168.1.7/24\n"
	"allowed_ip=fd00::5/64\n"
	"protocol_version=1\n"
	"public_key=" K22 "\n"
	"update_only=true\n"
	"endpoint=[2001:db8::1]:4500\n"
	"preshared_key=" K33 "\n"
	"persistent_keepalive_interval=65535\n"
	"allowed_ip=::/0\n"
	"allowed_ip=-2001:db8::7/128\n"
	"public_key=" K44 "\n"
	"remove=true\n"
	"public_key=" K55 "\n"
	"endpoint=[fe80::1%2]:51820\n"
	"public_key=" K66 "\n"
	"endpoint=[fe80::1%eth7]:1\n"
	"public_key=" K77 "\n"
	"endpoint=[::ffff:192.0.2.9]:0\n"
	"\n";

static void test_set_peer_fields(void **state)
{
	struct fake f = { 0 };
	const struct rec_peer *p = f.peers;

	(void)state;
	expect_reply(&f, peers_request, "errno=0\n\n");
	assert_int_equal(f.flags, 0);
	assert_int_equal(f.npeers, 6);
	assert_false(f.secret_outside_sodium);

	assert_key(p[0].public_key, K11);
	assert_int_equal(p[0].flags, UAPI_PEER_HAS_PRESHARED_KEY |
					     UAPI_PEER_HAS_ENDPOINT |
					     UAPI_PEER_HAS_KEEPALIVE |
					     UAPI_PEER_REPLACE_ALLOWED_IPS);
	assert_true(sodium_is_zero(p[0].psk, KEY_LEN));
	assert_int_equal(p[0].endpoint.sa.sa_family, AF_INET);
	assert_endpoint(&p[0].endpoint, "192.0.2.1:51820");
	assert_int_equal(p[0].keepalive, 0);
	assert_int_equal(p[0].naips, 3);
	/* Host bits cleared, removal form kept apart. */
	assert_ip4(&p[0].aips[0], "10.0.0.0", 8, false);
	assert_ip4(&p[0].aips[1], "192.168.1.0", 24, true);
	assert_ip6(&p[0].aips[2], "fd00::", 64, false);

	assert_key(p[1].public_key, K22);
	assert_int_equal(p[1].flags, UAPI_PEER_UPDATE_ONLY |
					     UAPI_PEER_HAS_PRESHARED_KEY |
					     UAPI_PEER_HAS_ENDPOINT |
					     UAPI_PEER_HAS_KEEPALIVE);
	assert_key(p[1].psk, K33);
	assert_int_equal(p[1].endpoint.sa.sa_family, AF_INET6);
	assert_int_equal(ntohs(p[1].endpoint.in6.sin6_port), 4500);
	assert_endpoint(&p[1].endpoint, "[2001:db8::1]:4500");
	assert_int_equal(p[1].keepalive, 65535);
	assert_int_equal(p[1].naips, 2);
	assert_ip6(&p[1].aips[0], "::", 0, false);
	assert_ip6(&p[1].aips[1], "2001:db8::7", 128, true);

	assert_key(p[2].public_key, K44);
	assert_int_equal(p[2].flags, UAPI_PEER_REMOVE);
	assert_int_equal(p[2].naips, 0);

	assert_int_equal(p[3].endpoint.in6.sin6_scope_id, 2);
	assert_endpoint(&p[3].endpoint, "[fe80::1%2]:51820");
	assert_int_equal(p[4].endpoint.in6.sin6_scope_id, 7);
	assert_int_equal(ntohs(p[4].endpoint.in6.sin6_port), 1);
	/* IPv4-mapped stays IPv6, as wireguard-go keeps and prints it. */
	assert_int_equal(p[5].endpoint.sa.sa_family, AF_INET6);
	assert_endpoint(&p[5].endpoint, "[::ffff:192.0.2.9]:0");
}

/*
 * replace_allowed_ips drops what the same section added before it, as
 * wireguard-go, which applies line by line, does; other peers keep theirs.
 */
static void test_set_replace_allowed_ips_midway(void **state)
{
	struct fake f = { 0 };

	(void)state;
	expect_reply(&f, "set=1\npublic_key=" K11 "\nallowed_ip=9.9.9.9/32\n"
			 "public_key=" K22 "\nallowed_ip=1.1.1.1/32\n"
			 "allowed_ip=2.2.2.2/32\nreplace_allowed_ips=true\n"
			 "allowed_ip=3.3.3.3/32\n\n",
		     "errno=0\n\n");
	assert_int_equal(f.npeers, 2);
	assert_int_equal(f.peers[0].naips, 1);
	assert_ip4(&f.peers[0].aips[0], "9.9.9.9", 32, false);
	assert_int_equal(f.peers[1].flags, UAPI_PEER_REPLACE_ALLOWED_IPS);
	assert_int_equal(f.peers[1].naips, 1);
	assert_ip4(&f.peers[1].aips[0], "3.3.3.3", 32, false);
}

/* A repeated key overrides; a repeated public_key is a new section. */
static void test_set_repeated_keys(void **state)
{
	struct fake f = { 0 };

	(void)state;
	expect_reply(&f, "set=1\nprivate_key=" K22 "\nprivate_key=" K01 "\n"
			 "listen_port=1\nlisten_port=2\npublic_key=" K11 "\n"
			 "preshared_key=" K33 "\npreshared_key=" K44 "\n"
			 "public_key=" K11 "\nremove=true\n\n",
		     "errno=0\n\n");
	assert_key(f.private_key, K01_CLAMPED);
	assert_int_equal(f.listen_port, 2);
	assert_int_equal(f.npeers, 2);
	assert_key(f.peers[0].psk, K44);
	assert_key(f.peers[1].public_key, K11);
	assert_int_equal(f.peers[1].flags, UAPI_PEER_REMOVE);
}

/* Go's line scanner drops a '\r' before '\n', so "\r\n" ends a set too. */
static void test_set_crlf_and_empty(void **state)
{
	struct fake f = { 0 };

	(void)state;
	expect_reply(&f, "set=1\nlisten_port=5\r\n\r\n", "errno=0\n\n");
	assert_int_equal(f.listen_port, 5);
	expect_reply(&f, "set=1\n\n", "errno=0\n\n");
	assert_int_equal(f.apply_calls, 2);
	assert_int_equal(f.flags, 0);
	assert_int_equal(f.npeers, 0);
}

/* Requests wireguard-go answered errno=0, with the same answer here. */
static const char *const observed_accepted[] = {
	"set=1\nprivate_key=" "ABABABABABABABABABABABABABABABAB"
	"ABABABABABABABABABABABABABABABAB\n\n",
	"set=1\nlisten_port=0051821\n\n",
	"set=1\nlisten_port=5\r\n\n",
	"set=1\nfwmark=4294967295\n\n",
	"set=1\nfwmark=0\n\n",
	"set=1\npublic_key=" K11 "\nendpoint=1.2.3.4:0\n\n",
	"set=1\npublic_key=" K11 "\nendpoint=[2001:db8::1%3]:51820\n\n",
	"set=1\npublic_key=" K11 "\nendpoint=1.2.3.4:051820\n\n",
	"set=1\npublic_key=" K11 "\nallowed_ip=1.2.3.4/08\n\n",
	"set=1\npublic_key=" K00 "\n\n",
	"set=1\npublic_key=" K11 "\nprotocol_version=1\n\n",
};

static void test_observed_accepted(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(observed_accepted) /
					sizeof(observed_accepted[0]); i++) {
		struct fake f = { 0 };

		expect_reply(&f, observed_accepted[i], "errno=0\n\n");
		assert_int_equal(f.apply_calls, 1);
	}
}

struct bad_case {
	const char *request;
	const char *reply;	/* what wireguard-go replied */
};

#define PK "public_key=" K11 "\n"

static const struct bad_case observed_errors[] = {
	/* A line without '=': -EPROTO. */
	{ "set=1\nfoo\n\n", "errno=-71\n\n" },
	{ "set=1\n" PK "foo\n\n", "errno=-71\n\n" },
	/* Unknown keys, and get-only keys, at either level: -EINVAL. */
	{ "set=1\nfoo=bar\n\n", "errno=-22\n\n" },
	{ "set=1\n" PK "foo=bar\n\n", "errno=-22\n\n" },
	{ "set=1\n=5\n\n", "errno=-22\n\n" },
	{ "set=1\nlisten_port = 5\n\n", "errno=-22\n\n" },
	{ "set=1\n" PK "last_handshake_time_sec=5\n\n", "errno=-22\n\n" },
	{ "set=1\n" PK "tx_bytes=5\n\n", "errno=-22\n\n" },
	{ "set=1\nerrno=0\n\n", "errno=-22\n\n" },
	/* Bad hex keys. */
	{ "set=1\nprivate_key=zz\n\n", "errno=-22\n\n" },
	{ "set=1\nprivate_key=gggggggggggggggggggggggggggggggg"
	  "gggggggggggggggggggggggggggggggg\n\n", "errno=-22\n\n" },
	{ "set=1\npublic_key=1234\n\n", "errno=-22\n\n" },
	{ "set=1\n" PK "preshared_key=xyz\n\n", "errno=-22\n\n" },
	/* Numbers out of range or not plain decimal. */
	{ "set=1\nlisten_port=65536\n\n", "errno=-22\n\n" },
	{ "set=1\nlisten_port=-1\n\n", "errno=-22\n\n" },
	{ "set=1\nlisten_port=+1\n\n", "errno=-22\n\n" },
	{ "set=1\nlisten_port=\n\n", "errno=-22\n\n" },
	{ "set=1\nlisten_port=0x10\n\n", "errno=-22\n\n" },
	{ "set=1\nlisten_port= 5\n\n", "errno=-22\n\n" },
	{ "set=1\nfwmark=4294967296\n\n", "errno=-22\n\n" },
	{ "set=1\n" PK "persistent_keepalive_interval=65536\n\n",
	  "errno=-22\n\n" },
	/* Keys in the wrong place. */
	{ "set=1\npreshared_key=" K00 "\n\n", "errno=-22\n\n" },
	{ "set=1\nendpoint=1.2.3.4:5\n\n", "errno=-22\n\n" },
	{ "set=1\nprotocol_version=1\n\n", "errno=-22\n\n" },
	{ "set=1\n" PK "listen_port=5\n\n", "errno=-22\n\n" },
	{ "set=1\n" PK "private_key=" K01 "\n\n", "errno=-22\n\n" },
	/* Flags other than "true", protocol versions other than "1". */
	{ "set=1\nreplace_peers=false\n\n", "errno=-22\n\n" },
	{ "set=1\n" PK "remove=false\n\n", "errno=-22\n\n" },
	{ "set=1\n" PK "update_only=false\n\n", "errno=-22\n\n" },
	{ "set=1\n" PK "replace_allowed_ips=1\n\n", "errno=-22\n\n" },
	{ "set=1\n" PK "protocol_version=2\n\n", "errno=-22\n\n" },
	{ "set=1\n" PK "protocol_version=01\n\n", "errno=-22\n\n" },
	/* Invalid endpoints. */
	{ "set=1\n" PK "endpoint=localhost:51820\n\n", "errno=-22\n\n" },
	{ "set=1\n" PK "endpoint=1.2.3.4\n\n", "errno=-22\n\n" },
	{ "set=1\n" PK "endpoint=1.2.3.4:70000\n\n", "errno=-22\n\n" },
	{ "set=1\n" PK "endpoint=::1:51820\n\n", "errno=-22\n\n" },
	{ "set=1\n" PK "endpoint=[1.2.3.4]:51820\n\n", "errno=-22\n\n" },
	{ "set=1\n" PK "endpoint=\n\n", "errno=-22\n\n" },
	{ "set=1\n" PK "endpoint=[fe80::1%nosuchif]:51820\n\n",
	  "errno=-22\n\n" },
	{ "set=1\n" PK "endpoint=[fe80::1%]:51820\n\n", "errno=-22\n\n" },
	{ "set=1\n" PK "endpoint=1.2.3.04:51820\n\n", "errno=-22\n\n" },
	{ "set=1\n" PK "endpoint=1.2.3.4:+5\n\n", "errno=-22\n\n" },
	{ "set=1\n" PK "endpoint=1.2.3:5\n\n", "errno=-22\n\n" },
	{ "set=1\n" PK "endpoint=1.2.3.4:http\n\n", "errno=-22\n\n" },
	{ "set=1\n" PK "endpoint=[::1]:5x\n\n", "errno=-22\n\n" },
	/* Invalid allowed IPs. */
	{ "set=1\n" PK "allowed_ip=1.2.3.4\n\n", "errno=-22\n\n" },
	{ "set=1\n" PK "allowed_ip=1.2.3.4/33\n\n", "errno=-22\n\n" },
	{ "set=1\n" PK "allowed_ip=::1/129\n\n", "errno=-22\n\n" },
	{ "set=1\n" PK "allowed_ip=fe80::1%2/64\n\n", "errno=-22\n\n" },
	{ "set=1\n" PK "allowed_ip=01.2.3.4/32\n\n", "errno=-22\n\n" },
	{ "set=1\n" PK "allowed_ip=1.2.3.4/\n\n", "errno=-22\n\n" },
	{ "set=1\n" PK "allowed_ip=localhost/32\n\n", "errno=-22\n\n" },
	/* Half-way requests: the bad line comes after good ones. */
	{ "set=1\nprivate_key=" K01 "\nlisten_port=5\n" PK
	  "preshared_key=" K33 "\nallowed_ip=10.0.0.0/8\nendpoint=x\n\n",
	  "errno=-22\n\n" },
	{ "set=1\nreplace_peers=true\n" PK "allowed_ip=10.0.0.0/8\n"
	  "public_key=" K22 "\nbogus\n\n", "errno=-71\n\n" },
};

/*
 * Each bad request gets wireguard-go's reply, nothing is applied, and the
 * connection is still in step: a get that follows is answered.
 */
static void check_bad_case(const struct bad_case *bc, size_t chunk)
{
	struct fake f = { 0 };
	struct text in = { 0 }, want = { 0 };
	int ret;
	char *out;

	text_add(&in, bc->request, strlen(bc->request));
	text_add(&in, "get=1\n\n", 7);
	text_add(&want, bc->reply, strlen(bc->reply));
	text_add(&want, "errno=0\n\n", 9);
	out = run(&f, in.s, chunk, &ret);
	assert_string_equal(out, want.s);
	assert_int_equal(ret, UAPI_FEED_OPEN);
	assert_int_equal(f.apply_calls, 0);
	assert_int_equal(f.get_calls, 1);
	free(out);
	free(in.s);
	free(want.s);
}

static void test_observed_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(observed_errors) /
					sizeof(observed_errors[0]); i++) {
		check_bad_case(&observed_errors[i], 0);
		check_bad_case(&observed_errors[i], 1);
	}
}

/* Where vpnd answers differently from that wireguard-go, on purpose. */
static void test_divergences(void **state)
{
	struct fake f = { 0 };
	struct uapi_conn *c;
	struct text out = { 0 };
	const char *cut = "set=1\nlisten_port=12345\n";

	(void)state;
	/* The removal form of 2025 (wireguard-go 0.0.20220316: -22). */
	expect_reply(&f, "set=1\n" PK "allowed_ip=-1.2.3.4/32\n\n",
		     "errno=0\n\n");
	assert_int_equal(f.peers[0].naips, 1);
	assert_true(f.peers[0].aips[0].remove);
	/* A signed prefix length (that wireguard-go: 0; newer Go: refused). */
	expect_reply(&f, "set=1\n" PK "allowed_ip=1.2.3.4/+8\n\n",
		     "errno=-22\n\n");
	/* Zones are printed (wireguard-go printed "[fe80::1]:51820"). */
	expect_reply(&f, "set=1\n" PK "endpoint=[fe80::1%2]:51820\n\n",
		     "errno=0\n\n");
	assert_endpoint(&f.peers[0].endpoint, "[fe80::1%2]:51820");

	/*
	 * A set cut short by the end of the stream is dropped unapplied
	 * (wireguard-go applied it and answered errno=0).
	 */
	f.apply_calls = 0;
	c = conn_new(&f);
	assert_int_equal(feed_chunked(c, cut, strlen(cut), 0, &out),
			 UAPI_FEED_OPEN);
	uapi_conn_free(c);
	assert_int_equal(f.apply_calls, 0);
	assert_string_equal(out.s, "");
	free(out.s);
}

/* get, byte for byte as wireguard-go printed it. */

/* The set sent to wireguard-go before the get below. */
static const char observed_set[] =
	"set=1\nprivate_key=" K01 "\nlisten_port=51820\nfwmark=4660\n"
	"public_key=" K11 "\npreshared_key=" K33 "\n"
	"endpoint=192.0.2.1:51820\npersistent_keepalive_interval=25\n"
	"allowed_ip=10.0.0.1/8\nallowed_ip=192.168.7.0/24\n"
	"allowed_ip=fd00::5/64\n"
	"public_key=" K22 "\nendpoint=[2001:db8::1]:4500\n"
	"allowed_ip=10.1.0.0/16\nallowed_ip=::ffff:1.2.3.4/128\n\n";

/* What wireguard-go 0.0.20220316 answered to "get=1\n\n" after it. */
static const char observed_get[] =
	"private_key=" K01_CLAMPED "\n"
	"listen_port=51820\n"
	"fwmark=4660\n"
	"public_key=" K11 "\n"
	"preshared_key=" K33 "\n"
	"protocol_version=1\n"
	"endpoint=192.0.2.1:51820\n"
	"last_handshake_time_sec=0\n"
	"last_handshake_time_nsec=0\n"
	"tx_bytes=0\n"
	"rx_bytes=0\n"
	"persistent_keepalive_interval=25\n"
	"allowed_ip=10.0.0.0/8\n"
	"allowed_ip=192.168.7.0/24\n"
	"allowed_ip=fd00::/64\n"
	"public_key=" K22 "\n"
	"preshared_key=" K00 "\n"
	"protocol_version=1\n"
	"endpoint=[2001:db8::1]:4500\n"
	"last_handshake_time_sec=0\n"
	"last_handshake_time_nsec=0\n"
	"tx_bytes=0\n"
	"rx_bytes=0\n"
	"persistent_keepalive_interval=0\n"
	"allowed_ip=10.1.0.0/16\n"
	"allowed_ip=::ffff:1.2.3.4/128\n"
	"errno=0\n"
	"\n";

static void test_get_two_peers_observed(void **state)
{
	struct fake f = { 0 };
	struct uapi_conn *c = conn_new(&f);
	struct text out = { 0 };

	(void)state;
	feed_chunked(c, observed_set, strlen(observed_set), 0, &out);
	assert_string_equal(out.s, "errno=0\n\n");
	out.len = 0;
	assert_int_equal(feed_str(c, "get=1\n\n", &out),
			 UAPI_FEED_OPEN);
	assert_string_equal(out.s, observed_get);
	uapi_conn_free(c);
	free(out.s);
}

/* A device with nothing set prints no device line at all. */
static void test_get_empty_device(void **state)
{
	struct fake f = { 0 };

	(void)state;
	expect_reply(&f, "get=1\n\n", "errno=0\n\n");
}

struct format_case {
	const char *allowed_ip;	/* as sent */
	const char *printed;	/* as wireguard-go printed it back */
};

static const struct format_case observed_formats[] = {
	{ "::102:304/128", "::102:304/128" },
	{ "1:0:0:1:0:0:1:1/128", "1::1:0:0:1:1/128" },
	{ "2001:db8:0:1:1:1:1:1/128", "2001:db8:0:1:1:1:1:1/128" },
	{ "0:0:1::/48", "0:0:1::/48" },
	{ "::/0", "::/0" },
	{ "::ffff:0:0/96", "::ffff:0.0.0.0/96" },
	{ "1::/16", "1::/16" },
	{ "fe80::/10", "fe80::/10" },
	{ "2001:DB8::1/128", "2001:db8::1/128" },
	{ "1:2:3:4:5:6:7:8/128", "1:2:3:4:5:6:7:8/128" },
	{ "::1:0:0:0:1/128", "::1:0:0:0:1/128" },
	{ "1:0:0:0:1::/128", "1::1:0:0:0/128" },
	{ "::ffff:0:1.2.3.4/128", "::ffff:0:102:304/128" },
	{ "64:ff9b::1.2.3.4/128", "64:ff9b::102:304/128" },
	{ "::ffff:1.2.3.4/128", "::ffff:1.2.3.4/128" },
	{ "fd00::5/64", "fd00::/64" },
	{ "1.2.3.4/0", "0.0.0.0/0" },
	{ "1.2.3.4/08", "1.0.0.0/8" },
	{ "10.0.0.1/8", "10.0.0.0/8" },
	{ "255.255.255.255/32", "255.255.255.255/32" },
};

static void test_get_formats_observed(void **state)
{
	struct uapi_buf b = { 0 };
	struct uapi_writer w = { .out = &b, .stage = WRITER_PEER };
	struct uapi_allowed_ip a;
	union uapi_endpoint ep;
	struct uapi_conn *c;
	struct fake f = { 0 };
	char want[80];

	(void)state;
	for (size_t i = 0; i < sizeof(observed_formats) /
					sizeof(observed_formats[0]); i++) {
		const struct format_case *fc = &observed_formats[i];

		assert_int_equal(parse_allowed_ip(&a, fc->allowed_ip,
						  strlen(fc->allowed_ip)), 0);
		b.len = 0;
		assert_int_equal(uapi_write_allowed_ip(&w, a.family, &a.addr,
						       a.cidr), 0);
		snprintf(want, sizeof(want), "allowed_ip=%s\n", fc->printed);
		assert_int_equal(b.len, strlen(want));
		assert_memory_equal(b.data, want, b.len);
	}
	buf_free(&b);

	/* wireguard-go printed "endpoint=[::1.2.3.4]:7" as this. */
	c = conn_new(&f);
	assert_int_equal(parse_endpoint(c, &ep, "[::1.2.3.4]:7", 13), 0);
	assert_endpoint(&ep, "[::102:304]:7");
	uapi_conn_free(c);
}

/* Numbers of every width, as Go's %d prints them. */
static int get_counters(struct fake *f, struct uapi_writer *w)
{
	static const uint8_t pub[KEY_LEN] = { 1 };
	struct uapi_device_view d = { .listen_port = 65535 };
	struct uapi_peer_view p = {
		.public_key = pub,
		.last_handshake_time_sec = 1700000000,
		.last_handshake_time_nsec = 999999999,
		.tx_bytes = UINT64_MAX,
		.rx_bytes = 1,
		.persistent_keepalive_interval = 65535,
	};

	(void)f;
	uapi_write_device(w, &d);
	return uapi_write_peer(w, &p);
}

static void test_get_counters(void **state)
{
	struct fake f = { .get_impl = get_counters };

	(void)state;
	expect_reply(&f, "get=1\n\n",
		     "listen_port=65535\n"
		     "public_key=01000000000000000000000000000000"
		     "00000000000000000000000000000000\n"
		     "preshared_key=" K00 "\n"
		     "protocol_version=1\n"
		     "last_handshake_time_sec=1700000000\n"
		     "last_handshake_time_nsec=999999999\n"
		     "tx_bytes=18446744073709551615\n"
		     "rx_bytes=1\n"
		     "persistent_keepalive_interval=65535\n"
		     "errno=0\n\n");
}

/* A get that fails half-way sends only its errno, no partial dump. */
static int get_fails(struct fake *f, struct uapi_writer *w)
{
	fake_get_device(f, w);
	return -EIO;
}

static void test_get_error_drops_partial(void **state)
{
	struct fake f = { .get_impl = get_fails };

	(void)state;
	expect_reply(&f, observed_set, "errno=0\n\n");
	expect_reply(&f, "get=1\n\n", "errno=-5\n\n");
}

/* Out-of-order writer calls fail the get even if the return is ignored. */
static int get_misordered(struct fake *f, struct uapi_writer *w)
{
	static const struct in_addr a = { 0 };
	struct uapi_device_view d = { .listen_port = 1 };

	(void)f;
	uapi_write_allowed_ip(w, AF_INET, &a, 0);
	uapi_write_device(w, &d);
	return 0;
}

static int get_device_twice(struct fake *f, struct uapi_writer *w)
{
	struct uapi_device_view d = { .listen_port = 1 };

	(void)f;
	uapi_write_device(w, &d);
	uapi_write_device(w, &d);
	return 0;
}

static int get_bad_cidr(struct fake *f, struct uapi_writer *w)
{
	static const uint8_t pub[KEY_LEN];
	static const struct in_addr a = { 0 };
	struct uapi_peer_view p = { .public_key = pub };

	(void)f;
	uapi_write_peer(w, &p);
	return uapi_write_allowed_ip(w, AF_INET, &a, 33);
}

static void test_writer_order(void **state)
{
	struct fake f = { .get_impl = get_misordered };

	(void)state;
	expect_reply(&f, "get=1\n\n", "errno=-22\n\n");
	f.get_impl = get_device_twice;
	expect_reply(&f, "get=1\n\n", "errno=-22\n\n");
	f.get_impl = get_bad_cidr;
	expect_reply(&f, "get=1\n\n", "errno=-22\n\n");
}

/*
 * A long get: f->many peers, written a chunk at a time as the daemon does,
 * each peer's public key its number.  Fails on call f->many_fail_call.
 */
static int get_many(struct fake *f, struct uapi_writer *w)
{
	static const struct in_addr a = { 0x0100000a };
	int ret = 0;

	f->apply_calls_at_get = f->apply_calls;
	if (f->get_calls == (int)f->many_fail_call)
		return -EIO;
	if (!f->many_next)
		ret = fake_get_device(f, w);
	for (; f->many_next < f->many && !ret; f->many_next++) {
		uint8_t pub[KEY_LEN] = { 0 };
		struct uapi_peer_view p = { .public_key = pub };

		if (uapi_writer_full(w))
			return UAPI_GET_MORE;
		memcpy(pub, &f->many_next, sizeof(f->many_next));
		ret = uapi_write_peer(w, &p);
		if (!ret)
			ret = uapi_write_allowed_ip(w, AF_INET, &a, 32);
	}
	return ret;
}

/* Feeds in, then drains and continues as uapisock.c does until idle. */
static int feed_pumped(struct fake *f, struct uapi_conn *c, const char *in,
		       struct text *out)
{
	int ret = feed_str(c, in, out);

	while (ret == UAPI_FEED_OPEN && uapi_conn_busy(c)) {
		const char *p;
		size_t n;

		assert_int_equal(uapi_conn_feed(c, "get=1\n\n", 7), -EBUSY);
		ret = uapi_conn_continue(c);
		uapi_conn_output(c, &p, &n);
		if (n > f->most_pending)
			f->most_pending = n;
		drain_into(c, out);
	}
	return ret;
}

static size_t count_lines(const char *s, const char *prefix)
{
	size_t n = 0, len = strlen(prefix);

	for (const char *l = s; l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		if (!strncmp(l, prefix, len))
			n++;
	return n;
}

/*
 * 3,000 peers make some 900 KB of reply: it comes in chunks of about
 * UAPI_GET_CHUNK, never all of it at once, every peer exactly once and in
 * order, and the set pipelined behind the get waits for the get's end.
 */
static void test_get_in_chunks(void **state)
{
	struct fake f = { .get_impl = get_many, .many = 3000 };
	struct uapi_conn *c = conn_new(&f);
	struct text out = { 0 };
	char expect[128];

	(void)state;
	assert_int_equal(feed_pumped(&f, c,
				     "get=1\n\nset=1\nlisten_port=7\n\n"
				     "get=1\n\n", &out),
			 UAPI_FEED_OPEN);
	assert_false(uapi_conn_busy(c));
	assert_true(f.get_calls > 10);
	assert_true(f.most_pending < UAPI_GET_CHUNK + 1024);
	assert_int_equal(f.apply_calls, 1);
	/* The second get began after the set, the first before it. */
	assert_int_equal(f.apply_calls_at_get, 1);
	assert_int_equal(count_lines(out.s, "public_key="), 3000);
	assert_int_equal(count_lines(out.s, "errno=0"), 3);
	assert_int_equal(count_lines(out.s, "listen_port=7"), 0);
	/* The last peer is number 2999 (0x0bb7), then the replies. */
	snprintf(expect, sizeof(expect),
		 "public_key=b70b%060d\n", 0);
	assert_non_null(strstr(out.s, expect));
	assert_non_null(strstr(out.s, "allowed_ip=10.0.0.1/32\n"
				      "errno=0\n\nerrno=0\n\nerrno=0\n\n"));
	free(out.s);
	uapi_conn_free(c);
}

/*
 * A chunk that fails: what went before is out already, so the reply is
 * cut short before a peer and ends with the errno; the connection goes on.
 */
static void test_get_chunk_fails(void **state)
{
	struct fake f = { .get_impl = get_many, .many = 3000,
			  .many_fail_call = 3 };
	struct uapi_conn *c = conn_new(&f);
	struct text out = { 0 };
	size_t n;

	(void)state;
	assert_int_equal(feed_pumped(&f, c, "get=1\n\n", &out),
			 UAPI_FEED_OPEN);
	n = strlen(out.s);
	assert_true(n > UAPI_GET_CHUNK);
	assert_string_equal(out.s + n - 11, "\nerrno=-5\n\n");
	assert_int_equal(count_lines(out.s, "errno=0"), 0);
	/* Cut before a peer: the last peer's lines are all there. */
	assert_int_equal(count_lines(out.s, "public_key="),
			 count_lines(out.s, "allowed_ip="));
	free(out.s);
	out = (struct text){ 0 };
	f.many_next = 0;
	f.many_fail_call = 0;
	f.many = 1;
	assert_int_equal(feed_pumped(&f, c, "get=1\n\n", &out),
			 UAPI_FEED_OPEN);
	assert_int_equal(count_lines(out.s, "public_key="), 1);
	free(out.s);
	uapi_conn_free(c);
}

/* Freed in the middle of a chunked get, with requests waiting: no leak. */
static void test_get_chunked_free_midway(void **state)
{
	struct fake f = { .get_impl = get_many, .many = 3000 };
	struct uapi_conn *c = conn_new(&f);
	struct text out = { 0 };

	(void)state;
	assert_int_equal(feed_str(c, "get=1\n\nset=1\nprivate_key=" K11
				  "\n\n", &out),
			 UAPI_FEED_OPEN);
	assert_true(uapi_conn_busy(c));
	assert_int_equal(f.apply_calls, 0);
	free(out.s);
	uapi_conn_free(c);
}

/* Framing: operations, closing, over-long lines. */

static void test_invalid_operation_closes(void **state)
{
	static const char *const ops[] = {
		"foo=1\n", "get=2\n\n", "set=1\r\n\n", "\n", "get=1 \n\n",
		"GET=1\n\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct fake f = { 0 };
		int ret;
		char *out = run(&f, ops[i], 0, &ret);

		/* wireguard-go closed these without a word. */
		assert_string_equal(out, "");
		assert_int_equal(ret, UAPI_FEED_CLOSE);
		assert_int_equal(f.get_calls + f.apply_calls, 0);
		free(out);
	}
}

/*
 * After "get=1\n", a byte other than '\n' is answered -22 and eaten; the
 * next line is then read as an operation: here "\n", which closes, exactly
 * the "errno=-22\n\n" then close that wireguard-go produced.
 */
static void test_get_trailing_char(void **state)
{
	struct fake f = { 0 };
	int ret;
	char *out = run(&f, "get=1\nx\nget=1\n\n", 0, &ret);

	(void)state;
	assert_string_equal(out, "errno=-22\n\n");
	assert_int_equal(ret, UAPI_FEED_CLOSE);
	assert_int_equal(f.get_calls, 0);
	free(out);

	out = run(&f, "get=1\nxget=1\n\n", 1, &ret);
	assert_string_equal(out, "errno=-22\n\nerrno=0\n\n");
	assert_int_equal(ret, UAPI_FEED_OPEN);
	free(out);
}

static char *long_line(const char *prefix, size_t total, const char *suffix)
{
	size_t p = strlen(prefix), s = strlen(suffix);
	char *line = malloc(p + total + s + 1);

	assert_non_null(line);
	memcpy(line, prefix, p);
	memset(line + p, 'a', total);
	memcpy(line + p + total, suffix, s + 1);
	return line;
}

static void test_oversize_lines(void **state)
{
	struct fake f = { 0 };
	char *in, *out;
	int ret;

	(void)state;
	/* A set line of 4096 bytes is still a line: here a bad key. */
	in = long_line("set=1\nprivate_key=", UAPI_MAX_LINE - 12,
		       "\n\nget=1\n\n");
	out = run(&f, in, 0, &ret);
	assert_string_equal(out, "errno=-22\n\nerrno=0\n\n");
	assert_int_equal(ret, UAPI_FEED_OPEN);
	free(out);
	free(in);

	/* One byte more: -EIO and close, as wireguard-go past 64 KiB. */
	in = long_line("set=1\nprivate_key=", UAPI_MAX_LINE - 11,
		       "\n\nget=1\n\n");
	for (size_t chunk = 0; chunk < 2; chunk++) {
		out = run(&f, in, chunk, &ret);
		assert_string_equal(out, "errno=-5\n\n");
		assert_int_equal(ret, UAPI_FEED_CLOSE);
		free(out);
	}
	free(in);

	/* Also when the line never ends. */
	in = long_line("set=1\n" PK "allowed_ip=", 100000, "");
	out = run(&f, in, 0, &ret);
	assert_string_equal(out, "errno=-5\n\n");
	assert_int_equal(ret, UAPI_FEED_CLOSE);
	free(out);
	free(in);

	/* An over-long operation line closes without a reply. */
	in = long_line("", UAPI_MAX_LINE + 1, "\n");
	out = run(&f, in, 0, &ret);
	assert_string_equal(out, "");
	assert_int_equal(ret, UAPI_FEED_CLOSE);
	free(out);
	free(in);
	assert_int_equal(f.apply_calls, 0);
}

/* Caps on what one set may make the daemon hold. */

static char *many_peers(size_t n)
{
	struct text t = { 0 };
	char line[192];

	text_add(&t, "set=1\n", 6);
	for (size_t i = 0; i < n; i++) {
		snprintf(line, sizeof(line),
			 "public_key=%064zx\npreshared_key=" K33 "\n", i);
		text_add(&t, line, strlen(line));
	}
	text_add(&t, "\n", 1);
	return t.s;
}

static void test_too_many_peers(void **state)
{
	struct fake f = { 0 };
	struct uapi_conn *c;
	struct text out = { 0 };
	char *in;

	(void)state;
	in = many_peers(4);
	c = conn_new(&f);
	c->max_peers = 4;
	feed_chunked(c, in, strlen(in), 0, &out);
	assert_string_equal(out.s, "errno=0\n\n");
	assert_int_equal(f.apply_calls, 1);
	uapi_conn_free(c);
	free(in);

	/*
	 * One more is refused, at once: the plan is dropped and the rest of
	 * the request is read without storing anything.
	 */
	in = many_peers(200);
	c = conn_new(&f);
	c->max_peers = 4;
	out.len = 0;
	feed_chunked(c, in, strlen(in) - 1, 0, &out);
	assert_string_equal(out.s, "errno=-7\n\n");
	assert_int_equal(c->state, CONN_SET_SKIP);
	assert_null(c->plan.head);
	assert_null(c->plan.tail);
	assert_null(c->plan.secrets);
	assert_string_equal(uapi_conn_last_error(c), "line 10: too many peers");
	feed_str(c, "\nget=1\n\n", &out);
	assert_int_equal(f.apply_calls, 1);
	assert_int_equal(f.get_calls, 1);
	uapi_conn_free(c);
	free(in);
	free(out.s);
}

/*
 * A large set spans many chunks of the plan, which apply() frees as it
 * takes the sections: the sections come back whole and in order, a long
 * list of allowed IPs moves its section to a larger chunk, the preshared
 * keys are the right ones and in sodium memory, and an error on the last
 * line applies nothing and leaves nothing.
 */
enum {
	CHUNKED_PEERS = 3000,
	CHUNKED_LONG = 1777,	/* the section with many allowed IPs */
	CHUNKED_LONG_AIPS = 5000,
};

struct chunked {
	struct uapi_conn *c;
	size_t seen;
	size_t most_chunks, fewest_chunks;
	bool bad;
};

static size_t plan_chunks(const struct uapi_plan *p)
{
	size_t n = 0;

	for (const struct plan_chunk *ch = p->head; ch; ch = ch->next)
		n++;
	return n;
}

static size_t chunked_aips(size_t i)
{
	return i == CHUNKED_LONG ? CHUNKED_LONG_AIPS : i % 3;
}

static void chunked_check(struct chunked *k, const struct uapi_peer *p)
{
	uint8_t want[KEY_LEN] = { 0 };
	size_t i = k->seen, n = chunked_aips(i);

	want[0] = (uint8_t)(i >> 8);
	want[1] = (uint8_t)i;
	if (memcmp(p->public_key, want, KEY_LEN) ||
	    p->allowed_ips_len != n || (n && !p->allowed_ips))
		k->bad = true;
	for (size_t j = 0; j < n && !k->bad; j++) {
		const struct uapi_allowed_ip *a = &p->allowed_ips[j];
		uint32_t host = (uint32_t)(i << 16 | j);

		if (a->family != AF_INET || a->cidr != 32 ||
		    a->addr.ip4.s_addr != htonl(host))
			k->bad = true;
	}
	/* Every other section has a preshared key: its own index. */
	if (i % 2) {
		if (!(p->flags & UAPI_PEER_HAS_PRESHARED_KEY) ||
		    !in_sodium_memory(p->preshared_key, KEY_LEN) ||
		    p->preshared_key[0] != (uint8_t)(i >> 8) ||
		    p->preshared_key[31] != (uint8_t)i)
			k->bad = true;
	} else if (p->flags & UAPI_PEER_HAS_PRESHARED_KEY) {
		k->bad = true;
	}
}

static int chunked_apply(void *ctx, struct uapi_set *s)
{
	struct chunked *k = ctx;
	const struct uapi_peer *p;
	size_t n;

	k->most_chunks = k->fewest_chunks = plan_chunks(&k->c->plan);
	while ((p = uapi_set_next_peer(s))) {
		chunked_check(k, p);
		k->seen++;
		n = plan_chunks(&k->c->plan);
		if (n < k->fewest_chunks)
			k->fewest_chunks = n;
	}
	return 0;
}

static char *chunked_text(bool bad_end)
{
	struct text t = { 0 };
	char line[192], key[KEY_HEX_LEN + 1];
	uint8_t k[KEY_LEN] = { 0 };

	text_add(&t, "set=1\n", 6);
	for (size_t i = 0; i < CHUNKED_PEERS; i++) {
		k[0] = (uint8_t)(i >> 8);
		k[1] = (uint8_t)i;
		key_to_hex(key, k);
		snprintf(line, sizeof(line), "public_key=%s\n", key);
		text_add(&t, line, strlen(line));
		if (i % 2) {
			uint8_t psk[KEY_LEN] = { (uint8_t)(i >> 8) };

			psk[31] = (uint8_t)i;
			key_to_hex(key, psk);
			snprintf(line, sizeof(line), "preshared_key=%s\n", key);
			text_add(&t, line, strlen(line));
		}
		for (size_t j = 0; j < chunked_aips(i); j++) {
			uint32_t host = (uint32_t)(i << 16 | j);

			snprintf(line, sizeof(line),
				 "allowed_ip=%u.%u.%u.%u/32\n", host >> 24,
				 host >> 16 & 255, host >> 8 & 255, host & 255);
			text_add(&t, line, strlen(line));
		}
	}
	if (bad_end)
		text_add(&t, "endpoint=nowhere\n", 17);
	text_add(&t, "\n", 1);
	return t.s;
}

static void test_plan_in_chunks(void **state)
{
	struct chunked k = { 0 };
	struct uapi_ops ops = {
		.ctx = &k, .apply = chunked_apply, .get = fake_get,
	};
	struct text out = { 0 };
	char *in = chunked_text(false);

	(void)state;
	k.c = uapi_conn_new(&ops);
	assert_non_null(k.c);
	k.c->max_allowed_ips = SIZE_MAX;
	feed_chunked(k.c, in, strlen(in), 0, &out);
	assert_string_equal(out.s, "errno=0\n\n");
	assert_int_equal(k.seen, CHUNKED_PEERS);
	assert_false(k.bad);
	/* Many chunks, freed as the sections were taken. */
	assert_true(k.most_chunks >= 8);
	assert_true(k.fewest_chunks <= 1);
	assert_null(k.c->plan.head);

	/* Chunks smaller than one section change nothing. */
	k.c->plan.chunk_bytes = 100;
	k.seen = 0;
	out.len = 0;
	feed_chunked(k.c, in, strlen(in), 0, &out);
	assert_string_equal(out.s, "errno=0\n\n");
	assert_int_equal(k.seen, CHUNKED_PEERS);
	assert_false(k.bad);
	assert_true(k.most_chunks >= CHUNKED_PEERS / 3);
	assert_null(k.c->plan.head);
	free(in);

	/* The same, with a bad last line: nothing applied, nothing kept. */
	k.seen = 0;
	in = chunked_text(true);
	out.len = 0;
	feed_chunked(k.c, in, strlen(in), 0, &out);
	assert_string_equal(out.s, "errno=-22\n\n");
	assert_int_equal(k.seen, 0);
	assert_null(k.c->plan.head);
	assert_null(k.c->plan.secrets);
	uapi_conn_free(k.c);
	free(in);
	free(out.s);
}

static void test_too_many_allowed_ips(void **state)
{
	struct fake f = { 0 };
	struct uapi_conn *c = conn_new(&f);
	struct text out = { 0 };
	static const char in[] =
		"set=1\n" PK "allowed_ip=1.0.0.0/8\nallowed_ip=2.0.0.0/8\n"
		"public_key=" K22 "\nallowed_ip=3.0.0.0/8\n"
		"replace_allowed_ips=true\nallowed_ip=4.0.0.0/8\n"
		"allowed_ip=5.0.0.0/8\n\n";

	(void)state;
	/* Replaced entries no longer count: 1, 2, 4 are held, 5 is one too many. */
	c->max_allowed_ips = 3;
	feed_chunked(c, in, strlen(in), 0, &out);
	assert_string_equal(out.s, "errno=-7\n\n");
	assert_int_equal(f.apply_calls, 0);
	assert_null(c->plan.head);
	c->max_allowed_ips = 4;
	out.len = 0;
	feed_chunked(c, in, strlen(in), 0, &out);
	assert_string_equal(out.s, "errno=0\n\n");
	assert_int_equal(f.peers[1].naips, 2);
	uapi_conn_free(c);
	free(out.s);
}

/* The daemon's errno is the reply, as wireguard-go's bind errors are. */
static void test_apply_error_passthrough(void **state)
{
	struct fake f = { .apply_ret = -EADDRINUSE };
	struct uapi_conn *c;
	struct text out = { 0 };

	(void)state;
	c = conn_new(&f);
	feed_str(c, "set=1\nlisten_port=1\n\nget=1\n\n", &out);
	assert_string_equal(out.s, "errno=-98\n\nerrno=0\n\n");
	assert_string_equal(uapi_conn_last_error(c),
			    "line 3: refused by the device");
	uapi_conn_free(c);
	free(out.s);
}

static void test_several_requests(void **state)
{
	struct fake f = { 0 };
	struct uapi_conn *c = conn_new(&f);
	struct text out = { 0 }, want = { 0 };
	static const char second[] = "set=1\nlisten_port=7\n\n";

	(void)state;
	feed_chunked(c, observed_set, strlen(observed_set), 0, &out);
	feed_str(c, "get=1\n\n", &out);
	feed_chunked(c, second, strlen(second), 0, &out);
	feed_str(c, "get=1\n\n", &out);
	text_add(&want, "errno=0\n\n", 9);
	text_add(&want, observed_get, strlen(observed_get));
	text_add(&want, "errno=0\n\nlisten_port=7\nerrno=0\n\n",
		 strlen("errno=0\n\nlisten_port=7\nerrno=0\n\n"));
	assert_string_equal(out.s, want.s);
	assert_int_equal(f.apply_calls, 2);
	assert_int_equal(f.get_calls, 2);
	uapi_conn_free(c);
	free(out.s);
	free(want.s);
}

static int fake_stats(void *ctx, struct uapi_writer *w)
{
	(void)ctx;
	assert_int_equal(uapi_write_stat(w, "rx_dropped", 12), 0);
	return uapi_write_stat(w, "cookies_sent", 0);
}

/* vpnd's stats=1 answers only when the daemon offers it. */
static void test_stats_operation(void **state)
{
	struct fake f = { 0 };
	struct uapi_ops ops = {
		.ctx = &f, .apply = fake_apply, .get = fake_get,
		.stats = fake_stats,
	};
	struct uapi_conn *c = uapi_conn_new(&ops);
	struct text out = { 0 };

	(void)state;
	assert_non_null(c);
	assert_int_equal(feed_str(c, "stats=1\n\nget=1\n\n", &out),
			 UAPI_FEED_OPEN);
	assert_true(!strncmp(out.s, "rx_dropped=12\ncookies_sent=0\nerrno=0\n\n",
			     strlen("rx_dropped=12\ncookies_sent=0\nerrno=0\n\n")));
	assert_int_equal(f.get_calls, 1);
	uapi_conn_free(c);
	free(out.s);

	/* Without the callback it is an unknown operation: closed. */
	c = conn_new(&f);
	out.s = NULL;
	out.len = 0;
	assert_int_equal(feed_str(c, "stats=1\n\n", &out), UAPI_FEED_CLOSE);
	assert_true(!out.s || !*out.s);
	uapi_conn_free(c);
	free(out.s);
}

/*
 * One connection's worth of everything, fed whole, then in pieces of
 * every size from one byte up: the replies, the plans applied and the
 * final verdict must not depend on where the reads split the stream.
 */
static void test_split_anywhere(void **state)
{
	struct text script = { 0 };
	struct fake ref = { 0 };
	struct uapi_conn *c;
	struct text ref_out = { 0 };
	int ref_ret;
	static const char *const parts[] = {
		"get=1\n\n",
		"set=1\nfoo=bar\nlisten_port=1\n\n",
		"set=1\nlisten_port=5\r\n" PK "endpoint=[::1]:9\r\n\r\n",
		"get=1\nx",
		"set=1\n" PK "allowed_ip=::/0\nallowed_ip=-10.0.0.0/8\n"
		"preshared_key=" K33 "\n\n",
		"get=1\n\n",
		"set=1\nbad line\n\n",
		"get=1\n\n",
		/* A failed set ended by "\r\n" leaves the next get in step. */
		"set=1\nfoo=bar\r\n\r\n",
		"get=1\n\n",
		"bye\n",
		"get=1\n\n",
	};

	(void)state;
	text_add(&script, peers_request, strlen(peers_request));
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		text_add(&script, parts[i], strlen(parts[i]));
	text_add(&script, observed_set, strlen(observed_set));

	c = conn_new(&ref);
	ref_ret = feed_chunked(c, script.s, script.len, 0, &ref_out);
	uapi_conn_free(c);
	assert_int_equal(ref_ret, UAPI_FEED_CLOSE);
	/* "bye" closed the connection before the last get and set. */
	assert_int_equal(ref.apply_calls, 3);
	assert_int_equal(ref.get_calls, 4);

	for (size_t chunk = 1; chunk <= 64; chunk++) {
		struct fake f = { 0 };
		struct text out = { 0 };

		c = conn_new(&f);
		assert_int_equal(feed_chunked(c, script.s, script.len, chunk,
					      &out),
				 ref_ret);
		uapi_conn_free(c);
		assert_string_equal(out.s, ref_out.s);
		assert_string_equal(f.log, ref.log);
		free(out.s);
	}
	free(ref_out.s);
	free(script.s);
}

/* Secrets. */

/*
 * A private key and six preshared keys: the key slots outgrow their first
 * block (four slots), which must be wiped when replaced, and the final
 * block when the plan is done.
 */
static const char secrets_request[] =
	"set=1\nprivate_key=" K01 "\n"
	"public_key=" K11 "\npreshared_key=" K33 "\n"
	"public_key=" K22 "\npreshared_key=" K44 "\n"
	"public_key=" K55 "\npreshared_key=" K66 "\n"
	"public_key=" K66 "\npreshared_key=" K77 "\n"
	"public_key=" K77 "\npreshared_key=" K88 "\n"
	"public_key=" K88 "\npreshared_key=" K99 "\n";

static void test_secrets_wiped_after_apply(void **state)
{
	struct fake f = { 0 };
	struct uapi_conn *c = conn_new(&f);
	struct text out = { 0 };

	(void)state;
	feed_chunked(c, secrets_request, strlen(secrets_request), 0, &out);
	/* The first block (4 slots) was replaced, wiped, when it filled. */
	assert_int_equal(track.frees, 1);
	assert_int_equal(c->plan.secrets_len, 7);
	feed_str(c, "\n", &out);
	assert_string_equal(out.s, "errno=0\n\n");
	assert_false(f.secret_outside_sodium);
	assert_key(f.peers[5].psk, K99);
	/* Applied: the second block is gone too, and was zero when freed. */
	assert_int_equal(track.frees, 2);
	assert_int_equal(track.dirty_frees, 0);
	assert_null(c->plan.secrets);
	/* The line buffer holds no trace of the last key line either. */
	assert_true(sodium_is_zero((const uint8_t *)c->line,
				   UAPI_MAX_LINE + 1));
	uapi_conn_free(c);
	free(out.s);
}

static void test_secrets_wiped_on_error(void **state)
{
	struct fake f = { 0 };
	struct uapi_conn *c = conn_new(&f);
	struct text out = { 0 };

	(void)state;
	feed_chunked(c, secrets_request, strlen(secrets_request), 0, &out);
	/* The error, not the end of the request, releases the secrets. */
	feed_str(c, "endpoint=nowhere\n", &out);
	assert_string_equal(out.s, "errno=-22\n\n");
	assert_int_equal(track.frees, 2);
	assert_int_equal(track.dirty_frees, 0);
	assert_null(c->plan.secrets);
	feed_str(c, "preshared_key=" K33 "\n\n", &out);
	assert_int_equal(f.apply_calls, 0);

	/* So does the daemon refusing the plan. */
	f.apply_ret = -EINVAL;
	feed_chunked(c, secrets_request, strlen(secrets_request), 0, &out);
	feed_str(c, "\n", &out);
	assert_int_equal(track.frees, 4);
	assert_int_equal(track.dirty_frees, 0);
	uapi_conn_free(c);
	free(out.s);
}

/* A client gone mid-request: its keys, and half a key line, are wiped. */
static void test_secrets_wiped_on_free(void **state)
{
	struct fake f = { 0 };
	struct uapi_conn *c = conn_new(&f);
	struct text out = { 0 };

	(void)state;
	feed_chunked(c, secrets_request, strlen(secrets_request), 0, &out);
	feed_str(c, "preshared_key=0123456789", &out);
	assert_int_equal(c->line_len, 24);
	uapi_conn_free(c);
	/* Two key blocks and the line buffer, all zero when released. */
	assert_int_equal(track.frees, 3);
	assert_int_equal(track.dirty_frees, 0);
	assert_int_equal(f.apply_calls, 0);
	free(out.s);
}

/* A get reply holds the private key: drained bytes are wiped. */
static void test_output_wiped_when_drained(void **state)
{
	struct fake f = { 0 };
	struct uapi_conn *c = conn_new(&f);
	struct text out = { 0 };
	const char *p;
	size_t n;

	(void)state;
	feed_chunked(c, observed_set, strlen(observed_set), 0, &out);
	assert_int_equal(uapi_conn_feed(c, "get=1\n\n", 7), UAPI_FEED_OPEN);
	uapi_conn_output(c, &p, &n);
	assert_int_equal(n, strlen(observed_get));
	assert_memory_equal(p, observed_get, n);
	/* Drained in two steps, as a short write would. */
	uapi_conn_consume_output(c, 30);
	assert_true(sodium_is_zero((const uint8_t *)c->out.data, 30));
	uapi_conn_consume_output(c, n);
	assert_true(sodium_is_zero((const uint8_t *)c->out.data, n));
	uapi_conn_output(c, &p, &n);
	assert_int_equal(n, 0);
	uapi_conn_free(c);
	free(out.s);
}

/* The log line says where and what, never the client's text. */
static void test_reason_has_no_client_text(void **state)
{
	struct fake f = { 0 };
	struct uapi_conn *c = conn_new(&f);
	struct text out = { 0 };
	static const char in[] = "set=1\nlisten_port=5\n" PK
				 "endpoint=198.51.100.77:99999\n\n";

	(void)state;
	feed_chunked(c, in, strlen(in), 0, &out);
	assert_string_equal(out.s, "errno=-22\n\n");
	assert_string_equal(uapi_conn_last_error(c),
			    "line 4: invalid endpoint");
	feed_str(c, "set=1\nprivate_key=" K11 "x\n\n", &out);
	assert_string_equal(uapi_conn_last_error(c),
			    "line 2: invalid private_key");
	feed_str(c, "set=1\n" PK "foo\n\n", &out);
	assert_string_equal(uapi_conn_last_error(c), "line 3: line without '='");
	/* A later call with no failure reports none: logged once. */
	feed_str(c, "get=1\n\n", &out);
	assert_string_equal(uapi_conn_last_error(c), "");
	feed_str(c, "get=1\nxget=1\n\n", &out);
	assert_string_equal(uapi_conn_last_error(c),
			    "trailing character after the operation");
	uapi_conn_free(c);
	free(out.s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_new_rejects_missing_ops),
		T(test_default_caps),
		T(test_set_device_fields),
		T(test_set_zero_private_key),
		T(test_set_peer_fields),
		T(test_set_replace_allowed_ips_midway),
		T(test_set_repeated_keys),
		T(test_set_crlf_and_empty),
		T(test_observed_accepted),
		T(test_observed_errors),
		T(test_divergences),
		T(test_get_two_peers_observed),
		T(test_get_empty_device),
		T(test_get_formats_observed),
		T(test_get_counters),
		T(test_get_error_drops_partial),
		T(test_get_in_chunks),
		T(test_get_chunk_fails),
		T(test_get_chunked_free_midway),
		T(test_writer_order),
		T(test_invalid_operation_closes),
		T(test_get_trailing_char),
		T(test_oversize_lines),
		T(test_too_many_peers),
		T(test_plan_in_chunks),
		T(test_too_many_allowed_ips),
		T(test_apply_error_passthrough),
		T(test_several_requests),
		T(test_stats_operation),
		T(test_split_anywhere),
		T(test_secrets_wiped_after_apply),
		T(test_secrets_wiped_on_error),
		T(test_secrets_wiped_on_free),
		T(test_output_wiped_when_drained),
		T(test_reason_has_no_client_text),
#undef T
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
