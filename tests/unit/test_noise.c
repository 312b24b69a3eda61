/* SPDX-License-Identifier: MIT */
/*
 * The handshake, alone: the three vector handshakes byte for byte (messages,
 * chaining keys, hashes, transport keys and transport messages), random
 * handshakes between two in-process peers, and every way a message must be
 * refused.  X25519 is wrapped at link time (-Wl,--wrap=wg_dh) so that the
 * test can count Diffie-Hellman operations.
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "noise.h"

/*
 * noise.c's allocations are all handshake states: counted, and each found
 * wiped when it is freed.
 */
static struct {
	unsigned long made, freed, dirty;
} hs_track;

static void *hs_calloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	assert_int_equal(n * size, sizeof(struct noise_handshake));
	if (p)
		hs_track.made++;
	return p;
}

static void hs_free(void *p)
{
	const uint8_t *b = p;

	if (!p)
		return;
	hs_track.freed++;
	/* A state freed unused was never written; either way: zero. */
	for (size_t i = 0; i < sizeof(struct noise_handshake); i++)
		if (b[i]) {
			hs_track.dirty++;
			break;
		}
	free(p);
}

#define calloc hs_calloc
#define free hs_free
#include "../../vpnd/noise.c"
#undef calloc
#undef free
#include "cookie.h"
#include "index.h"
#include "kat.h"

/* Test-only counter of DH operations, bumped by the wrapper below. */
static unsigned long dh_calls;

int __real_wg_dh(uint8_t out[32], const uint8_t priv[32],
		 const uint8_t pub[32]);
int __wrap_wg_dh(uint8_t out[32], const uint8_t priv[32],
		 const uint8_t pub[32]);
int __wrap_wg_dh(uint8_t out[32], const uint8_t priv[32],
		 const uint8_t pub[32])
{
	dh_calls++;
	return __real_wg_dh(out, priv, pub);
}

enum { QUEUE_MAX = 8, SIDE_REMOTES = 4 };

/* A generator that hands out queued bytes first, then real randomness. */
struct queue_rng {
	uint8_t bytes[QUEUE_MAX][32];
	size_t len[QUEUE_MAX];
	size_t head, tail;
};

static void queue_fill(void *ctx, void *buf, size_t len)
{
	struct queue_rng *q = ctx;

	if (q->head == q->tail) {
		wg_rng_fill(NULL, buf, len);
		return;
	}
	assert_int_equal(q->len[q->head], len);
	memcpy(buf, q->bytes[q->head], len);
	q->head++;
}

static void queue_push(struct queue_rng *q, const void *bytes, size_t len)
{
	assert_true(q->tail < QUEUE_MAX && len <= 32);
	memcpy(q->bytes[q->tail], bytes, len);
	q->len[q->tail++] = len;
}

/* One end of a handshake: identity, peers, indices, cookies. */
struct side {
	struct noise_ctx ctx;
	struct queue_rng q;
	struct wg_rng rng;
	struct index_table idx;
	struct noise_remote remotes[SIDE_REMOTES];
	struct cookie_maker makers[SIDE_REMOTES];
	size_t nremotes;
	struct cookie_checker checker;
};

static struct noise_remote *up_by_public(void *c, const uint8_t *pub)
{
	struct side *s = c;

	for (size_t i = 0; i < s->nremotes; i++)
		if (!memcmp(s->remotes[i].public_key, pub, 32))
			return &s->remotes[i];
	return NULL;
}

static struct noise_remote *up_by_index(void *c, uint32_t index)
{
	struct side *s = c;

	return index_table_lookup(&s->idx, index, INDEX_HANDSHAKE);
}

static int up_index_new(void *c, struct noise_remote *r, uint32_t *index)
{
	struct side *s = c;

	return index_table_insert(&s->idx, INDEX_HANDSHAKE, r, &s->rng, index);
}

static void up_index_drop(void *c, uint32_t index)
{
	struct side *s = c;

	assert_int_equal(index_table_remove(&s->idx, index), 0);
}

static void side_init(struct side *s, const uint8_t priv[32])
{
	memset(s, 0, sizeof(*s));
	s->rng.fill = queue_fill;
	s->rng.ctx = &s->q;
	s->ctx.rng = &s->rng;
	s->ctx.up = (struct noise_upcalls){
		.ctx = s,
		.remote_by_public = up_by_public,
		.remote_by_index = up_by_index,
		.index_new = up_index_new,
		.index_drop = up_index_drop,
	};
	assert_int_equal(index_table_init(&s->idx), 0);
	assert_int_equal(noise_local_set_private(&s->ctx, priv), 0);
	cookie_checker_init(&s->checker, &s->rng);
	cookie_checker_precompute(&s->checker, s->ctx.local.static_public);
}

static struct noise_remote *side_add(struct side *s, const uint8_t pub[32],
				     const uint8_t *psk)
{
	struct noise_remote *r = &s->remotes[s->nremotes];

	noise_remote_init(r, &s->ctx, pub, psk, NULL);
	cookie_maker_init(&s->makers[s->nremotes], pub);
	s->nremotes++;
	return r;
}

static struct cookie_maker *maker_of(struct side *s, struct noise_remote *r)
{
	return &s->makers[r - s->remotes];
}

