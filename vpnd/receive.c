/* SPDX-License-Identifier: MIT */
/*
 * From the wire to the TUN device.  recvmmsg() fills the device's receive
 * buffers; each datagram is dispatched on its type.  Data messages are
 * opened in place, checked against the replay window only after they
 * authenticated, and written to the TUN device if their inner source
 * belongs to the peer that sealed them.  Handshake messages pass the MAC
 * and load checks of cookie.c before any Diffie-Hellman work.
 *
 * The peer's endpoint follows the source of the last authenticated message
 * (roaming); nothing unauthenticated can move it, and nothing moves a
 * pinned one (the client's server).
 *
 * With TUN offloads, the packets of one recvmmsg() batch that passed every
 * check are written together at its end, consecutive TCP segments of a
 * flow merged into one super-packet (offload_gro_*): one write instead of
 * dozens.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <vpn/le.h>

#include "device.h"
#include "offload.h"
#include "peer.h"
#include "receive.h"
#include "send.h"
#include "udp.h"

static bool endpoint_equal(const union endpoint *a, const union endpoint *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->sin.sin_port == b->sin.sin_port &&
		       a->sin.sin_addr.s_addr == b->sin.sin_addr.s_addr;
	return a->sin6.sin6_port == b->sin6.sin6_port &&
	       !memcmp(&a->sin6.sin6_addr, &b->sin6.sin6_addr, 16) &&
	       a->sin6.sin6_scope_id == b->sin6.sin6_scope_id;
}

static void roam(struct peer_state *st, const union endpoint *src,
		 const struct endpoint_src *local)
{
	if (st->endpoint_pinned && !endpoint_equal(&st->endpoint, src))
		return;
	if (!endpoint_equal(&st->endpoint, src))
		st->endpoint = *src;
	if (local)
		st->src = *local;
}

static void drop(struct device *dev, uint64_t *why)
{
	dev->stats.rx_dropped++;
	if (why)
		(*why)++;
}

size_t receive_inner_length(const uint8_t *pkt, size_t len)
{
	size_t total;

	if (len >= 20 && pkt[0] >> 4 == 4) {
		total = (size_t)pkt[2] << 8 | pkt[3];
		if ((size_t)(pkt[0] & 15) * 4 < 20 || total < 20 ||
		    total > len)
			return 0;
		return total;
	}
	if (len >= 40 && pkt[0] >> 4 == 6) {
		total = 40 + ((size_t)pkt[4] << 8 | pkt[5]);
		return total > len ? 0 : total;
	}
	return 0;
}

static struct peer *inner_source_owner(struct device *dev, const uint8_t *pkt)
{
	if (pkt[0] >> 4 == 4)
		return allowedips_lookup(dev->aips, AF_INET, pkt + 12);
	return allowedips_lookup(dev->aips, AF_INET6, pkt + 8);
}

/* Writes what the batch gathered, one write per merge or lone packet. */
static void gro_flush(struct device *dev, struct offload_gro *gro)
{
	uint8_t vnet[OFFLOAD_VNET_HDR_LEN];
	struct iovec iov[OFFLOAD_GRO_IOV];
	unsigned int i, n, packets;

	for (i = 0; i < offload_gro_items(gro); i++) {
		n = offload_gro_item_iov(gro, i, vnet, iov, &packets);
		if (writev(dev->tun_fd, iov, (int)n) < 0)
			dev->stats.rx_dropped += packets;
	}
	offload_gro_init(gro);
}

/*
 * A decrypted packet that passed every check, to the TUN device: into the
 * batch's coalescing when there is one, else at once.
 */
static void tun_deliver(struct device *dev, struct offload_gro *gro,
			uint8_t *pkt, size_t len)
{
	if (gro) {
		if (offload_gro_add(gro, pkt, len) == -ENOSPC) {
			gro_flush(dev, gro);
			offload_gro_add(gro, pkt, len);
		}
		return;
	}
	if (dev->offload) {
		/* A zero virtio-net header: a plain packet, checksums done.
		 * The message header it overwrites has been read already. */
		pkt -= OFFLOAD_VNET_HDR_LEN;
		memset(pkt, 0, OFFLOAD_VNET_HDR_LEN);
		len += OFFLOAD_VNET_HDR_LEN;
	}
	if (write(dev->tun_fd, pkt, len) < 0)
		dev->stats.rx_dropped++;
}

