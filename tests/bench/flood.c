/* SPDX-License-Identifier: MIT */
/*
 * flood: sends invalid handshake initiations to one responder at a fixed
 * rate, for tests/bench/flood.sh.  Every packet is built before the clock
 * starts (a pool reused round-robin) so that the sending loop is only
 * sendmmsg() and pacing, and a single core reaches 100,000 packets/s.
 *
 *   flood [-P POOL] [-s SRC]... [-i PRIV] KIND RESPONDER_PUB HOST PORT RATE SECONDS
 *
 * KIND is what the responder has to do to reject a packet:
 *   random   148 random bytes with the initiation's type: MAC1 fails
 *   mac1     random body under a valid MAC1 (made with the responder's
 *            public key): passes MAC1, fails decrypting the static key
 *            after one Diffie-Hellman
 *   unknown  a correct initiation from a random static key the responder
 *            does not know, made with vpnd's own noise.c: passes MAC1 and
 *            decryption, and is rejected only by the key lookup
 *   mixed    the three in turn
 * Each -s SRC binds one more socket to that local IPv4 address; batches
 * go out of the sockets in turn (the responder sees several sources).
 * -i PRIV (base64) makes the "unknown" initiations come from that one
 * static key instead: the check that they are valid initiations is to
 * configure its public key on the responder and count its responses.
 * RATE 0 sends as fast as the socket takes packets.  SIGINT or SIGTERM ends
 * the flood early, with the same report: a script floods for exactly as
 * long as its measurement lasts.
 *
 * What comes back (cookie replies, anything else) is counted.  It prints
 * "flood: start" once the packets are built and the flood begins, and at
 * the end "flood: name value ..." for the script to read.  Benchmark tool
 * only: not built by "make all", not run by CI.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include <vpn/key.h>
#include <vpn/messages.h>

#include "cookie.h"
#include "crypto.h"
#include "noise.h"

enum {
	FLOOD_MAX_SOURCES = 64,
	FLOOD_BATCH = 64,		/* packets per sendmmsg() */
	FLOOD_DEFAULT_POOL = 4096,
	FLOOD_DRAIN_NS = 300000000,	/* listen for late replies */
};

enum flood_kind { KIND_RANDOM, KIND_MAC1, KIND_UNKNOWN, KIND_MIXED };

static const char *const kind_names[] = { "random", "mac1", "unknown", "mixed" };

struct flood {
	uint8_t (*pool)[MESSAGE_INITIATION_LEN];
	struct mmsghdr *msgs;		/* one per pool packet, prebuilt */
	struct iovec *iov;
	uint32_t npool;
	int fds[FLOOD_MAX_SOURCES];
	unsigned int nfds;
	uint64_t sent, send_errors, cookies, responses, other;
};

/* Set by SIGINT and SIGTERM: stop sending, report. */
static volatile sig_atomic_t stop_early;

