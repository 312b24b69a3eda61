/* SPDX-License-Identifier: MIT */
/*
 * One UAPI client connection as a state machine over bytes: the framing of
 * requests into lines, the parsing of a set request into a plan that is
 * applied whole or not at all, the text of get replies and of errno
 * replies.  The values and signs of the errors are wireguard-go's.
 *
 * Secrets pass through three places here, and each is wiped: the line
 * buffer (a key line is wiped once parsed), the plan's key slots (wiped
 * after apply and on every error), and the output buffer (a get reply holds
 * the private key; wiped as it is drained).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <vpn/key.h>

#include "uapi.h"

/* The errno values wireguard-go replies with, negative as it sends them. */
enum uapi_errors {
	UAPI_E_PROTOCOL = -EPROTO,	/* a set line without '=' */
	UAPI_E_INVALID = -EINVAL,	/* any bad key, value or placement */
	UAPI_E_IO = -EIO,		/* a line too long to read */
	UAPI_E_TOO_BIG = -E2BIG,	/* vpnd's own: over a per-set cap */
};

enum conn_state {
	CONN_OP,	/* reading "get=1" or "set=1" */
	CONN_GET_END,	/* after "get=1\n": the next byte must be '\n' */
	CONN_STATS_END,	/* the same after vpnd's own "stats=1\n" */
	CONN_SET,	/* reading the lines of a set request */
	CONN_SET_SKIP,	/* a set failed: discarding up to its blank line */
	CONN_GET_MORE,	/* a get reply is written a chunk at a time */
	CONN_CLOSED,
};

struct uapi_buf {
	char *data;
	size_t start;	/* first byte not yet drained */
	size_t len;	/* end of the bytes written */
	size_t cap;
};

enum plan_limits {
	/*
	 * A chunk of the plan: under glibc's mmap threshold (128 KiB), so
	 * that a chunk freed while a set is applied returns to the heap the
	 * new peers are allocated from, not to the kernel.
	 */
	PLAN_CHUNK_BYTES = 64 * 1024,
};

/*
 * The plan's records, in chunks that never move: each peer section is a
 * struct uapi_peer followed by its allowed IPs, and a chunk holds whole
 * records.  A section whose allowed IPs outgrow its chunk moves to a
 * larger one.
 */
struct plan_chunk {
	struct plan_chunk *next;
	size_t used;		/* bytes of records */
	size_t cap;		/* bytes of data */
	_Alignas(struct uapi_peer) unsigned char data[];
};

/*
 * The plan under construction.  Secrets are kept in slots of KEY_LEN bytes
 * in sodium memory, in request order: the private key first if there is
 * one (device keys precede every peer), then the preshared keys.  Pointers
 * into the slots are only set as apply() takes the sections, because the
 * slots move as they grow.
 */
struct uapi_plan {
	struct uapi_set set;
	struct plan_chunk *head, *tail;
	struct uapi_peer *cur;	/* the section being read, last in tail */
	size_t aips_len;	/* all sections together, for the cap */
	size_t read;		/* apply(): offset in head of the next record */
	const uint8_t *next_slot;	/* apply(): the next psk's slot */
	size_t chunk_bytes;	/* PLAN_CHUNK_BYTES; tests make it small */
	uint8_t *secrets;
	size_t secrets_len;	/* slots in use */
	size_t secrets_cap;	/* slots allocated */
};

enum writer_stage {
	WRITER_START,
	WRITER_DEVICE,
	WRITER_PEER,
};

struct uapi_writer {
	struct uapi_buf *out;
	enum writer_stage stage;
	int err;
};

struct uapi_conn {
	struct uapi_ops ops;
	enum conn_state state;
	char *line;		/* UAPI_MAX_LINE + 1 bytes of sodium memory */
	size_t line_len;
	unsigned int line_no;	/* in the request; "set=1" is line 1 */
	/* In CONN_SET_SKIP, what the current line held: none, or "\r". */
	size_t skip_len;
	bool skip_cr;
	struct uapi_plan plan;
	struct uapi_buf out;
	/*
	 * Bytes that came after a get request whose reply is still being
	 * written: requests are answered in order, so they wait.  Bounded by
	 * one uapi_conn_feed() call, since the daemon feeds nothing while
	 * uapi_conn_busy().  Wiped: they may hold keys.
	 */
	char *pending;
	size_t pending_len;
	/* Caps for one set request; fields so that tests can lower them. */
	size_t max_peers;
	size_t max_allowed_ips;
	char reason[UAPI_REASON_LEN];
};

/* Output buffer. */

static void buf_compact(struct uapi_buf *b)
{
	size_t live = b->len - b->start;

	if (!b->start)
		return;
	memmove(b->data, b->data + b->start, live);
	sodium_memzero(b->data + live, b->len - live);
	b->start = 0;
	b->len = live;
}

/*
 * Grows by copying rather than by realloc(), which could release the old
 * block, with a private key in it, without wiping it.
 */
