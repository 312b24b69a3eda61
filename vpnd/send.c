/* SPDX-License-Identifier: MIT */
/*
 * From the TUN device to the wire.  A wakeup drains up to DEVICE_BATCH
 * packets (or DEVICE_TUN_BUDGET bytes of super-packets) into the device's
 * preallocated buffers, leaving room in front of each for the data header
 * and behind it for padding and the tag, seals each in place and hands the
 * whole batch to sendmmsg() per address family, runs of datagrams to one
 * peer as one UDP GSO message each.
 * Nothing on this path allocates; a packet without a session is copied
 * aside (peer_stage_packet) and a handshake is requested.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vpn/le.h>

#include "device.h"
#include "fragment.h"
#include "icmp.h"
#include "offload.h"
#include "peer.h"
#include "send.h"
#include "udp.h"

uint64_t send_jitter(struct device *dev)
{
	/* xorshift64: jitter only spreads retries, it guards no secret. */
	uint64_t x = dev->jitter_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	dev->jitter_state = x;
	return x % TIMERS_JITTER_MAX_NS;
}

static socklen_t endpoint_len(const union endpoint *e)
{
	return e->sa.sa_family == AF_INET6 ? sizeof(e->sin6) : sizeof(e->sin);
}

static int socket_for(const struct device *dev, const union endpoint *e)
{
	return e->sa.sa_family == AF_INET6 ? dev->udp6 : dev->udp4;
}

int send_datagram_from(struct device *dev, const union endpoint *to,
		       const struct endpoint_src *from, const void *buf,
		       size_t len)
{
	uint8_t cmsg[UDP_CMSG_SPACE];
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = {
		.msg_name = (void *)&to->sa,
		.msg_namelen = endpoint_len(to),
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cmsg,
	};
	int fd = socket_for(dev, to);

	if (fd < 0 || !to->sa.sa_family)
		return -EDESTADDRREQ;
	mh.msg_controllen = udp_local_to_cmsg(from, cmsg, sizeof(cmsg));
	if (!mh.msg_controllen)
		mh.msg_control = NULL;
	if (sendmsg(fd, &mh, 0) < 0)
		return -errno;
	return 0;
}

int send_datagram(struct device *dev, const union endpoint *to,
		  const void *buf, size_t len)
{
	return send_datagram_from(dev, to, NULL, buf, len);
}

/*
 * The errors that may mean the address the peer last reached us at is no
 * longer ours (EINVAL or ENETUNREACH, by family, and their kin).  Others
 * (a full queue, a firewall's EPERM, EMSGSIZE) say nothing about it.
 */
static bool send_source_gone(int err)
{
	return err == EINVAL || err == EADDRNOTAVAIL || err == ENETUNREACH ||
	       err == EHOSTUNREACH || err == ENODEV;
}

/*
 * To the peer's endpoint, from the address it last reached us at.  When
 * that address has gone away the kernel chooses instead, and keeps
 * choosing until the peer reaches us again.
 */
static int send_to_peer(struct peer *p, const void *buf, size_t len)
{
	int ret = send_datagram_from(p->dev, &p->st->endpoint, &p->st->src, buf, len);

	if (ret && p->st->src.family && send_source_gone(-ret)) {
		memset(&p->st->src, 0, sizeof(p->st->src));
		ret = send_datagram(p->dev, &p->st->endpoint, buf, len);
	}
	return ret;
}

/*
 * Seals the packet at buf + MESSAGE_DATA_HEADER_LEN (len bytes, zero for a
 * keepalive) in place and returns the message length.  The padding rounds
 * up to 16 bytes but never past the MTU, so that padding alone cannot make
 * a packet need fragmenting.
 */