static void side_free(struct side *s)
{
	for (size_t i = 0; i < s->nremotes; i++)
		noise_remote_clear(&s->ctx, &s->remotes[i]);
	assert_int_equal(s->idx.count, 0);
	index_table_free(&s->idx);
	noise_local_clear(&s->ctx);
}

static const struct sockaddr *test_source(struct sockaddr_in *sin,
					  uint16_t port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	sin->sin_addr.s_addr = htonl(0xc0a8f302);
	return (const struct sockaddr *)sin;
}

/*
 * The order the daemon's receive path follows: the MACs (no DH), the load
 * decision, then the handshake.  -EBADMSG for a bad MAC1, -EAGAIN where a
 * cookie reply would be sent.
 */
static int receive_initiation(struct side *s, const uint8_t *msg, size_t len,
			      bool under_load, uint64_t now,
			      struct noise_remote **r)
{
	struct sockaddr_in sin;
	enum cookie_mac_state st;

	*r = NULL;
	st = cookie_checker_validate(&s->checker, msg, len,
				     test_source(&sin, 51820), now);
	switch (cookie_decide(st, under_load)) {
	case COOKIE_DROP:
		return -EBADMSG;
	case COOKIE_SEND_REPLY:
		return -EAGAIN;
	case COOKIE_ACCEPT:
		break;
	}
	return noise_handshake_consume_initiation(&s->ctx, msg, len, now, r);
}

static int receive_response(struct side *s, const uint8_t *msg, size_t len,
			    bool under_load, uint64_t now,
			    struct noise_remote **r)
{
	struct sockaddr_in sin;
	enum cookie_mac_state st;

	*r = NULL;
	st = cookie_checker_validate(&s->checker, msg, len,
				     test_source(&sin, 51820), now);
	switch (cookie_decide(st, under_load)) {
	case COOKIE_DROP:
		return -EBADMSG;
	case COOKIE_SEND_REPLY:
		return -EAGAIN;
	case COOKIE_ACCEPT:
		break;
	}
	return noise_handshake_consume_response(&s->ctx, msg, len, r);
}

static void test_initial_constants(void **state)
{
	const struct kat_block *b = kat_find("constants", 1);
	uint8_t ck[32], h[32];

	(void)state;
	assert_memory_equal(NOISE_CONSTRUCTION,
			    kat_get_len(b, "construction",
					strlen(NOISE_CONSTRUCTION)),
			    strlen(NOISE_CONSTRUCTION));
	assert_memory_equal(NOISE_IDENTIFIER,
			    kat_get_len(b, "identifier",
					strlen(NOISE_IDENTIFIER)),
			    strlen(NOISE_IDENTIFIER));
	wg_hash(ck, NOISE_CONSTRUCTION, strlen(NOISE_CONSTRUCTION));
	wg_hash2(h, ck, 32, NOISE_IDENTIFIER, strlen(NOISE_IDENTIFIER));
	assert_memory_equal(ck, noise_initial_chaining_key, 32);
	assert_memory_equal(h, noise_initial_hash, 32);
	assert_memory_equal(ck, kat_get_len(b, "initial_chaining_key", 32), 32);
	assert_memory_equal(h, kat_get_len(b, "initial_hash", 32), 32);
}

/* A type-4 message as the data path will build it: header, then the
 * zero-padded payload sealed under the counter. */
static size_t seal_transport(uint8_t *out, const uint8_t key[32],
			     uint32_t receiver, uint64_t counter,
			     const uint8_t *pt, size_t len)
{
	uint8_t padded[256] = { 0 };
	size_t plen = (len + MESSAGE_PADDING_MULTIPLE - 1) /
		      MESSAGE_PADDING_MULTIPLE * MESSAGE_PADDING_MULTIPLE;

	assert_true(plen <= sizeof(padded));
	if (len)
		memcpy(padded, pt, len);
	memset(out, 0, MESSAGE_DATA_HEADER_LEN);
	put_le32(out, MESSAGE_DATA);
	put_le32(out + DATA_OFF_RECEIVER, receiver);
	for (int i = 0; i < 8; i++)
		out[DATA_OFF_COUNTER + i] = (uint8_t)(counter >> (8 * i));
	wg_aead_encrypt(out + DATA_OFF_PAYLOAD, padded, plen, NULL, 0, counter,
			key);
	return MESSAGE_DATA_HEADER_LEN + plen + NOISE_AUTHTAG_LEN;
}

static void check_transport_vectors(int n, const struct noise_keypair *ikp,
				    const struct noise_keypair *rkp)
{
	const struct kat_block *t = kat_find("transport", n);
	size_t len, mlen, got;
	const uint8_t *pt, *msg;
	uint8_t out[256], back[256];

	assert_non_null(t);
	assert_memory_equal(ikp->send_key, kat_get_len(t, "key", 32), 32);
	assert_memory_equal(rkp->send_key, kat_get_len(t, "reply_key", 32), 32);

	pt = kat_get(t, "plaintext", &len);
	msg = kat_get(t, "message", &mlen);
	got = seal_transport(out, ikp->send_key, ikp->remote_index, 0, pt, len);
	assert_int_equal(got, mlen);
	assert_memory_equal(out, msg, mlen);
	/* And the responder opens it with its receive key. */
	assert_true(wg_aead_decrypt(back, msg + 16, mlen - 16, NULL, 0, 0,
				    rkp->recv_key));
	assert_memory_equal(back, kat_get(t, "padded_plaintext", NULL),
			    mlen - 32);

	pt = kat_get(t, "reply_plaintext", &len);
	msg = kat_get(t, "reply_message", &mlen);
	got = seal_transport(out, rkp->send_key, rkp->remote_index, 0, pt, len);
	assert_int_equal(got, mlen);
	assert_memory_equal(out, msg, mlen);

	msg = kat_get(t, "keepalive", &mlen);
	got = seal_transport(out, ikp->send_key, ikp->remote_index, 1, NULL, 0);
	assert_int_equal(got, mlen);
	assert_memory_equal(out, msg, mlen);
}

