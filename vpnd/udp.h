/* SPDX-License-Identifier: MIT */
/*
 * The UDP sockets: one IPv4 and one IPv6-only socket on the same port, as
 * wireguard-go binds them, so either family works when the other is off.
 */
#ifndef VPND_UDP_H
#define VPND_UDP_H

#include <stdint.h>

#include "peer.h"

/* Binds both sockets (port 0: a random free one) and sets the mark. */
int udp_open(uint16_t port, uint32_t fwmark, int *fd4, int *fd6,
	     uint16_t *actual);
int udp_set_mark(int fd, uint32_t mark);
void udp_close(int *fd4, int *fd6);

/* Our address a received datagram was sent to (family 0 when unknown). */
void udp_local_from_cmsg(struct msghdr *mh, struct endpoint_src *local);
/* The control message that sends from local; returns its length, 0 for
 * none.  buf must hold UDP_CMSG_SPACE bytes. */
size_t udp_local_to_cmsg(const struct endpoint_src *local, void *buf,
			 size_t len);

enum udp_values {
	UDP_CMSG_SPACE = 64,
};

#endif /* VPND_UDP_H */
