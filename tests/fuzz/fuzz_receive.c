/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the daemon's receive path, receive_datagram() in vpnd/receive.c,
 * on a whole device: every UDP datagram the Internet sends us goes through
 * it, and behind it are the MAC and load checks, the handshake, the index
 * table, keypair rotation, the replay window, roaming, the allowed-IPs
 * check on decrypted packets, the timers and the replies we send.
 *
 * The device is built here as device_init() builds it, minus the TUN
 * device, the sockets and the netlink watch: device.c, send.c and
 * receive.c are included so that their calls to sendto(), write() and
 * clock_gettime() come to this file instead.  What the device sends is
 * captured, and clocks are virtual, so an input replays exactly (libsodium's
 * generator is made deterministic too).
 *
 * Two remote peers, A (IPv4 endpoint, no psk) and B (IPv6 endpoint, psk,
 * persistent keepalive), are played in-process with the core's own
 * noise.c and cookie.c: they make genuine initiations, responses, cookie
 * replies and data messages, so that the fuzzer gets past MAC1 and the
 * AEAD tags and reaches the state behind them.  The input is a script of
 * steps (see enum op): raw datagrams, raw datagrams given a valid MAC1,
 * genuine messages with bytes flipped before or after the MACs, data
 * messages carrying input bytes (optionally shaped into an IP header),
 * replays of earlier datagrams, time passing (which fires the peers'
 * timers), load, removing and re-adding a peer (re-added as a peer that
 * never talked, or as configured at the start), the server forgetting a
 * peer, changing the device key.
 *
 * Checked after every datagram and step, besides ASan/UBSan/LSan:
 *  - the index table names exactly the live handshakes and keypairs of live
 *    peers, and each keypair points back at its peer;
 *  - a peer without a state (never talked, or forgotten) has no handshake
 *    in flight, and the device's count of staged packets is the sum of the
 *    peers';
 *  - a peer's endpoint moves only to the source of a message that was
 *    accepted from it (its rx_bytes grew);
 *  - a datagram that was accepted once is never accepted again (replays);
 *  - every data message the device sends to a remote decrypts with the
 *    remote's session keys, and every datagram it sends is well formed and
 *    goes out on the socket of its address family;
 *  - a decrypted packet written to the TUN device is a whole IPv4 or IPv6
 *    packet;
 *  - when the device is torn down, no libev watcher is left active.
 *
 * FUZZ_WRITE_SEEDS=DIR makes the harness write its seed corpus and exit;
 * FUZZ_TRACE=1 prints the steps of the inputs it runs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <sodium.h>

#include "device.h"
#include "forget.h"
#include "icmp.h"
#include "peer.h"
#include "receive.h"
#include "send.h"
#include "tun.h"
#include "udp.h"

/*
 * The system calls of the included files, redirected.  Every header they
 * use is included above, so the renames reach only their own code.
 */
int fz_clock_gettime(clockid_t clk, struct timespec *ts);
ssize_t fz_sendto(int fd, const void *buf, size_t len, int flags,
		  const struct sockaddr *to, socklen_t tolen);
int fz_sendmmsg(int fd, struct mmsghdr *msgs, unsigned int n, int flags);
ssize_t fz_sendmsg(int fd, const struct msghdr *h, int flags);
ssize_t fz_write(int fd, const void *buf, size_t len);
ssize_t fz_read(int fd, void *buf, size_t len);
#define clock_gettime fz_clock_gettime
#define sendto fz_sendto
#define sendmmsg fz_sendmmsg
#define sendmsg fz_sendmsg
#define write fz_write
#define read fz_read
#include "../../vpnd/device.c"
#include "../../vpnd/send.c"
#include "../../vpnd/receive.c"
#undef clock_gettime
#undef sendto
#undef sendmmsg
#undef sendmsg
#undef write
#undef read

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FAIL(...)                                               \
	do {                                                    \
		fprintf(stderr, "fuzz_receive: " __VA_ARGS__);  \
		fputc('\n', stderr);                            \
		abort();                                        \
	} while (0)

#define TRACE(...)                                              \
	do {                                                    \
		if (trace)                                      \
			fprintf(stderr, __VA_ARGS__);           \
	} while (0)

enum {
	/* Descriptors that are never opened: the calls above catch them. */
	FD_TUN = 1000,
	FD_UDP4 = 1001,
	FD_UDP6 = 1002,

	NREMOTES = 2,
	REMOTE_KEYPAIRS = 3,
	OUTBOX_MAX = 64,
	HISTORY_MAX = 8,
	MAX_STEPS = 48,
	MAX_DATAGRAM = 2048,
	MAX_FLIPS = 3,
	/* Rounds of "the remotes answer what the device sent" per step. */
	NETWORK_ROUNDS = 6,
	NSEC_PER_MSEC = 1000000,
	/* Between two initiations: over the 20 ms flood limit and one
	 * 2^24 ns TAI64N tick, so that a second one is not refused. */
	INITIATION_GAP = 25 * NSEC_PER_MSEC,
};

/* Script opcodes: the low four bits of a step's first byte. */
enum op {
	OP_RAW,		/* src, len, bytes */
	OP_RAW_MAC,	/* src, len, bytes; MAC1 (and MAC2) by remote bit 4 */
	OP_INIT,	/* remote bit 4 initiates; flips; bit 6: after MACs */
	OP_DEV_INIT,	/* the device initiates to peer bit 4; the remote
			 * answers with flips as for OP_INIT */
	OP_DATA,	/* remote bit 4 sends data, see step_data() */
	OP_COOKIE,	/* remote bit 4 answers the device's last handshake
			 * message with a cookie reply; flips */
	OP_TIME,	/* delta, bits 4-5 the unit; bit 6: remotes answer */
	OP_LOAD,	/* bit 4 clear: under load for a second; set: not */
	OP_CHURN,	/* remove peer bit 4; bit 5: and add it back, bit 6:
			 * with no endpoint or keepalive (no state) */
	OP_SETKEY,	/* bits 4-5: device key own, other, none, peer A's */
	OP_REPLAY,	/* history index; bit 4: from the original source */
	OP_MTU,		/* two bytes */
	OP_KEEPALIVE,	/* the device sends a keepalive to peer bit 4 */
	OP_AIP,		/* peer bit 4 gains (bit 5: loses) a prefix: bit 6
			 * IPv6, then the cidr and the address bytes */
	OP_FORGET,	/* the server role forgets peer bit 4 */
	OP_NOP,
};

/* Deterministic randomness for libsodium, and so for the whole core. */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static const char *rng_name(void)
{
	return "fuzz-splitmix64";
}

static uint32_t rng_random(void)
{
	return (uint32_t)rng_next();
}

static void rng_buf(void *const buf, const size_t size)
{
	uint8_t *p = buf;
	size_t left = size;

	while (left) {
		uint64_t v = rng_next();
		size_t n = left < 8 ? left : 8;

		memcpy(p, &v, n);
		p += n;
		left -= n;
	}
}

