/* SPDX-License-Identifier: MIT */
/*
 * The TUN device: layer-3 packets, no packet-information header.
 */
#ifndef VPND_TUN_H
#define VPND_TUN_H

#include <net/if.h>

#include <stdbool.h>

/*
 * Creates (or attaches to) TUN name; returns the fd or -errno.  With
 * *offload true on entry, asks for TSO and checksum offload behind a
 * virtio-net header; *offload says on return whether it got them.
 */
int tun_open(const char *name, char actual[IFNAMSIZ], bool *offload);
int tun_set_mtu(const char *name, unsigned int mtu);
/* The interface's MTU, or -errno (-ENODEV once it has been deleted). */
int tun_get_mtu(const char *name);

#endif /* VPND_TUN_H */