static void receive_data(struct device *dev, struct offload_gro *gro,
			 uint8_t *msg, size_t len, const union endpoint *src,
			 const struct endpoint_src *local, uint64_t now)
{
	struct keypair *kp;
	struct peer *p;
	uint64_t counter;
	size_t plen, inner;
	uint8_t *pkt = msg + DATA_OFF_PAYLOAD;

	kp = index_table_lookup(&dev->index, get_le32(msg + DATA_OFF_RECEIVER),
				INDEX_KEYPAIR);
	if (!kp || !peer_keypair_can_receive(kp, now))
		return drop(dev, &dev->stats.rx_bad_data);
	counter = get_le64(msg + DATA_OFF_COUNTER);
	plen = len - MESSAGE_DATA_HEADER_LEN;
	if (counter >= REJECT_AFTER_MESSAGES ||
	    !wg_aead_decrypt(pkt, pkt, plen, NULL, 0, counter, kp->k.recv_key))
		return drop(dev, &dev->stats.rx_bad_data);
	plen -= NOISE_AUTHTAG_LEN;
	/* Only an authentic message may advance the window. */
	if (!replay_counter_validate(&kp->replay, counter))
		return drop(dev, &dev->stats.rx_replayed);

	p = kp->peer;
	roam(p->st, src, local);
	p->st->rx_bytes += len;
	if (peer_keypair_confirm(p, kp)) {
		/* The initiator used the session we answered: it is ours. */
		clock_gettime(CLOCK_REALTIME, &p->st->last_handshake);
		timers_on_handshake_complete(&p->st->timers, now);
		send_staged(p, now, false);
	}
	timers_on_authenticated_packet_received(&p->st->timers, now);
	timers_on_authenticated_packet_traversal(&p->st->timers, now);
	if (peer_keypair_rekey_check_receive(p, now))
		send_handshake_initiation(p, now);
	if (!plen) {
		/* A keepalive: it only kept the session alive. */
		peer_timer_update(p, now);
		return;
	}
	timers_on_data_received(&p->st->timers, now);
	peer_timer_update(p, now);

	inner = receive_inner_length(pkt, plen);
	if (!inner)
		return drop(dev, &dev->stats.rx_bad_data);
	if (inner_source_owner(dev, pkt) != p)
		return drop(dev, &dev->stats.rx_bad_source);
	/* Only now, with every check passed, may it join a merge. */
	tun_deliver(dev, gro, pkt, inner);
}

/*
 * The MAC and load checks every handshake message passes first.  Returns
 * true when the message may go on to the handshake.
 */
static bool handshake_admit(struct device *dev, const uint8_t *msg,
			    size_t len, const union endpoint *src,
			    const struct endpoint_src *local, uint32_t sender,
			    uint64_t now)
{
	enum cookie_mac_state st;
	uint8_t reply[MESSAGE_COOKIE_LEN];
	enum cookie_verdict decision;
	bool loaded;

	st = cookie_checker_validate(&dev->cookie, msg, len, &src->sa, now);
	/* Only a message with a valid MAC1 could cost DH work, so only such
	 * a message asks whether we are behind (device_under_load()). */
	loaded = st != COOKIE_MAC_INVALID && device_under_load(dev, now);
	decision = cookie_decide(st, loaded);
	if (decision == COOKIE_DROP) {
		drop(dev, &dev->stats.rx_bad_mac);
		return false;
	}
	/*
	 * Under load a source gets only its share of our work, and a cookie
	 * reply is work too: a sendmsg() costs more than the checks that led
	 * to it, and a flood of valid MAC1s answered one for one starves the
	 * tunnel (tests/bench/flood.sh).  A real peer needs one reply per
	 * handshake attempt, five seconds apart.
	 */
	if (loaded && !ratelimiter_allow(&dev->rl, &src->sa, now)) {
		drop(dev, &dev->stats.ratelimited);
		return false;
	}
	if (decision == COOKIE_SEND_REPLY) {
		if (!cookie_checker_create_reply(&dev->cookie, reply, msg, len,
						 sender, &src->sa, now) &&
		    !send_datagram_from(dev, src, local, reply, sizeof(reply)))
			dev->stats.cookies_sent++;
		dev->stats.rx_dropped++;
		return false;
	}
	return true;
}