static randombytes_implementation det_rng = {
	.implementation_name = rng_name,
	.random = rng_random,
	.buf = rng_buf,
};

/* Virtual clocks. */

static uint64_t now_ns;		/* CLOCK_BOOTTIME and CLOCK_MONOTONIC */
static uint64_t wall_ns;	/* CLOCK_REALTIME */
static bool trace;

static void clock_advance(uint64_t d)
{
	now_ns += d;
	wall_ns += d;
}

int fz_clock_gettime(clockid_t clk, struct timespec *ts)
{
	uint64_t t = clk == CLOCK_REALTIME ? wall_ns : now_ns;

	ts->tv_sec = (time_t)(t / NSEC_PER_SEC);
	ts->tv_nsec = (long)(t % NSEC_PER_SEC);
	return 0;
}

/* The world: the device under test and the two remote peers. */

struct rkeypair {
	struct noise_keypair k;
	uint64_t send_counter;
	struct replay_counter replay;
	bool valid;
};

struct remote {
	const char *name;
	struct noise_ctx ctx;
	struct noise_remote dev;	/* the device, as this remote's peer */
	struct cookie_maker maker;	/* MACs on what we send the device */
	struct cookie_checker checker;	/* for our cookie replies */
	uint32_t next_index;
	struct rkeypair kp[REMOTE_KEYPAIRS];	/* [0] the newest */
	union endpoint addr;
	uint8_t private_key[32];
	uint8_t public_key[32];
	/* The last handshake message the device sent us. */
	uint8_t last_hs[MESSAGE_INITIATION_LEN];
	size_t last_hs_len;
	/* Addresses of its allowed IPs, to shape packets from it. */
	uint8_t inner4[4];
	uint8_t inner6[16];
};

struct sent {
	uint8_t buf[MAX_DATAGRAM];
	size_t len;
	union endpoint to;
};

struct past {
	uint8_t buf[MAX_DATAGRAM];
	size_t len;
	union endpoint src;
	bool accepted;
};

static struct ev_loop *loop;
static struct device dev;
static struct device dev_template;	/* holds the packet buffers */
static struct remote remotes[NREMOTES];
static struct remote remote_templates[NREMOTES];
static uint8_t dev_private[32], dev_other_private[32];
static const uint8_t psk_b[32] = "preshared key of peer B, 32 B..";
/* Where the remotes see the device's messages come from. */
static union endpoint device_addr;

static struct sent outbox[OUTBOX_MAX];
static unsigned int outbox_len;
static struct past history[HISTORY_MAX];
static unsigned int history_len, history_next;
static unsigned long tun_writes;

/* The redirected system calls. */

static socklen_t sockaddr_len(const struct sockaddr *sa)
{
	return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
					   sizeof(struct sockaddr_in);
}

static void check_outgoing(const uint8_t *buf, size_t len)
{
	uint32_t type;

	if (len < 4)
		FAIL("the device sent a %zu-byte datagram", len);
	type = (uint32_t)buf[0] | (uint32_t)buf[1] << 8 |
	       (uint32_t)buf[2] << 16 | (uint32_t)buf[3] << 24;
	switch (type) {
	case MESSAGE_HANDSHAKE_INITIATION:
		if (len != MESSAGE_INITIATION_LEN)
			FAIL("the device sent a %zu-byte initiation", len);
		break;
	case MESSAGE_HANDSHAKE_RESPONSE:
		if (len != MESSAGE_RESPONSE_LEN)
			FAIL("the device sent a %zu-byte response", len);
		break;
	case MESSAGE_HANDSHAKE_COOKIE:
		if (len != MESSAGE_COOKIE_LEN)
			FAIL("the device sent a %zu-byte cookie reply", len);
		break;
	case MESSAGE_DATA:
		if (len < MESSAGE_DATA_MIN_LEN)
			FAIL("the device sent a %zu-byte data message", len);
		break;
	default:
		FAIL("the device sent a message of type %u", type);
	}
}

ssize_t fz_sendto(int fd, const void *buf, size_t len, int flags,
		  const struct sockaddr *to, socklen_t tolen)
{
	(void)flags;
	if (!to || (to->sa_family != AF_INET && to->sa_family != AF_INET6))
		FAIL("sendto without an IPv4 or IPv6 address");
	if (fd != (to->sa_family == AF_INET6 ? FD_UDP6 : FD_UDP4))
		FAIL("sendto on descriptor %d for family %u", fd,
		     to->sa_family);
	if (tolen != sockaddr_len(to))
		FAIL("sendto with an address length of %u", tolen);
	check_outgoing(buf, len);
	if (outbox_len < OUTBOX_MAX && len <= MAX_DATAGRAM) {
		struct sent *s = &outbox[outbox_len++];

		memcpy(s->buf, buf, len);
		s->len = len;
		memset(&s->to, 0, sizeof(s->to));
		memcpy(&s->to, to, tolen);
	}
	return (ssize_t)len;
}

int fz_sendmmsg(int fd, struct mmsghdr *msgs, unsigned int n, int flags)
{
	for (unsigned int i = 0; i < n; i++) {
		const struct msghdr *h = &msgs[i].msg_hdr;

		if (h->msg_iovlen != 1)
			FAIL("sendmmsg with %zu pieces", (size_t)h->msg_iovlen);
		fz_sendto(fd, h->msg_iov->iov_base, h->msg_iov->iov_len, flags,
			  h->msg_name, h->msg_namelen);
		msgs[i].msg_len = (unsigned int)h->msg_iov->iov_len;
	}
	return (int)n;
}

ssize_t fz_sendmsg(int fd, const struct msghdr *h, int flags)
{
	if (h->msg_iovlen != 1)
		FAIL("sendmsg with %zu pieces", (size_t)h->msg_iovlen);
	return fz_sendto(fd, h->msg_iov->iov_base, h->msg_iov->iov_len, flags,
			 h->msg_name, h->msg_namelen);
}

ssize_t fz_write(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t want;

	if (fd != FD_TUN)
		FAIL("write to descriptor %d", fd);
	if (len < 20)
		FAIL("a %zu-byte packet written to the TUN device", len);
	if (p[0] >> 4 == 4)
		want = (size_t)p[2] << 8 | p[3];
	else if (p[0] >> 4 == 6 && len >= 40)
		want = 40 + ((size_t)p[4] << 8 | p[5]);
	else
		FAIL("a packet of IP version %u written to the TUN device",
		     p[0] >> 4);
	/* ICMP errors the device makes itself are whole packets too. */
	if (want != len)
		FAIL("a %zu-byte packet that says it has %zu written to TUN",
		     len, want);
	/* Touch every byte, so that ASan sees a read past the buffer. */
	for (size_t i = 0; i < len; i++)
		tun_writes += p[i] == 0xff;
	tun_writes++;
	return (ssize_t)len;
}

