/* SPDX-License-Identifier: MIT */
/*
 * The UAPI socket, /var/run/wireguard/IFNAME.sock: listening, one libev
 * watcher per connection, and applying what uapi.c parsed to the device.
 */
#ifndef VPND_UAPISOCK_H
#define VPND_UAPISOCK_H

struct device;

int uapisock_open(struct device *dev);
/* Closes every connection and the listener, and removes the socket file
 * if it is still ours. */
void uapisock_close(struct device *dev);

#endif /* VPND_UAPISOCK_H */
