/* SPDX-License-Identifier: MIT */
/*
 * The receiving half: datagrams from the UDP sockets to the TUN device and
 * to the handshake.
 */
#ifndef VPND_RECEIVE_H
#define VPND_RECEIVE_H

#include <stddef.h>
#include <stdint.h>

struct device;
union endpoint;

/* Drains up to one batch from a UDP socket. */
void receive_udp_readable(struct device *dev, int fd);
struct endpoint_src;

/* One datagram from src; msg is modified in place. */
void receive_datagram(struct device *dev, uint8_t *msg, size_t len,
		      const union endpoint *src, uint64_t now);
/* The same, knowing which of our addresses it was sent to. */
void receive_datagram_to(struct device *dev, uint8_t *msg, size_t len,
			 const union endpoint *src,
			 const struct endpoint_src *local, uint64_t now);

/*
 * The inner packet's length from its own header, or 0 when it is not a
 * well-formed IPv4 or IPv6 packet that fits in what was decrypted: what a
 * data message's plaintext is cut to before it goes any further.
 */
size_t receive_inner_length(const uint8_t *pkt, size_t len);

#endif /* VPND_RECEIVE_H */
