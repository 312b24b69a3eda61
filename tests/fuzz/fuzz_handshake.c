/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the handshake consumers directly: noise.c's
 * noise_handshake_consume_initiation() and _consume_response(), cookie.c's
 * cookie_maker_consume_reply() and cookie_checker_validate().  These read
 * the 148-, 92- and 64-byte messages that anyone on the Internet can send
 * to the daemon's UDP port; here the MAC checks that normally stand in
 * front of the Noise code are bypassed, so the fuzzer reaches it directly.
 *
 * Two sides, A and B, each with an identity, the other as its one peer, a
 * cookie maker for the other and a cookie checker of its own, run a script
 * taken from the input.  Randomness is a generator seeded the same way for
 * every input, so that an input replays exactly.  Each step is one of:
 *
 *  - a genuine message from one side to the other (or from a stranger
 *    whose key neither side knows), with a few bytes
 *    flipped where the input says; the harness knows which bytes are
 *    authenticated and so whether the message must be accepted, and with
 *    which error it must be refused (replayed or too early initiations:
 *    -EALREADY);
 *  - raw bytes of the input, of the message's length or of any length,
 *    handed to one of the consumers;
 *  - time passing, for the timestamp, flood and cookie-age rules.
 *
 * After every step: a refused message changed nothing in the side that
 * refused it; the index table names exactly the handshakes in flight;
 * completed handshakes gave both sides the same keys, crosswise; and MAC2
 * is valid exactly while the cookie the sender holds is fresh.
 *
 * FUZZ_WRITE_SEEDS=DIR makes the harness write its seed corpus and exit.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <sodium.h>

#include "cookie.h"
#include "crypto.h"
#include "index.h"
#include "noise.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FAIL(...)                                                 \
	do {                                                      \
		fprintf(stderr, "fuzz_handshake: " __VA_ARGS__);  \
		fputc('\n', stderr);                              \
		abort();                                          \
	} while (0)

enum {
	NSEC_PER_MSEC = 1000000,
	NSEC_PER_SEC = 1000000000,
	MAX_STEPS = 64,
	MAX_FLIPS = 4,
};

/* Script opcodes: the low three bits of a step's first byte. */
enum op {
	OP_INIT,	/* genuine initiation, flipped; bit 3: from B */
	OP_RESP,	/* genuine response, flipped; bit 3: from B */
	OP_COOKIE,	/* genuine cookie reply, flipped; bit 3: from B */
	OP_RAW_INIT,	/* raw bytes to consume_initiation; bit 3: to B */
	OP_RAW_RESP,	/* raw bytes to consume_response */
	OP_RAW_COOKIE,	/* raw bytes to cookie_maker_consume_reply */
	OP_RAW_MACS,	/* raw bytes to cookie_checker_validate */
	OP_TIME,	/* advance both clocks */
};

/* A deterministic generator: splitmix64. */
struct det_rng {
	uint64_t s;
};

static void det_fill(void *ctx, void *buf, size_t len)
{
	struct det_rng *r = ctx;
	uint8_t *p = buf;

	while (len) {
		uint64_t z = (r->s += UINT64_C(0x9e3779b97f4a7c15));
		size_t n = len < 8 ? len : 8;

		z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
		z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
		z ^= z >> 31;
		memcpy(p, &z, n);
		p += n;
		len -= n;
	}
}

struct side {
	struct noise_ctx ctx;
	struct det_rng det;
	struct wg_rng rng;
	struct index_table idx;
	struct noise_remote peer;	/* the other side */
	struct cookie_maker maker;	/* MACs on what we send the other */
	struct cookie_checker checker;	/* MACs on what we receive */
	union {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} addr;				/* where our messages come from */
	/* The last handshake message we sent, MACs included. */
	uint8_t last_sent[MESSAGE_INITIATION_LEN];
	size_t last_sent_len;
	/* The keypair of the last handshake we completed as responder. */
	struct noise_keypair pending;
	bool has_pending;
	/* The checker secret our current cookie was made from, and when. */
	uint64_t cookie_secret_birth;
};

/* A, B, and two strangers: identities that know A (B) but that A (B) does
 * not know, for the -ENOKEY path. */
enum { SIDES = 4 };
static struct side template_side[SIDES];
static struct side sides[SIDES];
static uint64_t now_ns;		/* monotonic */
static uint64_t wall_ns;	/* wall clock, for TAI64N */
/* FUZZ_TRACE=1 prints the steps, to read what a crashing input does. */
static bool trace;