static void run_vector_handshake(int n)
{
	const struct kat_block *b = kat_find("handshake", n);
	struct side *I = test_calloc(1, sizeof(*I));
	struct side *R = test_calloc(1, sizeof(*R));
	struct noise_remote *ri, *rr, *got;
	struct noise_keypair ikp, rkp;
	uint8_t init[MESSAGE_INITIATION_LEN], resp[MESSAGE_RESPONSE_LEN];
	const uint8_t *psk = kat_get_len(b, "preshared_key", 32);
	uint64_t now = 1000000000;

	assert_non_null(b);
	side_init(I, kat_get_len(b, "initiator_static_private", 32));
	side_init(R, kat_get_len(b, "responder_static_private", 32));
	assert_memory_equal(I->ctx.local.static_public,
			    kat_get_len(b, "initiator_static_public", 32), 32);
	assert_memory_equal(R->ctx.local.static_public,
			    kat_get_len(b, "responder_static_public", 32), 32);
	ri = side_add(I, R->ctx.local.static_public, psk);
	rr = side_add(R, I->ctx.local.static_public, psk);

	/* Message 1. */
	queue_push(&I->q, kat_get_len(b, "initiator_ephemeral_private", 32), 32);
	queue_push(&I->q, kat_get_len(b, "initiator_index", 4), 4);
	assert_int_equal(create_initiation(&I->ctx, ri, init,
					   kat_get_len(b, "timestamp", 12)),
			 0);
	cookie_maker_add_macs(maker_of(I, ri), init, sizeof(init), now);
	assert_memory_equal(init, kat_get_len(b, "initiation", 148), 148);
	assert_memory_equal(ri->hs->chaining_key,
			    kat_get_len(b, "chaining_key_after_initiation", 32),
			    32);
	assert_memory_equal(ri->hs->hash,
			    kat_get_len(b, "hash_after_initiation", 32), 32);

	assert_int_equal(receive_initiation(R, init, sizeof(init), false, now,
					    &got),
			 0);
	assert_ptr_equal(got, rr);
	assert_memory_equal(rr->hs->chaining_key,
			    kat_get_len(b, "chaining_key_after_initiation", 32),
			    32);
	assert_memory_equal(rr->hs->hash,
			    kat_get_len(b, "hash_after_initiation", 32), 32);
	assert_memory_equal(rr->latest_timestamp,
			    kat_get_len(b, "timestamp", 12), 12);

	/* Message 2. */
	queue_push(&R->q, kat_get_len(b, "responder_ephemeral_private", 32), 32);
	queue_push(&R->q, kat_get_len(b, "responder_index", 4), 4);
	assert_int_equal(noise_handshake_create_response(&R->ctx, rr, resp), 0);
	cookie_maker_add_macs(maker_of(R, rr), resp, sizeof(resp), now);
	assert_memory_equal(resp, kat_get_len(b, "response", 92), 92);
	assert_memory_equal(rr->hs->chaining_key,
			    kat_get_len(b, "chaining_key_after_response", 32),
			    32);
	assert_memory_equal(rr->hs->hash,
			    kat_get_len(b, "hash_after_response", 32), 32);

	assert_int_equal(receive_response(I, resp, sizeof(resp), false, now,
					  &got),
			 0);
	assert_ptr_equal(got, ri);
	assert_memory_equal(ri->hs->chaining_key,
			    kat_get_len(b, "chaining_key_after_response", 32),
			    32);
	assert_memory_equal(ri->hs->hash,
			    kat_get_len(b, "hash_after_response", 32), 32);

	/* Transport keys. */
	assert_int_equal(noise_handshake_begin_session(ri, &ikp, now), 0);
	assert_int_equal(noise_handshake_begin_session(rr, &rkp, now), 0);
	assert_true(ikp.initiator);
	assert_false(rkp.initiator);
	assert_memory_equal(ikp.send_key,
			    kat_get_len(b, "initiator_send_key", 32), 32);
	assert_memory_equal(ikp.recv_key,
			    kat_get_len(b, "initiator_receive_key", 32), 32);
	assert_memory_equal(rkp.send_key,
			    kat_get_len(b, "responder_send_key", 32), 32);
	assert_memory_equal(rkp.recv_key,
			    kat_get_len(b, "responder_receive_key", 32), 32);
	assert_int_equal(ikp.remote_index, rkp.local_index);
	assert_int_equal(rkp.remote_index, ikp.local_index);
	/* The handshake is wiped once the session is derived. */
	/* Both handshakes are gone, their state freed (wiped first). */
	assert_null(ri->hs);
	assert_null(rr->hs);

	check_transport_vectors(n, &ikp, &rkp);

	/* The keypairs now own the indices; the test plays the peer table. */
	index_table_remove(&I->idx, ikp.local_index);
	index_table_remove(&R->idx, rkp.local_index);
	side_free(I);
	side_free(R);
	test_free(I);
	test_free(R);
}