ssize_t fz_read(int fd, void *buf, size_t len)
{
	(void)fd;
	(void)buf;
	(void)len;
	errno = EAGAIN;
	return -1;
}

/* The remote peers' view of the world. */

static struct noise_remote *r_by_public(void *c, const uint8_t *pub)
{
	struct remote *r = c;

	return memcmp(r->dev.public_key, pub, 32) ? NULL : &r->dev;
}

static struct noise_remote *r_by_index(void *c, uint32_t index)
{
	struct remote *r = c;

	return r->dev.hs && r->dev.hs->state != HANDSHAKE_ZEROED &&
			       r->dev.hs->local_index == index ?
		       &r->dev :
		       NULL;
}

static int r_index_new(void *c, struct noise_remote *nr, uint32_t *index)
{
	struct remote *r = c;

	(void)nr;
	/* Distinct per remote and never reused within an input. */
	*index = ++r->next_index * UINT32_C(0x9e3779b1) ^
		 (r == &remotes[0] ? 0x0a000000u : 0x0b000000u);
	if (!*index)
		*index = 1;
	return 0;
}

static void r_index_drop(void *c, uint32_t index)
{
	(void)c;
	(void)index;
}

static void remote_wire(struct remote *r)
{
	r->ctx.up = (struct noise_upcalls){
		.ctx = r,
		.remote_by_public = r_by_public,
		.remote_by_index = r_by_index,
		.index_new = r_index_new,
		.index_drop = r_index_drop,
	};
	r->ctx.rng = NULL;
	r->checker.rng = NULL;
	r->dev.owner = r;
}

static void remote_make(struct remote *r, const char *name, uint8_t seed)
{
	memset(r, 0, sizeof(*r));
	r->name = name;
	remote_wire(r);
	memset(r->private_key, seed, 32);
	if (noise_local_set_private(&r->ctx, r->private_key))
		FAIL("cannot set a remote's key");
	memcpy(r->public_key, r->ctx.local.static_public, 32);
	wg_clamp(r->private_key);
	cookie_checker_init(&r->checker, NULL);
	cookie_checker_precompute(&r->checker, r->public_key);
}

static void remote_meet_device(struct remote *r, const uint8_t *dev_public,
			       const uint8_t *psk)
{
	noise_remote_init(&r->dev, &r->ctx, dev_public, psk, r);
	cookie_maker_init(&r->maker, dev_public);
	if (!noise_remote_static_static(&r->ctx, &r->dev))
		FAIL("the harness keys give no static-static secret");
}

static void remote_keep(struct remote *r, const struct noise_keypair *k)
{
	memmove(&r->kp[1], &r->kp[0], sizeof(r->kp[0]) * (REMOTE_KEYPAIRS - 1));
	memset(&r->kp[0], 0, sizeof(r->kp[0]));
	r->kp[0].k = *k;
	r->kp[0].valid = true;
}

static struct remote *remote_at(const union endpoint *to)
{
	for (int i = 0; i < NREMOTES; i++) {
		const union endpoint *a = &remotes[i].addr;

		if (a->sa.sa_family != to->sa.sa_family)
			continue;
		if (a->sa.sa_family == AF_INET &&
		    a->sin.sin_addr.s_addr == to->sin.sin_addr.s_addr &&
		    a->sin.sin_port == to->sin.sin_port)
			return &remotes[i];
		if (a->sa.sa_family == AF_INET6 &&
		    !memcmp(&a->sin6.sin6_addr, &to->sin6.sin6_addr, 16) &&
		    a->sin6.sin6_port == to->sin6.sin6_port)
			return &remotes[i];
	}
	return NULL;
}

/* The device. */

static struct peer *peer_of(const struct remote *r)
{
	return peer_lookup(&dev.peers, r->public_key);
}

/* Adds remote i's peer; idle: without endpoint or keepalive, so that it
 * has no state until it talks. */
static void peer_add(int i, bool idle)
{
	struct remote *r = &remotes[i];
	struct peer *p;
	uint8_t a4[4], a6[16];

	if (peer_of(r))
		return;
	if (peer_create(&dev, r->public_key, &p))
		FAIL("cannot create a peer");
	if (i == 1)
		noise_remote_set_psk(&p->remote, psk_b);
	if (!idle) {
		if (peer_activate(p))
			FAIL("cannot activate a peer");
		p->st->endpoint = r->addr;
	}
	memcpy(a4, r->inner4, 4);
	memcpy(a6, r->inner6, 16);
	/* A: 10.0.0.2/32 and fd00::2/128; B: 10.0.1.0/24 and fd00:1::/64. */
	if (allowedips_insert(dev.aips, AF_INET, a4, i ? 24 : 32, p) ||
	    allowedips_insert(dev.aips, AF_INET6, a6, i ? 64 : 128, p))
		FAIL("cannot add allowed IPs");
	if (i == 1 && !idle &&
	    timers_set_persistent_keepalive(&p->st->timers, 25))
		send_keepalive(p, now_ns);
	peer_timer_update(p, now_ns);
}

static void world_build_templates(void)
{
	struct remote *a = &remote_templates[0], *b = &remote_templates[1];
	uint8_t dev_public[32];

	memset(dev_private, 0x44, 32);
	memset(dev_other_private, 0x45, 32);
	if (wg_public_from_private(dev_public, (wg_clamp(dev_private),
						dev_private)))
		FAIL("cannot derive the device's public key");
	wg_clamp(dev_other_private);

	remote_make(a, "A", 0x41);
	remote_make(b, "B", 0x42);
	remote_meet_device(a, dev_public, NULL);
	remote_meet_device(b, dev_public, psk_b);
	a->addr.sin.sin_family = AF_INET;
	a->addr.sin.sin_port = htons(51820);
	a->addr.sin.sin_addr.s_addr = htonl(0xc0000201); /* 192.0.2.1 */
	b->addr.sin6.sin6_family = AF_INET6;
	b->addr.sin6.sin6_port = htons(51821);
	inet_pton(AF_INET6, "2001:db8::1", &b->addr.sin6.sin6_addr);
	inet_pton(AF_INET, "10.0.0.2", a->inner4);
	inet_pton(AF_INET6, "fd00::2", a->inner6);
	inet_pton(AF_INET, "10.0.1.7", b->inner4);
	inet_pton(AF_INET6, "fd00:1::7", b->inner6);

	device_addr.sin.sin_family = AF_INET;
	device_addr.sin.sin_port = htons(51820);
	device_addr.sin.sin_addr.s_addr = htonl(0xcb007101); /* 203.0.113.1 */

	/* The packet buffers are made once: device.c lays them out. */
	memset(&dev_template, 0, sizeof(dev_template));
	if (buffers_alloc(&dev_template))
		FAIL("cannot map the packet buffers");
}

