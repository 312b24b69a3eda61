/* SPDX-License-Identifier: MIT */
/*
 * The kill switch's state file, $VPND_STATEDIR/killswitch (default
 * /var/lib/vpnd/killswitch): what must outlive the daemon, and the
 * machine, so that a daemon that starts, or the boot unit, knows whether
 * to block before anyone asks.  It holds no secret and no address:
 *
 *   # vpnd kill switch state: written by vpnd; change it with vpnctl
 *   mode=lockdown
 *   allow_lan=no
 *   hold=yes
 *   profile_mode=on
 *   profile_allow_lan=no
 *   arp_ignore=-1
 *
 * mode, allow_lan  the kill switch as the user last set it.
 * hold             a connection was wanted, or the daemon's past is unknown:
 *                  block even while disconnected, until the user says up,
 *                  down or killswitch.  A daemon that dies while up leaves
 *                  "yes" behind.
 * profile_*        the profile's values when mode and allow_lan were last
 *                  written: a profile edited since then wins again (the
 *                  last change, in the file or by vpnctl, is the one kept).
 * arp_ignore       net.ipv4.conf.all.arp_ignore before we raised it, or -1:
 *                  a daemon that died leaves its old value here.
 *
 * Reading is strict: every key exactly once, nothing else, lines of
 * printable ASCII (a byte vpnd never writes is never quoted into a log),
 * no group or world write permission, owned by root (or by us), at most
 * KSFILE_SIZE_MAX bytes.  Anything else is "corrupt", and a corrupt or
 * missing file makes the daemon block, never open.  Writing replaces the
 * file atomically (a temporary file, fsync, rename, fsync of the
 * directory), so a crash leaves the old file or the new one.
 */
#ifndef VPND_KSFILE_H
#define VPND_KSFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "killswitch.h"

#define KSFILE_NAME "killswitch"
#define KSFILE_LOCK_NAME "killswitch.lock"
#define KSFILE_DIR_DEFAULT "/var/lib/vpnd"

enum ksfile_limits {
	KSFILE_SIZE_MAX = 4096,
	KSFILE_PATH_MAX = 256,
	KSFILE_ERR_LEN = 256,
};

struct ksfile {
	enum killswitch_mode mode;
	bool allow_lan;
	bool hold;
	enum killswitch_mode profile_mode;
	bool profile_allow_lan;
	int arp_ignore;			/* -1: not raised */
};

/* $VPND_STATEDIR, or KSFILE_DIR_DEFAULT when it is unset or empty. */
const char *ksfile_dir(void);

/*
 * Reads dir/killswitch into f.  0; -ENOENT when there is none; -EBADMSG
 * when it is not a file we wrote (err says what and where, "file:line:"
 * when a line is at fault); another -errno when it cannot be read.  f is
 * only written on success.
 */
int ksfile_load(const char *dir, struct ksfile *f, char *err, size_t len);

/*
 * What ksfile_load() does once the file is read: parses the @n bytes at
 * @text (no NUL needed) into f, with the same strictness and results;
 * @name is what messages call the file.
 */
int ksfile_parse(const char *name, const char *text, size_t n,
		 struct ksfile *f, char *err, size_t len);

/* Replaces dir/killswitch with f, creating dir (0755) if needed; mode
 * 0644, since vpnctl shows the mode to members of the vpnd group.  0 or
 * -errno; on failure the old file is left as it was.  (Once the new file
 * is renamed into place, 0: a failed fsync of the directory after that is
 * not reported, as the new file is what any reader now sees.) */
int ksfile_save(const char *dir, const struct ksfile *f);

/*
 * One client daemon owns the host's kill switch (one table, one file): an
 * exclusive lock on dir/killswitch.lock, held by *fd until it is closed
 * (or the process ends).  0; -EBUSY when another process holds it.
 * *fresh says whether this call created the lock file: a daemon leaves it
 * behind, so a fresh one means no vpnd client ever ran with this state
 * directory, and a missing state file is then no sign of trouble.
 */
int ksfile_lock(const char *dir, int *fd, bool *fresh);

/* "off", "on", "lockdown"; NULL for anything else. */
const char *ksfile_mode_name(enum killswitch_mode m);
/* The mode named s; -EINVAL when s names none. */
int ksfile_mode_parse(const char *s, enum killswitch_mode *m);

#endif /* VPND_KSFILE_H */