static size_t seal(struct keypair *kp, uint8_t *buf, size_t len,
		   unsigned int mtu)
{
	size_t padded = (len + MESSAGE_PADDING_MULTIPLE - 1) &
			~(size_t)(MESSAGE_PADDING_MULTIPLE - 1);
	uint64_t counter = kp->send_counter++;

	if (mtu && padded > mtu)
		padded = len > mtu ? len : mtu;
	memset(buf + MESSAGE_DATA_HEADER_LEN + len, 0, padded - len);
	put_le32(buf, MESSAGE_DATA);
	put_le32(buf + DATA_OFF_RECEIVER, kp->k.remote_index);
	put_le64(buf + DATA_OFF_COUNTER, counter);
	wg_aead_encrypt(buf + DATA_OFF_PAYLOAD, buf + DATA_OFF_PAYLOAD, padded,
			NULL, 0, counter, kp->k.send_key);
	return MESSAGE_DATA_HEADER_LEN + padded + NOISE_AUTHTAG_LEN;
}

static void after_data_sent(struct peer *p, uint64_t now, size_t bytes,
			    bool keepalive)
{
	p->st->tx_bytes += bytes;
	timers_on_authenticated_packet_traversal(&p->st->timers, now);
	timers_on_authenticated_packet_sent(&p->st->timers, now);
	if (!keepalive)
		timers_on_data_sent(&p->st->timers, now, send_jitter(p->dev));
	if (peer_keypair_rekey_check_send(p, now))
		send_handshake_initiation(p, now);
	peer_timer_update(p, now);
}

/* One message now, outside a batch: keepalives and staged packets. */
static int send_one(struct peer *p, struct keypair *kp, const uint8_t *pkt,
		    size_t len, uint64_t now)
{
	struct device *dev = p->dev;
	uint8_t *buf = dev->single;
	size_t mlen;
	int ret;

	if (len)
		memcpy(buf + MESSAGE_DATA_HEADER_LEN, pkt, len);
	mlen = seal(kp, buf, len, dev->mtu);
	ret = send_to_peer(p, buf, mlen);
	if (ret) {
		dev->stats.tx_dropped++;
		return ret;
	}
	after_data_sent(p, now, mlen, len == 0);
	return 0;
}

/*
 * A handshake message to the peer.  What reaches the wire counts in the
 * peer's transfer total, as its data does and as the kernel counts it:
 * `wg show transfer` is every byte exchanged with the peer.  (A cookie
 * reply answers an address, not a peer, and counts nowhere.)
 */
static void send_handshake_message(struct peer *p, const uint8_t *msg,
				   size_t len)
{
	if (send_to_peer(p, msg, len))
		p->dev->stats.tx_dropped++;
	else
		p->st->tx_bytes += len;
}

void send_handshake_initiation(struct peer *p, uint64_t now)
{
	struct device *dev = p->dev;
	uint8_t msg[MESSAGE_INITIATION_LEN];
	struct cookie_maker *cookie;
	struct timespec wall;

	/*
	 * Without an endpoint or a usable key no initiation can go out, and
	 * no retry would ever give up on the queued packets: drop them now
	 * rather than keep plaintext waiting for nothing.  A peer without a
	 * state has neither endpoint nor packets.
	 */
	if (!p->st || !p->st->endpoint.sa.sa_family) {
		peer_staged_drop(p);
		return;
	}
	cookie = peer_cookie_maker(p);
	clock_gettime(CLOCK_REALTIME, &wall);
	if (!cookie || noise_handshake_create_initiation(&dev->noise,
							 &p->remote, msg,
							 &wall)) {
		peer_staged_drop(p);
		return;
	}
	cookie_maker_add_macs(cookie, msg, sizeof(msg), now);
	timers_on_authenticated_packet_traversal(&p->st->timers, now);
	timers_on_authenticated_packet_sent(&p->st->timers, now);
	send_handshake_message(p, msg, sizeof(msg));
	timers_on_handshake_initiated(&p->st->timers, now, send_jitter(dev));
	peer_timer_update(p, now);
}

void send_handshake_request(struct peer *p, uint64_t now)
{
	if (!p->st)
		return;
	if (timers_initiation_request(&p->st->timers, now))
		send_handshake_initiation(p, now);
	peer_timer_update(p, now);
}