/* Upcalls of each side: one peer, an index table. */

static struct noise_remote *up_by_public(void *c, const uint8_t *pub)
{
	struct side *s = c;

	return memcmp(s->peer.public_key, pub, NOISE_PUBLIC_KEY_LEN) ?
		       NULL :
		       &s->peer;
}

static struct noise_remote *up_by_index(void *c, uint32_t index)
{
	return index_table_lookup(&((struct side *)c)->idx, index,
				  INDEX_HANDSHAKE);
}

static int up_index_new(void *c, struct noise_remote *r, uint32_t *index)
{
	struct side *s = c;

	return index_table_insert(&s->idx, INDEX_HANDSHAKE, r, &s->rng, index);
}

static void up_index_drop(void *c, uint32_t index)
{
	if (index_table_remove(&((struct side *)c)->idx, index))
		FAIL("noise dropped index %08x, which it never registered",
		     index);
}

/* Re-points what a struct copy of a side left pointing at the template. */
static void side_wire(struct side *s)
{
	s->rng.fill = det_fill;
	s->rng.ctx = &s->det;
	s->ctx.rng = &s->rng;
	s->checker.rng = &s->rng;
	s->ctx.up = (struct noise_upcalls){
		.ctx = s,
		.remote_by_public = up_by_public,
		.remote_by_index = up_by_index,
		.index_new = up_index_new,
		.index_drop = up_index_drop,
	};
	s->peer.owner = s;
}

static void side_keys(struct side *s, uint8_t seed)
{
	uint8_t priv[NOISE_PUBLIC_KEY_LEN];

	memset(s, 0, sizeof(*s));
	side_wire(s);
	memset(priv, seed, sizeof(priv));
	if (noise_local_set_private(&s->ctx, priv))
		FAIL("cannot set a private key");
	cookie_checker_init(&s->checker, &s->rng);
	cookie_checker_precompute(&s->checker, s->ctx.local.static_public);
}

static void side_meet(struct side *s, const struct side *other)
{
	noise_remote_init(&s->peer, &s->ctx, other->ctx.local.static_public,
			  NULL, s);
	/* A preshared key on both ends: the psk path of the response. */
	noise_remote_set_psk(&s->peer,
			     (const uint8_t *)"fuzz preshared key, 32 bytes...");
	cookie_maker_init(&s->maker, other->ctx.local.static_public);
}

/* The expensive X25519 work is done once; each input copies the result. */
static void templates_build(void)
{
	side_keys(&template_side[0], 0x41);
	side_keys(&template_side[1], 0x42);
	side_keys(&template_side[2], 0x43);
	side_keys(&template_side[3], 0x44);
	side_meet(&template_side[0], &template_side[1]);
	side_meet(&template_side[1], &template_side[0]);
	side_meet(&template_side[2], &template_side[0]);
	side_meet(&template_side[3], &template_side[1]);
	/* Done here, so that each input's copy does not redo it. */
	if (!noise_remote_static_static(&template_side[0].ctx,
					&template_side[0].peer) ||
	    !noise_remote_static_static(&template_side[1].ctx,
					&template_side[1].peer))
		FAIL("the harness keys give no static-static secret");
	template_side[0].addr.in4.sin_family = AF_INET;
	template_side[0].addr.in4.sin_port = htons(51820);
	template_side[0].addr.in4.sin_addr.s_addr = htonl(0xc0000201);
	template_side[1].addr.in6.sin6_family = AF_INET6;
	template_side[1].addr.in6.sin6_port = htons(51821);
	template_side[1].addr.in6.sin6_addr.s6_addr[0] = 0x20;
	template_side[1].addr.in6.sin6_addr.s6_addr[15] = 0x02;
	template_side[2].addr = template_side[0].addr;
	template_side[3].addr = template_side[1].addr;
}

static void sides_reset(void)
{
	for (int i = 0; i < SIDES; i++) {
		sides[i] = template_side[i];
		side_wire(&sides[i]);
		sides[i].det.s = 0x1234567800000000ull + (uint64_t)i;
		if (index_table_init(&sides[i].idx))
			FAIL("out of memory");
	}
	now_ns = 1000ull * NSEC_PER_SEC;
	wall_ns = 1700000000ull * NSEC_PER_SEC;
}

