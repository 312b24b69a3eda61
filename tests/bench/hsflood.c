/* SPDX-License-Identifier: MIT */
/*
 * hsflood: the initiator side of the handshake benchmark.  It holds the
 * private keys of many peers (derived from their number, so the responder's
 * configuration can be generated without passing secrets around), sends
 * their initiations to one responder, and completes each handshake by
 * consuming the response with vpnd's own noise.c.  Only a consumed, valid
 * response counts; cookie replies and timeouts are counted apart.
 *
 *   hsflood conf N             print "wg setconf" peer sections for N peers
 *   hsflood pub N              print only the public key of peer N-1
 *   hsflood run PUB HOST PORT N SECONDS [WINDOW]
 *
 * Benchmark tool only: not built by "make all", not run by CI.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include <vpn/key.h>
#include <vpn/le.h>
#include <vpn/messages.h>

#include "cookie.h"
#include "crypto.h"
#include "noise.h"

#define HS_TIMEOUT_NS 500000000ull

struct hs_peer {
	struct noise_remote remote;
	struct cookie_maker maker;
	struct noise_local local;	/* this peer's identity */
	uint64_t sent_at;		/* 0: nothing outstanding */
};

struct hs_bench {
	struct noise_ctx noise;
	struct hs_peer *peers;
	uint32_t npeers;
	uint64_t completed, cookies, timeouts, bad;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Peer i's private key: a hash of its number, so conf and run agree. */
static void peer_private(uint8_t priv[KEY_LEN], uint32_t i)
{
	char seed[32];
	int n = snprintf(seed, sizeof(seed), "hsflood peer %u", i);

	wg_hash(priv, seed, (size_t)n);
	wg_clamp(priv);
}

static int print_conf(uint32_t n, bool only_last)
{
	uint8_t priv[KEY_LEN], pub[KEY_LEN];
	char b64[KEY_BASE64_LEN + 1];

	for (uint32_t i = only_last ? n - 1 : 0; i < n; i++) {
		peer_private(priv, i);
		if (wg_public_from_private(pub, priv))
			return -1;
		key_to_base64(b64, pub);
		if (only_last)
			printf("%s\n", b64);
		else
			printf("[Peer]\nPublicKey = %s\nAllowedIPs = 10.%u.%u.%u/32\n",
			       b64, 64 + (i >> 16), (i >> 8) & 255, i & 255);
	}
	sodium_memzero(priv, sizeof(priv));
	return 0;
}

/* Index i + 1 names peer i's handshake: one in flight per peer at most. */
static struct noise_remote *by_index(void *ctx, uint32_t index)
{
	struct hs_bench *b = ctx;

	if (index == 0 || index > b->npeers)
		return NULL;
	return &b->peers[index - 1].remote;
}

static int index_new(void *ctx, struct noise_remote *r, uint32_t *index)
{
	struct hs_bench *b = ctx;

	*index = (uint32_t)((struct hs_peer *)r - b->peers) + 1;
	return 0;
}

static void index_drop(void *ctx, uint32_t index)
{
	(void)ctx;
	(void)index;
}

static struct noise_remote *by_public(void *ctx, const uint8_t *pub)
{
	(void)ctx;
	(void)pub;
	return NULL;
}

static void become(struct hs_bench *b, const struct hs_peer *p)
{
	b->noise.local = p->local;
}

static int send_initiation(struct hs_bench *b, struct hs_peer *p, int fd,
			   uint64_t now)
{
	uint8_t msg[MESSAGE_INITIATION_LEN];
	struct timespec wall;

	clock_gettime(CLOCK_REALTIME, &wall);
	become(b, p);
	if (noise_handshake_create_initiation(&b->noise, &p->remote, msg, &wall))
		return -1;
	cookie_maker_add_macs(&p->maker, msg, sizeof(msg), now);
	if (send(fd, msg, sizeof(msg), 0) < 0 && errno != EAGAIN &&
	    errno != ECONNREFUSED)
		return -1;
	p->sent_at = now;
	return 0;
}

static void receive_one(struct hs_bench *b, const uint8_t *msg, size_t len,
			uint64_t now)
{
	struct noise_keypair kp;
	struct noise_remote *r;
	struct hs_peer *p;

	if (len == MESSAGE_COOKIE_LEN && msg[0] == MESSAGE_HANDSHAKE_COOKIE) {
		r = by_index(b, cookie_reply_receiver(msg));
		if (r) {
			p = (struct hs_peer *)r;
			cookie_maker_consume_reply(&p->maker, msg, len, now);
			p->sent_at = 0;
		}
		b->cookies++;
		return;
	}
	if (len != MESSAGE_RESPONSE_LEN || msg[0] != MESSAGE_HANDSHAKE_RESPONSE) {
		b->bad++;
		return;
	}
	r = by_index(b, get_le32(msg + RESPONSE_OFF_RECEIVER));
	if (!r) {
		b->bad++;
		return;
	}
	become(b, (struct hs_peer *)r);
	if (noise_handshake_consume_response(&b->noise, msg, len, &r) ||
	    noise_handshake_begin_session(r, &kp, now)) {
		b->bad++;
		return;
	}
	sodium_memzero(&kp, sizeof(kp));
	((struct hs_peer *)r)->sent_at = 0;
	b->completed++;
}

static int drain(struct hs_bench *b, int fd, uint64_t now)
{
	uint8_t buf[256];
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) >= 0)
		receive_one(b, buf, (size_t)n, now);
	return errno == EAGAIN || errno == ECONNREFUSED ? 0 : -1;
}

