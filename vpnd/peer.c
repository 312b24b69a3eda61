/* SPDX-License-Identifier: MIT */
/*
 * Peers: creation and removal, the table by public key, the keypair
 * rotation, the packets staged while no session exists, and the libev timer
 * that carries out what timers.c decides.
 *
 * The keypair rotation follows the protocol's rule that a responder may not
 * send with a new session until the initiator has used it: a responder's
 * keypair waits as "next" until the first data message arrives on it, while
 * an initiator's keypair is current at once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "log.h"
#include "peer.h"
#include "send.h"
#include "uapisock.h"

enum {
	PEER_TABLE_MIN_BUCKETS = 16,
};

static size_t bucket_of(const struct peer_table *t, const uint8_t *key)
{
	uint8_t h[16];
	uint64_t v;

	/*
	 * Keyed, because on a server the users choose their public keys and
	 * could grind them into one bucket.
	 */
	wg_mac(h, t->secret, sizeof(t->secret), key, NOISE_PUBLIC_KEY_LEN);
	memcpy(&v, h, sizeof(v));
	return (size_t)v & t->mask;
}

int peer_table_init(struct peer_table *t)
{
	memset(t, 0, sizeof(*t));
	t->buckets = calloc(PEER_TABLE_MIN_BUCKETS, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	t->mask = PEER_TABLE_MIN_BUCKETS - 1;
	wg_rng_fill(NULL, t->secret, sizeof(t->secret));
	return 0;
}

void peer_table_free(struct peer_table *t)
{
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}

struct peer *peer_lookup(const struct peer_table *t,
			 const uint8_t public_key[NOISE_PUBLIC_KEY_LEN])
{
	struct peer *p = t->buckets[bucket_of(t, public_key)];

	for (; p; p = p->hash_next)
		if (!memcmp(p->remote.public_key, public_key,
			    NOISE_PUBLIC_KEY_LEN))
			return p;
	return NULL;
}

static int table_grow(struct peer_table *t)
{
	size_t n = (t->mask + 1) * 2, i;
	struct peer **b = calloc(n, sizeof(*b));
	struct peer_table nt = { .buckets = b, .mask = n - 1 };

	memcpy(nt.secret, t->secret, sizeof(nt.secret));

	if (!b)
		return -ENOMEM;
	for (i = 0; i <= t->mask; i++) {
		struct peer *p = t->buckets[i], *next;

		for (; p; p = next) {
			size_t k = bucket_of(&nt, p->remote.public_key);

			next = p->hash_next;
			p->hash_next = b[k];
			b[k] = p;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->mask = n - 1;
	return 0;
}

static int table_insert(struct peer_table *t, struct peer *p)
{
	size_t k;

	/* A failed grow only lengthens chains; the insert still works. */
	if (t->count >= t->mask + 1)
		table_grow(t);
	k = bucket_of(t, p->remote.public_key);
	p->hash_next = t->buckets[k];
	t->buckets[k] = p;
	p->list_prev = t->tail;
	p->list_next = NULL;
	if (t->tail)
		t->tail->list_next = p;
	else
		t->head = p;
	t->tail = p;
	t->count++;
	return 0;
}

static void table_unlink(struct peer_table *t, struct peer *p)
{
	struct peer **pp = &t->buckets[bucket_of(t, p->remote.public_key)];

	for (; *pp; pp = &(*pp)->hash_next)
		if (*pp == p) {
			*pp = p->hash_next;
			break;
		}
	if (p->list_prev)
		p->list_prev->list_next = p->list_next;
	else
		t->head = p->list_next;
	if (p->list_next)
		p->list_next->list_prev = p->list_prev;
	else
		t->tail = p->list_prev;
	t->count--;
}

static void peer_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct peer *p = w->data;
	uint64_t now = device_now();
	unsigned int acts;

	(void)loop;
	(void)revents;
	p->st->timer_armed_at = TIMERS_NEVER;
	acts = timers_expire(&p->st->timers, now, NULL);
	if (acts & TIMERS_GIVE_UP)
		peer_staged_drop(p);
	if (acts & TIMERS_ZERO_KEYS)
		peer_keys_clear(p);
	if (acts & (TIMERS_SEND_INITIATION | TIMERS_RETRY_INITIATION)) {
		/* Unanswered: perhaps our address is not the way back any
		 * more; let the kernel choose the source again. */
		memset(&p->st->src, 0, sizeof(p->st->src));
		send_handshake_initiation(p, now);
	}
	if (acts & (TIMERS_SEND_KEEPALIVE | TIMERS_SEND_PERSISTENT_KEEPALIVE))
		send_keepalive(p, now);
	peer_timer_update(p, now);
}

void peer_timer_update(struct peer *p, uint64_t now)
{
	struct peer_state *st = p->st;
	uint64_t deadline;

	/* A peer that never talked has nothing to time. */
	if (!st)
		return;
	deadline = timers_earliest(&st->timers);
	if (deadline == st->timer_armed_at)
		return;
	ev_timer_stop(p->dev->loop, &st->timer);
	st->timer_armed_at = deadline;
	if (deadline == TIMERS_NEVER)
		return;
	ev_timer_set(&st->timer,
		     deadline > now ? (double)(deadline - now) / 1e9 : 0.0, 0.0);
	ev_timer_start(p->dev->loop, &st->timer);
}

int peer_create(struct device *dev,
		const uint8_t public_key[NOISE_PUBLIC_KEY_LEN],
		struct peer **out)
{
	struct peer *p;

	if (dev->peers.count >= MAX_PEERS)
		return -ENOSPC;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->dev = dev;
	p->id = ++dev->next_peer_id;
	noise_remote_init(&p->remote, &dev->noise, public_key, NULL, p);
	table_insert(&dev->peers, p);
	*out = p;
	return 0;
}

int peer_activate(struct peer *p)
{
	struct peer_state *st;

	if (p->st)
		return 0;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	timers_init(&st->timers);
	st->timers.rekey_after_time = p->dev->rekey_after_time;
	st->timer_armed_at = TIMERS_NEVER;
	ev_timer_init(&st->timer, peer_timer_cb, 0.0, 0.0);
	st->timer.data = p;
	p->st = st;
	return 0;
}

static void keypair_drop(struct device *dev, struct keypair *kp)
{
	if (!kp)
		return;
	index_table_remove(&dev->index, kp->k.local_index);
	wg_wipe(kp, sizeof(*kp));
	free(kp);
}

struct cookie_maker *peer_cookie_maker(struct peer *p)
{
	struct peer_state *st = p->st;

	if (!st->cookie) {
		st->cookie = malloc(sizeof(*st->cookie));
		if (st->cookie)
			cookie_maker_init(st->cookie, p->remote.public_key);
	}
	return st->cookie;
}

/* A cookie outlives no handshake: the next one starts without. */
static void cookie_maker_drop(struct peer_state *st)
{
	if (!st->cookie)
		return;
	wg_wipe(st->cookie, sizeof(*st->cookie));
	free(st->cookie);
	st->cookie = NULL;
}

void peer_keys_clear(struct peer *p)
{
	struct device *dev = p->dev;
	struct peer_state *st = p->st;

	noise_handshake_clear(&dev->noise, &p->remote);
	if (!st)
		return;
	keypair_drop(dev, st->current);
	keypair_drop(dev, st->previous);
	keypair_drop(dev, st->next);
	st->current = st->previous = st->next = NULL;
	cookie_maker_drop(st);
}

void peer_sessions_expire(struct peer *p)
{
	/*
	 * Sessions made under our old key may no longer carry new packets,
	 * but what is already in flight on them may still arrive and is
	 * accepted.  The next packet starts a handshake at once.
	 */
	struct peer_state *st = p->st;

	noise_handshake_clear(&p->dev->noise, &p->remote);
	if (!st)
		return;
	if (st->current)
		st->current->send_counter = REJECT_AFTER_MESSAGES;
	if (st->next)
		st->next->send_counter = REJECT_AFTER_MESSAGES;
	timers_reset_rate_limit(&st->timers);
}

void peer_deactivate(struct peer *p)
{
	struct peer_state *st = p->st;

	peer_keys_clear(p);
	if (!st)
		return;
	ev_timer_stop(p->dev->loop, &st->timer);
	timers_stop(&st->timers);
	peer_staged_drop(p);
	free(st->staged);
	wg_wipe(st, sizeof(*st));
	free(st);
	p->st = NULL;
}

void peer_remove(struct peer *p)
{
	struct device *dev = p->dev;

	allowedips_remove_by_peer(dev->aips, p);
	peer_deactivate(p);
	uapisock_peer_removed(dev, p);
	table_unlink(&dev->peers, p);
	noise_remote_clear(&dev->noise, &p->remote);
	wg_wipe(p, sizeof(*p));
	free(p);
}

int peer_keypair_install(struct peer *p, uint64_t now)
{
	struct peer_state *st = p->st;
	struct device *dev = p->dev;
	struct keypair *kp = calloc(1, sizeof(*kp));
	int ret;

	if (!kp) {
		noise_handshake_clear(&dev->noise, &p->remote);
		return -ENOMEM;
	}
	ret = noise_handshake_begin_session(&p->remote, &kp->k, now);
	if (ret) {
		free(kp);
		return ret;
	}
	kp->peer = p;
	replay_counter_init(&kp->replay);
	/* The handshake's index now names the session. */
	index_table_replace(&dev->index, kp->k.local_index, INDEX_KEYPAIR, kp);

	if (kp->k.initiator) {
		/*
		 * Our own handshake: usable at once.  A "next" keypair the
		 * peer gave us meanwhile is older than this one; keep it as
		 * previous so late packets on it still decrypt.
		 */
		if (st->next) {
			keypair_drop(dev, st->previous);
			st->previous = st->next;
			st->next = NULL;
			keypair_drop(dev, st->current);
		} else {
			keypair_drop(dev, st->previous);
			st->previous = st->current;
		}
		st->current = kp;
	} else {
		keypair_drop(dev, st->next);
		st->next = kp;
		keypair_drop(dev, st->previous);
		st->previous = NULL;
	}
	return 0;
}

bool peer_keypair_confirm(struct peer *p, struct keypair *kp)
{
	struct peer_state *st = p->st;

	if (kp != st->next)
		return false;
	keypair_drop(p->dev, st->previous);
	st->previous = st->current;
	st->current = kp;
	st->next = NULL;
	return true;
}

static struct timers_keypair timers_view(const struct keypair *kp)
{
	return (struct timers_keypair){
		.birth = kp->k.birthdate,
		.send_counter = kp->send_counter,
		.initiator = kp->k.initiator,
	};
}

struct keypair *peer_keypair_for_sending(struct peer *p, uint64_t now)
{
	struct peer_state *st = p->st;
	struct timers_keypair v;

	if (!st->current)
		return NULL;
	v = timers_view(st->current);
	return timers_keypair_can_send(&v, now) ? st->current : NULL;
}

bool peer_keypair_rekey_check_send(struct peer *p, uint64_t now)
{
	struct peer_state *st = p->st;
	struct timers_keypair v;

	if (!st->current)
		return false;
	v = timers_view(st->current);
	return timers_rekey_check_send(&st->timers, now, &v);
}

bool peer_keypair_rekey_check_receive(struct peer *p, uint64_t now)
{
	struct peer_state *st = p->st;
	struct timers_keypair v;

	if (!st->current)
		return false;
	v = timers_view(st->current);
	return timers_rekey_check_receive(&st->timers, now, &v);
}

bool peer_keypair_can_receive(const struct keypair *kp, uint64_t now)
{
	struct timers_keypair v = timers_view(kp);

	return timers_keypair_can_receive(&v, now);
}

static void staged_drop_oldest(struct peer *p)
{
	struct peer_state *st = p->st;

	wg_wipe(st->staged[0]->data, st->staged[0]->len);
	free(st->staged[0]);
	memmove(st->staged, st->staged + 1,
		(PEER_MAX_STAGED - 1) * sizeof(*st->staged));
	st->nstaged--;
	p->dev->peers.staged--;
	p->dev->stats.tx_dropped++;
}

void peer_stage_packet(struct peer *p, const uint8_t *pkt, size_t len)
{
	struct peer_state *st = p->st;
	struct device *dev = p->dev;
	struct staged_packet *sp;

	/* Full, for the peer or for all: the oldest packet is the least
	 * useful one. */
	if (st->nstaged == PEER_MAX_STAGED) {
		staged_drop_oldest(p);
		bound_hit(dev, BOUND_PEER_STAGED, PEER_MAX_STAGED,
			  device_now());
	} else if (dev->peers.staged >= PEER_MAX_STAGED_TOTAL) {
		bound_hit(dev, BOUND_STAGED, PEER_MAX_STAGED_TOTAL,
			  device_now());
		if (!st->nstaged) {
			dev->stats.tx_dropped++;
			return;
		}
		staged_drop_oldest(p);
	}
	if (!st->staged) {
		st->staged = calloc(PEER_MAX_STAGED, sizeof(*st->staged));
		if (!st->staged)
			return;
	}
	sp = malloc(sizeof(*sp) + len);
	if (!sp)
		return;
	sp->len = (uint16_t)len;
	memcpy(sp->data, pkt, len);
	st->staged[st->nstaged++] = sp;
	dev->peers.staged++;
}

void peer_staged_drop(struct peer *p)
{
	struct peer_state *st = p->st;

	if (!st)
		return;
	for (unsigned int i = 0; i < st->nstaged; i++) {
		wg_wipe(st->staged[i]->data, st->staged[i]->len);
		free(st->staged[i]);
	}
	p->dev->stats.tx_dropped += st->nstaged;
	p->dev->peers.staged -= st->nstaged;
	st->nstaged = 0;
}