static void sides_free(void)
{
	for (int i = 0; i < SIDES; i++) {
		/* A handshake in flight lives apart from the side. */
		noise_handshake_clear(&sides[i].ctx, &sides[i].peer);
		index_table_free(&sides[i].idx);
		sodium_memzero(&sides[i], sizeof(sides[i]));
	}
}

static struct timespec wall_now(int64_t adjust_ns)
{
	uint64_t w = wall_ns + (uint64_t)adjust_ns;

	return (struct timespec){ .tv_sec = (time_t)(w / NSEC_PER_SEC),
				  .tv_nsec = (long)(w % NSEC_PER_SEC) };
}

/* Input reading. */

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

/*
 * Flips up to MAX_FLIPS bytes of msg where the input says.  Returns whether
 * a byte inside one of the authenticated ranges now differs (two flips of
 * the same byte may cancel out).
 */
static bool flip(struct reader *r, uint8_t *msg, size_t len,
		 const size_t (*auth)[2], size_t nauth)
{
	unsigned int n = take(r) % (MAX_FLIPS + 1);
	uint8_t orig[MESSAGE_INITIATION_LEN];

	memcpy(orig, msg, len);
	for (unsigned int i = 0; i < n; i++) {
		size_t pos = take(r) % len;
		uint8_t x = take(r);

		msg[pos] ^= x;
		if (trace)
			fprintf(stderr, "  flip byte %zu ^= %#x\n", pos, x);
	}
	for (size_t j = 0; j < nauth; j++)
		if (memcmp(orig + auth[j][0], msg + auth[j][0],
			   auth[j][1] - auth[j][0]))
			return true;
	return false;
}

/* The invariants between steps. */

/* No handshake in flight reads as a zeroed one. */
static const struct noise_handshake no_hs;

static const struct noise_handshake *hs_of(const struct noise_remote *r)
{
	return r->hs ? r->hs : &no_hs;
}

/* A peer's state, with the handshake it points to. */
struct snapshot {
	struct noise_remote r;
	struct noise_handshake hs;
};

static void snap(struct snapshot *sn, const struct noise_remote *r)
{
	sn->r = *r;
	sn->hs = *hs_of(r);
}

static void check_index(const struct side *s)
{
	const struct noise_handshake *hs = hs_of(&s->peer);
	size_t want = 0;

	if (hs->state != HANDSHAKE_ZEROED && hs->local_index) {
		want = 1;
		if (index_table_lookup(&s->idx, hs->local_index,
				       INDEX_HANDSHAKE) != &s->peer)
			FAIL("the handshake's index is not in the table");
	}
	if (hs->state == HANDSHAKE_ZEROED && hs->local_index)
		FAIL("a zeroed handshake keeps index %08x", hs->local_index);
	if (s->idx.count != want)
		FAIL("%zu indices registered, %zu handshakes in flight",
		     s->idx.count, want);
}

/* A consumer's verdict on a message, against what the harness expected. */
static void expect(const char *what, int ret, bool ok, int err)
{
	if (ok && ret)
		FAIL("%s refused (%d) though it is genuine and fresh", what,
		     ret);
	if (!ok && !ret)
		FAIL("%s accepted though it must be refused (%d)", what, err);
	if (!ok && err && ret != err)
		FAIL("%s refused with %d, expected %d", what, ret, err);
}

static void unchanged(const char *what, const struct snapshot *before,
		      const struct noise_remote *after)
{
	if (memcmp(&before->r, after, sizeof(*after)) ||
	    memcmp(&before->hs, hs_of(after), sizeof(before->hs)))
		FAIL("a refused %s changed the peer's state", what);
}

/* The keypair of a completed handshake, taken out of the index table. */
static void session_begin(struct side *s, struct noise_keypair *kp)
{
	if (noise_handshake_begin_session(&s->peer, kp, now_ns))
		FAIL("no session after a completed handshake");
	if (index_table_remove(&s->idx, kp->local_index))
		FAIL("a session's index %08x was not registered",
		     kp->local_index);
	if (hs_of(&s->peer)->state != HANDSHAKE_ZEROED)
		FAIL("the handshake survived its session");
}

/*
 * The initiator takes the responder's index from the response's sender
 * field, which only MAC1 covers; with MACs bypassed it is whatever the
 * message said, so that is what it is compared with.
 */