int send_handshake_response(struct peer *p, uint64_t now)
{
	struct device *dev = p->dev;
	uint8_t msg[MESSAGE_RESPONSE_LEN];
	struct cookie_maker *cookie = peer_cookie_maker(p);
	int ret;

	if (!cookie)
		return -ENOMEM;
	ret = noise_handshake_create_response(&dev->noise, &p->remote, msg);
	if (ret)
		return ret;
	cookie_maker_add_macs(cookie, msg, sizeof(msg), now);
	ret = peer_keypair_install(p, now);
	if (ret)
		return ret;
	timers_on_session_derived(&p->st->timers, now);
	timers_on_authenticated_packet_traversal(&p->st->timers, now);
	timers_on_authenticated_packet_sent(&p->st->timers, now);
	timers_on_handshake_response_sent(&p->st->timers, now);
	send_handshake_message(p, msg, sizeof(msg));
	peer_timer_update(p, now);
	return 0;
}

void send_keepalive(struct peer *p, uint64_t now)
{
	struct keypair *kp;

	if (!p->st || !p->st->endpoint.sa.sa_family)
		return;
	kp = peer_keypair_for_sending(p, now);
	if (!kp) {
		send_handshake_request(p, now);
		return;
	}
	send_one(p, kp, NULL, 0, now);
}

void send_staged(struct peer *p, uint64_t now, bool keepalive_if_empty)
{
	struct keypair *kp;
	unsigned int i;

	if (!p->st || !p->st->endpoint.sa.sa_family)
		return;
	kp = peer_keypair_for_sending(p, now);
	if (!kp)
		return;
	if (!p->st->nstaged) {
		if (keepalive_if_empty)
			send_one(p, kp, NULL, 0, now);
		return;
	}
	for (i = 0; i < p->st->nstaged; i++) {
		send_one(p, kp, p->st->staged[i]->data, p->st->staged[i]->len, now);
		wg_wipe(p->st->staged[i]->data, p->st->staged[i]->len);
		free(p->st->staged[i]);
	}
	p->dev->peers.staged -= p->st->nstaged;
	p->st->nstaged = 0;
}

/* Writes an ICMP error for a packet nobody routes. */
static void reply_unreachable(struct device *dev, const uint8_t *pkt,
			      size_t len)
{
	uint8_t out[OFFLOAD_VNET_HDR_LEN + ICMP_V6_MAX];
	size_t hdr = dev->offload ? OFFLOAD_VNET_HDR_LEN : 0;
	size_t n = icmp_build_unreachable(out + hdr, pkt, len);

	memset(out, 0, hdr);
	if (n && write(dev->tun_fd, out, hdr + n) < 0)
		dev->stats.tx_dropped++;
}

/* The peer that routes this packet's destination, or NULL. */
static struct peer *route(struct device *dev, const uint8_t *pkt, size_t len)
{
	if (len >= 20 && pkt[0] >> 4 == 4)
		return allowedips_lookup(dev->aips, AF_INET, pkt + 16);
	if (len >= 40 && pkt[0] >> 4 == 6)
		return allowedips_lookup(dev->aips, AF_INET6, pkt + 24);
	return NULL;
}

struct send_batch {
	struct mmsghdr msgs[DEVICE_BATCH];
	struct iovec iov[DEVICE_BATCH];
	struct peer *peer[DEVICE_BATCH];
	unsigned int slot[DEVICE_BATCH];
	bool v6[DEVICE_BATCH];
	uint8_t frag[DEVICE_BATCH];	/* enum fragment_kind */
	unsigned int n;
};

/* One address family's share of a batch, one datagram per message. */
struct send_family {
	struct mmsghdr msgs[DEVICE_BATCH];
	struct peer *peers[DEVICE_BATCH];
	unsigned int slots[DEVICE_BATCH];
	uint8_t frag[DEVICE_BATCH];
	unsigned int n;
	int fd;
};

