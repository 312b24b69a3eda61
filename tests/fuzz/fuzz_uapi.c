/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the UAPI protocol layer, vpnd/uapi.c: the byte stream that any
 * local root process (wg, wg-quick, or something hostile that got the
 * socket) writes to /var/run/wireguard/IFNAME.sock.  It is the largest
 * text parser in the daemon and it handles private keys, so it is worth
 * hammering with arbitrary bytes.
 *
 * Each input is fed three times to fresh connections driven by a fake
 * daemon (the same shape as tests/unit/test_uapi.c):
 *
 *  1. whole, in one uapi_conn_feed() call;
 *  2. split at points drawn from the input, draining the output in pieces
 *     of drawn sizes after each feed, as the daemon would;
 *  3. when the input asks for it, split again with one allocation made to
 *     fail, to walk the -ENOMEM paths.
 *
 * What is checked, besides ASan/UBSan/LSan:
 *  - passes 1 and 2 produce the same reply bytes, the same applied plans
 *    and the same final state: framing must not depend on read sizes;
 *  - every plan handed to apply() is in range: known flags, key pointers
 *    present, cidr <= 32 or <= 128 with the host bits clear, families
 *    AF_INET or AF_INET6, a clamped or zero private key, the per-set caps;
 *  - the output is always empty or ends in "\n\n" between feeds, and each
 *    reply's last line, and only it, is "errno=N";
 *  - no sodium block outlives its connection and none is freed unwiped
 *    (LSan cannot see sodium_malloc()'s mmap()ed blocks, hence the
 *    tracking below).
 *
 * Input layout: byte 0 holds option bits, byte 1 seeds the split points,
 * byte 2 picks the failing allocation; the rest is the stream.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/*
 * uapi.c is included so that its allocations can be counted and made to
 * fail, and its per-set caps lowered.  Every system header it uses is
 * already included above, so the renames only reach its own calls.
 */
static void *fz_sodium_malloc(size_t size);
static void *fz_sodium_allocarray(size_t count, size_t size);
static void fz_sodium_free(void *ptr);
static void *fz_malloc(size_t size);
#define sodium_malloc fz_sodium_malloc
#define sodium_allocarray fz_sodium_allocarray
#define sodium_free fz_sodium_free
#define malloc fz_malloc
#include "../../vpnd/uapi.c"
#undef sodium_malloc
#undef sodium_allocarray
#undef sodium_free
#undef malloc

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

enum {
	OPT_STATS = 1 << 0,	/* offer vpnd's stats=1 operation */
	OPT_SMALL_CAPS = 1 << 1, /* max_peers 3, max_allowed_ips 5 */
	OPT_FAIL_ALLOC = 1 << 2, /* run pass 3 */
	OPT_REFUSE = 1 << 3,	/* apply() refuses plans with fwmark 13 */

	TRACK_MAX = 64,
	MODEL_PEERS = 8,
	MODEL_AIPS = 16,
	HEADER_LEN = 3,
};

#define FAIL(...)                                                   \
	do {                                                        \
		fprintf(stderr, "fuzz_uapi: " __VA_ARGS__);         \
		fputc('\n', stderr);                                \
		abort();                                            \
	} while (0)

/* Allocation tracking and failure injection. */

static struct {
	void *ptr[TRACK_MAX];
	size_t size[TRACK_MAX];
} track;

/* Counts down the allocations of the current pass; 0 means never fail. */
static unsigned int fail_countdown;

static bool should_fail(void)
{
	if (!fail_countdown)
		return false;
	return --fail_countdown == 0;
}

static void *fz_malloc(size_t size)
{
	return should_fail() ? NULL : malloc(size);
}

static void track_add(void *p, size_t size)
{
	for (int i = 0; i < TRACK_MAX; i++) {
		if (!track.ptr[i]) {
			track.ptr[i] = p;
			track.size[i] = size;
			return;
		}
	}
	FAIL("more than %d live sodium blocks", TRACK_MAX);
}