static void sessions_match(const struct noise_keypair *i,
			   const struct noise_keypair *r, uint32_t sender)
{
	if (!i->initiator || r->initiator)
		FAIL("both ends of a session claim the same role");
	if (memcmp(i->send_key, r->recv_key, NOISE_SYMMETRIC_KEY_LEN) ||
	    memcmp(i->recv_key, r->send_key, NOISE_SYMMETRIC_KEY_LEN))
		FAIL("the two ends of a session derived different keys");
	if (i->local_index != r->remote_index || i->remote_index != sender)
		FAIL("the two ends of a session disagree on the indices");
}

/* MAC1 always verifies between the two; MAC2 exactly while fresh. */
static void check_macs(struct side *to, const struct side *from,
		       const uint8_t *msg, size_t len)
{
	uint64_t secret_birth = to->checker.secret_birthdate;
	bool cookie_fresh =
		from->maker.cookie_birthdate &&
		now_ns - from->maker.cookie_birthdate <
			(uint64_t)(COOKIE_SECRET_MAX_AGE -
				   COOKIE_SECRET_LATENCY) * NSEC_PER_SEC;
	bool secret_live =
		secret_birth && secret_birth == from->cookie_secret_birth &&
		now_ns - secret_birth <
			(uint64_t)COOKIE_SECRET_MAX_AGE * NSEC_PER_SEC;
	enum cookie_mac_state st;

	st = cookie_checker_validate(&to->checker, msg, len, &from->addr.sa,
				     now_ns);
	if (st == COOKIE_MAC_INVALID)
		FAIL("MAC1 of a genuine message does not verify");
	if ((st == COOKIE_MAC_VALID_WITH_COOKIE) != (cookie_fresh && secret_live))
		FAIL("MAC2 %s, but the cookie is %s and its secret %s",
		     st == COOKIE_MAC_VALID_WITH_COOKIE ? "verifies" : "fails",
		     cookie_fresh ? "fresh" : "stale",
		     secret_live ? "current" : "gone");
}

/* Steps. */

static void step_init(struct reader *r, unsigned int op)
{
	static const size_t auth[][2] = { { 0, 4 }, { 8, INITIATION_OFF_MAC1 } };
	/* What is read before the sender is known: the static key. */
	static const size_t before_lookup[][2] = {
		{ 0, 4 }, { 8, INITIATION_OFF_TIMESTAMP }
	};
	/* Bit 6: from a stranger to the side bit 3 names. */
	bool stranger = op & 0x40;
	struct side *to = stranger ? &sides[op >> 3 & 1] :
				     &sides[!(op >> 3 & 1)];
	struct side *from = stranger ? &sides[2 + (op >> 3 & 1)] :
				       &sides[op >> 3 & 1];
	uint8_t msg[MESSAGE_INITIATION_LEN], ts[NOISE_TIMESTAMP_LEN];
	struct snapshot before;
	struct noise_remote *out;
	/* Bits 4-5: the timestamp now, a tick (2^24 ns, TAI64N's grain
	 * here) earlier or later, or an hour ahead. */
	static const int64_t adjusts[] = { 0, -(1 << 24), 1 << 24,
					   3600ll * NSEC_PER_SEC };
	int64_t adjust = adjusts[op >> 4 & 3];
	struct timespec wall = wall_now(adjust);
	bool tampered, fresh, ok;
	int ret, err;

	if (noise_handshake_create_initiation(&from->ctx, &from->peer, msg,
					      &wall))
		FAIL("cannot create an initiation");
	cookie_maker_add_macs(&from->maker, msg, sizeof(msg), now_ns);
	memcpy(from->last_sent, msg, sizeof(msg));
	from->last_sent_len = sizeof(msg);
	if (!stranger)
		check_macs(to, from, msg, sizeof(msg));
	check_index(from);

	wg_tai64n(ts, &wall);
	if (stranger) {
		/* Unknown, unless the part read before the lookup was
		 * damaged: whether the timestamp was does not matter. */
		tampered = flip(r, msg, sizeof(msg), before_lookup, 2);
		snap(&before, &to->peer);
		ret = noise_handshake_consume_initiation(&to->ctx, msg,
							 sizeof(msg), now_ns,
							 &out);
		expect("stranger's initiation", ret, false,
		       tampered ? 0 : -ENOKEY);
		unchanged("stranger's initiation", &before, &to->peer);
		check_index(to);
		return;
	}
	tampered = flip(r, msg, sizeof(msg), auth, 2);
	fresh = memcmp(ts, to->peer.latest_timestamp, sizeof(ts)) > 0 &&
		(!to->peer.last_initiation_consumption ||
		 now_ns - to->peer.last_initiation_consumption >=
			 NSEC_PER_SEC / INITIATIONS_PER_SECOND);
	ok = !tampered && fresh;
	err = tampered ? 0 : -EALREADY;

	snap(&before, &to->peer);
	ret = noise_handshake_consume_initiation(&to->ctx, msg, sizeof(msg),
						 now_ns, &out);
	expect("initiation", ret, ok, err);
	if (ret) {
		unchanged("initiation", &before, &to->peer);
		if (out)
			FAIL("a refused initiation names a peer");
	} else {
		if (out != &to->peer ||
		    hs_of(&to->peer)->state != HANDSHAKE_CONSUMED_INITIATION)
			FAIL("an accepted initiation left the wrong state");
		if (hs_of(&to->peer)->remote_index !=
		    (uint32_t)(msg[4] | msg[5] << 8 | msg[6] << 16 |
			       (uint32_t)msg[7] << 24))
			FAIL("the sender index was not taken from the message");
	}
	check_index(to);
}