/* Sends msgs[first .. first + n) of f one datagram each. */
static void send_singles(struct device *dev, struct send_family *f,
			 unsigned int first, unsigned int n, uint64_t now)
{
	struct mmsghdr *msgs = f->msgs + first;
	struct peer **peers = f->peers + first;
	unsigned int done = 0, i;
	int sent;

	/*
	 * sendmmsg() stops at the first message that fails and reports only
	 * what went before it: that one message is dropped and the rest are
	 * sent again, so one unreachable peer costs no other peer anything.
	 */
	while (done < n) {
		if (f->fd >= 0) {
			sent = sendmmsg(f->fd, msgs + done, n - done, 0);
		} else {
			sent = -1;
			errno = EBADF;
		}
		if (sent < 0 && errno == EINTR)
			continue;
		if (sent <= 0 && msgs[done].msg_hdr.msg_controllen &&
		    send_source_gone(errno)) {
			/* Our source address went away: send this one again,
			 * and later ones, from the kernel's choice. */
			memset(&peers[done]->st->src, 0,
			       sizeof(peers[done]->st->src));
			msgs[done].msg_hdr.msg_control = NULL;
			msgs[done].msg_hdr.msg_controllen = 0;
			continue;
		}
		if (sent <= 0) {
			dev->stats.tx_dropped++;
			done++;
			continue;
		}
		for (i = done; i < done + (unsigned int)sent; i++)
			after_data_sent(peers[i], now,
					msgs[i].msg_hdr.msg_iov->iov_len, false);
		done += (unsigned int)sent;
	}
}

/*
 * How many datagrams from message i on may leave as one UDP_SEGMENT send:
 * to the same peer with the same control message, each as long as the
 * first except the last, which may be shorter, within the kernel's limits.
 */
static unsigned int gso_run(const struct send_family *f, unsigned int i)
{
	const struct msghdr *a = &f->msgs[i].msg_hdr, *m;
	size_t size = a->msg_iov->iov_len, total = size, len;
	unsigned int j;

	for (j = i + 1; j < f->n && j - i < UDP_GSO_MAX_SEGMENTS; j++) {
		m = &f->msgs[j].msg_hdr;
		len = m->msg_iov->iov_len;
		if (f->peers[j] != f->peers[i] || len > size ||
		    total + len > UDP_GSO_MAX_BYTES ||
		    m->msg_controllen != a->msg_controllen ||
		    (a->msg_controllen &&
		     memcmp(m->msg_control, a->msg_control, a->msg_controllen)))
			break;
		total += len;
		if (len < size)
			return j + 1 - i;
	}
	return j - i;
}

/*
 * With UDP GSO, runs of datagrams to one peer go as one message each: the
 * kernel builds one packet of up to 64 KiB and cuts it at the last moment
 * (or never, when the receiver takes it whole with UDP_GRO), instead of
 * walking its UDP, IP and device layers once per datagram.  A run the
 * kernel refuses is sent again datagram by datagram (EINVAL: a datagram
 * larger than the route's MTU); EIO says it cannot do it at all (no
 * checksum offload on the way), and the device stops trying.
 */
static void send_gso(struct device *dev, struct send_family *f, uint64_t now)
{
	struct mmsghdr out[DEVICE_BATCH];
	struct iovec iov[DEVICE_BATCH];
	unsigned int first[DEVICE_BATCH], count[DEVICE_BATCH];
	unsigned int m = 0, done = 0, i, j, k, c;
	struct msghdr *h;
	uint8_t *ctl;
	size_t clen;
	int sent;

	for (i = 0; i < f->n; i += c, m++) {
		c = gso_run(f, i);
		out[m] = f->msgs[i];
		first[m] = i;
		h = &out[m].msg_hdr;
		ctl = dev->tx.cmsg[f->slots[i]];
		clen = c > 1 ? udp_gso_to_cmsg(ctl, h->msg_controllen,
					       sizeof(dev->tx.cmsg[0]),
					       (uint16_t)h->msg_iov->iov_len) : 0;
		if (!clen)
			c = 1;
		count[m] = c;
		if (c == 1)
			continue;
		/* The single message's own control bytes stay as they
		 * were: UDP_SEGMENT goes after them. */
		for (j = 0; j < c; j++)
			iov[i + j] = *f->msgs[i + j].msg_hdr.msg_iov;
		h->msg_iov = &iov[i];
		h->msg_iovlen = c;
		h->msg_control = ctl;
		h->msg_controllen = clen;
	}
	while (done < m) {
		sent = sendmmsg(f->fd, out + done, m - done, 0);
		if (sent < 0 && errno == EINTR)
			continue;
		if (sent <= 0) {
			if (count[done] > 1 && errno == EIO)
				dev->udp_gso = -1;
			send_singles(dev, f, first[done], count[done], now);
			done++;
			continue;
		}
		for (k = done; k < done + (unsigned int)sent; k++)
			for (j = first[k]; j < first[k] + count[k]; j++)
				after_data_sent(f->peers[j], now,
						f->msgs[j].msg_hdr.msg_iov->iov_len,
						false);
		done += (unsigned int)sent;
	}
}

