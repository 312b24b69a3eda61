/* SPDX-License-Identifier: MIT */
/*
 * WireGuard's MAC1/MAC2 and cookie replies (section 5.4.7 of the paper).
 *
 * MAC1 proves the sender knows our public key, which costs an attacker
 * nothing but filters out scans.  MAC2 proves the sender can receive at the
 * address it sends from: the cookie is a MAC of that address and port under
 * a secret that we replace every two minutes, so cookies expire with it.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <vpn/le.h>

#include "cookie.h"

static const char label_mac1[] = "mac1----";
static const char label_cookie[] = "cookie--";

enum {
	/* IPv6 address and port, the longest source a cookie binds. */
	COOKIE_SOURCE_MAX_LEN = 16 + 2,
};

static uint64_t seconds_ns(uint64_t s)
{
	return s * UINT64_C(1000000000);
}

/* HASH(label || public key), the key of MAC1 or of the cookie AEAD. */
static void derive_key(uint8_t out[NOISE_SYMMETRIC_KEY_LEN], const char *label,
		       const uint8_t public_key[NOISE_PUBLIC_KEY_LEN])
{
	wg_hash2(out, label, strlen(label), public_key,
		     NOISE_PUBLIC_KEY_LEN);
}

/*
 * The bytes a cookie is bound to: the source address then the UDP port,
 * both in network order.  Returns their length, or 0 for another family.
 */
static size_t source_bytes(uint8_t out[COOKIE_SOURCE_MAX_LEN],
			   const struct sockaddr *src)
{
	if (src->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)src;

		memcpy(out, &sin->sin_addr, 4);
		memcpy(out + 4, &sin->sin_port, 2);
		return 6;
	}
	if (src->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)src;

		memcpy(out, &sin6->sin6_addr, 16);
		memcpy(out + 16, &sin6->sin6_port, 2);
		return 18;
	}
	return 0;
}

void cookie_checker_init(struct cookie_checker *c,
			 const struct wg_rng *rng)
{
	memset(c, 0, sizeof(*c));
	c->rng = rng;
}

void cookie_checker_precompute(struct cookie_checker *c,
			       const uint8_t public_key[NOISE_PUBLIC_KEY_LEN])
{
	if (!public_key) {
		wg_wipe(c->mac1_key, sizeof(c->mac1_key));
		wg_wipe(c->cookie_key, sizeof(c->cookie_key));
		c->has_identity = false;
		return;
	}
	derive_key(c->mac1_key, label_mac1, public_key);
	derive_key(c->cookie_key, label_cookie, public_key);
	c->has_identity = true;
}

void cookie_checker_clear(struct cookie_checker *c)
{
	const struct wg_rng *rng = c->rng;

	wg_wipe(c, sizeof(*c));
	c->rng = rng;
}

/*
 * The cookie we give src now.  The secret is replaced once it is two
 * minutes old, which is what makes every cookie made from it expire.
 */
static int make_cookie(struct cookie_checker *c, uint8_t cookie[COOKIE_LEN],
		       const struct sockaddr *src, uint64_t now)
{
	uint8_t source[COOKIE_SOURCE_MAX_LEN];
	size_t len = source_bytes(source, src);

	if (!len)
		return -EAFNOSUPPORT;
	if (!c->secret_birthdate ||
	    now - c->secret_birthdate >= seconds_ns(COOKIE_SECRET_MAX_AGE)) {
		wg_rng_fill(c->rng, c->secret, sizeof(c->secret));
		c->secret_birthdate = now ? now : 1;
	}
	wg_mac(cookie, c->secret, sizeof(c->secret), source, len);
	return 0;
}

enum cookie_mac_state cookie_checker_validate(struct cookie_checker *c,
					      const uint8_t *msg, size_t len,
					      const struct sockaddr *src,
					      uint64_t now)
{
	uint8_t mac[COOKIE_MAC_LEN], cookie[COOKIE_LEN];
	enum cookie_mac_state ret = COOKIE_MAC_INVALID;
	size_t mac1_off = len - MACS_LEN, mac2_off = len - COOKIE_MAC_LEN;

	if (!c->has_identity || len < MACS_LEN)
		goto out;
	wg_mac(mac, c->mac1_key, sizeof(c->mac1_key), msg, mac1_off);
	if (!wg_equal(mac, msg + mac1_off, COOKIE_MAC_LEN))
		goto out;
	ret = COOKIE_MAC_VALID_NO_COOKIE;
	if (make_cookie(c, cookie, src, now))
		goto out;
	wg_mac(mac, cookie, sizeof(cookie), msg, mac2_off);
	if (wg_equal(mac, msg + mac2_off, COOKIE_MAC_LEN))
		ret = COOKIE_MAC_VALID_WITH_COOKIE;
out:
	wg_wipe(cookie, sizeof(cookie));
	return ret;
}

