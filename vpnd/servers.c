/* SPDX-License-Identifier: MIT */
/*
 * Server selection (see servers.h): matching a selection, ranking by
 * measured round trip, and the probe that measures it.
 *
 * A probe is a real handshake initiation, made with the profile's key by
 * noise.c and MACed by cookie.c as the data path would, so that a server
 * answers it exactly as it answers a connection; the answer is checked in
 * full (the response is decrypted, a cookie reply opened) before its round
 * trip counts, so that nobody on the path can make a server look closer
 * than it is.  The probe holds its own Noise context and sockets and never
 * touches the device's: a session in use is not disturbed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include <vpn/le.h>
#include <vpn/messages.h>

#include "cookie.h"
#include "noise.h"
#include "servers.h"

/* ------------------------------------------------------------------ */
/* Names, selections, ranking.                                         */

/* One character of @s folded: ASCII and UTF-8 Latin-1 capitals lowered.
 * Returns the bytes it took (1 or 2) and the folded value in *c. */
static size_t fold_next(const unsigned char *s, unsigned int *c)
{
	if (s[0] >= 'A' && s[0] <= 'Z') {
		*c = s[0] + ('a' - 'A');
		return 1;
	}
	/* U+00C0..U+00DE, but U+00D7 (the multiplication sign), are the
	 * capitals of U+00E0..U+00FE: C3 80..9E against C3 A0..BE. */
	if (s[0] == 0xc3 && s[1] >= 0x80 && s[1] <= 0x9e && s[1] != 0x97) {
		*c = 0xc300u | (s[1] + 0x20u);
		return 2;
	}
	if (s[0] == 0xc3 && s[1]) {
		*c = 0xc300u | s[1];
		return 2;
	}
	*c = s[0];
	return 1;
}

bool servers_name_equal(const char *a, const char *b)
{
	const unsigned char *x = (const unsigned char *)a;
	const unsigned char *y = (const unsigned char *)b;
	unsigned int cx, cy;

	while (*x && *y) {
		x += fold_next(x, &cx);
		y += fold_next(y, &cy);
		if (cx != cy)
			return false;
	}
	return !*x && !*y;
}

bool servers_entry_matches(const struct conf_server_entry *e,
			   enum conf_select kind, const char *value)
{
	switch (kind) {
	case CONF_SELECT_FASTEST:
		return true;
	case CONF_SELECT_COUNTRY:
		return value && servers_name_equal(e->country, value);
	case CONF_SELECT_CITY:
		return value && e->city && servers_name_equal(e->city, value);
	case CONF_SELECT_ID:
		return value && servers_name_equal(e->id, value);
	case CONF_SELECT_NONE:
		break;
	}
	return false;
}

const char *servers_selection_text(enum conf_select kind, const char *value,
				   char *buf, size_t len)
{
	switch (kind) {
	case CONF_SELECT_FASTEST:
		snprintf(buf, len, "fastest");
		break;
	case CONF_SELECT_COUNTRY:
		snprintf(buf, len, "country:%s", value ? value : "");
		break;
	case CONF_SELECT_CITY:
		snprintf(buf, len, "city:%s", value ? value : "");
		break;
	case CONF_SELECT_ID:
		snprintf(buf, len, "%s", value ? value : "");
		break;
	case CONF_SELECT_NONE:
		snprintf(buf, len, "none");
		break;
	}
	return buf;
}

/* Entries of one list are one array: their addresses are their order. */
static int rank_order(const void *pa, const void *pb)
{
	const struct servers_result *a = pa, *b = pb;
	bool ra = a->rtt_ns >= 0, rb = b->rtt_ns >= 0;

	if (ra != rb)
		return ra ? -1 : 1;
	if (ra && a->rtt_ns != b->rtt_ns)
		return a->rtt_ns < b->rtt_ns ? -1 : 1;
	return a->entry < b->entry ? -1 : a->entry > b->entry;
}

size_t servers_rank(struct servers_result *r, size_t n)
{
	size_t answered = 0;

	if (!n)
		return 0;
	qsort(r, n, sizeof(*r), rank_order);
	while (answered < n && r[answered].rtt_ns >= 0)
		answered++;
	return answered;
}