/* A family's messages in the order fragment_order() gives (fragment.h). */
static void family_reorder(struct send_family *f)
{
	unsigned int order[DEVICE_BATCH], i;
	struct send_family was;

	if (!fragment_order(f->frag, f->n, order))
		return;
	memcpy(&was, f, sizeof(was));
	for (i = 0; i < f->n; i++) {
		f->msgs[i] = was.msgs[order[i]];
		f->peers[i] = was.peers[order[i]];
		f->slots[i] = was.slots[order[i]];
		f->frag[i] = was.frag[order[i]];
	}
}

static void batch_flush_family(struct device *dev, struct send_batch *b,
			       bool v6, uint64_t now)
{
	struct send_family f;
	unsigned int i;

	f.n = 0;
	f.fd = v6 ? dev->udp6 : dev->udp4;
	for (i = 0; i < b->n; i++) {
		if (b->v6[i] != v6)
			continue;
		f.msgs[f.n] = b->msgs[i];
		f.slots[f.n] = b->slot[i];
		f.frag[f.n] = b->frag[i];
		f.peers[f.n++] = b->peer[i];
	}
	if (!f.n)
		return;
	/* VPND_NO_OFFLOAD=1 (no dev->offload) means no UDP GSO either. */
	if (f.fd >= 0 && !dev->udp_gso && dev->offload)
		dev->udp_gso = udp_gso_supported(f.fd) ? 1 : -1;
	if (f.fd >= 0 && f.n > 1 && dev->udp_gso > 0) {
		family_reorder(&f);
		send_gso(dev, &f, now);
	} else {
		send_singles(dev, &f, 0, f.n, now);
	}
}

static void batch_add(struct device *dev, struct send_batch *b, unsigned int slot,
		      struct peer *p, size_t mlen, enum fragment_kind frag)
{
	unsigned int i = b->n++;

	dev->tx.addr[slot] = p->st->endpoint;
	b->iov[i].iov_base = dev->tx.buf[slot];
	b->iov[i].iov_len = mlen;
	memset(&b->msgs[i], 0, sizeof(b->msgs[i]));
	b->msgs[i].msg_hdr.msg_name = &dev->tx.addr[slot].sa;
	b->msgs[i].msg_hdr.msg_namelen = endpoint_len(&p->st->endpoint);
	b->msgs[i].msg_hdr.msg_iov = &b->iov[i];
	b->msgs[i].msg_hdr.msg_iovlen = 1;
	b->msgs[i].msg_hdr.msg_controllen =
		udp_local_to_cmsg(&p->st->src, dev->tx.cmsg[slot],
				  sizeof(dev->tx.cmsg[slot]));
	if (b->msgs[i].msg_hdr.msg_controllen)
		b->msgs[i].msg_hdr.msg_control = dev->tx.cmsg[slot];
	b->peer[i] = p;
	b->slot[i] = slot;
	b->frag[i] = (uint8_t)frag;
	b->v6[i] = p->st->endpoint.sa.sa_family == AF_INET6;
}