static int buf_reserve(struct uapi_buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->cap - b->len >= n)
		return 0;
	buf_compact(b);
	if (b->cap - b->len >= n)
		return 0;
	if (n > SIZE_MAX / 2 - b->len)
		return -ENOMEM;
	cap = b->cap ? b->cap : 256;
	while (cap - b->len < n)
		cap *= 2;
	p = malloc(cap);
	if (!p)
		return -ENOMEM;
	if (b->data) {
		memcpy(p, b->data, b->len);
		sodium_memzero(b->data, b->cap);
		free(b->data);
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

static int buf_append(struct uapi_buf *b, const char *s, size_t n)
{
	int ret = buf_reserve(b, n);

	if (ret)
		return ret;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	return 0;
}

/* Drops what was written after mark, e.g. a get reply that failed. */
static void buf_truncate(struct uapi_buf *b, size_t mark)
{
	if (mark >= b->len)
		return;
	sodium_memzero(b->data + mark, b->len - mark);
	b->len = mark;
}

static void buf_free(struct uapi_buf *b)
{
	if (b->data) {
		sodium_memzero(b->data, b->cap);
		free(b->data);
	}
	memset(b, 0, sizeof(*b));
}

/* Text forms: numbers and addresses, as Go's fmt and net/netip print them. */

static size_t format_u64(char *out, uint64_t v)
{
	char tmp[20];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = '\0';
	return n;
}

static size_t format_s64(char *out, int64_t v)
{
	if (v >= 0)
		return format_u64(out, (uint64_t)v);
	out[0] = '-';
	/* Negated in unsigned arithmetic, so that INT64_MIN works too. */
	return 1 + format_u64(out + 1, 0 - (uint64_t)v);
}

static size_t format_ip4(char *out, const uint8_t a[4])
{
	size_t n = 0;

	for (int i = 0; i < 4; i++) {
		if (i)
			out[n++] = '.';
		n += format_u64(out + n, a[i]);
	}
	return n;
}

static size_t format_hex16(char *out, unsigned int v)
{
	static const char digits[] = "0123456789abcdef";
	size_t n = 0;
	int shift = 12;

	/* No leading zeros, but a zero group is still "0". */
	while (shift > 0 && !(v >> shift & 15))
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		out[n++] = digits[v >> shift & 15];
	out[n] = '\0';
	return n;
}

static bool ip6_is_v4_mapped(const uint8_t a[16])
{
	static const uint8_t prefix[12] = { [10] = 0xff, [11] = 0xff };

	return !memcmp(a, prefix, sizeof(prefix));
}

/*
 * RFC 5952 text, as Go prints it: the first longest run of two or more zero
 * groups becomes "::", and only an IPv4-mapped address gets a dotted tail.
 * glibc's inet_ntop() also writes "::1.2.3.4" for ::102:304, which Go does
 * not, hence this function.
 */
static size_t format_ip6(char *out, const uint8_t a[16])
{
	unsigned int w[8];
	int best = -1, best_len = 1, i, j;
	size_t n = 0;

	if (ip6_is_v4_mapped(a)) {
		memcpy(out, "::ffff:", 7);
		return 7 + format_ip4(out + 7, a + 12);
	}
	for (i = 0; i < 8; i++)
		w[i] = (unsigned int)a[2 * i] << 8 | a[2 * i + 1];
	for (i = 0; i < 8; i = j + 1) {
		for (j = i; j < 8 && !w[j]; j++)
			;
		if (j - i > best_len) {
			best = i;
			best_len = j - i;
		}
	}
	for (i = 0; i < 8; i++) {
		if (i == best) {
			out[n++] = ':';
			out[n++] = ':';
			i += best_len - 1;
			continue;
		}
		if (i && i != best + best_len)
			out[n++] = ':';
		n += format_hex16(out + n, w[i]);
	}
	out[n] = '\0';
	return n;
}

int uapi_endpoint_format(char *out, size_t outlen,
			 const union uapi_endpoint *ep)
{
	char tmp[UAPI_ENDPOINT_STRLEN];
	size_t n = 0;

	if (ep->sa.sa_family == AF_INET) {
		n = format_ip4(tmp, (const uint8_t *)&ep->in4.sin_addr);
	} else if (ep->sa.sa_family == AF_INET6) {
		tmp[n++] = '[';
		n += format_ip6(tmp + n, ep->in6.sin6_addr.s6_addr);
		/*
		 * wireguard-go drops the zone when it prints; vpnd keeps
		 * it, so that what wg showconf prints sets the same thing.
		 */
		if (ep->in6.sin6_scope_id) {
			tmp[n++] = '%';
			n += format_u64(tmp + n, ep->in6.sin6_scope_id);
		}
		tmp[n++] = ']';
	} else {
		return -EAFNOSUPPORT;
	}
	tmp[n++] = ':';
	n += format_u64(tmp + n, ntohs(ep->sa.sa_family == AF_INET ?
					       ep->in4.sin_port :
					       ep->in6.sin6_port));
	if (n + 1 > outlen)
		return -ENOSPC;
	memcpy(out, tmp, n + 1);
	return 0;
}

/* The get reply. */

static void put(struct uapi_writer *w, const char *s, size_t n)
{
	if (!w->err && buf_append(w->out, s, n))
		w->err = -ENOMEM;
}

static void put_str(struct uapi_writer *w, const char *s)
{
	put(w, s, strlen(s));
}

/* "name=value\n" */
static void put_field(struct uapi_writer *w, const char *name,
		      const char *value, size_t len)
{
	put_str(w, name);
	put(w, "=", 1);
	put(w, value, len);
	put(w, "\n", 1);
}

static void put_u64(struct uapi_writer *w, const char *name, uint64_t v)
{
	char num[24];

	put_field(w, name, num, format_u64(num, v));
}

static void put_s64(struct uapi_writer *w, const char *name, int64_t v)
{
	char num[24];

	put_field(w, name, num, format_s64(num, v));
}

static void put_key(struct uapi_writer *w, const char *name,
		    const uint8_t key[KEY_LEN])
{
	char hex[KEY_HEX_LEN + 1];

	key_to_hex(hex, key);
	put_field(w, name, hex, KEY_HEX_LEN);
	sodium_memzero(hex, sizeof(hex));
}

/* A misuse fails the whole get, even if the daemon ignores the return. */
static int writer_fail(struct uapi_writer *w, int err)
{
	if (!w->err)
		w->err = err;
	return w->err;
}

int uapi_write_device(struct uapi_writer *w, const struct uapi_device_view *d)
{
	if (w->stage != WRITER_START)
		return writer_fail(w, -EINVAL);
	w->stage = WRITER_DEVICE;
	if (d->private_key && !sodium_is_zero(d->private_key, KEY_LEN))
		put_key(w, "private_key", d->private_key);
	if (d->listen_port)
		put_u64(w, "listen_port", d->listen_port);
	if (d->fwmark)
		put_u64(w, "fwmark", d->fwmark);
	return w->err;
}

int uapi_write_peer(struct uapi_writer *w, const struct uapi_peer_view *p)
{
	static const uint8_t zero[KEY_LEN];
	char ep[UAPI_ENDPOINT_STRLEN];

	if (!p->public_key)
		return writer_fail(w, -EINVAL);
	w->stage = WRITER_PEER;
	put_key(w, "public_key", p->public_key);
	put_key(w, "preshared_key", p->preshared_key ? p->preshared_key : zero);
	put_str(w, "protocol_version=1\n");
	if (p->endpoint && !uapi_endpoint_format(ep, sizeof(ep), p->endpoint))
		put_field(w, "endpoint", ep, strlen(ep));
	put_s64(w, "last_handshake_time_sec", p->last_handshake_time_sec);
	put_s64(w, "last_handshake_time_nsec", p->last_handshake_time_nsec);
	put_u64(w, "tx_bytes", p->tx_bytes);
	put_u64(w, "rx_bytes", p->rx_bytes);
	put_u64(w, "persistent_keepalive_interval",
		p->persistent_keepalive_interval);
	return w->err;
}

int uapi_write_allowed_ip(struct uapi_writer *w, int family, const void *addr,
			  uint8_t cidr)
{
	char text[INET6_ADDRSTRLEN + 4];
	size_t n;

	if (w->stage != WRITER_PEER)
		return writer_fail(w, -EINVAL);
	if (family == AF_INET && cidr <= 32)
		n = format_ip4(text, addr);
	else if (family == AF_INET6 && cidr <= 128)
		n = format_ip6(text, addr);
	else
		return writer_fail(w, -EINVAL);
	text[n++] = '/';
	n += format_u64(text + n, cidr);
	put_field(w, "allowed_ip", text, n);
	return w->err;
}

/* Replies and reasons. */

static int reply_errno(struct uapi_conn *c, int err)
{
	char line[32] = "errno=";
	size_t n = 6;

	n += format_s64(line + n, err);
	memcpy(line + n, "\n\n", 2);
	return buf_append(&c->out, line, n + 2);
}

static void set_reason(struct uapi_conn *c, const char *what)
{
	if (c->line_no)
		snprintf(c->reason, sizeof(c->reason), "line %u: %s",
			 c->line_no, what);
	else
		snprintf(c->reason, sizeof(c->reason), "%s", what);
}

/* Value parsers: each takes the exact text, which may hold a NUL. */

static bool text_is(const char *s, size_t n, const char *lit)
{
	return n == strlen(lit) && !memcmp(s, lit, n);
}

/* Decimal digits only, as Go's strconv.ParseUint(s, 10, bits). */
static int parse_uint(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	unsigned int d;

	if (!n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		d = (unsigned int)(s[i] - '0');
		if (v > (max - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/*
 * The last c in s[0..n), or NULL.  glibc's memrchr would do, but only
 * with _GNU_SOURCE, which not every build of this file defines.
 */
static const char *find_last(const char *s, size_t n, char c)
{
	while (n--) {
		if (s[n] == c)
			return s + n;
	}
	return NULL;
}

/* The value ends the line, so s[n] is the line's terminating NUL. */
static int parse_key(uint8_t key[KEY_LEN], const char *s, size_t n)
{
	if (n != KEY_HEX_LEN)
		return -EINVAL;
	return key_from_hex(key, s);
}

static int copy_text(char *dst, size_t size, const char *s, size_t n)
{
	if (n >= size || memchr(s, '\0', n))
		return -EINVAL;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

static int parse_ip4(struct in_addr *a, const char *s, size_t n)
{
	char text[INET_ADDRSTRLEN];

	if (copy_text(text, sizeof(text), s, n) ||
	    inet_pton(AF_INET, text, a) != 1)
		return -EINVAL;
	return 0;
}

static int parse_ip6(struct in6_addr *a, const char *s, size_t n)
{
	char text[INET6_ADDRSTRLEN];

	if (copy_text(text, sizeof(text), s, n) ||
	    inet_pton(AF_INET6, text, a) != 1)
		return -EINVAL;
	return 0;
}

/*
 * A zone is an interface index or name, as wireguard-go accepts it; wg
 * sends the name ("[fe80::1%eth0]:51820") when it was given one.
 */
static int parse_zone(const struct uapi_conn *c, uint32_t *scope,
		      const char *s, size_t n)
{
	char name[IF_NAMESIZE];
	unsigned int ifidx;
	uint64_t v;

	if (!parse_uint(s, n, UINT32_MAX, &v)) {
		*scope = (uint32_t)v;
		return 0;
	}
	if (!n || copy_text(name, sizeof(name), s, n))
		return -EINVAL;
	ifidx = c->ops.ifindex ? c->ops.ifindex(c->ops.ctx, name) :
				 if_nametoindex(name);
	if (!ifidx)
		return -EINVAL;
	*scope = ifidx;
	return 0;
}

/*
 * "a.b.c.d:port" or "[v6]:port" or "[v6%zone]:port", as Go's
 * netip.ParseAddrPort: IPv6 only in brackets, IPv4 never, no host names
 * (wg resolves those itself), the port in decimal with leading zeros.
 */
static int parse_endpoint(const struct uapi_conn *c, union uapi_endpoint *ep,
			  const char *s, size_t n)
{
	const char *end = s + n, *sep, *zone;
	uint64_t port;

	memset(ep, 0, sizeof(*ep));
	if (n && s[0] == '[') {
		sep = memchr(s, ']', n);
		if (!sep || end - sep < 2 || sep[1] != ':' ||
		    parse_uint(sep + 2, (size_t)(end - sep - 2), 65535, &port))
			return -EINVAL;
		zone = memchr(s + 1, '%', (size_t)(sep - s - 1));
		if (parse_ip6(&ep->in6.sin6_addr, s + 1,
			      (size_t)((zone ? zone : sep) - s - 1)))
			return -EINVAL;
		if (zone && parse_zone(c, &ep->in6.sin6_scope_id, zone + 1,
				       (size_t)(sep - zone - 1)))
			return -EINVAL;
		ep->in6.sin6_family = AF_INET6;
		ep->in6.sin6_port = htons((uint16_t)port);
		return 0;
	}
	sep = find_last(s, n, ':');
	if (!sep || memchr(s, ':', (size_t)(sep - s)) ||
	    parse_uint(sep + 1, (size_t)(end - sep - 1), 65535, &port) ||
	    parse_ip4(&ep->in4.sin_addr, s, (size_t)(sep - s)))
		return -EINVAL;
	ep->in4.sin_family = AF_INET;
	ep->in4.sin_port = htons((uint16_t)port);
	return 0;
}

/* Clears the host bits, as wireguard-go's table does on insert. */
static void mask_prefix(uint8_t *addr, size_t len, unsigned int cidr)
{
	for (size_t i = 0; i < len; i++) {
		if (cidr >= 8) {
			cidr -= 8;
			continue;
		}
		addr[i] &= (uint8_t)(0xff00u >> cidr);
		cidr = 0;
	}
}

/*
 * "addr/cidr", host bits allowed, no zone; "-addr/cidr" is the removal
 * form of wireguard-tools and wireguard-go releases from 2025 on (not of
 * the Debian 12 ones, which refuse it).  The prefix length is decimal
 * digits, leading zeros allowed as the Go of Debian 12 allows them.
 */
static int parse_allowed_ip(struct uapi_allowed_ip *a, const char *s,
			    size_t n)
{
	const char *slash;
	uint64_t cidr;

	memset(a, 0, sizeof(*a));
	if (n && s[0] == '-') {
		a->remove = true;
		s++;
		n--;
	}
	slash = find_last(s, n, '/');
	if (!slash)
		return -EINVAL;
	if (memchr(s, ':', (size_t)(slash - s))) {
		if (parse_ip6(&a->addr.ip6, s, (size_t)(slash - s)) ||
		    parse_uint(slash + 1, (size_t)(s + n - slash - 1), 128,
			       &cidr))
			return -EINVAL;
		a->family = AF_INET6;
		mask_prefix(a->addr.ip6.s6_addr, 16, (unsigned int)cidr);
	} else {
		if (parse_ip4(&a->addr.ip4, s, (size_t)(slash - s)) ||
		    parse_uint(slash + 1, (size_t)(s + n - slash - 1), 32,
			       &cidr))
			return -EINVAL;
		a->family = AF_INET;
		mask_prefix((uint8_t *)&a->addr.ip4, 4, (unsigned int)cidr);
	}
	a->cidr = (uint8_t)cidr;
	return 0;
}

/* The plan. */

/* Secrets move to a larger sodium block; the old one is wiped first. */
static int secrets_grow(struct uapi_plan *p)
{
	size_t n = p->secrets_cap ? p->secrets_cap * 2 : 4;
	uint8_t *q;

	if (p->secrets_len < p->secrets_cap)
		return 0;
	q = sodium_allocarray(n, KEY_LEN);
	if (!q)
		return -ENOMEM;
	if (p->secrets) {
		memcpy(q, p->secrets, p->secrets_len * KEY_LEN);
		sodium_memzero(p->secrets, p->secrets_cap * KEY_LEN);
		sodium_free(p->secrets);
	}
	p->secrets = q;
	p->secrets_cap = n;
	return 0;
}

/* Returns a fresh slot for a key, or NULL. */
static uint8_t *secrets_add(struct uapi_plan *p)
{
	if (secrets_grow(p))
		return NULL;
	return p->secrets + KEY_LEN * p->secrets_len++;
}

static void plan_release(struct uapi_plan *p)
{
	size_t chunk_bytes = p->chunk_bytes;
	struct plan_chunk *c, *next;

	if (p->secrets) {
		sodium_memzero(p->secrets, p->secrets_cap * KEY_LEN);
		sodium_free(p->secrets);
	}
	for (c = p->head; c; c = next) {
		next = c->next;
		free(c);
	}
	memset(p, 0, sizeof(*p));
	p->chunk_bytes = chunk_bytes;
}

/* @n rounded up to where a record may start. */
static size_t record_align(size_t n)
{
	size_t align = _Alignof(struct uapi_peer);

	return (n + align - 1) & ~(align - 1);
}

/* Bytes from the start of a section's record to where the next may start. */
static size_t record_size(size_t naips)
{
	return record_align(sizeof(struct uapi_peer) +
			    naips * sizeof(struct uapi_allowed_ip));
}

static struct uapi_allowed_ip *record_aips(struct uapi_peer *peer)
{
	return (struct uapi_allowed_ip *)(peer + 1);
}

/* Appends a chunk of at least @need bytes of data, or returns NULL. */
static struct plan_chunk *chunk_add(struct uapi_plan *p, size_t need)
{
	size_t cap = 0;
	struct plan_chunk *c;

	/* Rounded down, so that a record aligned to its end still fits. */
	if (p->chunk_bytes > sizeof(*c))
		cap = (p->chunk_bytes - sizeof(*c)) &
		      ~(_Alignof(struct uapi_peer) - 1);
	if (need > cap)
		cap = record_align(need);
	c = malloc(sizeof(*c) + cap);
	if (!c)
		return NULL;
	c->next = NULL;
	c->used = 0;
	c->cap = cap;
	if (p->tail)
		p->tail->next = c;
	else
		p->head = c;
	p->tail = c;
	return c;
}

/* A new section's record, zeroed, at the end of the plan; or NULL. */
static struct uapi_peer *plan_peer_add(struct uapi_plan *p)
{
	struct plan_chunk *c = p->tail;
	struct uapi_peer *peer;

	if (c)
		c->used = record_align(c->used);
	if (!c || c->cap - c->used < sizeof(*peer))
		c = chunk_add(p, sizeof(*peer));
	if (!c)
		return NULL;
	peer = (struct uapi_peer *)(c->data + c->used);
	memset(peer, 0, sizeof(*peer));
	c->used += sizeof(*peer);
	p->cur = peer;
	return peer;
}

/*
 * Room for one more allowed IP of the current section, moving the section
 * to a chunk twice its size when its own is full.  Returns the slot or
 * NULL.
 */
static struct uapi_allowed_ip *plan_aip_add(struct uapi_plan *p)
{
	struct plan_chunk *old = p->tail, *c;
	size_t bytes = sizeof(*p->cur) +
		       p->cur->allowed_ips_len * sizeof(struct uapi_allowed_ip);
	struct uapi_allowed_ip *a;

	if (old->cap - old->used < sizeof(*a)) {
		c = chunk_add(p, 2 * (bytes + sizeof(*a)));
		if (!c)
			return NULL;
		memcpy(c->data, p->cur, bytes);
		/* The old chunk keeps the records before; it may be left
		 * empty, which the reader skips. */
		old->used -= bytes;
		c->used = bytes;
		p->cur = (struct uapi_peer *)c->data;
	}
	a = record_aips(p->cur) + p->cur->allowed_ips_len;
	p->tail->used += sizeof(*a);
	return a;
}

/* Drops the current section's allowed IPs (replace_allowed_ips). */
static void plan_aips_drop(struct uapi_plan *p)
{
	size_t n = p->cur->allowed_ips_len;

	p->tail->used -= n * sizeof(struct uapi_allowed_ip);
	p->aips_len -= n;
	p->cur->allowed_ips_len = 0;
}

static struct uapi_plan *plan_of(struct uapi_set *set)
{
	return (struct uapi_plan *)((char *)set -
				    offsetof(struct uapi_plan, set));
}

const struct uapi_peer *uapi_set_next_peer(struct uapi_set *set)
{
	struct uapi_plan *p = plan_of(set);
	struct plan_chunk *c;
	struct uapi_peer *peer;

	/* Every record before this one was applied: its chunk can go. */
	while ((c = p->head) && p->read >= c->used) {
		p->head = c->next;
		if (!p->head)
			p->tail = NULL;
		free(c);
		p->read = 0;
	}
	if (!c)
		return NULL;
	peer = (struct uapi_peer *)(c->data + p->read);
	p->read += record_size(peer->allowed_ips_len);
	if (peer->flags & UAPI_PEER_HAS_PRESHARED_KEY) {
		peer->preshared_key = p->next_slot;
		p->next_slot += KEY_LEN;
	}
	peer->allowed_ips = peer->allowed_ips_len ? record_aips(peer) : NULL;
	return peer;
}

/* The request is complete: the secrets no longer move. */
static void plan_finish(struct uapi_plan *p)
{
	p->next_slot = p->secrets;
	if (p->set.flags & UAPI_SET_HAS_PRIVATE_KEY) {
		p->set.private_key = p->next_slot;
		p->next_slot += KEY_LEN;
	}
	p->cur = NULL;
	p->read = 0;
}

/* Set lines.  Each returns 0 or the errno to reply, and sets the reason. */

static int line_fail(struct uapi_conn *c, int err, const char *what)
{
	set_reason(c, what);
	return err;
}

static int set_private_key(struct uapi_conn *c, const char *v, size_t n)
{
	struct uapi_plan *p = &c->plan;
	uint8_t *key;

	/* Device keys precede peers, so an existing key is slot 0. */
	if (p->set.flags & UAPI_SET_HAS_PRIVATE_KEY)
		key = p->secrets;
	else
		key = secrets_add(p);
	if (!key)
		return line_fail(c, -ENOMEM, "out of memory");
	if (parse_key(key, v, n)) {
		if (!(p->set.flags & UAPI_SET_HAS_PRIVATE_KEY))
			p->secrets_len--;
		return line_fail(c, UAPI_E_INVALID, "invalid private_key");
	}
	/* As wireguard-go stores it; all zero stays zero: "remove". */
	if (!sodium_is_zero(key, KEY_LEN)) {
		key[0] &= 248;
		key[31] = (uint8_t)((key[31] & 127) | 64);
	}
	p->set.flags |= UAPI_SET_HAS_PRIVATE_KEY;
	return 0;
}

static int set_device_line(struct uapi_conn *c, const char *k, size_t kn,
			   const char *v, size_t vn)
{
	struct uapi_set *s = &c->plan.set;
	uint64_t num;

	if (text_is(k, kn, "private_key"))
		return set_private_key(c, v, vn);
	if (text_is(k, kn, "listen_port")) {
		if (parse_uint(v, vn, UINT16_MAX, &num))
			return line_fail(c, UAPI_E_INVALID,
					 "invalid listen_port");
		s->listen_port = (uint16_t)num;
		s->flags |= UAPI_SET_HAS_LISTEN_PORT;
		return 0;
	}
	if (text_is(k, kn, "fwmark")) {
		if (parse_uint(v, vn, UINT32_MAX, &num))
			return line_fail(c, UAPI_E_INVALID, "invalid fwmark");
		s->fwmark = (uint32_t)num;
		s->flags |= UAPI_SET_HAS_FWMARK;
		return 0;
	}
	if (text_is(k, kn, "replace_peers")) {
		if (!text_is(v, vn, "true"))
			return line_fail(c, UAPI_E_INVALID,
					 "invalid replace_peers");
		s->flags |= UAPI_SET_REPLACE_PEERS;
		return 0;
	}
	return line_fail(c, UAPI_E_INVALID, "unknown or misplaced device key");
}

static int set_public_key(struct uapi_conn *c, const char *v, size_t vn)
{
	struct uapi_plan *p = &c->plan;
	struct uapi_peer *peer;

	if (p->set.peers_len >= c->max_peers)
		return line_fail(c, UAPI_E_TOO_BIG, "too many peers");
	peer = plan_peer_add(p);
	if (!peer)
		return line_fail(c, -ENOMEM, "out of memory");
	if (parse_key(peer->public_key, v, vn))
		return line_fail(c, UAPI_E_INVALID, "invalid public_key");
	p->set.peers_len++;
	return 0;
}

static int set_preshared_key(struct uapi_conn *c, struct uapi_peer *peer,
			     const char *v, size_t vn)
{
	struct uapi_plan *p = &c->plan;
	bool had = peer->flags & UAPI_PEER_HAS_PRESHARED_KEY;
	uint8_t *key;

	/* Only the current peer adds slots, so its own is the last one. */
	key = had ? p->secrets + KEY_LEN * (p->secrets_len - 1) :
		    secrets_add(p);
	if (!key)
		return line_fail(c, -ENOMEM, "out of memory");
	if (parse_key(key, v, vn)) {
		if (!had)
			p->secrets_len--;
		return line_fail(c, UAPI_E_INVALID, "invalid preshared_key");
	}
	peer->flags |= UAPI_PEER_HAS_PRESHARED_KEY;
	return 0;
}

/* For the plan's current section, which may move to another chunk here. */
static int set_allowed_ip(struct uapi_conn *c, const char *v, size_t vn)
{
	struct uapi_plan *p = &c->plan;
	struct uapi_allowed_ip a, *slot;

	if (parse_allowed_ip(&a, v, vn))
		return line_fail(c, UAPI_E_INVALID, "invalid allowed_ip");
	if (p->aips_len >= c->max_allowed_ips)
		return line_fail(c, UAPI_E_TOO_BIG, "too many allowed_ip");
	slot = plan_aip_add(p);
	if (!slot)
		return line_fail(c, -ENOMEM, "out of memory");
	*slot = a;
	p->aips_len++;
	p->cur->allowed_ips_len++;
	return 0;
}

/* The flags that take "true" and nothing else. */
static int set_peer_flag(struct uapi_conn *c, struct uapi_peer *peer,
			 unsigned int flag, const char *v, size_t vn)
{
	if (!text_is(v, vn, "true"))
		return line_fail(c, UAPI_E_INVALID, "invalid boolean value");
	peer->flags |= flag;
	/* The section's entries so far are the plan's last: drop them. */
	if (flag == UAPI_PEER_REPLACE_ALLOWED_IPS)
		plan_aips_drop(&c->plan);
	return 0;
}

static int set_peer_line(struct uapi_conn *c, struct uapi_peer *peer,
			 const char *k, size_t kn, const char *v, size_t vn)
{
	uint64_t num;

	if (text_is(k, kn, "remove"))
		return set_peer_flag(c, peer, UAPI_PEER_REMOVE, v, vn);
	if (text_is(k, kn, "update_only"))
		return set_peer_flag(c, peer, UAPI_PEER_UPDATE_ONLY, v, vn);
	if (text_is(k, kn, "replace_allowed_ips"))
		return set_peer_flag(c, peer, UAPI_PEER_REPLACE_ALLOWED_IPS,
				     v, vn);
	if (text_is(k, kn, "preshared_key"))
		return set_preshared_key(c, peer, v, vn);
	if (text_is(k, kn, "allowed_ip"))
		return set_allowed_ip(c, v, vn);
	if (text_is(k, kn, "endpoint")) {
		if (parse_endpoint(c, &peer->endpoint, v, vn))
			return line_fail(c, UAPI_E_INVALID,
					 "invalid endpoint");
		peer->flags |= UAPI_PEER_HAS_ENDPOINT;
		return 0;
	}
	if (text_is(k, kn, "persistent_keepalive_interval")) {
		if (parse_uint(v, vn, UINT16_MAX, &num))
			return line_fail(c, UAPI_E_INVALID,
					 "invalid persistent_keepalive_interval");
		peer->persistent_keepalive_interval = (uint16_t)num;
		peer->flags |= UAPI_PEER_HAS_KEEPALIVE;
		return 0;
	}
	/* Accepted and without effect, as in wireguard-go. */
	if (text_is(k, kn, "protocol_version")) {
		if (!text_is(v, vn, "1"))
			return line_fail(c, UAPI_E_INVALID,
					 "unsupported protocol_version");
		return 0;
	}
	return line_fail(c, UAPI_E_INVALID, "unknown or misplaced peer key");
}

/* One non-empty line of a set request, NUL-terminated at line[len]. */
static int set_line(struct uapi_conn *c, const char *line, size_t len)
{
	const char *eq = memchr(line, '=', len);
	const char *v;
	size_t kn, vn;
	struct uapi_peer *peer;

	if (!eq)
		return line_fail(c, UAPI_E_PROTOCOL, "line without '='");
	kn = (size_t)(eq - line);
	v = eq + 1;
	vn = len - kn - 1;
	if (text_is(line, kn, "public_key"))
		return set_public_key(c, v, vn);
	peer = c->plan.cur;
	if (!peer)
		return set_device_line(c, line, kn, v, vn);
	return set_peer_line(c, peer, line, kn, v, vn);
}

/* Requests. */

/* A set request failed: reply now, forget the plan, skip to its end. */
static int set_abort(struct uapi_conn *c, int err)
{
	plan_release(&c->plan);
	c->state = CONN_SET_SKIP;
	c->skip_len = 0;
	c->skip_cr = false;
	return reply_errno(c, err);
}

static int set_commit(struct uapi_conn *c)
{
	int ret;

	plan_finish(&c->plan);
	ret = c->ops.apply(c->ops.ctx, &c->plan.set);
	plan_release(&c->plan);
	if (ret > 0)
		ret = -ret;
	if (ret)
		set_reason(c, "refused by the device");
	c->state = CONN_OP;
	return reply_errno(c, ret);
}

/*
 * One chunk of a get reply: the first has the device's lines, the others
 * go on where the last stopped.  A failure drops what this chunk wrote
 * (earlier chunks may be gone already; the client sees a reply cut short
 * at a peer's start, then the errno).
 */
static int get_chunk(struct uapi_conn *c, enum writer_stage stage)
{
	struct uapi_writer w = { .out = &c->out, .stage = stage };
	/* Relative to start, which buf_compact() may move. */
	size_t mark = c->out.len - c->out.start;
	int ret;

	ret = c->ops.get(c->ops.ctx, &w);
	if ((!ret || ret == UAPI_GET_MORE) && w.err)
		ret = w.err;
	if (ret == UAPI_GET_MORE) {
		c->state = CONN_GET_MORE;
		return 0;
	}
	c->state = CONN_OP;
	if (ret > 0)
		ret = -ret;
	if (ret) {
		buf_truncate(&c->out, c->out.start + mark);
		c->line_no = 0;
		set_reason(c, "get failed in the device");
	}
	return reply_errno(c, ret);
}

static int do_get(struct uapi_conn *c)
{
	return get_chunk(c, WRITER_START);
}

bool uapi_writer_full(const struct uapi_writer *w)
{
	return w->out->len - w->out->start >= UAPI_GET_CHUNK;
}

/* vpnd's counters: wg(8) refuses unknown keys in a get, so they have an
 * operation of their own, which the stock tools never send. */
static int do_stats(struct uapi_conn *c)
{
	struct uapi_writer w = { .out = &c->out, .stage = WRITER_DEVICE };
	size_t mark = c->out.len - c->out.start;
	int ret;

	c->state = CONN_OP;
	ret = c->ops.stats(c->ops.ctx, &w);
	if (!ret)
		ret = w.err;
	if (ret > 0)
		ret = -ret;
	if (ret) {
		buf_truncate(&c->out, c->out.start + mark);
		set_reason(c, "stats failed in the device");
	}
	return reply_errno(c, ret);
}

int uapi_write_stat(struct uapi_writer *w, const char *name, uint64_t value)
{
	put_u64(w, name, value);
	return w->err;
}

static int op_line(struct uapi_conn *c, const char *line, size_t len)
{
	if (c->ops.stats && text_is(line, len, "stats=1")) {
		c->state = CONN_STATS_END;
		return 0;
	}
	if (text_is(line, len, "set=1")) {
		c->state = CONN_SET;
		c->line_no = 1;
		return 0;
	}
	if (text_is(line, len, "get=1")) {
		c->state = CONN_GET_END;
		return 0;
	}
	/* wireguard-go closes the connection without a reply. */
	c->line_no = 0;
	set_reason(c, "unknown operation");
	c->state = CONN_CLOSED;
	return 0;
}

static int set_request_line(struct uapi_conn *c, char *line, size_t len)
{
	int ret;

	c->line_no++;
	/* Go's line scanner drops one '\r' before the '\n'. */
	if (len && line[len - 1] == '\r')
		line[--len] = '\0';
	if (!len)
		return set_commit(c);
	ret = set_line(c, line, len);
	return ret ? set_abort(c, ret) : 0;
}

static void line_clear(struct uapi_conn *c)
{
	sodium_memzero(c->line, c->line_len);
	c->line_len = 0;
}

/*
 * Gathers bytes up to a '\n' into the line buffer.  Returns the bytes used;
 * *done once a line is complete (the '\n' is not kept), *too_long when it
 * cannot fit.
 */
static size_t line_take(struct uapi_conn *c, const char *data, size_t len,
			bool *done, bool *too_long)
{
	const char *nl = memchr(data, '\n', len);
	size_t n = nl ? (size_t)(nl - data) : len;

	*done = false;
	*too_long = n > UAPI_MAX_LINE - c->line_len;
	if (*too_long)
		return len;
	memcpy(c->line + c->line_len, data, n);
	c->line_len += n;
	c->line[c->line_len] = '\0';
	*done = nl != NULL;
	return nl ? n + 1 : n;
}

/* In CONN_SET_SKIP: nothing is stored, only "was the line blank". */
static size_t skip_take(struct uapi_conn *c, const char *data, size_t len)
{
	const char *nl = memchr(data, '\n', len);
	size_t n = nl ? (size_t)(nl - data) : len;

	if (n) {
		c->skip_cr = c->skip_len == 0 && n == 1 && data[0] == '\r';
		c->skip_len += n;
	}
	if (!nl)
		return n;
	if (!c->skip_len || (c->skip_len == 1 && c->skip_cr))
		c->state = CONN_OP;
	c->skip_len = 0;
	c->skip_cr = false;
	return n + 1;
}

static int get_end(struct uapi_conn *c, char byte)
{
	if (byte == '\n')
		return c->state == CONN_STATS_END ? do_stats(c) : do_get(c);
	/* As wireguard-go: the stray byte is eaten, the next op read. */
	c->state = CONN_OP;
	c->line_no = 0;
	set_reason(c, "trailing character after the operation");
	return reply_errno(c, UAPI_E_INVALID);
}

/* Reads one complete line or fragment in CONN_OP or CONN_SET. */
static size_t take_line_and_act(struct uapi_conn *c, const char *data,
				size_t len, int *err)
{
	bool done, too_long;
	size_t used = line_take(c, data, len, &done, &too_long);

	*err = 0;
	if (too_long) {
		line_clear(c);
		if (c->state == CONN_SET) {
			c->line_no++;
			set_reason(c, "line too long");
			plan_release(&c->plan);
			*err = reply_errno(c, UAPI_E_IO);
		} else {
			c->line_no = 0;
			set_reason(c, "operation line too long");
		}
		c->state = CONN_CLOSED;
		return used;
	}
	if (!done)
		return used;
	if (c->state == CONN_OP)
		*err = op_line(c, c->line, c->line_len);
	else
		*err = set_request_line(c, c->line, c->line_len);
	line_clear(c);
	return used;
}

static void pending_free(struct uapi_conn *c)
{
	if (c->pending) {
		sodium_memzero(c->pending, c->pending_len);
		free(c->pending);
	}
	c->pending = NULL;
	c->pending_len = 0;
}

/* Keeps what follows a get request until its reply is complete. */
static int pending_keep(struct uapi_conn *c, const char *data, size_t len)
{
	c->pending = malloc(len);
	if (!c->pending)
		return -ENOMEM;
	memcpy(c->pending, data, len);
	c->pending_len = len;
	return 0;
}

/* Nothing sensible is left once not even a reply fits. */
static int conn_fatal(struct uapi_conn *c, int err)
{
	plan_release(&c->plan);
	pending_free(c);
	c->state = CONN_CLOSED;
	return err;
}

int uapi_conn_feed(struct uapi_conn *c, const char *data, size_t len)
{
	size_t used;
	int err = 0;

	if (c->state == CONN_GET_MORE)
		return -EBUSY;
	/* The reason speaks of this call only, so it is logged once. */
	c->reason[0] = '\0';
	while (len && c->state != CONN_CLOSED && c->state != CONN_GET_MORE &&
	       !err) {
		switch (c->state) {
		case CONN_GET_END:
		case CONN_STATS_END:
			err = get_end(c, data[0]);
			used = 1;
			break;
		case CONN_SET_SKIP:
			used = skip_take(c, data, len);
			break;
		default:
			used = take_line_and_act(c, data, len, &err);
			break;
		}
		data += used;
		len -= used;
	}
	if (!err && len && c->state == CONN_GET_MORE)
		err = pending_keep(c, data, len);
	if (err)
		return conn_fatal(c, err);
	return c->state == CONN_CLOSED ? UAPI_FEED_CLOSE : UAPI_FEED_OPEN;
}

bool uapi_conn_busy(const struct uapi_conn *c)
{
	return c->state == CONN_GET_MORE;
}

int uapi_conn_continue(struct uapi_conn *c)
{
	char reason[UAPI_REASON_LEN];
	char *rest;
	size_t len;
	int err, ret;

	if (c->state != CONN_GET_MORE)
		return c->state == CONN_CLOSED ? UAPI_FEED_CLOSE :
						 UAPI_FEED_OPEN;
	c->reason[0] = '\0';
	err = get_chunk(c, WRITER_DEVICE);
	if (err)
		return conn_fatal(c, err);
	if (c->state == CONN_GET_MORE || !c->pending)
		return UAPI_FEED_OPEN;
	/* The reply is whole: the requests that waited go on. */
	rest = c->pending;
	len = c->pending_len;
	c->pending = NULL;
	c->pending_len = 0;
	memcpy(reason, c->reason, sizeof(reason));
	ret = uapi_conn_feed(c, rest, len);
	sodium_memzero(rest, len);
	free(rest);
	if (!c->reason[0])
		memcpy(c->reason, reason, sizeof(reason));
	return ret;
}

void uapi_conn_output(const struct uapi_conn *c, const char **data,
		      size_t *len)
{
	*data = c->out.data ? c->out.data + c->out.start : NULL;
	*len = c->out.len - c->out.start;
}

void uapi_conn_consume_output(struct uapi_conn *c, size_t n)
{
	struct uapi_buf *b = &c->out;

	if (n > b->len - b->start)
		n = b->len - b->start;
	if (!n)
		return;
	sodium_memzero(b->data + b->start, n);
	b->start += n;
	if (b->start == b->len)
		b->start = b->len = 0;
}

const char *uapi_conn_last_error(const struct uapi_conn *c)
{
	return c->reason;
}

struct uapi_conn *uapi_conn_new(const struct uapi_ops *ops)
{
	struct uapi_conn *c;

	if (!ops || !ops->apply || !ops->get) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->line = sodium_malloc(UAPI_MAX_LINE + 1);
	if (!c->line) {
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	/* sodium_malloc() fills with a pattern; start from a clean slate. */
	sodium_memzero(c->line, UAPI_MAX_LINE + 1);
	c->ops = *ops;
	c->state = CONN_OP;
	c->max_peers = UAPI_MAX_PEERS;
	c->max_allowed_ips = UAPI_MAX_ALLOWED_IPS;
	c->plan.chunk_bytes = PLAN_CHUNK_BYTES;
	return c;
}

void uapi_conn_free(struct uapi_conn *c)
{
	if (!c)
		return;
	plan_release(&c->plan);
	pending_free(c);
	sodium_memzero(c->line, UAPI_MAX_LINE + 1);
	sodium_free(c->line);
	buf_free(&c->out);
	free(c);
}