static void world_up(void)
{
	rng_state = 0x5eed;
	now_ns = 1000ull * NSEC_PER_SEC;
	wall_ns = 1700000000ull * NSEC_PER_SEC;
	outbox_len = 0;
	history_len = history_next = 0;

	for (int i = 0; i < NREMOTES; i++) {
		remotes[i] = remote_templates[i];
		remote_wire(&remotes[i]);
	}

	/* What device_init() does, without the TUN device and sockets. */
	dev = dev_template;
	dev.loop = loop;
	dev.tun_fd = FD_TUN;
	dev.udp4 = FD_UDP4;
	dev.udp6 = FD_UDP6;
	dev.uapi_fd = -1;
	dev.log_level = LOG_LEVEL_SILENT;
	dev.rekey_after_time = (uint64_t)REKEY_AFTER_TIME * NSEC_PER_SEC;
	dev.jitter_state = 0x2545f4914f6cdd1dull;
	dev.mtu = DEVICE_DEFAULT_MTU;
	dev.listen_port = 51820;
	dev.up = true;
	dev.noise.up = (struct noise_upcalls){
		.ctx = &dev,
		.remote_by_public = up_remote_by_public,
		.remote_by_index = up_remote_by_index,
		.index_new = up_index_new,
		.index_drop = up_index_drop,
	};
	cookie_checker_init(&dev.cookie, NULL);
	if (index_table_init(&dev.index) ||
	    allowedips_init(&dev.aips, offsetof(struct peer, aips)) ||
	    peer_table_init(&dev.peers) || ratelimiter_init(&dev.rl, NULL))
		FAIL("out of memory");
	if (device_set_private_key(&dev, dev_private))
		FAIL("cannot set the device key");
	peer_add(0, false);
	peer_add(1, false);
}

static void world_down(void)
{
	/* Nothing of this was opened or mapped by the device itself. */
	dev.tun_fd = dev.udp4 = dev.udp6 = -1;
	dev.buffers = NULL;
	device_destroy(&dev);
	if (ev_pending_count(loop))
		FAIL("%u libev events pending after teardown",
		     ev_pending_count(loop));
	for (int i = 0; i < NREMOTES; i++) {
		/* A handshake in flight lives apart from the remote. */
		noise_handshake_clear(&remotes[i].ctx, &remotes[i].dev);
		sodium_memzero(&remotes[i], sizeof(remotes[i]));
	}
}

/* Invariants. */

static bool keypair_of(const struct peer *p, const struct keypair *kp)
{
	const struct peer_state *st = p->st;

	return kp && st &&
	       (kp == st->current || kp == st->previous || kp == st->next);
}

static void check_tables(void)
{
	size_t live = 0, staged = 0;
	struct peer *p;

	for (p = dev.peers.head; p; p = p->list_next) {
		static const struct peer_state idle;
		const struct peer_state *st = p->st ? p->st : &idle;
		const struct keypair *kps[] = { st->current, st->previous,
						st->next };
		static const struct noise_handshake none;
		const struct noise_handshake *hs = p->remote.hs ?
							   p->remote.hs : &none;

		if (p->dev != &dev || p->remote.owner != p)
			FAIL("a peer lost its device or owner");
		if (!p->st && hs->state != HANDSHAKE_ZEROED)
			FAIL("a peer without a state has a handshake");
		staged += st->nstaged;
		/* ev_is_active() of a timer is its heap position, not 0/1. */
		if (p->st && !!ev_is_active(&st->timer) !=
				     (st->timer_armed_at != TIMERS_NEVER))
			FAIL("a peer's timer is %sactive but armed at %llu",
			     ev_is_active(&st->timer) ? "" : "in",
			     (unsigned long long)st->timer_armed_at);
		for (int i = 0; i < 3; i++) {
			if (!kps[i])
				continue;
			for (int j = 0; j < i; j++)
				if (kps[j] == kps[i])
					FAIL("one keypair in two slots");
			if (kps[i]->peer != p)
				FAIL("a keypair points at another peer");
			if (index_table_lookup(&dev.index,
					       kps[i]->k.local_index,
					       INDEX_KEYPAIR) != kps[i])
				FAIL("keypair index %08x not in the table",
				     kps[i]->k.local_index);
			live++;
		}
		if (hs->state != HANDSHAKE_ZEROED && hs->local_index) {
			if (index_table_lookup(&dev.index, hs->local_index,
					       INDEX_HANDSHAKE) != &p->remote)
				FAIL("handshake index %08x not in the table",
				     hs->local_index);
			live++;
		}
	}
	/* And nothing else: a stale entry is a use after free waiting. */
	for (size_t i = 0; i <= dev.index.mask; i++) {
		const struct index_slot *s = &dev.index.slots[i];
		bool found = false;

		if (!s->index)
			continue;
		for (p = dev.peers.head; p && !found; p = p->list_next) {
			if (s->kind == INDEX_KEYPAIR)
				found = keypair_of(p, s->obj) &&
					((struct keypair *)s->obj)->k.local_index ==
						s->index;
			else if (s->kind == INDEX_HANDSHAKE)
				found = s->obj == &p->remote &&
					p->remote.hs &&
					p->remote.hs->local_index == s->index;
		}
		if (!found)
			FAIL("index %08x (kind %u) names nothing alive",
			     s->index, s->kind);
	}
	if (dev.index.count != live)
		FAIL("%zu indices in the table, %zu alive", dev.index.count,
		     live);
	if (dev.peers.staged != staged)
		FAIL("%zu packets staged, the peers hold %zu", dev.peers.staged,
		     staged);
}

struct peer_snap {
	struct peer *p;
	union endpoint ep;
	uint64_t rx;
};

static unsigned int snap_take(struct peer_snap *s, unsigned int max)
{
	unsigned int n = 0;

	for (struct peer *p = dev.peers.head; p && n < max; p = p->list_next) {
		s[n].p = p;
		if (p->st) {
			s[n].ep = p->st->endpoint;
			s[n].rx = p->st->rx_bytes;
		} else {
			memset(&s[n].ep, 0, sizeof(s[n].ep));
			s[n].rx = 0;
		}
		n++;
	}
	return n;
}

static bool endpoint_same(const union endpoint *a, const union endpoint *b)
{
	return !memcmp(a, b, sizeof(*a));
}

