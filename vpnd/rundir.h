/* SPDX-License-Identifier: MIT */
/*
 * The directories vpnd keeps its sockets and state in: /var/run/wireguard
 * (the UAPI sockets), $VPND_RUNDIR (the control socket, default /run/vpnd)
 * and $VPND_STATEDIR (the kill switch's state, default /var/lib/vpnd).
 *
 * Whoever may write to one of them can put a socket or a state file of
 * their own where `wg`, vpnctl or the next daemon will trust it.  So a
 * directory vpnd creates gets exactly its documented mode, whatever the
 * umask it was started with, and one it finds already there must be a real
 * directory (not a symbolic link), owned by root or by vpnd's own user,
 * that neither its group nor others may write to.  vpnd never loosens or
 * tightens a directory it did not create: it refuses to use it, and says why.
 */
#ifndef VPND_RUNDIR_H
#define VPND_RUNDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum rundir_limits {
	RUNDIR_ERR_LEN = 320,
};

/*
 * Makes sure @path is a directory vpnd may keep its files in, creating it
 * with exactly @mode when it does not exist (its parent must).  0, with
 * *created (when not NULL) saying whether this call made it; -EPERM for a
 * directory that is unsafe to use (owner, mode, or not a directory);
 * another -errno when it cannot be created or examined.  On failure err
 * holds one line naming the path and what is wrong with it.
 */
int rundir_make(const char *path, mode_t mode, bool *created,
		char *err, size_t len);

/*
 * The judgement alone, for a directory already there: false, with the
 * reason in err, when its owner @uid and @mode (st_mode) would let someone
 * other than root or @self replace what vpnd keeps in it.
 */
bool rundir_is_safe(const char *path, uid_t uid, mode_t mode, uid_t self,
		    char *err, size_t len);

#endif /* VPND_RUNDIR_H */