static void test_vector_handshake_1(void **state)
{
	(void)state;
	run_vector_handshake(1);
}

static void test_vector_handshake_2(void **state)
{
	(void)state;
	run_vector_handshake(2);
}

static void test_vector_handshake_3(void **state)
{
	(void)state;
	run_vector_handshake(3);
}

/* The public entry point rounds the wall clock into the same timestamp. */
static void test_public_create_matches_vector(void **state)
{
	const struct kat_block *b = kat_find("handshake", 1);
	struct side *I = test_calloc(1, sizeof(*I));
	struct noise_remote *ri;
	uint8_t init[MESSAGE_INITIATION_LEN];
	struct timespec wall = { .tv_sec = 0x5fee660a - 10,
				 .tv_nsec = 12345 };

	(void)state;
	side_init(I, kat_get_len(b, "initiator_static_private", 32));
	ri = side_add(I, kat_get_len(b, "responder_static_public", 32),
		      kat_get_len(b, "preshared_key", 32));
	queue_push(&I->q, kat_get_len(b, "initiator_ephemeral_private", 32), 32);
	queue_push(&I->q, kat_get_len(b, "initiator_index", 4), 4);
	assert_int_equal(noise_handshake_create_initiation(&I->ctx, ri, init,
							   &wall),
			 0);
	cookie_maker_add_macs(maker_of(I, ri), init, sizeof(init), 1);
	assert_memory_equal(init, kat_get_len(b, "initiation", 148), 148);
	side_free(I);
	test_free(I);
}

struct pair {
	struct side I, R;
	struct noise_remote *ri, *rr;
};

static struct pair *pair_new(bool with_psk)
{
	struct pair *p = test_calloc(1, sizeof(*p));
	uint8_t a[32], b[32], psk[32];

	wg_generate_private(a, NULL);
	wg_generate_private(b, NULL);
	wg_rng_fill(NULL, psk, sizeof(psk));
	side_init(&p->I, a);
	side_init(&p->R, b);
	p->ri = side_add(&p->I, p->R.ctx.local.static_public,
			 with_psk ? psk : NULL);
	p->rr = side_add(&p->R, p->I.ctx.local.static_public,
			 with_psk ? psk : NULL);
	return p;
}

static void pair_free(struct pair *p)
{
	side_free(&p->I);
	side_free(&p->R);
	test_free(p);
}

static void make_initiation(struct pair *p, uint8_t *init, time_t sec,
			    uint64_t now)
{
	struct timespec wall = { .tv_sec = sec, .tv_nsec = 0 };

	assert_int_equal(noise_handshake_create_initiation(&p->I.ctx, p->ri,
							   init, &wall),
			 0);
	cookie_maker_add_macs(maker_of(&p->I, p->ri), init,
			      MESSAGE_INITIATION_LEN, now);
}

static void make_response(struct pair *p, uint8_t *resp, uint64_t now)
{
	assert_int_equal(noise_handshake_create_response(&p->R.ctx, p->rr,
							 resp),
			 0);
	cookie_maker_add_macs(maker_of(&p->R, p->rr), resp,
			      MESSAGE_RESPONSE_LEN, now);
}

static void test_random_handshakes_agree(void **state)
{
	(void)state;
	for (int i = 0; i < 40; i++) {
		struct pair *p = pair_new(i & 1);
		uint8_t init[148], resp[92], ct[64], pt[48];
		struct noise_remote *got;
		struct noise_keypair ikp, rkp;

		make_initiation(p, init, 1700000000 + i, 1);
		assert_int_equal(receive_initiation(&p->R, init, sizeof(init),
						    false, 1, &got),
				 0);
		assert_ptr_equal(got, p->rr);
		make_response(p, resp, 1);
		assert_int_equal(receive_response(&p->I, resp, sizeof(resp),
						  false, 1, &got),
				 0);
		assert_ptr_equal(got, p->ri);
		assert_int_equal(noise_handshake_begin_session(p->ri, &ikp, 1),
				 0);
		assert_int_equal(noise_handshake_begin_session(p->rr, &rkp, 1),
				 0);
		assert_memory_equal(ikp.send_key, rkp.recv_key, 32);
		assert_memory_equal(ikp.recv_key, rkp.send_key, 32);
		assert_memory_not_equal(ikp.send_key, ikp.recv_key, 32);
		assert_int_equal(ikp.remote_index, rkp.local_index);
		assert_int_equal(rkp.remote_index, ikp.local_index);

		wg_aead_encrypt(ct, (const uint8_t *)"0123456789abcdef"
				    "0123456789abcdef0123456789abcdef",
				48, NULL, 0, 7, ikp.send_key);
		assert_true(wg_aead_decrypt(pt, ct, 64, NULL, 0, 7,
					    rkp.recv_key));
		index_table_remove(&p->I.idx, ikp.local_index);
		index_table_remove(&p->R.idx, rkp.local_index);
		pair_free(p);
	}
}