/* Delivers one datagram; returns whether some peer accepted it. */
static bool deliver(const uint8_t *msg, size_t len, const union endpoint *src)
{
	struct peer_snap before[8];
	unsigned int n = snap_take(before, 8);
	bool accepted = false;
	struct past *h;
	uint8_t *buf;

	/* An exact copy on the heap, so that any read past it shows. */
	buf = malloc(len ? len : 1);
	if (!buf)
		FAIL("out of memory");
	memcpy(buf, msg, len);
	receive_datagram(&dev, buf, len, src, now_ns);
	free(buf);

	for (unsigned int i = 0; i < n; i++) {
		struct peer *p;

		/* A peer removed meanwhile cannot have been; none is. */
		for (p = dev.peers.head; p && p != before[i].p; p = p->list_next)
			;
		if (!p)
			FAIL("receiving a datagram removed a peer");
		/* A datagram can give a peer its state, never take it. */
		if (!p->st) {
			if (before[i].rx)
				FAIL("receiving a datagram forgot a peer");
			continue;
		}
		if (p->st->rx_bytes != before[i].rx)
			accepted = true;
		if (endpoint_same(&p->st->endpoint, &before[i].ep))
			continue;
		if (p->st->rx_bytes == before[i].rx)
			FAIL("a peer roamed on a message it did not accept");
		if (!endpoint_same(&p->st->endpoint, src))
			FAIL("a peer roamed somewhere else than the source");
	}
	check_tables();

	if (len <= MAX_DATAGRAM) {
		h = &history[history_next];
		history_next = (history_next + 1) % HISTORY_MAX;
		if (history_len < HISTORY_MAX)
			history_len++;
		memcpy(h->buf, msg, len);
		h->len = len;
		h->src = *src;
		h->accepted = accepted;
	}
	TRACE("  datagram of %zu bytes, type %u: %s\n", len,
	      len ? msg[0] : 0, accepted ? "accepted" : "refused");
	return accepted;
}

/* State that makes old datagrams acceptable again: forget they were. */
static void history_forget(void)
{
	for (unsigned int i = 0; i < history_len; i++)
		history[i].accepted = false;
}

/* The input. */

struct reader {
	const uint8_t *p;
	size_t left;
};

static uint8_t take(struct reader *r)
{
	if (!r->left)
		return 0;
	r->left--;
	return *r->p++;
}

static uint16_t take16(struct reader *r)
{
	uint16_t v = take(r);

	return (uint16_t)(v | take(r) << 8);
}

/* A source address: a remote's, or another one the input picks. */
static void source_pick(struct reader *r, union endpoint *src)
{
	uint8_t s = take(r);

	memset(src, 0, sizeof(*src));
	switch (s & 7) {
	case 0:
	case 1:
		*src = remotes[s & 1].addr;
		break;
	case 2:
	case 3:
		/* A remote's address on another port: NAT rebinding. */
		*src = remotes[s & 1].addr;
		src->sin.sin_port = htons((uint16_t)(40000 + (s >> 3)));
		break;
	case 4:
		src->sin.sin_family = AF_INET;
		src->sin.sin_port = htons((uint16_t)(s >> 3));
		/* 198.51.100.x */
		src->sin.sin_addr.s_addr = htonl(0xc6336400u | s);
		break;
	case 5:
		src->sin6.sin6_family = AF_INET6;
		src->sin6.sin6_port = htons(51820);
		inet_pton(AF_INET6, "fe80::1", &src->sin6.sin6_addr);
		src->sin6.sin6_scope_id = s >> 3;
		break;
	case 6:
		src->sin6.sin6_family = AF_INET6;
		src->sin6.sin6_port = htons((uint16_t)(s << 5));
		inet_pton(AF_INET6, "::ffff:192.0.2.1", &src->sin6.sin6_addr);
		break;
	default:
		src->sin6.sin6_family = AF_INET6;
		src->sin6.sin6_port = htons(1);
		inet_pton(AF_INET6, "2001:db8:ffff::", &src->sin6.sin6_addr);
		src->sin6.sin6_addr.s6_addr[15] = s;
		break;
	}
}

/*
 * Bytes to flip in a genuine message, before its MACs are computed (so
 * that it passes MAC1 and reaches the handshake) or after.  Read whole at
 * the start of a step, so that what a step reads never depends on what
 * the device did.
 */
struct flips {
	unsigned int n;
	uint8_t pos[MAX_FLIPS], x[MAX_FLIPS];
	bool after_macs;
};

static void flips_take(struct reader *r, struct flips *f, bool after_macs)
{
	f->n = take(r) % (MAX_FLIPS + 1);
	for (unsigned int i = 0; i < f->n; i++) {
		f->pos[i] = take(r);
		f->x[i] = take(r);
	}
	f->after_macs = after_macs;
}

static void flips_apply(const struct flips *f, uint8_t *msg, size_t len,
			bool after_macs)
{
	if (!f || f->after_macs != after_macs)
		return;
	for (unsigned int i = 0; i < f->n; i++) {
		msg[f->pos[i] % len] ^= f->x[i];
		TRACE("  flip byte %zu ^= %#x\n", f->pos[i] % len, f->x[i]);
	}
}

/* The remotes answer what the device sent them. */

static void remote_got_initiation(struct remote *r, const uint8_t *msg,
				  const struct flips *flips)
{
	uint8_t resp[MESSAGE_RESPONSE_LEN];
	struct noise_remote *nr;
	struct noise_keypair k;

	if (noise_handshake_consume_initiation(&r->ctx, msg,
					       MESSAGE_INITIATION_LEN, now_ns,
					       &nr))
		return;
	if (noise_handshake_create_response(&r->ctx, &r->dev, resp))
		return;
	if (noise_handshake_begin_session(&r->dev, &k, now_ns))
		FAIL("a remote has no session after its response");
	remote_keep(r, &k);
	sodium_memzero(&k, sizeof(k));
	flips_apply(flips, resp, sizeof(resp), false);
	cookie_maker_add_macs(&r->maker, resp, sizeof(resp), now_ns);
	flips_apply(flips, resp, sizeof(resp), true);
	deliver(resp, sizeof(resp), &r->addr);
}

static void remote_got_response(struct remote *r, const uint8_t *msg)
{
	struct noise_remote *nr;
	struct noise_keypair k;

	if (noise_handshake_consume_response(&r->ctx, msg, MESSAGE_RESPONSE_LEN,
					     &nr))
		return;
	if (noise_handshake_begin_session(&r->dev, &k, now_ns))
		FAIL("a remote has no session after a response");
	remote_keep(r, &k);
	sodium_memzero(&k, sizeof(k));
}

static void remote_got_data(struct remote *r, const struct sent *s)
{
	uint32_t idx = (uint32_t)s->buf[4] | (uint32_t)s->buf[5] << 8 |
		       (uint32_t)s->buf[6] << 16 | (uint32_t)s->buf[7] << 24;
	uint64_t ctr = 0;
	uint8_t plain[MAX_DATAGRAM];

	for (int i = 7; i >= 0; i--)
		ctr = ctr << 8 | s->buf[8 + i];
	for (int i = 0; i < REMOTE_KEYPAIRS; i++) {
		struct rkeypair *kp = &r->kp[i];

		if (!kp->valid || kp->k.local_index != idx)
			continue;
		if (!wg_aead_decrypt(plain, s->buf + DATA_OFF_PAYLOAD,
				     s->len - DATA_OFF_PAYLOAD, NULL, 0, ctr,
				     kp->k.recv_key))
			FAIL("remote %s cannot open the device's data message "
			     "(index %08x, counter %llu)", r->name, idx,
			     (unsigned long long)ctr);
		if (!replay_counter_validate(&kp->replay, ctr))
			FAIL("the device sent counter %llu twice",
			     (unsigned long long)ctr);
		return;
	}
	/* Sent on a session the remote no longer keeps: it would drop it. */
}

