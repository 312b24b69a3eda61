/* SPDX-License-Identifier: MIT */
/*
 * Creating and vetting vpnd's runtime and state directories (rundir.h).
 *
 * A new directory is made 0700 first and given its mode afterwards, through
 * a descriptor, so that the umask cannot take bits away (the symptom that
 * led here: under `umask 077`, /var/run/wireguard came out 0700 and `wg`
 * run by anyone but root could no longer see the sockets) and no one else
 * can slip a file in between the two steps.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rundir.h"

bool rundir_is_safe(const char *path, uid_t uid, mode_t mode, uid_t self,
		    char *err, size_t len)
{
	if (!S_ISDIR(mode)) {
		snprintf(err, len, "%s exists and is not a directory", path);
		return false;
	}
	if (uid != 0 && uid != self) {
		snprintf(err, len, "%s is owned by uid %u, not by root: whoever "
			 "owns it could replace vpnd's files in it; refusing "
			 "to use it (chown root %s, or remove it and vpnd "
			 "creates it)", path, (unsigned int)uid, path);
		return false;
	}
	if (mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, len, "%s has mode %04o: other users could "
			 "replace vpnd's files in it; refusing to use it "
			 "(chmod go-w %s, or remove it and vpnd creates it)",
			 path, (unsigned int)(mode & 07777), path);
		return false;
	}
	return true;
}

static int open_dir(const char *path, int *fd, char *err, size_t len)
{
	int ret;

	*fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*fd >= 0)
		return 0;
	ret = -errno;
	if (ret == -ELOOP || ret == -ENOTDIR) {
		snprintf(err, len, "%s exists and is not a directory (a "
			 "symbolic link or another file): refusing to use it",
			 path);
		return -EPERM;
	}
	snprintf(err, len, "cannot open directory %s: %s", path,
		 strerror(-ret));
	return ret;
}

int rundir_make(const char *path, mode_t mode, bool *created,
		char *err, size_t len)
{
	struct stat st;
	bool made;
	int fd, ret;

	made = !mkdir(path, 0700);
	if (!made && errno != EEXIST) {
		ret = -errno;
		snprintf(err, len, "cannot create directory %s: %s", path,
			 strerror(-ret));
		return ret;
	}
	ret = open_dir(path, &fd, err, len);
	if (ret)
		return ret;
	if (made && fchmod(fd, mode)) {
		ret = -errno;
		snprintf(err, len, "cannot set mode %04o on %s: %s",
			 (unsigned int)mode, path, strerror(-ret));
		goto out;
	}
	if (fstat(fd, &st)) {
		ret = -errno;
		snprintf(err, len, "cannot examine %s: %s", path,
			 strerror(-ret));
		goto out;
	}
	if (!rundir_is_safe(path, st.st_uid, st.st_mode, geteuid(), err, len))
		ret = -EPERM;
	else if (created)
		*created = made;
out:
	close(fd);
	return ret;
}