static void *fz_sodium_malloc(size_t size)
{
	void *p = should_fail() ? NULL : sodium_malloc(size);

	if (p)
		track_add(p, size);
	return p;
}

static void *fz_sodium_allocarray(size_t count, size_t size)
{
	void *p = should_fail() ? NULL : sodium_allocarray(count, size);

	if (p)
		track_add(p, count * size);
	return p;
}

static void fz_sodium_free(void *p)
{
	if (!p)
		return;
	for (int i = 0; i < TRACK_MAX; i++) {
		if (track.ptr[i] != p)
			continue;
		if (!sodium_is_zero(p, track.size[i]))
			FAIL("sodium block of %zu bytes freed unwiped",
			     track.size[i]);
		track.ptr[i] = NULL;
		sodium_free(p);
		return;
	}
	FAIL("sodium_free of a block uapi.c never allocated");
}

static void track_expect_empty(void)
{
	for (int i = 0; i < TRACK_MAX; i++)
		if (track.ptr[i])
			FAIL("sodium block of %zu bytes leaked", track.size[i]);
}

/* A growing byte string, for replies and for the record of plans. */

struct bytes {
	char *s;
	size_t len, cap;
};

static void bytes_add(struct bytes *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap < b->len + n)
			cap *= 2;
		b->s = realloc(b->s, cap);
		if (!b->s)
			FAIL("out of memory in the harness");
		b->cap = cap;
	}
	if (n)
		memcpy(b->s + b->len, p, n);
	b->len += n;
}

static void bytes_fmt(struct bytes *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void bytes_fmt(struct bytes *b, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0)
		bytes_add(b, line, (size_t)n < sizeof(line) ? (size_t)n :
							      sizeof(line) - 1);
}

/* The fake daemon: a small model of the device that get reports. */

struct model_peer {
	uint8_t public_key[KEY_LEN];
	uint8_t psk[KEY_LEN];
	bool has_psk;
	union uapi_endpoint endpoint;
	uint16_t keepalive;
	struct uapi_allowed_ip aips[MODEL_AIPS];
	size_t naips;
};

struct fake {
	unsigned int opts;
	size_t max_peers, max_allowed_ips;
	uint8_t private_key[KEY_LEN];
	uint16_t listen_port;
	uint32_t fwmark;
	struct model_peer peers[MODEL_PEERS];
	size_t npeers;
	struct bytes log;	/* every plan, as text */
	unsigned int gets;
};

static void log_key(struct bytes *b, const char *name, const uint8_t *k)
{
	char hex[KEY_HEX_LEN + 1];

	key_to_hex(hex, k);
	bytes_fmt(b, " %s=%s", name, hex);
	sodium_memzero(hex, sizeof(hex));
}

static bool host_bits_clear(const uint8_t *a, size_t len, unsigned int cidr)
{
	for (size_t i = 0; i < len; i++) {
		unsigned int keep = cidr >= 8 ? 8 : cidr;

		if (a[i] & (uint8_t)(0xffu >> keep))
			return false;
		cidr -= keep;
	}
	return true;
}

static void check_allowed_ip(const struct uapi_allowed_ip *a)
{
	if (a->family == AF_INET) {
		if (a->cidr > 32)
			FAIL("IPv4 allowed_ip with cidr %u", a->cidr);
		if (!host_bits_clear((const uint8_t *)&a->addr.ip4, 4, a->cidr))
			FAIL("IPv4 allowed_ip with host bits set");
	} else if (a->family == AF_INET6) {
		if (a->cidr > 128)
			FAIL("IPv6 allowed_ip with cidr %u", a->cidr);
		if (!host_bits_clear(a->addr.ip6.s6_addr, 16, a->cidr))
			FAIL("IPv6 allowed_ip with host bits set");
	} else {
		FAIL("allowed_ip with family %u", a->family);
	}
}

