// SPDX-License-Identifier: MIT
/*
 * relay: a lossy, reordering UDP relay for the soak benchmark (soak.sh).
 *
 * This kernel has no netem, so the soak puts this program on the UDP path
 * between two tunnel daemons: the client sends to the relay's front socket,
 * the relay forwards to the server from a back socket, and the server's
 * replies go back the same way.  Each datagram, in either direction, is
 * dropped with probability LOSS, and otherwise held back with probability
 * REORDER until the next datagram in that direction has gone out (or
 * HOLD_MS have passed), so that the two swap places.
 *
 * SIGUSR1 makes the relay "roam": it opens a new back socket on the next
 * address of its list and the next port, and closes the old one, so the
 * server sees the client arrive from a new address and port, and its
 * replies to the old one are lost until it follows (WireGuard's roaming
 * rule: the endpoint is the source of the last authenticated packet).
 *
 * Counters go to STATSFILE once a second and at exit (written to a
 * temporary file and renamed, so a reader never sees half a line):
 *   fwd_cs drop_cs reord_cs fwd_sc drop_sc reord_sc roams back_addr:port
 * (cs: client to server, sc: server to client).
 *
 *   relay -l FRONT_ADDR:PORT -s SERVER_ADDR:PORT -b BACK_ADDR[,BACK_ADDR...]
 *         -p FIRST_BACK_PORT [-L LOSS_PCT] [-R REORDER_PCT] [-S SEED]
 *         [-H HOLD_MS] [-o STATSFILE]
 *
 * IPv4 only: the soak's outer addresses are IPv4.  Not a test, not in CI:
 * built by `make bench-tools`.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum {
	RELAY_MAX_BACK = 8,
	RELAY_DGRAM_MAX = 65536,
};

struct held {
	uint8_t buf[RELAY_DGRAM_MAX];
	size_t len;
	bool full;
	uint64_t since_ms;
};

struct direction {
	struct held held;
	uint64_t forwarded, dropped, reordered;
};

struct relay {
	int front, back;
	struct sockaddr_in server, client, back_addrs[RELAY_MAX_BACK];
	bool client_known;
	unsigned int n_back, back_idx;
	uint16_t back_port;
	uint32_t loss_ppm, reorder_ppm;
	uint64_t hold_ms, rng, roams;
	struct direction cs, sc;
	const char *stats_path;
};

static volatile sig_atomic_t roam_requested, stop_requested;

static void on_usr1(int sig) { (void)sig; roam_requested = 1; }
static void on_term(int sig) { (void)sig; stop_requested = 1; }

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* xorshift64*: reproducible from the seed, which is all a test needs. */
static uint32_t rng_ppm(struct relay *r)
{
	r->rng ^= r->rng >> 12;
	r->rng ^= r->rng << 25;
	r->rng ^= r->rng >> 27;
	return (uint32_t)((r->rng * 2685821657736338717ULL) >> 32) % 1000000;
}

static int parse_addr(const char *s, struct sockaddr_in *sa, bool want_port)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	size_t hl = colon ? (size_t)(colon - s) : strlen(s);
	char *end;
	long port = 0;

	if (hl >= sizeof(host) || (want_port && !colon) || (!want_port && colon))
		return -1;
	memcpy(host, s, hl);
	host[hl] = 0;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return -1;
	if (want_port) {
		port = strtol(colon + 1, &end, 10);
		if (*end || port < 1 || port > 65535)
			return -1;
	}
	sa->sin_port = htons((uint16_t)port);
	return 0;
}

static int parse_pct(const char *s, uint32_t *ppm)
{
	char *end;
	double v = strtod(s, &end);

	if (*end || end == s || v < 0 || v > 100)
		return -1;
	*ppm = (uint32_t)(v * 10000 + 0.5);
	return 0;
}