/*
 * Hands what the device sent to the remotes, and what they answer back to
 * the device, for a few rounds.  Initiations are answered only when
 * respond is set, with flips from the input when flips is not NULL.
 */
static void network(bool respond, const struct flips *flips)
{
	static struct sent q[OUTBOX_MAX];

	for (int round = 0; round < NETWORK_ROUNDS && outbox_len; round++) {
		unsigned int n = outbox_len;

		memcpy(q, outbox, sizeof(*q) * n);
		outbox_len = 0;
		for (unsigned int i = 0; i < n; i++) {
			struct remote *r = remote_at(&q[i].to);

			if (!r)
				continue;
			switch (q[i].buf[0]) {
			case MESSAGE_HANDSHAKE_INITIATION:
				memcpy(r->last_hs, q[i].buf, q[i].len);
				r->last_hs_len = q[i].len;
				if (respond)
					remote_got_initiation(r, q[i].buf, flips);
				break;
			case MESSAGE_HANDSHAKE_RESPONSE:
				memcpy(r->last_hs, q[i].buf, q[i].len);
				r->last_hs_len = q[i].len;
				remote_got_response(r, q[i].buf);
				break;
			case MESSAGE_HANDSHAKE_COOKIE:
				cookie_maker_consume_reply(&r->maker, q[i].buf,
							   q[i].len, now_ns);
				break;
			default:
				remote_got_data(r, &q[i]);
				break;
			}
		}
	}
	outbox_len = 0;
}

/* Steps. */

static void step_raw(struct reader *r, unsigned int op)
{
	uint8_t msg[MAX_DATAGRAM];
	union endpoint src;
	size_t len;

	source_pick(r, &src);
	len = take16(r) % (MAX_DATAGRAM + 1);
	/* Short inputs still make whole messages: the rest is zeros. */
	for (size_t i = 0; i < len; i++)
		msg[i] = take(r);
	if ((op & 15) == OP_RAW_MAC && len >= MACS_LEN)
		cookie_maker_add_macs(&remotes[op >> 4 & 1].maker, msg, len,
				      now_ns);
	deliver(msg, len, &src);
}

static void step_init(struct reader *r, unsigned int op)
{
	struct remote *rm = &remotes[op >> 4 & 1];
	uint8_t msg[MESSAGE_INITIATION_LEN];
	struct timespec wall;
	struct flips f;

	flips_take(r, &f, op & 0x40);
	/* Past the 20 ms flood limit and into the next TAI64N tick. */
	clock_advance(INITIATION_GAP);
	/* Bit 5: a timestamp a minute old, which must be refused. */
	fz_clock_gettime(CLOCK_REALTIME, &wall);
	if (op & 0x20)
		wall.tv_sec -= 60;
	if (noise_handshake_create_initiation(&rm->ctx, &rm->dev, msg, &wall))
		FAIL("remote %s cannot create an initiation", rm->name);
	flips_apply(&f, msg, sizeof(msg), false);
	cookie_maker_add_macs(&rm->maker, msg, sizeof(msg), now_ns);
	flips_apply(&f, msg, sizeof(msg), true);
	deliver(msg, sizeof(msg), &rm->addr);
	network(false, NULL);
}

static void step_dev_init(struct reader *r, unsigned int op)
{
	struct peer *p = peer_of(&remotes[op >> 4 & 1]);
	struct flips f;

	flips_take(r, &f, op & 0x40);
	if (!p)
		return;
	clock_advance(INITIATION_GAP);
	send_handshake_initiation(p, now_ns);
	network(true, &f);
}

static void step_keepalive(unsigned int op)
{
	struct peer *p = peer_of(&remotes[op >> 4 & 1]);

	if (!p)
		return;
	send_keepalive(p, now_ns);
	network(false, NULL);
}

/* Shapes the first bytes of pkt into an IPv4 or IPv6 header from rm. */
static void shape_ip(uint8_t *pkt, size_t len, const struct remote *rm,
		     uint8_t how)
{
	/* Bit 1 of how: a source address of the other remote. */
	const struct remote *from = (how & 2) ? &remotes[rm == &remotes[0]] : rm;

	if (!(how & 1) && len >= 20) {
		pkt[0] = 0x45;
		pkt[2] = (uint8_t)(len >> 8);
		pkt[3] = (uint8_t)len;
		memcpy(pkt + 12, from->inner4, 4);
	} else if (len >= 40) {
		pkt[0] = 0x60;
		pkt[4] = (uint8_t)((len - 40) >> 8);
		pkt[5] = (uint8_t)(len - 40);
		memcpy(pkt + 8, from->inner6, 16);
	}
	/* Bit 2: a length field one too long, or short. */
	if (how & 4)
		pkt[(pkt[0] >> 4) == 4 ? 3 : 5] ^= 1;
}

/*
 * Data from a remote: a byte picks the keypair (bits 0-1) and asks for a
 * counter from the input (bit 2), a shaped IP header (bit 3, with the
 * shape in bits 4-6) and a source address from the input (bit 7); then
 * the payload length in units of 4 bytes, and the payload.
 */
static void step_data(struct reader *r, unsigned int op)
{
	struct remote *rm = &remotes[op >> 4 & 1];
	uint8_t how = take(r);
	struct rkeypair *kp = &rm->kp[(how & 3) % REMOTE_KEYPAIRS];
	size_t plen = (size_t)take(r) * 4, mlen;
	uint8_t msg[MAX_DATAGRAM];
	union endpoint src = rm->addr;
	uint64_t ctr;

	if (plen > MAX_DATAGRAM - MESSAGE_DATA_MIN_LEN)
		plen = MAX_DATAGRAM - MESSAGE_DATA_MIN_LEN;
	for (size_t i = 0; i < plen; i++)
		msg[DATA_OFF_PAYLOAD + i] = take(r);
	if (how & 8)
		shape_ip(msg + DATA_OFF_PAYLOAD, plen, rm, how >> 4);
	if (how & 4) {
		ctr = 0;
		for (int i = 0; i < 8; i++)
			ctr = ctr << 8 | take(r);
	} else {
		ctr = kp->send_counter++;
	}
	if (how & 0x80)
		source_pick(r, &src);
	if (!kp->valid)
		return;
	msg[0] = MESSAGE_DATA;
	msg[1] = msg[2] = msg[3] = 0;
	for (int i = 0; i < 4; i++)
		msg[DATA_OFF_RECEIVER + i] =
			(uint8_t)(kp->k.remote_index >> (8 * i));
	for (int i = 0; i < 8; i++)
		msg[DATA_OFF_COUNTER + i] = (uint8_t)(ctr >> (8 * i));
	wg_aead_encrypt(msg + DATA_OFF_PAYLOAD, msg + DATA_OFF_PAYLOAD, plen,
			NULL, 0, ctr, kp->k.send_key);
	mlen = MESSAGE_DATA_HEADER_LEN + plen + NOISE_AUTHTAG_LEN;
	deliver(msg, mlen, &src);
	network(false, NULL);
}

