/* SPDX-License-Identifier: MIT */
/*
 * TUN offloads.  With IFF_VNET_HDR and TSO enabled, the kernel hands the
 * daemon TCP "super-packets" of up to 64 KiB, each behind a virtio-net
 * header saying how to cut it, and packets whose checksum it left to us.
 * One read then brings what used to take dozens.  These functions do the
 * cutting and the checksums; they touch no descriptor.
 *
 * The other way, consecutive TCP segments of one flow that arrive in one
 * batch are merged back into such a super-packet (as a NIC's receive
 * offload would), so that the kernel takes one write instead of dozens.
 */
#ifndef VPND_OFFLOAD_H
#define VPND_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

enum offload_values {
	OFFLOAD_VNET_HDR_LEN = 10,
	OFFLOAD_MAX_SEGMENTS = 128,
	/* Packets one coalescing pass holds before it must be flushed. */
	OFFLOAD_GRO_PACKETS = 128,
	/* Flows that may be growing at once; more are written unmerged. */
	OFFLOAD_GRO_FLOWS = 8,
	/* The iovecs one merged write needs at most: header, first
	 * packet, then one payload per further segment. */
	OFFLOAD_GRO_IOV = OFFLOAD_GRO_PACKETS + 1,
};

struct offload_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
};

/* Reads the header in front of a packet; -EINVAL when it is too short. */
int offload_hdr_parse(const uint8_t *p, size_t len, struct offload_hdr *h);

/*
 * For a packet that is not to be cut: finishes the checksum the kernel
 * left to us (VIRTIO_NET_HDR_F_NEEDS_CSUM).  0, or -EINVAL when the offsets
 * do not fit the packet.
 */
int offload_csum_complete(uint8_t *pkt, size_t len,
			  const struct offload_hdr *h);

/*
 * How many segments a super-packet makes, 1 when it is not one, or 0 when
 * it cannot be cut (not TCP over IPv4 or IPv6 without extension headers,
 * a header that does not fit, too many segments).  *hdrlen receives the
 * length of the IP and TCP headers every segment repeats.
 */
unsigned int offload_segments(const uint8_t *pkt, size_t len,
			      const struct offload_hdr *h, size_t *hdrlen);

/*
 * Writes segment i of the super-packet into out: the headers with the
 * lengths, IPv4 identification, sequence number, flags and both checksums
 * made right, and its share of the payload.  Returns its length.
 */
size_t offload_segment(uint8_t *out, const uint8_t *pkt, size_t len,
		       const struct offload_hdr *h, size_t hdrlen,
		       unsigned int i);

/* One packet of a coalescing pass: a whole IP packet, or a segment
 * merged into one (then only its payload is written). */
struct offload_gro_seg {
	uint8_t *pkt;
	uint32_t len;
	uint16_t hdrlen;
	int16_t next;		/* the next segment of its write, or -1 */
};

/* One write to the TUN device: a plain packet or a growing merge. */
struct offload_gro_item {
	int16_t head, tail;	/* segments, in sequence order */
	uint16_t segs;
	uint16_t gso_size;	/* payload of every segment but the last */
	uint32_t len;		/* of the merged packet */
	uint32_t next_seq;	/* the sequence number that may follow */
	bool open;		/* may still take segments */
	bool psh;		/* the last segment carries PSH */
};

/*
 * A batch of decrypted packets on their way to the TUN device.  Packets
 * are kept in arrival order except that a TCP segment may join an earlier
 * packet of its own flow; within a flow nothing is ever reordered.
 */
struct offload_gro {
	struct offload_gro_seg seg[OFFLOAD_GRO_PACKETS];
	struct offload_gro_item item[OFFLOAD_GRO_PACKETS];
	int16_t flow[OFFLOAD_GRO_FLOWS];	/* open items, oldest first */
	unsigned int nseg, nitem, nflow;
};

void offload_gro_init(struct offload_gro *g);

/*
 * Queues pkt, a whole IPv4 or IPv6 packet of len bytes that has passed
 * every check of the receive path; it must stay where it is until the
 * flush.  A TCP segment that continues an open merge of its flow joins it.
 * Returns 0, or -ENOSPC when the batch is full (flush, then add again).
 */
int offload_gro_add(struct offload_gro *g, uint8_t *pkt, size_t len);

/* How many writes the batch makes; item i is 0 .. that - 1. */
unsigned int offload_gro_items(const struct offload_gro *g);

/*
 * Prepares write i: fills vnet (the virtio-net header: zero for a plain
 * packet, TCP GSO with a partial checksum for a merge, whose first packet's
 * IP and TCP headers it rewrites) and iov, at most OFFLOAD_GRO_IOV entries,
 * the first pointing at vnet.  Returns the number of iovecs; *packets
 * receives how many packets the write carries.
 */
unsigned int offload_gro_item_iov(struct offload_gro *g, unsigned int i,
				  uint8_t vnet[OFFLOAD_VNET_HDR_LEN],
				  struct iovec *iov, unsigned int *packets);

#endif /* VPND_OFFLOAD_H */
