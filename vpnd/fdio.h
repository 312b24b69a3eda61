/* SPDX-License-Identifier: MIT */
/*
 * Whole writes to a file descriptor: the state and resolv.conf files the
 * daemon writes, the keys vpnctl writes.  A short write or EINTR is not
 * the end of it, so each caller would otherwise loop on its own.
 */
#ifndef VPND_FDIO_H
#define VPND_FDIO_H

#include <stddef.h>

/* Writes all @len bytes of @buf to @fd: 0, or -errno of the failed write. */
int fdio_write_all(int fd, const void *buf, size_t len);

#endif /* VPND_FDIO_H */