/* ------------------------------------------------------------------ */
/* Probing.                                                            */

struct probe_target {
	const struct conf_server_entry *entry;
	struct noise_remote remote;	/* its handshake: secrets */
	struct cookie_maker cookie;
	uint64_t sent;			/* ns; 0: not sent */
	int64_t rtt;			/* ns; -1: no answer (yet) */
};

/* In sodium_malloc()'d memory: our private key and the handshakes'
 * ephemeral keys are in it. */
struct servers_probe {
	size_t alloc;
	struct noise_ctx noise;
	int fd[2];			/* IPv4, IPv6; -1: none needed */
	uint64_t sent_at;
	size_t n, answered;
	struct probe_target t[];
};

static struct probe_target *target_by_index(struct servers_probe *p,
					    uint32_t index)
{
	for (size_t i = 0; i < p->n; i++)
		if (index && noise_handshake_index(&p->t[i].remote) == index)
			return &p->t[i];
	return NULL;
}

static struct noise_remote *up_remote_by_index(void *ctx, uint32_t index)
{
	struct probe_target *t = target_by_index(ctx, index);

	return t ? &t->remote : NULL;
}

/* A random index, not 0, that no other handshake of this probe has. */
static int up_index_new(void *ctx, struct noise_remote *remote,
			uint32_t *index)
{
	(void)remote;
	do
		*index = randombytes_random();
	while (!*index || target_by_index(ctx, *index));
	return 0;
}

static void up_index_drop(void *ctx, uint32_t index)
{
	(void)ctx;
	(void)index;
}

static struct noise_remote *up_remote_by_public(void *ctx,
						const uint8_t *public_key)
{
	(void)ctx;
	(void)public_key;
	return NULL;	/* a probe only initiates */
}

static int probe_socket(int family, uint32_t fwmark)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1, ret;

	if (fd < 0)
		return -errno;
	if (family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)))
		goto fail;
	if (fwmark &&
	    setsockopt(fd, SOL_SOCKET, SO_MARK, &fwmark, sizeof(fwmark)))
		goto fail;
	return fd;
fail:
	ret = -errno;
	close(fd);
	return ret;
}

void servers_probe_free(struct servers_probe *p)
{
	if (!p)
		return;
	for (int i = 0; i < 2; i++)
		if (p->fd[i] >= 0)
			close(p->fd[i]);
	/* Handshakes still unanswered live apart from the targets. */
	for (size_t i = 0; i < p->n; i++)
		noise_handshake_clear(&p->noise, &p->t[i].remote);
	sodium_memzero(p, p->alloc);
	sodium_free(p);
}

int servers_probe_new(struct servers_probe **out,
		      const struct conf_servers *list, enum conf_select kind,
		      const char *value, const struct conf_server_entry *skip,
		      const uint8_t private_key[KEY_LEN], uint32_t fwmark)
{
	struct servers_probe *p;
	size_t n = 0, alloc;
	bool want[2] = { false, false };
	int ret;

	*out = NULL;
	for (size_t i = 0; i < list->n_entry; i++)
		if (&list->entry[i] != skip &&
		    servers_entry_matches(&list->entry[i], kind, value))
			n++;
	if (!n)
		return -ENOENT;
	if (sodium_init() < 0)
		return -EIO;
	alloc = sizeof(*p) + n * sizeof(p->t[0]);
	p = sodium_malloc(alloc);
	if (!p)
		return -ENOMEM;
	memset(p, 0, alloc);
	p->alloc = alloc;
	p->fd[0] = p->fd[1] = -1;
	p->noise.up = (struct noise_upcalls){
		.ctx = p,
		.remote_by_public = up_remote_by_public,
		.remote_by_index = up_remote_by_index,
		.index_new = up_index_new,
		.index_drop = up_index_drop,
	};
	ret = noise_local_set_private(&p->noise, private_key);
	if (ret)
		goto fail;
	for (size_t i = 0; i < list->n_entry; i++) {
		const struct conf_server_entry *e = &list->entry[i];
		struct probe_target *t;

		if (e == skip || !servers_entry_matches(e, kind, value))
			continue;
		t = &p->t[p->n++];
		t->entry = e;
		t->rtt = -1;
		noise_remote_init(&t->remote, &p->noise, e->public_key,
				  e->preshared_key, t);
		cookie_maker_init(&t->cookie, e->public_key);
		want[e->endpoint.sa.sa_family == AF_INET6] = true;
	}
	for (int i = 0; i < 2; i++) {
		if (!want[i])
			continue;
		ret = probe_socket(i ? AF_INET6 : AF_INET, fwmark);
		if (ret < 0)
			goto fail;
		p->fd[i] = ret;
	}
	*out = p;
	return 0;
fail:
	servers_probe_free(p);
	return ret;
}