static int udp_bound(const struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1, big = 4 << 20;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The next back address and port; the old socket goes, with what it had. */
static int back_open(struct relay *r)
{
	struct sockaddr_in sa = r->back_addrs[r->back_idx];
	int fd;

	sa.sin_port = htons(r->back_port);
	fd = udp_bound(&sa);
	if (fd < 0) {
		fprintf(stderr, "relay: cannot bind %s:%u: %s\n",
			inet_ntoa(sa.sin_addr), r->back_port, strerror(errno));
		return -1;
	}
	if (r->back >= 0)
		close(r->back);
	r->back = fd;
	return 0;
}

static int roam(struct relay *r)
{
	r->back_idx = (r->back_idx + 1) % r->n_back;
	r->back_port = r->back_port == 65535 ? 1024 : r->back_port + 1;
	if (back_open(r))
		return -1;
	r->roams++;
	return 0;
}

static void stats_write(const struct relay *r)
{
	char tmp[4096];
	FILE *f;

	if (!r->stats_path)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", r->stats_path);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "%llu %llu %llu %llu %llu %llu %llu %s:%u\n",
		(unsigned long long)r->cs.forwarded,
		(unsigned long long)r->cs.dropped,
		(unsigned long long)r->cs.reordered,
		(unsigned long long)r->sc.forwarded,
		(unsigned long long)r->sc.dropped,
		(unsigned long long)r->sc.reordered,
		(unsigned long long)r->roams,
		inet_ntoa(r->back_addrs[r->back_idx].sin_addr), r->back_port);
	if (fclose(f) == 0)
		rename(tmp, r->stats_path);
}

static void emit(struct direction *d, int fd, const struct sockaddr_in *to,
		 const uint8_t *buf, size_t len)
{
	/* A full socket buffer is a loss the relay did not choose; count it so. */
	if (sendto(fd, buf, len, 0, (const struct sockaddr *)to, sizeof(*to)) < 0)
		d->dropped++;
	else
		d->forwarded++;
}

static void flush_held(struct direction *d, int fd, const struct sockaddr_in *to)
{
	if (!d->held.full)
		return;
	d->held.full = false;
	emit(d, fd, to, d->held.buf, d->held.len);
}

/* One datagram through the lossy, reordering path. */
static void pass(struct relay *r, struct direction *d, int fd,
		 const struct sockaddr_in *to, const uint8_t *buf, size_t len)
{
	if (rng_ppm(r) < r->loss_ppm) {
		d->dropped++;
		return;
	}
	if (!d->held.full && rng_ppm(r) < r->reorder_ppm) {
		memcpy(d->held.buf, buf, len);
		d->held.len = len;
		d->held.full = true;
		d->held.since_ms = now_ms();
		d->reordered++;
		return;
	}
	emit(d, fd, to, buf, len);
	/* The held datagram goes out after the one that overtook it. */
	flush_held(d, fd, to);
}

/*
 * Up to a batch of datagrams from one socket: from the client on the front
 * socket (whose source becomes where replies go), or from the server on the
 * back socket (only the server's, and only once a client has spoken).
 */
static void drain(struct relay *r, bool from_client, uint8_t *buf)
{
	struct sockaddr_in src;
	socklen_t sl;
	ssize_t n;

	for (int i = 0; i < 64; i++) {
		sl = sizeof(src);
		n = recvfrom(from_client ? r->front : r->back, buf,
			     RELAY_DGRAM_MAX, 0, (struct sockaddr *)&src, &sl);
		if (n < 0)
			return;
		if (from_client) {
			r->client = src;
			r->client_known = true;
			pass(r, &r->cs, r->back, &r->server, buf, (size_t)n);
		} else if (src.sin_addr.s_addr == r->server.sin_addr.s_addr &&
			   src.sin_port == r->server.sin_port && r->client_known) {
			pass(r, &r->sc, r->front, &r->client, buf, (size_t)n);
		}
	}
}

static void expire_held(struct relay *r, uint64_t now)
{
	if (r->cs.held.full && now - r->cs.held.since_ms >= r->hold_ms)
		flush_held(&r->cs, r->back, &r->server);
	if (r->sc.held.full && now - r->sc.held.since_ms >= r->hold_ms)
		flush_held(&r->sc, r->front, &r->client);
}