static void step_cookie(struct reader *r, unsigned int op)
{
	struct remote *rm = &remotes[op >> 4 & 1];
	uint8_t reply[MESSAGE_COOKIE_LEN];
	uint32_t sender;
	struct flips f;

	flips_take(r, &f, true);
	if (!rm->last_hs_len)
		return;
	sender = (uint32_t)rm->last_hs[4] | (uint32_t)rm->last_hs[5] << 8 |
		 (uint32_t)rm->last_hs[6] << 16 | (uint32_t)rm->last_hs[7] << 24;
	if (cookie_checker_create_reply(&rm->checker, reply, rm->last_hs,
					rm->last_hs_len, sender,
					&device_addr.sa, now_ns))
		FAIL("remote %s cannot make a cookie reply", rm->name);
	flips_apply(&f, reply, sizeof(reply), true);
	deliver(reply, sizeof(reply), &rm->addr);
}

/* Runs the timers that are due, as the event loop would. */
static void timers_run(void)
{
	for (int round = 0; round < 8; round++) {
		bool any = false;

		for (struct peer *p = dev.peers.head; p; p = p->list_next) {
			if (!p->st || p->st->timer_armed_at > now_ns)
				continue;
			if (!ev_is_active(&p->st->timer))
				FAIL("a peer's timer is due but not armed");
			/* libev stops a one-shot timer before its callback. */
			ev_timer_stop(loop, &p->st->timer);
			ev_invoke(loop, &p->st->timer, EV_TIMER);
			any = true;
		}
		if (!any)
			return;
	}
}

static void step_time(struct reader *r, unsigned int op)
{
	static const uint64_t units[] = { NSEC_PER_MSEC, 10 * NSEC_PER_MSEC,
					  NSEC_PER_SEC, 10ull * NSEC_PER_SEC };
	clock_advance(take16(r) * units[op >> 4 & 3]);
	timers_run();
	check_tables();
	network(op & 0x40, NULL);
}

static void step_churn(unsigned int op)
{
	int i = op >> 4 & 1;
	struct peer *p = peer_of(&remotes[i]);

	if (p)
		peer_remove(p);
	if (op & 0x20)
		peer_add(i, op & 0x40);
	history_forget();
	network(false, NULL);
}

/* What the server role does to a peer quiet for forget_after (server.c). */
static void step_forget(unsigned int op)
{
	struct peer *p = peer_of(&remotes[op >> 4 & 1]);

	if (!p)
		return;
	forget_peer(p, now_ns);
	if (p->st && p->st->timers.persistent_keepalive_interval == 0)
		FAIL("a forgotten peer without keepalive kept its state");
	/* The history stays: what it accepted before, it must not accept
	 * again now (its last TAI64N timestamp outlives the forgetting). */
	network(false, NULL);
}

static void step_setkey(unsigned int op)
{
	const uint8_t zero[32] = { 0 };
	const uint8_t *keys[] = { dev_private, dev_other_private, zero,
				  remotes[0].private_key };

	if (device_set_private_key(&dev, keys[op >> 4 & 3]))
		FAIL("cannot change the device key");
	history_forget();
	network(false, NULL);
}

static void step_replay(struct reader *r, unsigned int op)
{
	uint8_t i = take(r);
	union endpoint src;
	struct past h;

	if (!history_len)
		return;
	h = history[i % history_len];
	if (op & 0x10)
		src = h.src;
	else
		source_pick(r, &src);
	if (deliver(h.buf, h.len, &src) && h.accepted)
		FAIL("a %zu-byte datagram of type %u was accepted twice", h.len,
		     h.buf[0]);
	network(false, NULL);
}

/*
 * The allowed IPs change under live sessions, as a UAPI set would change
 * them.  The prefix is near the remotes' own addresses, so that it takes
 * over or gives up the sources their packets carry.
 */
static void step_aip(struct reader *r, unsigned int op)
{
	const struct remote *rm = &remotes[op >> 4 & 1];
	struct peer *p = peer_of(rm);
	bool v6 = op & 0x40;
	uint8_t addr[16], cidr = take(r);
	size_t len = v6 ? 16 : 4;
	int ret;

	memcpy(addr, v6 ? (const void *)rm->inner6 : (const void *)rm->inner4,
	       len);
	addr[len - 1] ^= take(r);
	addr[take(r) % len] ^= take(r);
	cidr %= (uint8_t)(v6 ? 129 : 33);
	if (!p)
		return;
	if (op & 0x20) {
		ret = allowedips_remove(dev.aips, v6 ? AF_INET6 : AF_INET, addr,
					cidr, p);
		if (ret && ret != -ENOENT)
			FAIL("allowedips_remove returned %d", ret);
	} else {
		ret = allowedips_insert(dev.aips, v6 ? AF_INET6 : AF_INET, addr,
					cidr, p);
		if (ret)
			FAIL("allowedips_insert returned %d", ret);
		/* A host route is the most specific: nothing can beat it. */
		if (cidr == len * 8 &&
		    allowedips_lookup(dev.aips, v6 ? AF_INET6 : AF_INET,
				      addr) != p)
			FAIL("a host route just inserted does not lead to its "
			     "peer");
	}
}

static void run_script(const uint8_t *data, size_t size)
{
	struct reader r = { data, size };

	world_up();
	network(true, NULL);
	check_tables();
	for (int steps = 0; r.left && steps < MAX_STEPS; steps++) {
		unsigned int op = take(&r);

		TRACE("step %d: op %#x (%u), now %llu ms\n", steps, op, op & 15,
		      (unsigned long long)(now_ns / NSEC_PER_MSEC));
		switch (op & 15) {
		case OP_RAW:
		case OP_RAW_MAC:
			step_raw(&r, op);
			break;
		case OP_INIT:
			step_init(&r, op);
			break;
		case OP_DEV_INIT:
			step_dev_init(&r, op);
			break;
		case OP_DATA:
			step_data(&r, op);
			break;
		case OP_COOKIE:
			step_cookie(&r, op);
			break;
		case OP_TIME:
			step_time(&r, op);
			break;
		case OP_LOAD:
			dev.under_load_until = (op & 0x10) ? 0 :
							     now_ns + NSEC_PER_SEC;
			break;
		case OP_CHURN:
			step_churn(op);
			break;
		case OP_SETKEY:
			step_setkey(op);
			break;
		case OP_REPLAY:
			step_replay(&r, op);
			break;
		case OP_MTU:
			dev.mtu = take16(&r);
			break;
		case OP_KEEPALIVE:
			step_keepalive(op);
			break;
		case OP_AIP:
			step_aip(&r, op);
			break;
		case OP_FORGET:
			step_forget(op);
			break;
		default:
			break;
		}
		check_tables();
	}
	world_down();
}