static void check_endpoint(const struct uapi_peer *p)
{
	char text[UAPI_ENDPOINT_STRLEN];
	sa_family_t fam = p->endpoint.sa.sa_family;

	if (!(p->flags & UAPI_PEER_HAS_ENDPOINT)) {
		if (fam != AF_UNSPEC)
			FAIL("endpoint family %u without an endpoint line", fam);
		return;
	}
	if (fam != AF_INET && fam != AF_INET6)
		FAIL("endpoint with family %u", fam);
	if (uapi_endpoint_format(text, sizeof(text), &p->endpoint))
		FAIL("a parsed endpoint cannot be printed");
}

static void check_and_log_peer(struct fake *f, const struct uapi_peer *p,
			       size_t *aips_total)
{
	const unsigned int known = UAPI_PEER_REMOVE | UAPI_PEER_UPDATE_ONLY |
				   UAPI_PEER_HAS_PRESHARED_KEY |
				   UAPI_PEER_HAS_ENDPOINT |
				   UAPI_PEER_HAS_KEEPALIVE |
				   UAPI_PEER_REPLACE_ALLOWED_IPS;
	char text[UAPI_ENDPOINT_STRLEN] = "-";

	if (p->flags & ~known)
		FAIL("peer flags %#x", p->flags);
	if ((p->flags & UAPI_PEER_HAS_PRESHARED_KEY) && !p->preshared_key)
		FAIL("preshared key flag without a key");
	if (!(p->flags & UAPI_PEER_HAS_KEEPALIVE) &&
	    p->persistent_keepalive_interval)
		FAIL("keepalive interval without a keepalive line");
	if (p->allowed_ips_len && !p->allowed_ips)
		FAIL("allowed_ips_len %zu with no array", p->allowed_ips_len);
	check_endpoint(p);
	if (p->flags & UAPI_PEER_HAS_ENDPOINT)
		uapi_endpoint_format(text, sizeof(text), &p->endpoint);

	log_key(&f->log, "peer", p->public_key);
	if (p->flags & UAPI_PEER_HAS_PRESHARED_KEY)
		log_key(&f->log, "psk", p->preshared_key);
	bytes_fmt(&f->log, " flags=%x ep=%s ka=%u", p->flags, text,
		  p->persistent_keepalive_interval);
	for (size_t i = 0; i < p->allowed_ips_len; i++) {
		const struct uapi_allowed_ip *a = &p->allowed_ips[i];
		char addr[INET6_ADDRSTRLEN];

		check_allowed_ip(a);
		inet_ntop(a->family, &a->addr, addr, sizeof(addr));
		bytes_fmt(&f->log, " %s%s/%u", a->remove ? "-" : "", addr,
			  a->cidr);
	}
	bytes_add(&f->log, "\n", 1);
	*aips_total += p->allowed_ips_len;
}

/* What a device might do with the plan, enough to make get interesting. */
static void model_apply_peer(struct fake *f, const struct uapi_peer *p)
{
	struct model_peer *m = NULL;
	size_t i;

	for (i = 0; i < f->npeers; i++)
		if (!memcmp(f->peers[i].public_key, p->public_key, KEY_LEN))
			m = &f->peers[i];
	if (p->flags & UAPI_PEER_REMOVE) {
		if (m) {
			*m = f->peers[--f->npeers];
			sodium_memzero(&f->peers[f->npeers],
				       sizeof(f->peers[0]));
		}
		return;
	}
	if (!m) {
		if ((p->flags & UAPI_PEER_UPDATE_ONLY) ||
		    f->npeers == MODEL_PEERS)
			return;
		m = &f->peers[f->npeers++];
		memset(m, 0, sizeof(*m));
		memcpy(m->public_key, p->public_key, KEY_LEN);
	}
	if (p->flags & UAPI_PEER_HAS_PRESHARED_KEY) {
		memcpy(m->psk, p->preshared_key, KEY_LEN);
		m->has_psk = true;
	}
	if (p->flags & UAPI_PEER_HAS_ENDPOINT)
		m->endpoint = p->endpoint;
	if (p->flags & UAPI_PEER_HAS_KEEPALIVE)
		m->keepalive = p->persistent_keepalive_interval;
	if (p->flags & UAPI_PEER_REPLACE_ALLOWED_IPS)
		m->naips = 0;
	for (i = 0; i < p->allowed_ips_len; i++)
		if (!p->allowed_ips[i].remove && m->naips < MODEL_AIPS)
			m->aips[m->naips++] = p->allowed_ips[i];
}