static void on_stop(int sig)
{
	(void)sig;
	stop_early = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The header of an initiation: type 1, three reserved zero bytes. */
static void random_initiation(uint8_t *pkt)
{
	randombytes_buf(pkt, MESSAGE_INITIATION_LEN);
	memset(pkt, 0, 4);
	pkt[INITIATION_OFF_TYPE] = MESSAGE_HANDSHAKE_INITIATION;
}

/* A random body that the responder's MAC1 check accepts; MAC2 is zero, as
 * from an initiator that holds no cookie. */
static void mac1_initiation(uint8_t *pkt, struct cookie_maker *maker)
{
	random_initiation(pkt);
	memset(pkt + INITIATION_OFF_MAC1, 0, MACS_LEN);
	cookie_maker_add_macs(maker, pkt, MESSAGE_INITIATION_LEN, now_ns());
}

/* The unknown initiators keep no state: no index is ever looked up again. */
static struct noise_remote *no_remote(void *ctx, const uint8_t *key)
{
	(void)ctx;
	(void)key;
	return NULL;
}

static struct noise_remote *no_index(void *ctx, uint32_t index)
{
	(void)ctx;
	(void)index;
	return NULL;
}

static int random_index(void *ctx, struct noise_remote *r, uint32_t *index)
{
	(void)ctx;
	(void)r;
	*index = randombytes_random();
	return 0;
}

static void forget_index(void *ctx, uint32_t index)
{
	(void)ctx;
	(void)index;
}

/* A complete, valid initiation from a fresh random static key. */
static int unknown_initiation(uint8_t *pkt, struct cookie_maker *maker,
			      const uint8_t resp_pub[NOISE_PUBLIC_KEY_LEN],
			      const uint8_t *fixed_priv)
{
	struct noise_ctx ctx = { .up = { NULL, no_remote, no_index,
					 random_index, forget_index } };
	struct noise_remote r;
	uint8_t priv[NOISE_PUBLIC_KEY_LEN];
	struct timespec wall;
	int ret = -1;

	if (fixed_priv)
		memcpy(priv, fixed_priv, sizeof(priv));
	else
		wg_generate_private(priv, NULL);
	if (noise_local_set_private(&ctx, priv))
		goto out;
	noise_remote_init(&r, &ctx, resp_pub, NULL, NULL);
	clock_gettime(CLOCK_REALTIME, &wall);
	if (noise_handshake_create_initiation(&ctx, &r, pkt, &wall) == 0) {
		cookie_maker_add_macs(maker, pkt, MESSAGE_INITIATION_LEN, now_ns());
		ret = 0;
	}
	noise_remote_clear(&ctx, &r);
out:
	noise_local_clear(&ctx);
	sodium_memzero(priv, sizeof(priv));
	return ret;
}

static int build_pool(struct flood *f, enum flood_kind kind,
		      const uint8_t resp_pub[NOISE_PUBLIC_KEY_LEN],
		      const uint8_t *fixed_priv)
{
	struct cookie_maker maker;
	enum flood_kind k;

	cookie_maker_init(&maker, resp_pub);
	f->pool = calloc(f->npool, sizeof(*f->pool));
	f->msgs = calloc(f->npool, sizeof(*f->msgs));
	f->iov = calloc(f->npool, sizeof(*f->iov));
	if (!f->pool || !f->msgs || !f->iov)
		return -1;
	for (uint32_t i = 0; i < f->npool; i++) {
		k = kind == KIND_MIXED ? (enum flood_kind)(i % 3) : kind;
		if (k == KIND_RANDOM)
			random_initiation(f->pool[i]);
		else if (k == KIND_MAC1)
			mac1_initiation(f->pool[i], &maker);
		else if (unknown_initiation(f->pool[i], &maker, resp_pub,
					    fixed_priv))
			return -1;
		f->iov[i] = (struct iovec){ f->pool[i], MESSAGE_INITIATION_LEN };
		f->msgs[i].msg_hdr.msg_iov = &f->iov[i];
		f->msgs[i].msg_hdr.msg_iovlen = 1;
	}
	return 0;
}

static void count_reply(struct flood *f, const uint8_t *msg, size_t len)
{
	if (len == MESSAGE_COOKIE_LEN && msg[0] == MESSAGE_HANDSHAKE_COOKIE)
		f->cookies++;
	else if (len == MESSAGE_RESPONSE_LEN && msg[0] == MESSAGE_HANDSHAKE_RESPONSE)
		f->responses++;
	else
		f->other++;
}

static void drain(struct flood *f)
{
	uint8_t buf[FLOOD_BATCH][128];
	struct mmsghdr msgs[FLOOD_BATCH];
	struct iovec iov[FLOOD_BATCH];
	int n;

	for (unsigned int s = 0; s < f->nfds; s++) {
		do {
			for (int i = 0; i < FLOOD_BATCH; i++) {
				iov[i] = (struct iovec){ buf[i], sizeof(buf[i]) };
				memset(&msgs[i], 0, sizeof(msgs[i]));
				msgs[i].msg_hdr.msg_iov = &iov[i];
				msgs[i].msg_hdr.msg_iovlen = 1;
			}
			n = recvmmsg(f->fds[s], msgs, FLOOD_BATCH, MSG_DONTWAIT, NULL);
			for (int i = 0; i < n; i++)
				count_reply(f, buf[i], msgs[i].msg_len);
		} while (n == FLOOD_BATCH);
	}
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000ull),
			       (long)(ns % 1000000000ull) };

	nanosleep(&ts, NULL);
}

/*
 * Sends what the rate owes at each moment, FLOOD_BATCH at a time from the
 * pool, and sleeps when it is ahead.  Behind (the socket or the core being
 * the limit), it just keeps sending: the achieved rate is what it reports.
 */
static void flood_run(struct flood *f, double rate, double seconds,
		      uint64_t *elapsed)
{
	uint64_t start = now_ns(), end = start + (uint64_t)(seconds * 1e9);
	uint64_t now = start, owed;
	uint32_t pos = 0;
	unsigned int src = 0, calls = 0;
	int n;

	while (now < end && !stop_early) {
		owed = rate > 0 ? (uint64_t)((now - start) * rate / 1e9) - f->sent
				: FLOOD_BATCH;
		if (owed == 0 || (int64_t)owed < 0) {
			drain(f);
			sleep_ns(50000);
			now = now_ns();
			continue;
		}
		if (owed > FLOOD_BATCH)
			owed = FLOOD_BATCH;
		if (owed > f->npool - pos)
			owed = f->npool - pos;
		n = sendmmsg(f->fds[src], &f->msgs[pos], (unsigned int)owed, 0);
		if (n > 0) {
			f->sent += (uint64_t)n;
			pos = (pos + (uint32_t)n) % f->npool;
		} else {
			/* ENOBUFS, a refused port: not sent, counted apart;
			 * the next call tries the next packet. */
			f->send_errors++;
			pos = (pos + 1) % f->npool;
		}
		src = (src + 1) % f->nfds;
		/* Behind its rate it never sleeps: still read the replies
		 * now and then, before they overflow the receive buffer. */
		if (++calls % 64 == 0)
			drain(f);
		now = now_ns();
	}
	*elapsed = now - start;
	while (now_ns() < *elapsed + start + FLOOD_DRAIN_NS) {
		drain(f);
		sleep_ns(10000000);
	}
	drain(f);
}