static int parse_back(struct relay *r, char *list)
{
	char *save = NULL;

	for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (r->n_back == RELAY_MAX_BACK ||
		    parse_addr(t, &r->back_addrs[r->n_back], false))
			return -1;
		r->n_back++;
	}
	return r->n_back ? 0 : -1;
}

static void usage(void)
{
	fprintf(stderr, "usage: relay -l FRONT_ADDR:PORT -s SERVER_ADDR:PORT "
		"-b BACK_ADDR[,BACK_ADDR...] -p FIRST_BACK_PORT\n"
		"             [-L LOSS_PCT] [-R REORDER_PCT] [-S SEED] [-H HOLD_MS] "
		"[-o STATSFILE]\n");
}

static int relay_parse(struct relay *r, int argc, char **argv)
{
	struct sockaddr_in front = { 0 };
	bool have_front = false;
	char *end;
	long v;
	int c;

	while ((c = getopt(argc, argv, "l:s:b:p:L:R:S:H:o:")) != -1) {
		switch (c) {
		case 'l':
			if (parse_addr(optarg, &front, true))
				goto bad;
			have_front = true;
			break;
		case 's':
			if (parse_addr(optarg, &r->server, true))
				goto bad;
			break;
		case 'b':
			if (parse_back(r, optarg))
				goto bad;
			break;
		case 'p':
			v = strtol(optarg, &end, 10);
			if (*end || v < 1024 || v > 65535)
				goto bad;
			r->back_port = (uint16_t)v;
			break;
		case 'L':
			if (parse_pct(optarg, &r->loss_ppm))
				goto bad;
			break;
		case 'R':
			if (parse_pct(optarg, &r->reorder_ppm))
				goto bad;
			break;
		case 'S':
			r->rng = strtoull(optarg, &end, 0);
			if (*end)
				goto bad;
			break;
		case 'H':
			v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 10000)
				goto bad;
			r->hold_ms = (uint64_t)v;
			break;
		case 'o':
			r->stats_path = optarg;
			break;
		default:
			usage();
			return -1;
		}
	}
	if (!have_front || !r->server.sin_port || !r->n_back || !r->back_port) {
		usage();
		return -1;
	}
	r->rng = r->rng ? r->rng : 0x9e3779b97f4a7c15ULL;   /* xorshift needs non-zero */
	r->front = udp_bound(&front);
	if (r->front < 0) {
		fprintf(stderr, "relay: cannot bind the front socket %s: %s\n",
			inet_ntoa(front.sin_addr), strerror(errno));
		return -1;
	}
	return back_open(r);
bad:
	fprintf(stderr, "relay: bad value for -%c: '%s'\n", c, optarg);
	usage();
	return -1;
}

int main(int argc, char **argv)
{
	static uint8_t buf[RELAY_DGRAM_MAX];
	static struct relay r = { .front = -1, .back = -1, .hold_ms = 5 };
	struct sigaction sa = { 0 };
	uint64_t last_stats = 0, now;
	struct pollfd p[2];

	if (relay_parse(&r, argc, argv))
		return 2;
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	while (!stop_requested) {
		if (roam_requested) {
			roam_requested = 0;
			if (roam(&r))
				return 1;
		}
		p[0] = (struct pollfd){ .fd = r.front, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = r.back, .events = POLLIN };
		if (poll(p, 2, (int)r.hold_ms) < 0 && errno != EINTR) {
			perror("relay: poll");
			return 1;
		}
		if (p[0].revents & POLLIN)
			drain(&r, true, buf);
		if (p[1].revents & POLLIN)
			drain(&r, false, buf);
		now = now_ms();
		expire_held(&r, now);
		if (now - last_stats >= 1000) {
			stats_write(&r);
			last_stats = now;
		}
	}
	stats_write(&r);
	return 0;
}