static int fake_apply(void *ctx, struct uapi_set *s)
{
	const unsigned int known = UAPI_SET_HAS_PRIVATE_KEY |
				   UAPI_SET_HAS_LISTEN_PORT |
				   UAPI_SET_HAS_FWMARK |
				   UAPI_SET_REPLACE_PEERS;
	struct fake *f = ctx;
	const struct uapi_peer *p;
	size_t aips_total = 0, n = 0;
	bool refuse;

	if (s->flags & ~known)
		FAIL("set flags %#x", s->flags);
	if (s->peers_len > f->max_peers)
		FAIL("%zu peers over the cap of %zu", s->peers_len,
		     f->max_peers);
	bytes_fmt(&f->log, "apply flags=%x port=%u fwmark=%u", s->flags,
		  s->listen_port, s->fwmark);
	if (s->flags & UAPI_SET_HAS_PRIVATE_KEY) {
		const uint8_t *k = s->private_key;

		if (!k)
			FAIL("private key flag without a key");
		if (!sodium_is_zero(k, KEY_LEN) &&
		    ((k[0] & 7) || (k[31] & 0xc0) != 0x40))
			FAIL("private key handed over unclamped");
		log_key(&f->log, "key", k);
	}
	bytes_add(&f->log, "\n", 1);

	/* A refusal is decided before any peer, as the daemon's is. */
	refuse = (f->opts & OPT_REFUSE) && (s->flags & UAPI_SET_HAS_FWMARK) &&
		 s->fwmark == 13;
	if (!refuse) {
		if (s->flags & UAPI_SET_HAS_PRIVATE_KEY)
			memcpy(f->private_key, s->private_key, KEY_LEN);
		if (s->flags & UAPI_SET_HAS_LISTEN_PORT)
			f->listen_port = s->listen_port;
		if (s->flags & UAPI_SET_HAS_FWMARK)
			f->fwmark = s->fwmark;
		if (s->flags & UAPI_SET_REPLACE_PEERS) {
			sodium_memzero(f->peers, sizeof(f->peers));
			f->npeers = 0;
		}
	}
	/* The sections can be taken once only: check and apply each. */
	while ((p = uapi_set_next_peer(s))) {
		check_and_log_peer(f, p, &aips_total);
		if (!refuse)
			model_apply_peer(f, p);
		n++;
	}
	if (n != s->peers_len)
		FAIL("%zu peer sections taken, the set counts %zu", n,
		     s->peers_len);
	if (uapi_set_next_peer(s))
		FAIL("a peer section after the last");
	if (aips_total > f->max_allowed_ips)
		FAIL("%zu allowed IPs over the cap of %zu", aips_total,
		     f->max_allowed_ips);
	return refuse ? -EADDRINUSE : 0;
}

static int fake_get(void *ctx, struct uapi_writer *w)
{
	struct fake *f = ctx;
	struct uapi_device_view d = {
		.private_key = f->private_key,
		.listen_port = f->listen_port,
		.fwmark = f->fwmark,
	};
	int ret = uapi_write_device(w, &d);

	f->gets++;
	for (size_t i = 0; i < f->npeers && !ret; i++) {
		const struct model_peer *m = &f->peers[i];
		struct uapi_peer_view p = {
			.public_key = m->public_key,
			.preshared_key = m->has_psk ? m->psk : NULL,
			.endpoint = &m->endpoint,
			.last_handshake_time_sec = (int64_t)f->gets * -7,
			.last_handshake_time_nsec = INT64_MIN + (int64_t)i,
			.tx_bytes = UINT64_MAX - i,
			.rx_bytes = i,
			.persistent_keepalive_interval = m->keepalive,
		};

		ret = uapi_write_peer(w, &p);
		for (size_t j = 0; j < m->naips && !ret; j++)
			ret = uapi_write_allowed_ip(w, m->aips[j].family,
						    &m->aips[j].addr,
						    m->aips[j].cidr);
	}
	/* A device error in the middle of a reply must drop all of it. */
	if (!ret && f->listen_port == 13)
		ret = -EIO;
	return ret;
}