static int open_socket(const char *src, const struct sockaddr_in *dst)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd, big = 4 << 20;

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		return -1;
	/* Cookie replies may come back at the flood's own rate, and a
	 * small send buffer would make sendmmsg() wait for the receiving
	 * side's softirq. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	if (src && inet_pton(AF_INET, src, &sin.sin_addr) != 1) {
		close(fd);
		return -1;
	}
	if ((src && bind(fd, (struct sockaddr *)&sin, sizeof(sin))) ||
	    connect(fd, (const struct sockaddr *)dst, sizeof(*dst))) {
		close(fd);
		return -1;
	}
	return fd;
}

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int usage(void)
{
	fprintf(stderr, "usage: flood [-P POOL] [-s SRC]... [-i PRIV] "
		"random|mac1|unknown|mixed RESPONDER_PUB HOST PORT RATE SECONDS\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct flood f = { .npool = FLOOD_DEFAULT_POOL };
	struct sockaddr_in dst = { .sin_family = AF_INET };
	const char *srcs[FLOOD_MAX_SOURCES];
	uint8_t resp_pub[NOISE_PUBLIC_KEY_LEN], fixed[NOISE_PUBLIC_KEY_LEN];
	const char *fixed_b64 = NULL;
	unsigned int nsrc = 0;
	int kind = -1, opt;
	uint64_t elapsed;
	double rate, seconds, cpu;

	while ((opt = getopt(argc, argv, "P:s:i:")) != -1) {
		if (opt == 'i')
			fixed_b64 = optarg;
		else if (opt == 'P')
			f.npool = (uint32_t)strtoul(optarg, NULL, 0);
		else if (opt == 's' && nsrc < FLOOD_MAX_SOURCES)
			srcs[nsrc++] = optarg;
		else
			return usage();
	}
	if (argc - optind != 6 || f.npool == 0)
		return usage();
	argv += optind;
	for (int k = 0; k < 4; k++)
		if (!strcmp(argv[0], kind_names[k]))
			kind = k;
	rate = atof(argv[4]);
	seconds = atof(argv[5]);
	dst.sin_port = htons((uint16_t)atoi(argv[3]));
	if (kind < 0 || rate < 0 || seconds <= 0 ||
	    inet_pton(AF_INET, argv[2], &dst.sin_addr) != 1)
		return usage();
	if (wg_init() || key_from_base64(resp_pub, argv[1])) {
		fprintf(stderr, "flood: bad responder public key\n");
		return 1;
	}
	if (fixed_b64 && key_from_base64(fixed, fixed_b64)) {
		fprintf(stderr, "flood: bad private key after -i\n");
		return 1;
	}
	for (unsigned int s = 0; s < (nsrc ? nsrc : 1); s++) {
		f.fds[s] = open_socket(nsrc ? srcs[s] : NULL, &dst);
		if (f.fds[s] < 0) {
			fprintf(stderr, "flood: cannot send from %s to %s:%s: %s\n",
				nsrc ? srcs[s] : "any", argv[2], argv[3],
				strerror(errno));
			return 1;
		}
		f.nfds++;
	}
	if (build_pool(&f, (enum flood_kind)kind, resp_pub,
		       fixed_b64 ? fixed : NULL)) {
		fprintf(stderr, "flood: cannot build the packets\n");
		return 1;
	}
	signal(SIGINT, on_stop);
	signal(SIGTERM, on_stop);
	/* Building "unknown" packets takes a DH each: a script waits for
	 * this line before it starts measuring. */
	printf("flood: start\n");
	fflush(stdout);
	cpu = cpu_seconds();
	flood_run(&f, rate, seconds, &elapsed);
	cpu = cpu_seconds() - cpu;
	printf("flood: kind %s sources %u target_per_s %.0f seconds %.2f sent %llu "
	       "sent_per_s %.0f send_errors %llu cookies %llu cookies_per_s %.0f "
	       "responses %llu other %llu cpu_pct %.0f\n",
	       kind_names[kind], f.nfds, rate, elapsed / 1e9,
	       (unsigned long long)f.sent, f.sent / (elapsed / 1e9),
	       (unsigned long long)f.send_errors, (unsigned long long)f.cookies,
	       f.cookies / (elapsed / 1e9), (unsigned long long)f.responses,
	       (unsigned long long)f.other, 100 * cpu / (elapsed / 1e9));
	for (unsigned int s = 0; s < f.nfds; s++)
		close(f.fds[s]);
	sodium_memzero(fixed, sizeof(fixed));
	free(f.pool);
	free(f.msgs);
	free(f.iov);
	return 0;
}
