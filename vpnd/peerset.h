/* SPDX-License-Identifier: MIT */
/*
 * A server's user as a peer: its public key, preshared key and allowed
 * IPs put on the device in one step that either completes or leaves no
 * trace.  The [peer] sections of server.conf and the fleet's users (etcd)
 * both go through here, so that a user is the same peer whichever way it
 * came.
 */
#ifndef VPND_PEERSET_H
#define VPND_PEERSET_H

#include <stddef.h>
#include <stdint.h>

#include <vpn/key.h>

#include "conf.h"

struct device;
struct peer;

/*
 * Creates the peer with @psk (NULL: none) and @ips.  @name, what log lines
 * call it (NULL: "peer N"), must live as long as the peer.  Returns 0,
 * -ENOSPC (the peer table is full) or -ENOMEM; on error nothing was added.
 */
int peerset_add(struct device *dev, const char *name,
		const uint8_t key[KEY_LEN], const uint8_t *psk,
		const struct conf_prefix *ips, size_t n);

/*
 * Replaces the allowed IPs of @p, keeping its sessions.  On -ENOMEM the
 * peer is removed rather than left with part of its prefixes.
 */
int peerset_replace_ips(struct peer *p, const struct conf_prefix *ips,
			size_t n);

#endif /* VPND_PEERSET_H */