static void step_resp(struct reader *r, unsigned int op)
{
	static const size_t auth[][2] = { { 0, 4 }, { 8, RESPONSE_OFF_MAC1 } };
	struct side *from = &sides[op >> 3 & 1], *to = &sides[!(op >> 3 & 1)];
	uint8_t msg[MESSAGE_RESPONSE_LEN];
	struct snapshot before;
	struct noise_remote *out;
	struct noise_keypair kp;
	bool could = hs_of(&from->peer)->state == HANDSHAKE_CONSUMED_INITIATION;
	bool tampered, ok;
	uint32_t receiver;
	int ret;

	ret = noise_handshake_create_response(&from->ctx, &from->peer, msg);
	if (!could) {
		if (!ret)
			FAIL("a response without a consumed initiation");
		if (!sodium_is_zero(msg, sizeof(msg)))
			FAIL("a refused response left bytes behind");
		/* Still try the consumer: an all-zero response. */
	} else {
		if (ret)
			FAIL("cannot create a response (%d)", ret);
		cookie_maker_add_macs(&from->maker, msg, sizeof(msg), now_ns);
		memcpy(from->last_sent, msg, sizeof(msg));
		from->last_sent_len = sizeof(msg);
		check_macs(to, from, msg, sizeof(msg));
		/* The responder derives its keys as soon as it has answered. */
		session_begin(from, &from->pending);
		from->has_pending = true;
	}
	check_index(from);

	receiver = (uint32_t)msg[8] | (uint32_t)msg[9] << 8 |
		   (uint32_t)msg[10] << 16 | (uint32_t)msg[11] << 24;
	tampered = flip(r, msg, sizeof(msg), auth, 2);
	ok = could && !tampered &&
	     hs_of(&to->peer)->state == HANDSHAKE_CREATED_INITIATION &&
	     hs_of(&to->peer)->local_index == receiver;

	snap(&before, &to->peer);
	ret = noise_handshake_consume_response(&to->ctx, msg, sizeof(msg), &out);
	expect("response", ret, ok, 0);
	if (ret) {
		unchanged("response", &before, &to->peer);
		if (out)
			FAIL("a refused response names a peer");
		check_index(to);
		return;
	}
	if (out != &to->peer ||
	    hs_of(&to->peer)->state != HANDSHAKE_CONSUMED_RESPONSE)
		FAIL("an accepted response left the wrong state");
	check_index(to);
	session_begin(to, &kp);
	if (!from->has_pending)
		FAIL("a response accepted with no responder session");
	sessions_match(&kp, &from->pending,
		       (uint32_t)msg[4] | (uint32_t)msg[5] << 8 |
			       (uint32_t)msg[6] << 16 | (uint32_t)msg[7] << 24);
	sodium_memzero(&kp, sizeof(kp));
	check_index(to);
}

