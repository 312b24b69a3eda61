/* SPDX-License-Identifier: MIT */
/*
 * The UDP sockets: one IPv4 and one IPv6-only socket on the same port, as
 * wireguard-go binds them, so either family works when the other is off.
 */
#ifndef VPND_UDP_H
#define VPND_UDP_H

#include <stdbool.h>
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

/* The segment size of a buffer the kernel coalesced from several
 * datagrams (UDP_GRO), or 0 for a single datagram. */
size_t udp_gro_from_cmsg(struct msghdr *mh);
/*
 * Appends UDP_SEGMENT (size) to the used bytes of control messages in buf
 * (len bytes): the kernel cuts the message into datagrams of size bytes.
 * Returns the new length, or 0 when it does not fit.
 */
size_t udp_gso_to_cmsg(void *buf, size_t used, size_t len, uint16_t size);
/*
 * Whether the kernel knows UDP_SEGMENT.  One that does not would ignore
 * the control message and send the whole message as one datagram, so
 * nothing may use it before this said yes.
 */
bool udp_gso_supported(int fd);

/*
 * Whether fd holds at least 1/share of its receive buffer in datagrams
 * not yet read (SO_MEMINFO).  A kernel that cannot say is taken as no.
 */
bool udp_backlog_high(int fd, unsigned int share);

enum udp_values {
	/* IPV6_PKTINFO and UDP_GRO or UDP_SEGMENT, with room to spare. */
	UDP_CMSG_SPACE = 128,
	/* Datagrams one UDP_SEGMENT send may carry, and their bytes: every
	 * kernel with UDP GSO takes 64 segments (newer ones more), and the
	 * whole must fit in one IPv4 or IPv6 packet. */
	UDP_GSO_MAX_SEGMENTS = 64,
	UDP_GSO_MAX_BYTES = 65535 - 40 - 8,
};

#endif /* VPND_UDP_H */
