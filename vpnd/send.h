/* SPDX-License-Identifier: MIT */
/*
 * The sending half: packets from the TUN device to peers, handshake
 * messages, keepalives, and ICMP errors back into the TUN device.
 */
#ifndef VPND_SEND_H
#define VPND_SEND_H

#include <stddef.h>
#include <stdint.h>

struct device;
struct peer;
union endpoint;

/* Drains the TUN device, encrypting and sending in batches. */
void send_tun_readable(struct device *dev);

void send_handshake_initiation(struct peer *p, uint64_t now);
/* Asks for a handshake unless one was sent less than REKEY_TIMEOUT ago. */
void send_handshake_request(struct peer *p, uint64_t now);
int send_handshake_response(struct peer *p, uint64_t now);
void send_keepalive(struct peer *p, uint64_t now);
/* Sends what waited for a session; a keepalive when nothing did. */
void send_staged(struct peer *p, uint64_t now, bool keepalive_if_empty);

struct endpoint_src;

/* One datagram to an address, for handshakes and cookie replies; from our
 * address `from` when given. */
int send_datagram(struct device *dev, const union endpoint *to,
		  const void *buf, size_t len);
int send_datagram_from(struct device *dev, const union endpoint *to,
		       const struct endpoint_src *from, const void *buf,
		       size_t len);

/* A cheap, non-cryptographic jitter for the timers. */
uint64_t send_jitter(struct device *dev);

#endif /* VPND_SEND_H */
