/* SPDX-License-Identifier: MIT */
/*
 * The device: the one structure that holds all of the daemon's mutable
 * state.  It ties the TUN interface, the UDP sockets, our identity, the
 * peer, index and allowed-IPs tables and the event loop together.
 */
#ifndef VPND_DEVICE_H
#define VPND_DEVICE_H

#include <ev.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "allowedips.h"
#include "bounds.h"
#include "cookie.h"
#include "iface.h"
#include "index.h"
#include "log.h"
#include "noise.h"
#include "peer.h"
#include "ratelimiter.h"
#include "sticky.h"

enum device_limits {
	DEVICE_BATCH = 32,
	/*
	 * Receive slots: each must hold a whole UDP_GRO buffer (64 KiB), and
	 * a full ring is that much resident memory.  Sixteen such buffers
	 * carry hundreds of datagrams a call; a deeper ring bought no
	 * throughput here and cost 1 MiB (tests/bench/throughput.sh).
	 */
	DEVICE_RX_BATCH = 16,
	/*
	 * Bytes one TUN wakeup may read before the loop turns to the UDP
	 * sockets.  With offloads a read can bring a 64 KiB super-packet, and
	 * 32 of them took over a millisecond to seal: a TCP stream's ACKs and
	 * everything coming the other way (a ping's reply) waited that long
	 * behind each wakeup.  Two super-packets a turn cut the ping RTT
	 * under a TCP stream by a third to a half, at the same throughput
	 * (A/B runs of the loaded ping of tests/bench/throughput.sh); 32
	 * packets of 1420 bytes stay below it.
	 */
	DEVICE_TUN_BUDGET = 128 * 1024,
	/* Headroom for the data header, the packet, padding and the tag. */
	DEVICE_BUF_LEN = MESSAGE_DATA_HEADER_LEN + 65535 + 16 + NOISE_AUTHTAG_LEN,
	DEVICE_DEFAULT_MTU = 1420,
	/*
	 * We are "under load" when the UDP socket a handshake message came
	 * from holds at least this share (1/N) of its receive buffer in
	 * datagrams not yet read: we are not keeping up, and each handshake
	 * costs Diffie-Hellman work, so for a second we ask for cookies
	 * before doing any.  The backlog, not a rate, is the judge: a
	 * daemon that keeps up with 5,000 handshakes a second has no reason
	 * to refuse the next one.  (An 8 MiB buffer: about a thousand queued
	 * initiations.)
	 */
	DEVICE_LOAD_BACKLOG_SHARE = 8,
};

/*
 * What the batch being received says of the socket's backlog.  Only a
 * full batch can leave datagrams behind, and the kernel is asked only
 * when a handshake in such a batch needs the answer, once per batch.
 */
enum device_backlog {
	DEVICE_BACKLOG_NONE,		/* the batch emptied the socket */
	DEVICE_BACKLOG_UNKNOWN,		/* a full batch, not yet asked */
	DEVICE_BACKLOG_LOW,
	DEVICE_BACKLOG_HIGH,
};

struct fleet;
struct uapisock_conn;

struct device_stats {
	uint64_t rx_dropped;		/* received datagrams thrown away */
	uint64_t rx_bad_mac;
	uint64_t rx_bad_handshake;
	uint64_t rx_bad_data;
	uint64_t rx_replayed;
	uint64_t rx_bad_source;		/* inner source not the peer's */
	uint64_t tx_no_route;		/* TUN packets no peer routes */
	uint64_t tx_dropped;
	uint64_t cookies_sent;
	uint64_t ratelimited;
};

/* One direction's batch of packet buffers, allocated once. */
struct packet_batch {
	uint8_t *buf[DEVICE_BATCH];	/* rx: DEVICE_RX_BATCH of them */
	size_t len[DEVICE_BATCH];
	union endpoint addr[DEVICE_BATCH];
	struct endpoint_src local[DEVICE_BATCH];
	/* Room per datagram for IP_PKTINFO or IPV6_PKTINFO, and UDP_GRO or
	 * UDP_SEGMENT (UDP_CMSG_SPACE). */
	uint8_t cmsg[DEVICE_BATCH][128];
};

struct device {
	struct ev_loop *loop;
	char ifname[IFNAMSIZ];
	int ifindex;
	int tun_fd;
	unsigned int mtu;

	int udp4, udp6;
	uint16_t listen_port;
	uint32_t fwmark;

	struct noise_ctx noise;
	struct cookie_checker cookie;
	struct index_table index;
	struct allowedips *aips;
	struct peer_table peers;
	uint64_t next_peer_id;
	struct ratelimiter rl;

	/* The backlog of the socket being read, for load (see above). */
	enum device_backlog rx_backlog;
	int rx_backlog_fd;
	uint64_t under_load_until;

	struct fleet *fleet;		/* the server's etcd users, or NULL */

	uint64_t rekey_after_time;	/* ns; shortened by tests only */
	uint64_t jitter_state;		/* xorshift state, see send_jitter() */
	bool log_sensitive;		/* keys and addresses in logs */
	enum log_level log_level;
	struct device_stats stats;
	struct bounds bounds;		/* what the bounds refused (bounds.h) */

	struct packet_batch rx, tx;
	uint8_t *single;		/* one more, for sends outside a batch */
	void *buffers;
	size_t buffers_len;
	bool tun_dead;			/* a read failed for good */
	bool offload;			/* TUN reads carry a vnet header */
	int8_t udp_gso;			/* UDP GSO: 0 not yet known, 1 works,
					 * -1 the kernel cannot (send.c) */
	uint8_t *gso;			/* one super-packet, read whole */

	bool up;			/* the interface is administratively up */
	struct iface_watch iface;	/* link events, wherever it lives */
	struct sticky_watch sticky;	/* route changes vs. peers' sources */
	ev_io tun_w, udp4_w, udp6_w, uapi_w;
	ev_signal sigint_w, sigterm_w;
	ev_timer housekeeping_w;

	int uapi_fd;
	struct uapisock_conn *uapi_conns;
	unsigned int uapi_nconns;
	char uapi_path[108];
	dev_t uapi_dev;
	ino_t uapi_ino;
};

uint64_t device_now(void);

int device_init(struct device *dev, struct ev_loop *loop, const char *ifname);
void device_destroy(struct device *dev);
void device_stop(struct device *dev);

/* Sets (or with NULL or all zeros clears) our private key. */
int device_set_private_key(struct device *dev, const uint8_t key[32]);
/* Rebinds the UDP sockets; -EADDRINUSE leaves the old ones in place. */
int device_set_listen_port(struct device *dev, uint16_t port);
int device_set_fwmark(struct device *dev, uint32_t mark);
void device_remove_all_peers(struct device *dev);

bool device_link_is_up(const struct device *dev);
/*
 * The interface went up or down: down ends every session.  Called on the
 * kernel's link events, and at once by a role that brought the link up
 * itself, so that a reply arriving before the event is not dropped.
 */
void device_set_up(struct device *dev, bool up);

/*
 * Whether handshake work should be gated by cookies now.  The receive
 * loop says what it read (device_backlog_batch) before it hands the
 * batch's messages on, and clears it after (device_backlog_done).
 */
bool device_under_load(struct device *dev, uint64_t now);
void device_backlog_batch(struct device *dev, int fd, bool full);
void device_backlog_done(struct device *dev);

#endif /* VPND_DEVICE_H */
