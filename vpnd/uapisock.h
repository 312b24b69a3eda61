/* SPDX-License-Identifier: MIT */
/*
 * The UAPI socket, /var/run/wireguard/IFNAME.sock: listening, one libev
 * watcher per connection, and applying what uapi.c parsed to the device.
 */
#ifndef VPND_UAPISOCK_H
#define VPND_UAPISOCK_H

#include <stddef.h>

struct device;
struct peer;

enum uapisock_limits {
	/* Connections at once; more are accepted and closed at once.  Each
	 * holds at most one line being read and one reply being written,
	 * besides the set request it is parsing (uapi.h's limits). */
	UAPISOCK_MAX_CONNS = 64,
	/* A connection whose client neither sends nor reads a byte for
	 * this long is closed (a slow reader of a long reply is not idle,
	 * nor is a client whose bytes wait while the daemon was busy): wg
	 * writes its request at once and reads its reply to the end, so
	 * only a client that holds a slot, or a half-sent set request and
	 * what it has parsed, waits this long.  Without it, 64 silent
	 * connections would keep every wg command out. */
	UAPISOCK_IDLE_MS = 10000,
	UAPISOCK_READ_CHUNK = 16384,
};

/* Creates /var/run/wireguard if needed (rundir.h) and listens on
 * IFNAME.sock in it.  0, or -errno with one line in err saying what. */
int uapisock_open(struct device *dev, char *err, size_t len);
/* Closes every connection and the listener, and removes the socket file
 * if it is still ours. */
void uapisock_close(struct device *dev);
/* Before p leaves the peer list: a get reply waiting to go on at p goes on
 * at the peer after it. */
void uapisock_peer_removed(struct device *dev, const struct peer *p);

#endif /* VPND_UAPISOCK_H */
