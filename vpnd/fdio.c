/* SPDX-License-Identifier: MIT */
/* Whole writes to a file descriptor (fdio.h). */
#include <errno.h>
#include <unistd.h>

#include "fdio.h"

int fdio_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)	/* no progress: never loop on it */
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