static void step_cookie(struct reader *r, unsigned int op)
{
	static const size_t auth[][2] = { { 0, 4 }, { 8, MESSAGE_COOKIE_LEN } };
	/* "from" makes the reply to what "to" last sent it. */
	struct side *from = &sides[op >> 3 & 1], *to = &sides[!(op >> 3 & 1)];
	uint8_t reply[MESSAGE_COOKIE_LEN];
	struct cookie_maker before;
	const uint8_t *mac1;
	bool tampered, ok;
	int ret;

	if (!to->last_sent_len)
		return;
	ret = cookie_checker_create_reply(&from->checker, reply, to->last_sent,
					  to->last_sent_len, 0x01020304,
					  &to->addr.sa, now_ns);
	if (ret)
		FAIL("cannot create a cookie reply (%d)", ret);
	mac1 = to->last_sent + to->last_sent_len - MACS_LEN;
	tampered = flip(r, reply, sizeof(reply), auth, 2);
	ok = !tampered && to->maker.have_sent_mac1 &&
	     !memcmp(to->maker.last_mac1_sent, mac1, COOKIE_MAC_LEN);

	before = to->maker;
	ret = cookie_maker_consume_reply(&to->maker, reply, sizeof(reply),
					 now_ns);
	expect("cookie reply", ret, ok, 0);
	if (ret) {
		if (memcmp(&before, &to->maker, sizeof(before)))
			FAIL("a refused cookie reply changed the maker");
		return;
	}
	if (to->maker.have_sent_mac1)
		FAIL("a cookie reply can be used twice");
	to->cookie_secret_birth = from->checker.secret_birthdate;
}

/* Raw bytes: a length the message must have, or any the input gives. */
static uint8_t *raw_message(struct reader *r, unsigned int op, size_t want,
			    size_t *len)
{
	uint8_t *msg;

	*len = (op & 0x80) ? take(r) : want;
	msg = malloc(*len ? *len : 1);
	if (!msg)
		FAIL("out of memory");
	for (size_t i = 0; i < *len; i++)
		msg[i] = take(r);
	/* Bit 6: a correct type field, so that the bytes behind it count. */
	if ((op & 0x40) && *len >= 4) {
		msg[0] = (uint8_t)(want == MESSAGE_INITIATION_LEN ? 1 :
				   want == MESSAGE_RESPONSE_LEN ? 2 : 3);
		msg[1] = msg[2] = msg[3] = 0;
	}
	return msg;
}

static void step_raw(struct reader *r, unsigned int op)
{
	struct side *s = &sides[op >> 3 & 1];
	struct noise_remote *out = NULL;
	struct snapshot before;
	struct cookie_maker maker_before = s->maker;
	size_t len;
	uint8_t *msg;
	int ret;

	snap(&before, &s->peer);
	switch (op & 7) {
	case OP_RAW_INIT:
		msg = raw_message(r, op, MESSAGE_INITIATION_LEN, &len);
		ret = noise_handshake_consume_initiation(&s->ctx, msg, len,
							 now_ns, &out);
		if (!ret && (out != &s->peer ||
			     hs_of(&s->peer)->state != HANDSHAKE_CONSUMED_INITIATION))
			FAIL("an accepted raw initiation left the wrong state");
		break;
	case OP_RAW_RESP:
		msg = raw_message(r, op, MESSAGE_RESPONSE_LEN, &len);
		ret = noise_handshake_consume_response(&s->ctx, msg, len, &out);
		if (!ret && (out != &s->peer ||
			     hs_of(&s->peer)->state != HANDSHAKE_CONSUMED_RESPONSE))
			FAIL("an accepted raw response left the wrong state");
		break;
	case OP_RAW_COOKIE:
		msg = raw_message(r, op, MESSAGE_COOKIE_LEN, &len);
		ret = cookie_maker_consume_reply(&s->maker, msg, len, now_ns);
		if (ret && memcmp(&maker_before, &s->maker,
				  sizeof(maker_before)))
			FAIL("a refused raw cookie reply changed the maker");
		break;
	default: {
		/* MACs from an address the input picks; the other side's
		 * cookie, if any, stays bound to the other side's address. */
		const struct side *o = &sides[!(op >> 3 & 1)];
		bool v6 = op & 0x20;
		enum cookie_mac_state st;

		msg = raw_message(r, op, MESSAGE_INITIATION_LEN, &len);
		st = cookie_checker_validate(&s->checker, msg, len,
					     v6 ? &o->addr.sa :
						  &sides[op >> 3 & 1].addr.sa,
					     now_ns);
		if (st > COOKIE_MAC_VALID_WITH_COOKIE)
			FAIL("cookie_checker_validate returned %d", st);
		if (st != COOKIE_MAC_INVALID) {
			uint8_t reply[MESSAGE_COOKIE_LEN];

			if (cookie_checker_create_reply(&s->checker, reply,
							msg, len, 7,
							&o->addr.sa, now_ns))
				FAIL("no cookie reply to a valid MAC1");
		}
		ret = 0;
		break;
	}
	}
	if (ret && (op & 7) != OP_RAW_COOKIE) {
		unchanged("raw message", &before, &s->peer);
		if (out)
			FAIL("a refused raw message names a peer");
	}
	check_index(s);
	free(msg);
}