void servers_probe_fds(const struct servers_probe *p, int fd[2])
{
	fd[0] = p->fd[0];
	fd[1] = p->fd[1];
}

size_t servers_probe_count(const struct servers_probe *p)
{
	return p->n;
}

const struct conf_server_entry *servers_probe_entry(
	const struct servers_probe *p, size_t i)
{
	return i < p->n ? p->t[i].entry : NULL;
}

static socklen_t endpoint_len(const union conf_endpoint *e)
{
	return e->sa.sa_family == AF_INET6 ? sizeof(e->in6) : sizeof(e->in4);
}

int servers_probe_send(struct servers_probe *p, uint64_t now)
{
	uint8_t msg[MESSAGE_INITIATION_LEN];
	struct timespec wall;
	size_t sent = 0;
	int err = -ENETUNREACH;

	clock_gettime(CLOCK_REALTIME, &wall);
	for (size_t i = 0; i < p->n; i++) {
		struct probe_target *t = &p->t[i];
		const union conf_endpoint *ep = &t->entry->endpoint;
		int fd = p->fd[ep->sa.sa_family == AF_INET6];

		if (noise_handshake_create_initiation(&p->noise, &t->remote,
						      msg, &wall))
			continue;
		cookie_maker_add_macs(&t->cookie, msg, sizeof(msg), now);
		if (sendto(fd, msg, sizeof(msg), 0, &ep->sa,
			   endpoint_len(ep)) == (ssize_t)sizeof(msg)) {
			t->sent = now;
			sent++;
		} else {
			err = -errno;
		}
	}
	sodium_memzero(msg, sizeof(msg));
	p->sent_at = now;
	return sent ? 0 : err;
}

static bool from_endpoint(const struct sockaddr_storage *src,
			  const union conf_endpoint *ep)
{
	const struct sockaddr_in *a4 = (const struct sockaddr_in *)src;
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)src;

	if (src->ss_family != ep->sa.sa_family)
		return false;
	if (src->ss_family == AF_INET)
		return a4->sin_port == ep->in4.sin_port &&
		       a4->sin_addr.s_addr == ep->in4.sin_addr.s_addr;
	return a6->sin6_port == ep->in6.sin6_port &&
	       !memcmp(&a6->sin6_addr, &ep->in6.sin6_addr,
		       sizeof(a6->sin6_addr));
}

static void answered(struct servers_probe *p, struct probe_target *t,
		     uint64_t now)
{
	if (t->rtt >= 0 || !t->sent)
		return;
	t->rtt = (int64_t)(now - t->sent);
	p->answered++;
	/* The handshake has served: its secrets go now. */
	noise_handshake_clear(&p->noise, &t->remote);
}

/* One datagram: a response or a cookie reply to one of our initiations,
 * from the address it was sent to, that opens with that server's keys. */