/*
 * The handshake state exists only while a handshake is in flight: none for
 * a peer that never shook hands, one per side during a handshake, none once
 * the session began or the handshake was dropped, and each wiped when freed.
 */
static void test_handshake_state_lives_only_in_flight(void **state)
{
	struct pair *p = pair_new(true);
	uint8_t init[148], resp[92];
	struct noise_remote *got;
	struct noise_keypair ikp, rkp;

	(void)state;
	memset(&hs_track, 0, sizeof(hs_track));
	assert_null(p->ri->hs);
	assert_null(p->rr->hs);
	make_initiation(p, init, 1700000000, 1);
	assert_non_null(p->ri->hs);
	assert_null(p->rr->hs);
	assert_int_equal(receive_initiation(&p->R, init, sizeof(init), false,
					    1, &got),
			 0);
	assert_non_null(p->rr->hs);
	make_response(p, resp, 1);
	assert_int_equal(receive_response(&p->I, resp, sizeof(resp), false, 1,
					  &got),
			 0);
	assert_int_equal(hs_track.made, 2);
	assert_int_equal(noise_handshake_begin_session(p->ri, &ikp, 1), 0);
	assert_int_equal(noise_handshake_begin_session(p->rr, &rkp, 1), 0);
	assert_null(p->ri->hs);
	assert_null(p->rr->hs);
	assert_int_equal(hs_track.freed, 2);
	/* Another initiation reuses nothing and is dropped unanswered. */
	make_initiation(p, init, 1700000001, 2);
	make_initiation(p, init, 1700000002, 3);
	assert_int_equal(hs_track.made, 3);
	noise_handshake_clear(&p->I.ctx, p->ri);
	assert_null(p->ri->hs);
	assert_int_equal(hs_track.freed, 3);
	assert_int_equal(hs_track.dirty, 0);
	index_table_remove(&p->I.idx, ikp.local_index);
	index_table_remove(&p->R.idx, rkp.local_index);
	pair_free(p);
}

static void test_psk_mismatch_fails(void **state)
{
	struct pair *p = pair_new(true);
	uint8_t init[148], resp[92], other[32] = { 9 };
	struct noise_remote *got;

	(void)state;
	noise_remote_set_psk(p->rr, other);
	make_initiation(p, init, 1700000000, 1);
	/* The psk enters only in the response, so the initiation passes... */
	assert_int_equal(receive_initiation(&p->R, init, 148, false, 1, &got),
			 0);
	make_response(p, resp, 1);
	/* ...and the initiator refuses the response. */
	assert_int_equal(receive_response(&p->I, resp, 92, false, 1, &got),
			 -EBADMSG);
	assert_null(got);
	assert_int_equal(p->ri->hs->state, HANDSHAKE_CREATED_INITIATION);
	pair_free(p);
}

/* Obtain a real cookie for the initiator, so MAC2 can be exercised. */
static void give_cookie(struct pair *p, const uint8_t *init, uint64_t now)
{
	uint8_t reply[MESSAGE_COOKIE_LEN];
	struct sockaddr_in sin;

	assert_int_equal(cookie_checker_create_reply(
				 &p->R.checker, reply, init,
				 MESSAGE_INITIATION_LEN,
				 get_le32(init + INITIATION_OFF_SENDER),
				 test_source(&sin, 51820), now),
			 0);
	assert_int_equal(cookie_maker_consume_reply(maker_of(&p->I, p->ri),
						    reply, sizeof(reply), now),
			 0);
}

static void test_initiation_bit_flips_rejected(void **state)
{
	struct pair *p = pair_new(true);
	uint8_t init[148], bad[148];
	struct noise_remote *got;
	uint64_t now = 5000000000ULL;

	(void)state;
	make_initiation(p, init, 1700000000, now);
	give_cookie(p, init, now);
	make_initiation(p, init, 1700000000, now);
	assert_false(wg_is_zero(init + INITIATION_OFF_MAC2, 16));

	/* Through the whole front door, loaded so MAC2 counts too. */
	for (size_t i = 0; i < sizeof(init); i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(bad, init, sizeof(bad));
			bad[i] ^= (uint8_t)(1 << bit);
			assert_int_not_equal(receive_initiation(&p->R, bad, 148,
								true, now,
								&got),
					     0);
			assert_null(got);
			if (i < INITIATION_OFF_MAC2)
				assert_int_not_equal(
					receive_initiation(&p->R, bad, 148,
							   false, now, &got),
					0);
		}
	}
	/*
	 * And the handshake itself, with MAC1 made valid again after the
	 * flip: every authenticated field is caught by Noise.  (The sender
	 * index is covered by MAC1 only, as in every implementation.)
	 */
	for (size_t i = 0; i < INITIATION_OFF_MAC1; i++) {
		if (i >= INITIATION_OFF_SENDER && i < INITIATION_OFF_EPHEMERAL)
			continue;
		memcpy(bad, init, sizeof(bad));
		bad[i] ^= (uint8_t)(1 << (i % 8));
		cookie_maker_add_macs(maker_of(&p->I, p->ri), bad, 148, now);
		assert_int_not_equal(receive_initiation(&p->R, bad, 148, false,
							now, &got),
				     0);
	}
	/* Nothing of it changed the responder: the original still works. */
	assert_null(p->rr->hs);
	assert_true(wg_is_zero(p->rr->latest_timestamp, 12));
	assert_int_equal(receive_initiation(&p->R, init, 148, true, now, &got),
			 0);
	assert_ptr_equal(got, p->rr);
	pair_free(p);
}

