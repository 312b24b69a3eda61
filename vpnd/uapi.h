/* SPDX-License-Identifier: MIT */
/*
 * The protocol layer of the cross-platform userspace API ("UAPI") that wg(8)
 * and wg-quick(8) speak over /var/run/wireguard/IFNAME.sock.  This module
 * owns the byte stream of one client connection: it splits it into requests,
 * parses and validates a whole "set=1" request into a plan before anything is
 * applied, formats the reply to "get=1" exactly as wireguard-go does, and
 * produces the "errno=N" replies with wireguard-go's values and signs.
 *
 * It opens no socket and knows nothing of the event loop: the daemon feeds
 * it the bytes it reads, drains the reply bytes it produces, and is called
 * back through struct uapi_ops to apply a plan or to describe the device.
 *
 * What wireguard-go 0.0.20220316 (Debian 12) was seen to do, and where vpnd
 * differs on purpose, is recorded in tests/unit/test_uapi.c.
 */
#ifndef VPND_UAPI_H
#define VPND_UAPI_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <vpn/key.h>
#include <vpn/messages.h>

enum uapi_limits {
	/* Longest line accepted, without its '\n'; wg's longest is ~80. */
	UAPI_MAX_LINE = 4096,
	/* Most public_key sections in one set request. */
	UAPI_MAX_PEERS = MAX_PEERS,
	/* Most allowed_ip entries held for one set request, all peers. */
	UAPI_MAX_ALLOWED_IPS = 1 << 20,
	/* Room for the longest endpoint text, "[v6%scope]:port" and NUL. */
	UAPI_ENDPOINT_STRLEN = 72,
	UAPI_REASON_LEN = 96,
	/*
	 * A get reply is written in chunks of about this size, each once
	 * the last one is drained: with 100,000 peers the whole reply is
	 * some 30 MB of text, which must not sit in memory at once.
	 */
	UAPI_GET_CHUNK = 64 * 1024,
};

/* What get() returns when it stopped at uapi_writer_full(). */
#define UAPI_GET_MORE 1

/* What uapi_conn_feed() asks of the daemon, besides draining output. */
enum uapi_feed_result {
	UAPI_FEED_OPEN = 0,	/* keep reading */
	UAPI_FEED_CLOSE = 1,	/* send the pending output, then close */
};

union uapi_endpoint {
	struct sockaddr sa;	/* sa_family AF_UNSPEC: no endpoint */
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;	/* sin6_scope_id from "%zone" */
};

struct uapi_allowed_ip {
	union {
		struct in_addr ip4;
		struct in6_addr ip6;
	} addr;			/* host bits already cleared */
	sa_family_t family;	/* AF_INET or AF_INET6 */
	uint8_t cidr;
	bool remove;		/* "allowed_ip=-CIDR": drop it from this peer */
};

enum uapi_set_flags {
	UAPI_SET_HAS_PRIVATE_KEY = 1u << 0,
	UAPI_SET_HAS_LISTEN_PORT = 1u << 1,
	UAPI_SET_HAS_FWMARK = 1u << 2,
	UAPI_SET_REPLACE_PEERS = 1u << 3,
};

enum uapi_peer_flags {
	UAPI_PEER_REMOVE = 1u << 0,
	UAPI_PEER_UPDATE_ONLY = 1u << 1,
	UAPI_PEER_HAS_PRESHARED_KEY = 1u << 2,
	UAPI_PEER_HAS_ENDPOINT = 1u << 3,
	UAPI_PEER_HAS_KEEPALIVE = 1u << 4,
	UAPI_PEER_REPLACE_ALLOWED_IPS = 1u << 5,
};

/*
 * One public_key section of a set request.  A key repeated within the
 * section overrides the earlier value; replace_allowed_ips drops the
 * allowed_ip lines of the section that came before it, so allowed_ips holds
 * what remains, in request order.
 */
struct uapi_peer {
	uint8_t public_key[KEY_LEN];
	unsigned int flags;			/* enum uapi_peer_flags */
	const uint8_t *preshared_key;		/* all zero: no psk */
	union uapi_endpoint endpoint;
	uint16_t persistent_keepalive_interval;
	const struct uapi_allowed_ip *allowed_ips;
	size_t allowed_ips_len;
};

/*
 * A whole, valid set request.  The pointers, and the secrets behind them,
 * live only for the duration of the apply() call; they are wiped after it.
 * Its peers are taken in order with uapi_set_next_peer(), once each.
 *
 * To behave as wireguard-go does, apply() should, in this order:
 *  - private_key: all zero removes the key; otherwise it is given already
 *    clamped (wireguard-go clamps on set and a get prints it clamped);
 *  - listen_port, fwmark: rebind; a failure is -EADDRINUSE, as wireguard-go
 *    reports both; fwmark 0 clears the mark;
 *  - UAPI_SET_REPLACE_PEERS: remove every peer before the peer sections;
 *  - then each peer section in order, the same key possibly appearing in
 *    several sections: a section naming the device's own public key is
 *    ignored; REMOVE removes the peer and ignores the rest; UPDATE_ONLY
 *    ignores the section when no such peer exists; otherwise the peer is
 *    created or updated, REPLACE_ALLOWED_IPS first clears its allowed IPs,
 *    and the allowed_ips entries are inserted, or removed (only where they
 *    point at this peer), in order.
 */
struct uapi_set {
	unsigned int flags;			/* enum uapi_set_flags */
	const uint8_t *private_key;
	uint16_t listen_port;
	uint32_t fwmark;
	size_t peers_len;
};