static void probe_datagram(struct servers_probe *p, const uint8_t *buf,
			   size_t len, const struct sockaddr_storage *src,
			   uint64_t now)
{
	struct noise_remote *r = NULL;
	struct probe_target *t;

	if (len == MESSAGE_RESPONSE_LEN &&
	    get_le32(buf) == MESSAGE_HANDSHAKE_RESPONSE) {
		t = target_by_index(p, get_le32(buf + 8));
		if (!t || !from_endpoint(src, &t->entry->endpoint))
			return;
		if (noise_handshake_consume_response(&p->noise, buf, len, &r) ||
		    r != &t->remote)
			return;
		answered(p, t, now);
	} else if (len == MESSAGE_COOKIE_LEN &&
		   get_le32(buf) == MESSAGE_HANDSHAKE_COOKIE) {
		/* A server under load answers with a cookie: it is there,
		 * and the round trip is as real. */
		t = target_by_index(p, cookie_reply_receiver(buf));
		if (!t || !from_endpoint(src, &t->entry->endpoint))
			return;
		if (cookie_maker_consume_reply(&t->cookie, buf, len, now))
			return;
		answered(p, t, now);
	}
}

void servers_probe_input(struct servers_probe *p, int fd, uint64_t now)
{
	uint8_t buf[256];
	struct sockaddr_storage src;
	socklen_t slen;
	ssize_t n;

	for (;;) {
		slen = sizeof(src);
		n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&src,
			     &slen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;	/* EAGAIN, or an ICMP error: nothing to time */
		probe_datagram(p, buf, (size_t)n, &src, now);
	}
	sodium_memzero(buf, sizeof(buf));
}

bool servers_probe_complete(const struct servers_probe *p)
{
	return p->answered == p->n;
}

uint64_t servers_probe_sent_at(const struct servers_probe *p)
{
	return p->sent_at;
}

size_t servers_probe_results(const struct servers_probe *p,
			     struct servers_result *r)
{
	for (size_t i = 0; i < p->n; i++) {
		r[i].entry = p->t[i].entry;
		r[i].rtt_ns = p->t[i].rtt;
	}
	return servers_rank(r, p->n);
}

/* ------------------------------------------------------------------ */
/* Failover.                                                           */

void servers_failover_init(struct servers_failover *f, unsigned int after_s)
{
	memset(f, 0, sizeof(*f));
	f->after = (uint64_t)after_s * 1000000000ULL;
}

bool servers_failover_due(struct servers_failover *f, uint64_t heard,
			  uint64_t spoke, uint64_t now)
{
	if (!f->after)
		return false;
	if (heard > f->heard) {
		/* An answer: the server is alive, the backoff starts over. */
		f->heard = heard;
		f->misses = 0;
		f->not_before = 0;
	}
	if (spoke <= f->heard) {
		f->waiting_since = 0;
		return false;
	}
	if (!f->waiting_since)
		f->waiting_since = spoke;
	return now - f->waiting_since >= f->after && now >= f->not_before;
}

void servers_failover_switched(struct servers_failover *f, uint64_t now)
{
	unsigned int shift = f->misses ? f->misses - 1 : 0;
	uint64_t pause = (uint64_t)1 << (shift < 6 ? shift : 6);

	if (pause > SERVERS_BACKOFF_MAX_S)
		pause = SERVERS_BACKOFF_MAX_S;
	/* The first switch goes at once; each one after it without an
	 * answer in between waits 1, 2, 4 ... seconds more. */
	f->not_before = f->misses ? now + pause * 1000000000ULL : 0;
	f->misses++;
	f->count++;
	/* A new peer: its clocks start from nothing. */
	f->heard = 0;
	f->waiting_since = 0;
}

uint64_t servers_failover_waited(const struct servers_failover *f,
				 uint64_t now)
{
	return f->waiting_since && now > f->waiting_since ?
		       now - f->waiting_since : 0;
}

const struct conf_server_entry *servers_next_in_turn(
	const struct conf_servers *list, enum conf_select kind,
	const char *value, const struct conf_server_entry *current)
{
	size_t start = 0;

	if (current >= list->entry && current < list->entry + list->n_entry)
		start = (size_t)(current - list->entry) + 1;
	for (size_t k = 0; k < list->n_entry; k++) {
		const struct conf_server_entry *e =
			&list->entry[(start + k) % list->n_entry];

		if (servers_entry_matches(e, kind, value))
			return e;
	}
	return NULL;
}