static void test_response_bit_flips_rejected(void **state)
{
	struct pair *p = pair_new(false);
	uint8_t init[148], resp[92], bad[92];
	struct noise_remote *got;
	struct sockaddr_in sin;
	uint8_t reply[MESSAGE_COOKIE_LEN];
	uint64_t now = 5000000000ULL;

	(void)state;
	make_initiation(p, init, 1700000000, now);
	assert_int_equal(receive_initiation(&p->R, init, 148, false, now, &got),
			 0);
	make_response(p, resp, now);
	/* The initiator's checker hands the responder a cookie for MAC2. */
	assert_int_equal(cookie_checker_create_reply(
				 &p->I.checker, reply, resp, sizeof(resp),
				 get_le32(resp + RESPONSE_OFF_SENDER),
				 test_source(&sin, 51820), now),
			 0);
	assert_int_equal(cookie_maker_consume_reply(maker_of(&p->R, p->rr),
						    reply, sizeof(reply), now),
			 0);
	cookie_maker_add_macs(maker_of(&p->R, p->rr), resp, sizeof(resp), now);

	for (size_t i = 0; i < sizeof(resp); i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(bad, resp, sizeof(bad));
			bad[i] ^= (uint8_t)(1 << bit);
			assert_int_not_equal(receive_response(&p->I, bad, 92,
							      true, now, &got),
					     0);
			assert_null(got);
		}
	}
	for (size_t i = 0; i < RESPONSE_OFF_MAC1; i++) {
		if (i >= RESPONSE_OFF_SENDER && i < RESPONSE_OFF_RECEIVER)
			continue;
		memcpy(bad, resp, sizeof(bad));
		bad[i] ^= (uint8_t)(1 << (i % 8));
		cookie_maker_add_macs(maker_of(&p->R, p->rr), bad, 92, now);
		assert_int_not_equal(receive_response(&p->I, bad, 92, false,
						      now, &got),
				     0);
	}
	assert_int_equal(p->ri->hs->state, HANDSHAKE_CREATED_INITIATION);
	cookie_maker_add_macs(maker_of(&p->R, p->rr), resp, sizeof(resp), now);
	assert_int_equal(receive_response(&p->I, resp, 92, false, now, &got),
			 0);
	assert_ptr_equal(got, p->ri);
	/* A second copy of the response finds no handshake waiting. */
	assert_int_equal(receive_response(&p->I, resp, 92, false, now, &got),
			 -ENOENT);
	pair_free(p);
}

static void test_initiation_replay_and_flood(void **state)
{
	struct pair *p = pair_new(false);
	uint8_t a[148], b[148], c[148], d[148];
	struct noise_remote *got;
	uint64_t t0 = 10000000000ULL;
	const uint64_t interval = 1000000000ULL / INITIATIONS_PER_SECOND;

	(void)state;
	make_initiation(p, a, 1700000000, t0);
	make_initiation(p, b, 1700000001, t0);
	make_initiation(p, c, 1700000002, t0);
	make_initiation(p, d, 1699999999, t0);

	assert_int_equal(receive_initiation(&p->R, a, 148, false, t0, &got), 0);
	/* The same message again, even much later: a replay. */
	assert_int_equal(receive_initiation(&p->R, a, 148, false, t0 + 10 *
					    interval, &got),
			 -EALREADY);
	/* A newer one, but sooner than 1/50 s after the last: a flood. */
	assert_int_equal(receive_initiation(&p->R, b, 148, false,
					    t0 + interval - 1, &got),
			 -EALREADY);
	assert_int_equal(receive_initiation(&p->R, b, 148, false, t0 + interval,
					    &got),
			 0);
	/* An older timestamp than the last accepted one: a replay. */
	assert_int_equal(receive_initiation(&p->R, d, 148, false,
					    t0 + 100 * interval, &got),
			 -EALREADY);
	assert_int_equal(receive_initiation(&p->R, c, 148, false,
					    t0 + 100 * interval, &got),
			 0);
	pair_free(p);
}

static void test_response_unknown_index(void **state)
{
	struct pair *p = pair_new(false);
	uint8_t init[148], resp[92];
	struct noise_remote *got;
	struct noise_keypair ikp;
	uint32_t idx, kp_idx;
	int dummy;

	(void)state;
	make_initiation(p, init, 1700000000, 1);
	assert_int_equal(receive_initiation(&p->R, init, 148, false, 1, &got),
			 0);
	make_response(p, resp, 1);
	idx = get_le32(resp + RESPONSE_OFF_RECEIVER);
	assert_int_equal(idx, p->ri->hs->local_index);

	/* An index nobody holds. */
	put_le32(resp + RESPONSE_OFF_RECEIVER, idx ^ 0x01000000);
	cookie_maker_add_macs(maker_of(&p->R, p->rr), resp, 92, 1);
	assert_int_equal(receive_response(&p->I, resp, 92, false, 1, &got),
			 -ENOENT);
	/* An index that names a session, not a handshake. */
	assert_int_equal(index_table_insert(&p->I.idx, INDEX_KEYPAIR, &dummy,
					    NULL, &kp_idx),
			 0);
	put_le32(resp + RESPONSE_OFF_RECEIVER, kp_idx);
	cookie_maker_add_macs(maker_of(&p->R, p->rr), resp, 92, 1);
	assert_int_equal(receive_response(&p->I, resp, 92, false, 1, &got),
			 -ENOENT);
	index_table_remove(&p->I.idx, kp_idx);

	/* The right index still completes; the index then names a session. */
	put_le32(resp + RESPONSE_OFF_RECEIVER, idx);
	cookie_maker_add_macs(maker_of(&p->R, p->rr), resp, 92, 1);
	assert_int_equal(receive_response(&p->I, resp, 92, false, 1, &got), 0);
	assert_int_equal(noise_handshake_begin_session(p->ri, &ikp, 1), 0);
	index_table_remove(&p->I.idx, ikp.local_index);
	/* A response once the handshake is over is refused. */
	assert_int_equal(receive_response(&p->I, resp, 92, false, 1, &got),
			 -ENOENT);
	/* The responder never finished: its index is dropped on clear. */
	pair_free(p);
}