static void receive_initiation(struct device *dev, const uint8_t *msg,
			       size_t len, const union endpoint *src,
			       const struct endpoint_src *local, uint64_t now)
{
	struct noise_remote *r;
	struct peer *p;

	if (!handshake_admit(dev, msg, len, src, local,
			     get_le32(msg + INITIATION_OFF_SENDER), now))
		return;
	if (noise_handshake_consume_initiation(&dev->noise, msg, len, now, &r))
		return drop(dev, &dev->stats.rx_bad_handshake);
	p = r->owner;
	/* Its first handshake: from now on the peer has a state. */
	if (peer_activate(p)) {
		noise_handshake_clear(&dev->noise, r);
		return drop(dev, &dev->stats.rx_bad_handshake);
	}
	roam(p->st, src, local);
	p->st->rx_bytes += len;
	timers_on_authenticated_packet_received(&p->st->timers, now);
	timers_on_authenticated_packet_traversal(&p->st->timers, now);
	if (send_handshake_response(p, now))
		drop(dev, &dev->stats.rx_bad_handshake);
	peer_timer_update(p, now);
}

static void receive_response(struct device *dev, const uint8_t *msg,
			     size_t len, const union endpoint *src,
			     const struct endpoint_src *local, uint64_t now)
{
	struct noise_remote *r;
	struct peer *p;

	if (!handshake_admit(dev, msg, len, src, local,
			     get_le32(msg + RESPONSE_OFF_SENDER), now))
		return;
	if (noise_handshake_consume_response(&dev->noise, msg, len, &r))
		return drop(dev, &dev->stats.rx_bad_handshake);
	p = r->owner;
	roam(p->st, src, local);
	p->st->rx_bytes += len;
	if (peer_keypair_install(p, now))
		return drop(dev, &dev->stats.rx_bad_handshake);
	clock_gettime(CLOCK_REALTIME, &p->st->last_handshake);
	timers_on_session_derived(&p->st->timers, now);
	timers_on_handshake_complete(&p->st->timers, now);
	timers_on_authenticated_packet_received(&p->st->timers, now);
	timers_on_authenticated_packet_traversal(&p->st->timers, now);
	/* The responder waits for our first message before it may send. */
	send_staged(p, now, true);
	peer_timer_update(p, now);
}

static void receive_cookie(struct device *dev, const uint8_t *msg, size_t len,
			   uint64_t now)
{
	uint32_t idx = cookie_reply_receiver(msg);
	struct noise_remote *r;
	struct keypair *kp;
	struct peer *p = NULL;

	r = index_table_lookup(&dev->index, idx, INDEX_HANDSHAKE);
	if (r)
		p = r->owner;
	kp = p ? NULL : index_table_lookup(&dev->index, idx, INDEX_KEYPAIR);
	if (kp)
		p = kp->peer;
	/* No maker: we never sent it anything a cookie could answer. */
	if (!p || !p->st || !p->st->cookie ||
	    cookie_maker_consume_reply(p->st->cookie, msg, len, now))
		drop(dev, &dev->stats.rx_bad_mac);
}