static int fake_stats(void *ctx, struct uapi_writer *w)
{
	struct fake *f = ctx;

	uapi_write_stat(w, "rx_dropped", f->gets);
	return uapi_write_stat(w, "tx_dropped", UINT64_MAX);
}

static unsigned int fake_ifindex(void *ctx, const char *name)
{
	(void)ctx;
	if (strlen(name) >= IF_NAMESIZE)
		FAIL("interface name of %zu bytes", strlen(name));
	return strcmp(name, "eth7") ? 0 : 7;
}

/* Reply checks. */

static bool ends_in_blank_line(const struct bytes *out)
{
	return !out->len ||
	       (out->len >= 2 && out->s[out->len - 2] == '\n' &&
		out->s[out->len - 1] == '\n');
}

/* Each reply is "k=v" lines, the last "errno=N", then a blank line. */
static void check_replies(const struct bytes *out)
{
	const char *p = out->s, *stop;
	bool in_reply = false;

	if (!out->len)
		return;
	stop = out->s + out->len;
	while (p < stop) {
		const char *nl = memchr(p, '\n', (size_t)(stop - p));
		size_t n;

		if (!nl)
			FAIL("reply not ended by a newline");
		n = (size_t)(nl - p);
		if (!n) {
			if (!in_reply)
				FAIL("blank line outside a reply");
			FAIL("blank line not preceded by errno=");
		}
		if (!memchr(p, '=', n))
			FAIL("reply line without '='");
		in_reply = true;
		if (n >= 6 && !memcmp(p, "errno=", 6)) {
			const char *v = p + 6;

			if (v < nl && *v == '-')
				v++;
			if (v == nl || strspn(v, "0123456789") < (size_t)(nl - v))
				FAIL("errno value is not a number");
			if (nl + 1 >= stop || nl[1] != '\n')
				FAIL("errno line not followed by a blank line");
			p = nl + 2;
			in_reply = false;
			continue;
		}
		p = nl + 1;
	}
	if (in_reply)
		FAIL("reply not ended by errno=");
}

/* One connection's run. */

struct run {
	struct fake f;
	struct bytes out;
	int final_ret;
};