static void test_wrong_mac1_costs_no_dh(void **state)
{
	struct pair *p = pair_new(false);
	uint8_t init[148];
	struct noise_remote *got;
	unsigned long before;

	(void)state;
	make_initiation(p, init, 1700000000, 1);
	init[INITIATION_OFF_MAC1] ^= 0x80;
	before = dh_calls;
	assert_int_equal(receive_initiation(&p->R, init, 148, false, 1, &got),
			 -EBADMSG);
	assert_int_equal(receive_initiation(&p->R, init, 148, true, 1, &got),
			 -EBADMSG);
	assert_int_equal(dh_calls, before);

	/* The counter is live: a good MAC1 leads to DH work. */
	init[INITIATION_OFF_MAC1] ^= 0x80;
	assert_int_equal(receive_initiation(&p->R, init, 148, false, 1, &got),
			 0);
	assert_true(dh_calls > before);

	/* Under load without a cookie, the answer is a cookie, not DH. */
	before = dh_calls;
	make_initiation(p, init, 1700000001, 1);
	before = dh_calls;
	assert_int_equal(receive_initiation(&p->R, init, 148, true,
					    1000000000, &got),
			 -EAGAIN);
	assert_int_equal(dh_calls, before);
	pair_free(p);
}

/* Adding a peer costs no DH: the static-static one waits for a handshake,
 * is done once, and is redone only after our key changes. */
static void test_static_static_is_computed_once_when_needed(void **state)
{
	struct pair *p = pair_new(false);
	uint8_t init[148];
	struct noise_remote *got;
	unsigned long before, first, second;

	(void)state;
	assert_false(p->ri->static_static_known);
	assert_false(p->rr->static_static_known);
	before = dh_calls;
	make_initiation(p, init, 1700000000, 1);
	first = dh_calls - before;
	assert_true(p->ri->static_static_known);
	assert_true(p->ri->static_static_valid);
	assert_int_equal(receive_initiation(&p->R, init, 148, false, 1, &got),
			 0);
	assert_ptr_equal(got, p->rr);
	assert_true(p->rr->static_static_known);

	before = dh_calls;
	make_initiation(p, init, 1700000001, 2);
	second = dh_calls - before;
	assert_int_equal(first, second + 1);

	/* A new identity forgets it; the next handshake redoes it. */
	noise_remote_precompute(p->ri, &p->I.ctx);
	assert_false(p->ri->static_static_known);
	assert_true(wg_is_zero(p->ri->static_static, 32));
	before = dh_calls;
	make_initiation(p, init, 1700000002, 3);
	assert_int_equal(dh_calls - before, first);
	pair_free(p);
}

static void test_low_order_keys_never_make_a_session(void **state)
{
	struct pair *p = pair_new(false);
	uint8_t init[148], resp[92], bad[148], badr[92], lo[32], zero[32] = { 0 };
	struct noise_remote *got, *lr;
	struct timespec wall = { .tv_sec = 1700000000 };
	struct side *s;

	(void)state;
	for (size_t i = 0; i < KAT_LOW_ORDER_POINTS; i++) {
		kat_hex(lo, 32, kat_low_order_points[i]);
		/* A peer configured with a low-order static key. */
		s = test_calloc(1, sizeof(*s));
		side_init(s, p->I.ctx.local.static_private);
		lr = side_add(s, lo, NULL);
		assert_false(lr->static_static_valid);
		assert_int_equal(noise_handshake_create_initiation(&s->ctx, lr,
								   init, &wall),
				 -EINVAL);
		assert_true(wg_is_zero(init, sizeof(init)));
		assert_null(lr->hs);
		side_free(s);
		test_free(s);
	}

	make_initiation(p, init, 1700000000, 1);
	for (size_t i = 0; i < KAT_LOW_ORDER_POINTS; i++) {
		/* An initiation whose ephemeral is low-order. */
		memcpy(bad, init, sizeof(bad));
		kat_hex(bad + INITIATION_OFF_EPHEMERAL, 32,
			kat_low_order_points[i]);
		cookie_maker_add_macs(maker_of(&p->I, p->ri), bad, 148, 1);
		assert_int_equal(receive_initiation(&p->R, bad, 148, false, 1,
						    &got),
				 -EINVAL);
		assert_null(p->rr->hs);
	}
	assert_int_equal(receive_initiation(&p->R, init, 148, false, 1, &got),
			 0);
	make_response(p, resp, 1);
	for (size_t i = 0; i < KAT_LOW_ORDER_POINTS; i++) {
		/* A response whose ephemeral is low-order. */
		memcpy(badr, resp, sizeof(badr));
		kat_hex(badr + RESPONSE_OFF_EPHEMERAL, 32,
			kat_low_order_points[i]);
		cookie_maker_add_macs(maker_of(&p->R, p->rr), badr, 92, 1);
		assert_int_equal(receive_response(&p->I, badr, 92, false, 1,
						  &got),
				 -EINVAL);
		assert_int_equal(p->ri->hs->state, HANDSHAKE_CREATED_INITIATION);
	}

	/* An all-zero private key means "no identity": nothing is sent. */
	s = test_calloc(1, sizeof(*s));
	side_init(s, p->I.ctx.local.static_private);
	assert_int_equal(noise_local_set_private(&s->ctx, zero), 0);
	assert_false(s->ctx.local.has_identity);
	lr = side_add(s, p->R.ctx.local.static_public, NULL);
	assert_int_equal(noise_handshake_create_initiation(&s->ctx, lr, bad,
							   &wall),
			 -EINVAL);
	side_free(s);
	test_free(s);
	pair_free(p);
}