/* One packet read from the TUN device into slot: route it and seal it. */
static void handle_outgoing(struct device *dev, struct send_batch *b,
			    unsigned int slot, size_t len, uint64_t now)
{
	uint8_t *pkt = dev->tx.buf[slot] + MESSAGE_DATA_HEADER_LEN;
	struct peer *p = route(dev, pkt, len);
	enum fragment_kind frag;
	struct keypair *kp;

	if (!p) {
		dev->stats.tx_no_route++;
		reply_unreachable(dev, pkt, len);
		return;
	}
	/* No state: never told an endpoint nor heard from, so no address. */
	if (!p->st || !p->st->endpoint.sa.sa_family) {
		dev->stats.tx_dropped++;
		return;
	}
	kp = peer_keypair_for_sending(p, now);
	if (!kp) {
		peer_stage_packet(p, pkt, len);
		send_handshake_request(p, now);
		return;
	}
	/* Read before the seal turns the header into ciphertext. */
	frag = fragment_kind(pkt, len);
	batch_add(dev, b, slot, p, seal(kp, dev->tx.buf[slot], len, dev->mtu),
		  frag);
}

/* A read failed: EAGAIN means drained; anything else, the device is gone
 * (EBADFD once it was deleted). */
static void read_failed(struct device *dev, ssize_t n)
{
	if (n < 0 && errno != EAGAIN && errno != EINTR)
		dev->tun_dead = true;
}

static void batch_flush(struct device *dev, struct send_batch *b,
			uint64_t now)
{
	batch_flush_family(dev, b, false, now);
	batch_flush_family(dev, b, true, now);
	b->n = 0;
}

/*
 * With offloads, one read may bring a TCP super-packet: it is cut into
 * segments straight into the batch's buffers, flushing the batch whenever
 * it fills.
 */
static void tun_readable_offload(struct device *dev, struct send_batch *b,
				 uint64_t now)
{
	struct offload_hdr h;
	unsigned int slot = 0, reads, segs, i;
	size_t hdrlen, plen, got = 0;
	uint8_t *pkt = dev->gso + OFFLOAD_VNET_HDR_LEN;
	ssize_t n;

	for (reads = 0; reads < DEVICE_BATCH && got < DEVICE_TUN_BUDGET;
	     reads++) {
		n = read(dev->tun_fd, dev->gso, DEVICE_BUF_LEN);
		if (n <= 0) {
			read_failed(dev, n);
			break;
		}
		got += (size_t)n;
		if (offload_hdr_parse(dev->gso, (size_t)n, &h))
			continue;
		plen = (size_t)n - OFFLOAD_VNET_HDR_LEN;
		segs = offload_segments(pkt, plen, &h, &hdrlen);
		if (!segs || (segs == 1 && offload_csum_complete(pkt, plen, &h))) {
			dev->stats.tx_dropped++;
			continue;
		}
		for (i = 0; i < segs; i++) {
			uint8_t *dst;
			size_t len;

			if (slot == DEVICE_BATCH) {
				batch_flush(dev, b, now);
				slot = 0;
			}
			dst = dev->tx.buf[slot] + MESSAGE_DATA_HEADER_LEN;
			if (segs == 1) {
				memcpy(dst, pkt, plen);
				len = plen;
			} else {
				len = offload_segment(dst, pkt, plen, &h, hdrlen,
						      i);
			}
			handle_outgoing(dev, b, slot++, len, now);
		}
	}
}

void send_tun_readable(struct device *dev)
{
	struct send_batch b;
	unsigned int slot;
	uint64_t now = device_now();
	ssize_t n;

	b.n = 0;
	if (dev->offload) {
		tun_readable_offload(dev, &b, now);
		batch_flush(dev, &b, now);
		return;
	}
	for (slot = 0; slot < DEVICE_BATCH; slot++) {
		n = read(dev->tun_fd, dev->tx.buf[slot] + MESSAGE_DATA_HEADER_LEN,
			 DEVICE_BUF_LEN - MESSAGE_DATA_HEADER_LEN -
				 NOISE_AUTHTAG_LEN - MESSAGE_PADDING_MULTIPLE);
		if (n <= 0) {
			read_failed(dev, n);
			break;
		}
		handle_outgoing(dev, &b, slot, (size_t)n, now);
	}
	batch_flush(dev, &b, now);
}