/* One datagram; a decrypted packet goes into gro when given. */
static void receive_one(struct device *dev, struct offload_gro *gro,
			uint8_t *msg, size_t len, const union endpoint *src,
			const struct endpoint_src *local, uint64_t now)
{
	uint32_t type;

	/* A device that is down talks to nobody. */
	if (len < 4 || !dev->up)
		return drop(dev, NULL);
	type = get_le32(msg);
	if (type == MESSAGE_DATA && len >= MESSAGE_DATA_MIN_LEN)
		receive_data(dev, gro, msg, len, src, local, now);
	else if (type == MESSAGE_HANDSHAKE_INITIATION &&
		 len == MESSAGE_INITIATION_LEN)
		receive_initiation(dev, msg, len, src, local, now);
	else if (type == MESSAGE_HANDSHAKE_RESPONSE &&
		 len == MESSAGE_RESPONSE_LEN)
		receive_response(dev, msg, len, src, local, now);
	else if (type == MESSAGE_HANDSHAKE_COOKIE && len == MESSAGE_COOKIE_LEN)
		receive_cookie(dev, msg, len, now);
	else
		drop(dev, NULL);
}

void receive_datagram(struct device *dev, uint8_t *msg, size_t len,
		      const union endpoint *src, uint64_t now)
{
	receive_one(dev, NULL, msg, len, src, NULL, now);
}

void receive_datagram_to(struct device *dev, uint8_t *msg, size_t len,
			 const union endpoint *src,
			 const struct endpoint_src *local, uint64_t now)
{
	receive_one(dev, NULL, msg, len, src, local, now);
}

/*
 * A buffer the kernel coalesced (UDP_GRO) holds datagrams of seg bytes
 * each, the last perhaps shorter, all from one source: each is received
 * as if it had come alone.  seg 0: one datagram.
 */
static void receive_coalesced(struct device *dev, struct offload_gro *gro,
			      uint8_t *buf, size_t len, size_t seg,
			      const union endpoint *src,
			      const struct endpoint_src *local, uint64_t now)
{
	size_t off, step;

	/* An empty datagram is still one (and counted as a bad one). */
	if (!len) {
		receive_one(dev, gro, buf, 0, src, local, now);
		return;
	}
	for (off = 0; off < len; off += step) {
		step = seg && seg < len - off ? seg : len - off;
		receive_one(dev, gro, buf + off, step, src, local, now);
	}
}

void receive_udp_readable(struct device *dev, int fd)
{
	struct mmsghdr msgs[DEVICE_RX_BATCH];
	struct iovec iov[DEVICE_RX_BATCH];
	struct offload_gro gro, *g = dev->offload ? &gro : NULL;
	uint64_t now;
	int n, i;

	for (i = 0; i < DEVICE_RX_BATCH; i++) {
		iov[i].iov_base = dev->rx.buf[i];
		iov[i].iov_len = DEVICE_BUF_LEN;
		memset(&msgs[i], 0, sizeof(msgs[i]));
		msgs[i].msg_hdr.msg_name = &dev->rx.addr[i];
		msgs[i].msg_hdr.msg_namelen = sizeof(dev->rx.addr[i]);
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_control = dev->rx.cmsg[i];
		msgs[i].msg_hdr.msg_controllen = sizeof(dev->rx.cmsg[i]);
	}
	n = recvmmsg(fd, msgs, DEVICE_RX_BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return;
	now = device_now();
	device_backlog_batch(dev, fd, n == DEVICE_RX_BATCH);
	if (g)
		offload_gro_init(g);
	for (i = 0; i < n; i++) {
		/* Without all of its control messages a buffer might be
		 * several datagrams taken for one. */
		if (msgs[i].msg_hdr.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
			drop(dev, NULL);
			continue;
		}
		udp_local_from_cmsg(&msgs[i].msg_hdr, &dev->rx.local[i]);
		receive_coalesced(dev, g, dev->rx.buf[i], msgs[i].msg_len,
				  udp_gro_from_cmsg(&msgs[i].msg_hdr),
				  &dev->rx.addr[i], &dev->rx.local[i], now);
	}
	if (g)
		gro_flush(dev, g);
	device_backlog_done(dev);
}