static void step_time(struct reader *r, unsigned int op)
{
	uint64_t d = (uint64_t)take(r) << 8 | take(r);

	/* Bits 3-4: the unit, from milliseconds to minutes. */
	switch (op >> 3 & 3) {
	case 0:
		d *= NSEC_PER_MSEC;
		break;
	case 1:
		d *= 10 * NSEC_PER_MSEC;
		break;
	case 2:
		d *= NSEC_PER_SEC;
		break;
	default:
		d *= 60ull * NSEC_PER_SEC;
		break;
	}
	now_ns += d;
	wall_ns += d;
}

static void run_script(const uint8_t *data, size_t size)
{
	struct reader r = { data, size };

	sides_reset();
	for (int steps = 0; r.left && steps < MAX_STEPS; steps++) {
		unsigned int op = take(&r);

		if (trace)
			fprintf(stderr, "step %d: op %#x (%u), now %llu s\n",
				steps, op, op & 7,
				(unsigned long long)(now_ns / NSEC_PER_SEC));

		switch (op & 7) {
		case OP_INIT:
			step_init(&r, op);
			break;
		case OP_RESP:
			step_resp(&r, op);
			break;
		case OP_COOKIE:
			step_cookie(&r, op);
			break;
		case OP_TIME:
			step_time(&r, op);
			break;
		default:
			step_raw(&r, op);
			break;
		}
	}
	sides_free();
}

/* Seeds: scripts, and raw copies of genuine messages. */

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

static void seeds_write(const char *dir)
{
	static const uint8_t full[] = {
		OP_INIT, 0,			/* A initiates, untouched */
		OP_RESP | 8, 0,			/* B answers */
		OP_TIME | 16, 0, 10,		/* 10 s later */
		OP_INIT | 8, 0,			/* B initiates */
		OP_COOKIE, 0,			/* A asks B for a cookie */
		OP_INIT | 8, 0,			/* B's next carries MAC2 */
		OP_RESP, 0,
		OP_INIT | 0x20, 0,		/* a replayed timestamp */
		OP_INIT, 1, 5, 0x80,		/* a flipped ephemeral */
		OP_TIME | 24, 0, 3,		/* 3 minutes: cookies age */
		OP_INIT | 8, 0,
		OP_INIT | 0x40, 0,		/* a stranger to A */
		OP_INIT | 0x48, 1, 90, 1,	/* to B, timestamp damaged */
	};
	static const uint8_t flood[] = {
		OP_INIT, 0, OP_INIT | 0x20, 0, OP_TIME, 0, 25,
		OP_INIT | 0x20, 0, OP_INIT | 0x10, 0,
	};
	uint8_t raw[2 + MESSAGE_INITIATION_LEN];

	seed_write(dir, "seed-handshake", full, sizeof(full));
	seed_write(dir, "seed-flood", flood, sizeof(flood));

	/* A genuine initiation from A, as raw bytes for B. */
	sides_reset();
	{
		struct timespec wall = wall_now(0);

		raw[0] = OP_RAW_INIT | 8;
		if (noise_handshake_create_initiation(&sides[0].ctx,
						      &sides[0].peer, raw + 1,
						      &wall))
			FAIL("cannot create a seed initiation");
		cookie_maker_add_macs(&sides[0].maker, raw + 1,
				      MESSAGE_INITIATION_LEN, now_ns);
		seed_write(dir, "seed-raw-init", raw, 1 + MESSAGE_INITIATION_LEN);
		raw[0] = OP_RAW_MACS | 8;
		seed_write(dir, "seed-raw-macs", raw, 1 + MESSAGE_INITIATION_LEN);
	}
	sides_free();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FUZZ_WRITE_SEEDS");

	(void)argc;
	(void)argv;
	if (wg_init())
		abort();
	templates_build();
	trace = getenv("FUZZ_TRACE") != NULL;
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
