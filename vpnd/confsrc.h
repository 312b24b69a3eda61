/* SPDX-License-Identifier: MIT */
/*
 * Where `vpnd -c ARG` reads its config from, so that a server's private key
 * never has to be on a disk: "-" is standard input, "cred:NAME" a systemd
 * credential ($CREDENTIALS_DIRECTORY/NAME), anything else a path.  Each
 * becomes a path the config loader can open (and open again: iniparser
 * reads the file a second time), documented in docs/config.md.
 */
#ifndef VPND_CONFSRC_H
#define VPND_CONFSRC_H

#include <limits.h>
#include <stddef.h>

#define CONFSRC_CRED_PREFIX "cred:"

struct confsrc {
	char path[PATH_MAX];	/* what to load */
	void *map;		/* the locked copy of standard input, or NULL */
	size_t map_len, len;
};

/*
 * Resolves @arg into @src->path.  For "-" it reads standard input to its
 * end into a locked memory file and puts that file on descriptor 0, read
 * through CONF_STDIN_PATH.  Returns 0, or -errno with a message in @err.
 */
int confsrc_open(struct confsrc *src, const char *arg, char *err,
		 size_t errlen);
/* Wipes and releases the copy of standard input; descriptor 0 becomes
 * /dev/null.  Does nothing for the other sources. */
void confsrc_close(struct confsrc *src);

#endif /* VPND_CONFSRC_H */