/* A small generator for split points, from one input byte. */
static uint32_t split_next(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static size_t split_len(uint32_t *s, size_t left)
{
	uint32_t r = split_next(s);
	size_t n;

	/* Mostly short pieces, so that lines straddle feeds, some long. */
	switch (r & 3) {
	case 0:
		n = 1;
		break;
	case 1:
	case 2:
		n = 1 + (r >> 8) % 16;
		break;
	default:
		n = 1 + (r >> 8) % 8192;
		break;
	}
	return n < left ? n : left;
}

static void drain(struct uapi_conn *c, struct bytes *out, uint32_t *split)
{
	const char *p;
	size_t n, take;

	uapi_conn_output(c, &p, &n);
	if (n && !p)
		FAIL("%zu output bytes with no buffer", n);
	take = n;
	/* Sometimes leave a tail pending, as a slow reader would. */
	if (split && n > 1 && !(split_next(split) & 3))
		take = split_next(split) % n;
	bytes_add(out, p, take);
	uapi_conn_consume_output(c, take);
}

static void run_input(struct run *r, unsigned int opts, uint32_t split_seed,
		      unsigned int fail_at, const char *in, size_t len)
{
	struct uapi_ops ops = {
		.ctx = &r->f,
		.apply = fake_apply,
		.get = fake_get,
		.ifindex = fake_ifindex,
		.stats = (opts & OPT_STATS) ? fake_stats : NULL,
	};
	uint32_t split = split_seed | 1;
	struct uapi_conn *c;
	size_t off = 0;
	int ret = UAPI_FEED_OPEN;

	memset(r, 0, sizeof(*r));
	r->f.opts = opts;
	fail_countdown = 0;
	c = uapi_conn_new(&ops);
	if (!c)
		FAIL("uapi_conn_new failed");
	if (opts & OPT_SMALL_CAPS) {
		c->max_peers = 3;
		c->max_allowed_ips = 5;
	}
	/*
	 * The split run keeps its plan in chunks of a few records, so that
	 * sections cross and move between chunks; compare_runs() then also
	 * checks that the chunk size changes nothing.
	 */
	if (split_seed)
		c->plan.chunk_bytes = 64 + (split_seed >> 8) % 512;
	r->f.max_peers = c->max_peers;
	r->f.max_allowed_ips = c->max_allowed_ips;
	fail_countdown = fail_at;

	while (off < len && ret == UAPI_FEED_OPEN) {
		size_t n = split_seed ? split_len(&split, len - off) : len - off;
		struct bytes whole = { 0 };
		const char *p;
		size_t pending;

		ret = uapi_conn_feed(c, in + off, n);
		off += n;
		if (ret < 0)
			break;
		if (ret != UAPI_FEED_OPEN && ret != UAPI_FEED_CLOSE)
			FAIL("uapi_conn_feed returned %d", ret);
		if (strlen(uapi_conn_last_error(c)) >= UAPI_REASON_LEN)
			FAIL("reason not terminated");
		/* Drained and pending output together end a reply. */
		uapi_conn_output(c, &p, &pending);
		bytes_add(&whole, r->out.s, r->out.len);
		bytes_add(&whole, p, pending);
		if (!ends_in_blank_line(&whole))
			FAIL("output does not end in a blank line after a feed");
		free(whole.s);
		drain(c, &r->out, split_seed ? &split : NULL);
	}
	if (ret >= 0) {
		/* The daemon sends what is pending before it closes. */
		drain(c, &r->out, NULL);
	}
	r->final_ret = ret;
	fail_countdown = 0;
	uapi_conn_free(c);
	track_expect_empty();
	if (ret >= 0)
		check_replies(&r->out);
}

static void run_free(struct run *r)
{
	free(r->out.s);
	free(r->f.log.s);
	sodium_memzero(&r->f, sizeof(r->f));
}

static void compare_runs(const struct run *a, const struct run *b)
{
	if (a->final_ret != b->final_ret)
		FAIL("whole feed returned %d, split feed %d", a->final_ret,
		     b->final_ret);
	if (a->out.len != b->out.len ||
	    (a->out.len && memcmp(a->out.s, b->out.s, a->out.len)))
		FAIL("replies differ between whole and split feeds "
		     "(%zu and %zu bytes)", a->out.len, b->out.len);
	if (a->f.log.len != b->f.log.len ||
	    (a->f.log.len && memcmp(a->f.log.s, b->f.log.s, a->f.log.len)))
		FAIL("applied plans differ between whole and split feeds");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run whole, split;
	unsigned int opts;
	const char *in;
	size_t len;

	if (size < HEADER_LEN)
		return 0;
	opts = data[0];
	in = (const char *)data + HEADER_LEN;
	len = size - HEADER_LEN;

	run_input(&whole, opts, 0, 0, in, len);
	run_input(&split, opts, (uint32_t)data[1] << 8 | 0x5a, 0, in, len);
	compare_runs(&whole, &split);
	run_free(&whole);
	run_free(&split);

	if (opts & OPT_FAIL_ALLOC) {
		/* Only the absence of crashes, leaks and unwiped frees. */
		run_input(&split, opts, (uint32_t)data[1] << 8 | 0xa5,
			  1u + data[2] % 24, in, len);
		run_free(&split);
	}
	return 0;
}