enum cookie_verdict cookie_decide(enum cookie_mac_state state,
				  bool under_load)
{
	if (state == COOKIE_MAC_INVALID)
		return COOKIE_DROP;
	if (under_load && state != COOKIE_MAC_VALID_WITH_COOKIE)
		return COOKIE_SEND_REPLY;
	return COOKIE_ACCEPT;
}

int cookie_checker_create_reply(struct cookie_checker *c,
				uint8_t reply[MESSAGE_COOKIE_LEN],
				const uint8_t *msg, size_t len, uint32_t idx,
				const struct sockaddr *src, uint64_t now)
{
	uint8_t cookie[COOKIE_LEN];
	int ret;

	if (!c->has_identity || len < MACS_LEN)
		return -EINVAL;
	ret = make_cookie(c, cookie, src, now);
	if (ret)
		goto out;
	memset(reply, 0, MESSAGE_COOKIE_LEN);
	put_le32(reply + COOKIE_OFF_TYPE, MESSAGE_HANDSHAKE_COOKIE);
	put_le32(reply + COOKIE_OFF_RECEIVER, idx);
	wg_rng_fill(c->rng, reply + COOKIE_OFF_NONCE, COOKIE_NONCE_LEN);
	/* The message's MAC1 is the associated data: only its sender, who
	 * knows that MAC1, can use the reply. */
	wg_xaead_encrypt(reply + COOKIE_OFF_COOKIE, cookie, sizeof(cookie),
			     msg + len - MACS_LEN, COOKIE_MAC_LEN,
			     reply + COOKIE_OFF_NONCE, c->cookie_key);
out:
	wg_wipe(cookie, sizeof(cookie));
	return ret;
}

uint32_t cookie_reply_receiver(const uint8_t reply[MESSAGE_COOKIE_LEN])
{
	return get_le32(reply + COOKIE_OFF_RECEIVER);
}

void cookie_maker_init(struct cookie_maker *m,
		       const uint8_t peer_public[NOISE_PUBLIC_KEY_LEN])
{
	memset(m, 0, sizeof(*m));
	derive_key(m->mac1_key, label_mac1, peer_public);
	derive_key(m->cookie_key, label_cookie, peer_public);
}

static bool maker_cookie_is_fresh(const struct cookie_maker *m, uint64_t now)
{
	/* Stop using a cookie a little before the peer's secret rotates, so
	 * that a message in flight does not arrive with a dead MAC2. */
	return m->cookie_birthdate &&
	       now - m->cookie_birthdate <
		       seconds_ns(COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY);
}

void cookie_maker_add_macs(struct cookie_maker *m, uint8_t *msg, size_t len,
			   uint64_t now)
{
	size_t mac1_off = len - MACS_LEN, mac2_off = len - COOKIE_MAC_LEN;

	wg_mac(msg + mac1_off, m->mac1_key, sizeof(m->mac1_key), msg,
		   mac1_off);
	memcpy(m->last_mac1_sent, msg + mac1_off, COOKIE_MAC_LEN);
	m->have_sent_mac1 = true;

	if (maker_cookie_is_fresh(m, now))
		wg_mac(msg + mac2_off, m->cookie, sizeof(m->cookie), msg,
			   mac2_off);
	else
		memset(msg + mac2_off, 0, COOKIE_MAC_LEN);
}

int cookie_maker_consume_reply(struct cookie_maker *m, const uint8_t *reply,
			       size_t len, uint64_t now)
{
	uint8_t cookie[COOKIE_LEN];
	int ret = -EINVAL;

	if (len != MESSAGE_COOKIE_LEN ||
	    get_le32(reply) != MESSAGE_HANDSHAKE_COOKIE || !m->have_sent_mac1)
		goto out;
	ret = -EBADMSG;
	if (!wg_xaead_decrypt(cookie, reply + COOKIE_OFF_COOKIE,
				  COOKIE_LEN + NOISE_AUTHTAG_LEN,
				  m->last_mac1_sent, COOKIE_MAC_LEN,
				  reply + COOKIE_OFF_NONCE, m->cookie_key))
		goto out;
	memcpy(m->cookie, cookie, sizeof(cookie));
	m->cookie_birthdate = now ? now : 1;
	/* One reply per message: a replayed reply finds nothing to open. */
	m->have_sent_mac1 = false;
	ret = 0;
out:
	wg_wipe(cookie, sizeof(cookie));
	return ret;
}
