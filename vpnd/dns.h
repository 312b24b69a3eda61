/* SPDX-License-Identifier: MIT */
/*
 * DNS for the client role: while the tunnel is up, /etc/resolv.conf names
 * only the tunnel's resolvers; on down it gets back exactly the bytes (or
 * the symlink) it had.  A copy of the original is kept under the runtime
 * directory so that a daemon that died can still restore it on restart.
 */
#ifndef VPND_DNS_H
#define VPND_DNS_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"

enum dns_limits {
	DNS_FILE_MAX = 1 << 16,
};

struct dns_state {
	char path[256];		/* normally /etc/resolv.conf */
	char backup[256];	/* $VPND_RUNDIR/IFNAME.resolv.conf */
	bool active;
	bool was_symlink;
	char link_target[256];
	char *original;		/* the bytes we replaced */
	size_t original_len;
	char *ours;		/* the bytes we wrote */
	size_t ours_len;
};

void dns_init(struct dns_state *d, const char *resolv_path,
	      const char *rundir, const char *ifname);
/* Points resolv.conf at the tunnel's resolvers; 0 or -errno. */
int dns_apply(struct dns_state *d, const struct conf_prefix *servers,
	      unsigned int n);
/* Puts the original back; 0 or -errno. */
int dns_restore(struct dns_state *d);
/* After a crash: restores from the backup file if one is left. */
int dns_recover(struct dns_state *d);
void dns_free(struct dns_state *d);

#endif /* VPND_DNS_H */