static void test_initiation_from_unknown_peer(void **state)
{
	struct pair *p = pair_new(false);
	struct side *stranger = test_calloc(1, sizeof(*stranger));
	uint8_t priv[32], init[148];
	struct noise_remote *sr, *got;
	struct timespec wall = { .tv_sec = 1700000000 };

	(void)state;
	wg_generate_private(priv, NULL);
	side_init(stranger, priv);
	sr = side_add(stranger, p->R.ctx.local.static_public, NULL);
	assert_int_equal(noise_handshake_create_initiation(&stranger->ctx, sr,
							   init, &wall),
			 0);
	cookie_maker_add_macs(maker_of(stranger, sr), init, 148, 1);
	/* MAC1 is fine (it knows R's public key) but R does not know it. */
	assert_int_equal(receive_initiation(&p->R, init, 148, false, 1, &got),
			 -ENOKEY);
	assert_null(got);
	side_free(stranger);
	test_free(stranger);
	pair_free(p);
}

static void test_indices_are_replaced_and_dropped(void **state)
{
	struct pair *p = pair_new(false);
	uint8_t init[148];
	uint32_t first;

	(void)state;
	make_initiation(p, init, 1700000000, 1);
	first = p->ri->hs->local_index;
	assert_int_not_equal(first, 0);
	assert_int_equal(get_le32(init + INITIATION_OFF_SENDER), first);
	assert_int_equal(p->I.idx.count, 1);
	/* A retry takes a new index and gives the old one back. */
	make_initiation(p, init, 1700000001, 1);
	assert_int_not_equal(p->ri->hs->local_index, first);
	assert_int_equal(p->I.idx.count, 1);
	assert_null(index_table_lookup(&p->I.idx, first, INDEX_HANDSHAKE));
	assert_ptr_equal(index_table_lookup(&p->I.idx, p->ri->hs->local_index,
					    INDEX_HANDSHAKE),
			 p->ri);
	noise_handshake_clear(&p->I.ctx, p->ri);
	assert_int_equal(p->I.idx.count, 0);
	assert_null(p->ri->hs);
	pair_free(p);
}

static void test_remote_clear_wipes(void **state)
{
	struct pair *p = pair_new(true);
	uint8_t init[148];

	(void)state;
	make_initiation(p, init, 1700000000, 1);
	noise_remote_clear(&p->I.ctx, p->ri);
	assert_true(wg_is_zero(p->ri, sizeof(*p->ri)));
	noise_local_clear(&p->I.ctx);
	assert_true(wg_is_zero(&p->I.ctx.local, sizeof(p->I.ctx.local)));
	pair_free(p);
}

static int teardown(void **state)
{
	(void)state;
	kat_free();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_initial_constants),
		cmocka_unit_test(test_handshake_state_lives_only_in_flight),
		cmocka_unit_test(test_vector_handshake_1),
		cmocka_unit_test(test_vector_handshake_2),
		cmocka_unit_test(test_vector_handshake_3),
		cmocka_unit_test(test_public_create_matches_vector),
		cmocka_unit_test(test_random_handshakes_agree),
		cmocka_unit_test(test_psk_mismatch_fails),
		cmocka_unit_test(test_initiation_bit_flips_rejected),
		cmocka_unit_test(test_response_bit_flips_rejected),
		cmocka_unit_test(test_initiation_replay_and_flood),
		cmocka_unit_test(test_response_unknown_index),
		cmocka_unit_test(test_wrong_mac1_costs_no_dh),
		cmocka_unit_test(test_static_static_is_computed_once_when_needed),
		cmocka_unit_test(test_low_order_keys_never_make_a_session),
		cmocka_unit_test(test_initiation_from_unknown_peer),
		cmocka_unit_test(test_indices_are_replaced_and_dropped),
		cmocka_unit_test(test_remote_clear_wipes),
	};

	if (wg_init())
		return 1;
	return cmocka_run_group_tests(tests, NULL, teardown);
}