/* Seeds: scripts of typical exchanges, and genuine messages as raw bytes. */

static void seed_write(const char *dir, const char *name, const uint8_t *p,
		       size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f))
		FAIL("cannot write %s", path);
}

struct seed {
	uint8_t b[1024];
	size_t n;
};

static void put(struct seed *s, const uint8_t *p, size_t n)
{
	if (s->n + n > sizeof(s->b))
		FAIL("seed too long");
	memcpy(s->b + s->n, p, n);
	s->n += n;
}

#define PUT(s, ...) put((s), (const uint8_t[]){ __VA_ARGS__ }, \
			sizeof((const uint8_t[]){ __VA_ARGS__ }))

/* A data step from remote i with an IPv4 (or IPv6) packet of 40 bytes. */
static void put_data(struct seed *s, int i, bool v6)
{
	PUT(s, (uint8_t)(OP_DATA | i << 4), (uint8_t)(v6 ? 0x18 : 0x08), 10);
	for (int j = 0; j < 40; j++)
		PUT(s, (uint8_t)(j * 7));
}

/* A raw step with a message of len bytes from source 0 (remote A). */
static void put_raw(struct seed *s, unsigned int op, const uint8_t *msg,
		    size_t len)
{
	PUT(s, (uint8_t)op, 0, (uint8_t)len, (uint8_t)(len >> 8));
	put(s, msg, len);
}

static void seeds_write(const char *dir)
{
	struct seed s;
	uint8_t msg[MESSAGE_INITIATION_LEN];
	struct timespec wall;

	/* A initiates, sends data, a keepalive, a replay; time passes. */
	memset(&s, 0, sizeof(s));
	PUT(&s, OP_INIT, 0);
	put_data(&s, 0, false);
	PUT(&s, OP_DATA, 0, 0);
	put_data(&s, 0, true);
	PUT(&s, OP_REPLAY | 0x10, 1);
	PUT(&s, OP_TIME | 0x60, 12, 0);
	put_data(&s, 0, false);
	PUT(&s, OP_TIME | 0x60, 200, 0);
	put_data(&s, 0, false);
	seed_write(dir, "seed-a-session", s.b, s.n);

	/* The device initiates to B, B sends data, rekeying over time. */
	memset(&s, 0, sizeof(s));
	PUT(&s, OP_DEV_INIT | 0x10, 0);
	put_data(&s, 1, true);
	PUT(&s, OP_DATA | 0x10, 0x28, 10);	/* wrong source address */
	for (int j = 0; j < 40; j++)
		PUT(&s, 0);
	PUT(&s, OP_TIME | 0x60, 130, 0);
	put_data(&s, 1, false);
	PUT(&s, OP_TIME | 0x60, 5, 0, OP_TIME | 0x60, 100, 0);
	seed_write(dir, "seed-b-rekey", s.b, s.n);

	/*
	 * The device initiates to A, which keeps sending: near the end of
	 * the keypair's life the device rekeys from the receive side.
	 */
	memset(&s, 0, sizeof(s));
	PUT(&s, OP_DEV_INIT, 0);
	/* A keepalive: data would make the device answer with one, and
	 * rekey from the sending side first. */
	PUT(&s, OP_DATA, 0, 0);
	PUT(&s, OP_TIME | 0x30, 16, 0, OP_TIME | 0x20, 6, 0);
	put_data(&s, 0, false);
	PUT(&s, OP_TIME | 0x70, 1, 0);
	put_data(&s, 0, true);
	seed_write(dir, "seed-a-lastminute", s.b, s.n);

	/* Under load: a cookie reply, then an initiation with MAC2. */
	memset(&s, 0, sizeof(s));
	PUT(&s, OP_LOAD, OP_INIT, 0, OP_INIT, 0, OP_COOKIE | 0x10, 0);
	PUT(&s, OP_TIME | 0x20, 1, 0, OP_LOAD | 0x10, OP_INIT, 0);
	put_data(&s, 0, false);
	seed_write(dir, "seed-load", s.b, s.n);

	/* Peers and keys changing under live sessions. */
	memset(&s, 0, sizeof(s));
	PUT(&s, OP_INIT, 0);
	put_data(&s, 0, false);
	PUT(&s, OP_CHURN | 0x20);
	put_data(&s, 0, false);
	PUT(&s, OP_SETKEY | 0x10, OP_INIT, 0, OP_SETKEY, OP_INIT, 0);
	put_data(&s, 0, false);
	PUT(&s, OP_SETKEY | 0x30, OP_MTU, 0x10, 0, OP_KEEPALIVE | 0x10);
	PUT(&s, OP_CHURN | 0x10, OP_TIME | 0x60, 30, 0);
	seed_write(dir, "seed-churn", s.b, s.n);

	/* Genuine messages, and the other types, as raw datagrams. */
	world_up();
	fz_clock_gettime(CLOCK_REALTIME, &wall);
	if (noise_handshake_create_initiation(&remotes[0].ctx, &remotes[0].dev,
					      msg, &wall))
		FAIL("cannot create a seed initiation");
	cookie_maker_add_macs(&remotes[0].maker, msg, sizeof(msg), now_ns);
	memset(&s, 0, sizeof(s));
	put_raw(&s, OP_RAW, msg, sizeof(msg));
	seed_write(dir, "seed-raw-initiation", s.b, s.n);
	world_down();

	memset(&s, 0, sizeof(s));
	memset(msg, 0, sizeof(msg));
	msg[0] = MESSAGE_HANDSHAKE_RESPONSE;
	put_raw(&s, OP_RAW_MAC, msg, MESSAGE_RESPONSE_LEN);
	msg[0] = MESSAGE_HANDSHAKE_COOKIE;
	put_raw(&s, OP_RAW, msg, MESSAGE_COOKIE_LEN);
	msg[0] = MESSAGE_DATA;
	put_raw(&s, OP_RAW, msg, 48);
	msg[0] = MESSAGE_HANDSHAKE_INITIATION;
	put_raw(&s, OP_RAW_MAC, msg, MESSAGE_INITIATION_LEN);
	seed_write(dir, "seed-raw-types", s.b, s.n);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FUZZ_WRITE_SEEDS");

	(void)argc;
	(void)argv;
	/* Before sodium_init(), as libsodium requires. */
	if (randombytes_set_implementation(&det_rng) || wg_init())
		abort();
	trace = getenv("FUZZ_TRACE") != NULL;
	loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOENV);
	if (!loop)
		abort();
	world_build_templates();
	if (dir) {
		seeds_write(dir);
		exit(0);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run_script(data, size);
	return 0;
}
