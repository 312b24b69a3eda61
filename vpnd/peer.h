/* SPDX-License-Identifier: MIT */
/*
 * Peers, their keypairs, and the table that finds a peer by public key.
 *
 * A peer holds the handshake state (noise_remote), the cookie it was given,
 * up to three keypairs (the kernel's current/previous/next rotation), its
 * endpoint, its timers and its counters.  Keypairs are named on the wire by
 * an index in the device's index table; this file keeps that table in step
 * as keypairs are born and retired.
 *
 * A server may hold 100,000 peers of which few are talking: what only a
 * handshake needs (the handshake in flight, the cookie maker) is allocated
 * when one starts and wiped and freed when it ends, and what only a peer
 * that talks needs is in struct peer_state, made when it first does; a peer
 * that never connects costs struct peer alone.  tests/bench/README.md says
 * where the rest goes.
 */
#ifndef VPND_PEER_H
#define VPND_PEER_H

#include <ev.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "allowedips.h"
#include "cookie.h"
#include "noise.h"
#include "replay.h"
#include "timers.h"

struct device;
struct peer;

union endpoint {
	struct sockaddr sa;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
};

/*
 * Our own address a peer last reached us at, and the interface: replies
 * leave from it, so that a multi-homed server answers from the address the
 * client sent to and the client's NAT or firewall recognises the reply.
 */
struct endpoint_src {
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
	int ifindex;
	sa_family_t family;		/* 0: none, let the kernel choose */
};

struct keypair {
	struct noise_keypair k;
	struct replay_counter replay;
	uint64_t send_counter;
	struct peer *peer;
};

/*
 * Packets that arrived from the TUN device while no session could carry
 * them, sent once a handshake completes.  Allocated only while needed, so an
 * idle peer costs nothing here.
 */
struct staged_packet {
	uint16_t len;
	uint8_t data[];
};

enum peer_limits {
	/* Per peer, as the kernel has it: a full queue drops its oldest. */
	PEER_MAX_STAGED = 128,
	/* All peers together: a server with many peers offline must not
	 * hold 128 packets for each of them because someone sends to their
	 * addresses through the tunnel.  At the bound a peer's new packet
	 * takes the place of its oldest, and a peer with none loses it. */
	PEER_MAX_STAGED_TOTAL = 4096,
};

/*
 * What a peer holds once it talks: its sessions, where it is, its timers,
 * its counters, the packets waiting for a handshake.  Made by
 * peer_activate() when the peer is first given an endpoint or a
 * keepalive, has a packet routed to it, or shakes hands; kept until the
 * peer is removed.  A server's peers that never connect are only a
 * struct peer: with 100,000 of them this is most of the daemon's memory.
 */
struct peer_state {
	/*
	 * MACs for what we send it and the cookie it gave us: made when we
	 * first send it a handshake message, dropped with its keys.
	 */
	struct cookie_maker *cookie;
	struct keypair *current, *previous, *next;
	union endpoint endpoint;	/* sa_family 0: none yet */
	struct endpoint_src src;	/* where we answer from */
	/* The client's server: its endpoint is the one the kill switch lets
	 * through, so an authenticated packet from elsewhere must not move
	 * it (our packets would go where the firewall drops them). */
	bool endpoint_pinned;
	struct timers_state timers;
	ev_timer timer;			/* data: the peer */
	uint64_t timer_armed_at;	/* TIMERS_NEVER: not armed */
	uint64_t rx_bytes, tx_bytes;
	struct timespec last_handshake;	/* wall clock, for the UAPI */
	struct staged_packet **staged;
	unsigned int nstaged;
};

struct peer {
	struct device *dev;
	uint64_t id;			/* for logs, instead of keys */
	const char *name;		/* the server config's [peer NAME] for
					 * logs, or NULL; owned by the config */
	struct noise_remote remote;
	struct peer_state *st;		/* NULL until peer_activate() */
	struct allowedips_owner aips;	/* its prefixes, for allowedips.c */
	struct peer *hash_next;
	struct peer *list_prev, *list_next;
};

struct peer_table {
	struct peer **buckets;
	uint8_t secret[16];		/* keys the bucket hash */
	size_t mask;
	size_t count;
	size_t staged;			/* packets staged, all peers */
	struct peer *head, *tail;	/* in order of creation */
};

int peer_table_init(struct peer_table *t);
void peer_table_free(struct peer_table *t);
struct peer *peer_lookup(const struct peer_table *t,
			 const uint8_t public_key[NOISE_PUBLIC_KEY_LEN]);

/* Creates a peer with no endpoint, no allowed IPs and no session. */
int peer_create(struct device *dev,
		const uint8_t public_key[NOISE_PUBLIC_KEY_LEN],
		struct peer **out);
/*
 * Gives the peer its peer_state if it has none yet.  Returns 0 or -ENOMEM;
 * everything that reads or writes p->st calls it first or knows the peer
 * is active (it has a session, a handshake, or an armed timer).
 */
int peer_activate(struct peer *p);
/*
 * Clears its keys and handshake, drops its staged packets, and wipes and
 * frees its peer_state: the peer is as if it had never talked.
 */
void peer_deactivate(struct peer *p);
/* Removes the peer, its allowed IPs, indices and keys, and frees it. */
void peer_remove(struct peer *p);

/* Installs the keypair a completed handshake gave, rotating the others. */
int peer_keypair_install(struct peer *p, uint64_t now);
/* A data message arrived on kp: if it is the next keypair, it now leads. */
bool peer_keypair_confirm(struct peer *p, struct keypair *kp);
/* Stops every session from sending (our key changed); receiving goes on. */
void peer_sessions_expire(struct peer *p);
/* Retires every keypair and the handshake: a new handshake must follow. */
void peer_keys_clear(struct peer *p);
/* The keypair to send with now, or NULL. */
struct keypair *peer_keypair_for_sending(struct peer *p, uint64_t now);
bool peer_keypair_can_receive(const struct keypair *kp, uint64_t now);
/* The rekeying rules of timers.c, applied to the current keypair. */
bool peer_keypair_rekey_check_send(struct peer *p, uint64_t now);
bool peer_keypair_rekey_check_receive(struct peer *p, uint64_t now);

/* The peer's cookie maker, made now if need be; NULL when out of memory. */
struct cookie_maker *peer_cookie_maker(struct peer *p);

void peer_stage_packet(struct peer *p, const uint8_t *pkt, size_t len);
void peer_staged_drop(struct peer *p);

/* Re-arms the peer's libev timer from its timers state. */
void peer_timer_update(struct peer *p, uint64_t now);

#endif /* VPND_PEER_H */