static int setup(struct hs_bench *b, const char *pub_b64, uint32_t n)
{
	uint8_t resp_pub[KEY_LEN], priv[KEY_LEN];

	if (key_from_base64(resp_pub, pub_b64))
		return -1;
	b->noise.up = (struct noise_upcalls){ b, by_public, by_index,
					      index_new, index_drop };
	b->npeers = n;
	b->peers = calloc(n, sizeof(*b->peers));
	if (!b->peers)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		struct hs_peer *p = &b->peers[i];

		/* Each peer is its own initiator: its identity is swapped
		 * into the one context before each step (become()). */
		peer_private(priv, i);
		if (noise_local_set_private(&b->noise, priv))
			return -1;
		p->local = b->noise.local;
		noise_remote_init(&p->remote, &b->noise, resp_pub, NULL, p);
		cookie_maker_init(&p->maker, resp_pub);
	}
	sodium_memzero(priv, sizeof(priv));
	return 0;
}

/*
 * Keeps up to window initiations outstanding, going round the peers so
 * that each peer's initiations are far apart (the responder refuses one
 * peer's initiations closer than 20 ms), for the given seconds.
 */
static int run(struct hs_bench *b, int fd, double seconds, uint32_t window)
{
	uint64_t start = now_ns(), end = start + (uint64_t)(seconds * 1e9);
	uint64_t now = start;
	uint32_t next = 0, outstanding;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	while (now < end) {
		outstanding = 0;
		for (uint32_t i = 0; i < b->npeers; i++) {
			struct hs_peer *p = &b->peers[i];

			if (p->sent_at && now - p->sent_at > HS_TIMEOUT_NS) {
				p->sent_at = 0;
				b->timeouts++;
			}
			outstanding += p->sent_at != 0;
		}
		for (uint32_t tries = 0; outstanding < window &&
		     tries < b->npeers; tries++) {
			struct hs_peer *p = &b->peers[next];

			next = (next + 1) % b->npeers;
			if (p->sent_at)
				continue;
			if (send_initiation(b, p, fd, now))
				return -1;
			outstanding++;
		}
		if (poll(&pfd, 1, 5) < 0 && errno != EINTR)
			return -1;
		now = now_ns();
		if (drain(b, fd, now))
			return -1;
	}
	printf("hsflood: peers %u window %u seconds %.2f completed %llu "
	       "hs_per_s %.0f cookies %llu timeouts %llu bad %llu\n",
	       b->npeers, window, (now - start) / 1e9,
	       (unsigned long long)b->completed,
	       b->completed / ((now - start) / 1e9),
	       (unsigned long long)b->cookies,
	       (unsigned long long)b->timeouts, (unsigned long long)b->bad);
	return 0;
}

static int connect_to(const char *host, const char *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd;

	sin.sin_port = htons((uint16_t)atoi(port));
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		return -1;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)))
		return -1;
	return fd;
}

int main(int argc, char **argv)
{
	struct hs_bench b = { 0 };
	uint32_t n;
	int fd;

	if (wg_init())
		return 1;
	if (argc == 3 && !strcmp(argv[1], "conf"))
		return print_conf((uint32_t)strtoul(argv[2], NULL, 0), false) ? 1 : 0;
	if (argc == 3 && !strcmp(argv[1], "pub"))
		return print_conf((uint32_t)strtoul(argv[2], NULL, 0), true) ? 1 : 0;
	if ((argc != 7 && argc != 8) || strcmp(argv[1], "run")) {
		fprintf(stderr, "usage: hsflood conf N | pub N | "
			"run PUB HOST PORT N SECONDS [WINDOW]\n");
		return 2;
	}
	n = (uint32_t)strtoul(argv[5], NULL, 0);
	if (n == 0 || setup(&b, argv[2], n)) {
		fprintf(stderr, "hsflood: bad responder key or peer count\n");
		return 1;
	}
	fd = connect_to(argv[3], argv[4]);
	if (fd < 0) {
		fprintf(stderr, "hsflood: cannot reach %s:%s\n", argv[3], argv[4]);
		return 1;
	}
	if (run(&b, fd, atof(argv[6]), argc == 8 ?
		(uint32_t)strtoul(argv[7], NULL, 0) : 64)) {
		perror("hsflood");
		return 1;
	}
	close(fd);
	free(b.peers);
	return 0;
}