/*
 * The set's next peer section, or NULL after the last.  The section, its
 * allowed IPs and its preshared key stay valid until the next call, which
 * frees the plan's memory that held it and the sections before it: during
 * a large load the peers made so far take the memory of the request they
 * came from, instead of both being whole at the end.
 */
const struct uapi_peer *uapi_set_next_peer(struct uapi_set *set);

/* What a get reply says of the device; zero fields print no line. */
struct uapi_device_view {
	const uint8_t *private_key;	/* NULL or all zero: no line */
	uint16_t listen_port;
	uint32_t fwmark;
};

struct uapi_peer_view {
	const uint8_t *public_key;
	const uint8_t *preshared_key;		/* NULL: printed as zeros */
	const union uapi_endpoint *endpoint;	/* NULL or AF_UNSPEC: no line */
	int64_t last_handshake_time_sec;
	int64_t last_handshake_time_nsec;
	uint64_t tx_bytes;
	uint64_t rx_bytes;
	uint16_t persistent_keepalive_interval;
};

/* Collects a get reply; only the uapi_write_*() functions touch it. */
struct uapi_writer;

/*
 * The daemon's side.  Both callbacks run inside uapi_conn_feed() and must
 * not call back into the connection.  apply() returns 0 or -errno, which is
 * the request's reply.  get() calls uapi_write_device() once, then for each
 * peer uapi_write_peer() followed by that peer's uapi_write_allowed_ip()
 * calls, and returns 0 or -errno; on an error the partial reply is dropped
 * and only "errno=N" is sent.  A long reply comes in chunks: get() may stop
 * before a peer once uapi_writer_full() and return UAPI_GET_MORE; it is
 * called again, on a fresh writer, once that much has been drained, and
 * goes on where it stopped (without uapi_write_device()).  An error in a
 * later chunk drops only that chunk: the client sees the reply cut short
 * before a peer, then "errno=N".  Between chunks the daemon runs on, so a
 * long reply describes each peer as it is when its turn comes.
 * ifindex() resolves the interface name of an
 * endpoint's "%zone" (0: no such interface); NULL means if_nametoindex().
 */
struct uapi_ops {
	void *ctx;
	int (*apply)(void *ctx, struct uapi_set *set);
	int (*get)(void *ctx, struct uapi_writer *w);
	unsigned int (*ifindex)(void *ctx, const char *name);
	/*
	 * vpnd's extension "stats=1": the daemon's counters, written with
	 * uapi_write_stat().  NULL: the operation is unknown, as in
	 * wireguard-go.
	 */
	int (*stats)(void *ctx, struct uapi_writer *w);
};

struct uapi_conn;

/* Returns NULL with errno set; ops is copied.  Needs sodium_init() done. */
struct uapi_conn *uapi_conn_new(const struct uapi_ops *ops);
/* Discards an unfinished request unapplied and wipes every buffer. */
void uapi_conn_free(struct uapi_conn *c);

/*
 * Consumes all of data, which may end anywhere, even inside a line.
 * Returns UAPI_FEED_OPEN, UAPI_FEED_CLOSE once the connection must end (an
 * unknown operation, or an over-long line), or -ENOMEM when not even an
 * error reply could be produced; then close without waiting for output.
 *
 * Replies accumulate until drained, so the daemon should not read from a
 * connection whose output is still pending: that is what bounds the output
 * of a client that sends requests and never reads.
 */
int uapi_conn_feed(struct uapi_conn *c, const char *data, size_t len);
/*
 * True while a get reply is being written in chunks: then the daemon feeds
 * nothing (uapi_conn_feed() says -EBUSY) and, each time the output is
 * drained, calls uapi_conn_continue() for the next chunk.  That also
 * handles the requests that followed the get in the bytes fed, once its
 * reply is whole, and returns as uapi_conn_feed() does.
 */
bool uapi_conn_busy(const struct uapi_conn *c);
int uapi_conn_continue(struct uapi_conn *c);
void uapi_conn_output(const struct uapi_conn *c, const char **data,
		      size_t *len);
/* Drops (and wipes: a get reply holds the private key) n drained bytes. */
void uapi_conn_consume_output(struct uapi_conn *c, size_t n);

/*
 * Why a request failed during the last uapi_conn_feed() call (the last one
 * if several did), for the daemon's log: "line 3: invalid endpoint".  It
 * never quotes the client's text, so holds no key, address or endpoint.
 * Empty when no request failed in that call.
 */
const char *uapi_conn_last_error(const struct uapi_conn *c);

int uapi_write_device(struct uapi_writer *w, const struct uapi_device_view *d);
int uapi_write_peer(struct uapi_writer *w, const struct uapi_peer_view *p);
/* Whether get() should stop before its next peer (UAPI_GET_MORE). */
bool uapi_writer_full(const struct uapi_writer *w);
/* addr is a struct in_addr or in6_addr, as family says. */
int uapi_write_allowed_ip(struct uapi_writer *w, int family, const void *addr,
			  uint8_t cidr);

/* One "name=value" line of a stats reply. */
int uapi_write_stat(struct uapi_writer *w, const char *name, uint64_t value);

/*
 * "192.0.2.1:51820", "[2001:db8::1]:51820" or "[fe80::1%2]:51820", IPv6 in
 * the canonical text wireguard-go prints.  Returns 0, -EAFNOSUPPORT or
 * -ENOSPC.
 */
int uapi_endpoint_format(char *out, size_t outlen,
			 const union uapi_endpoint *ep);

#endif /* VPND_UAPI_H */
