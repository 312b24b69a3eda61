/* SPDX-License-Identifier: MIT */
/*
 * Config sources for `vpnd -c`: a path, standard input, or a systemd
 * credential.
 *
 * The loader (conf.c) needs a path it can open twice: once for its own
 * scan, once more for iniparser.  A pipe can be read only once, so standard
 * input is copied into a memory file (memfd) first.  That copy holds the
 * private key, so it is mapped and locked (never swapped), kept out of core
 * dumps, and wiped as soon as the config is loaded.  It is put on
 * descriptor 0, where /dev/stdin names it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "conf.h"
#include "confsrc.h"

static int stdin_read(struct confsrc *src, int fd)
{
	src->map_len = (size_t)CONF_FILE_MAX + 1;
	if (ftruncate(fd, (off_t)src->map_len))
		return -errno;
	src->map = mmap(NULL, src->map_len, PROT_READ | PROT_WRITE,
			MAP_SHARED, fd, 0);
	if (src->map == MAP_FAILED) {
		src->map = NULL;
		return -errno;
	}
	/* Locked as each page is first touched; kept out of core dumps. */
	if (mlock2(src->map, src->map_len, MLOCK_ONFAULT))
		return -errno;
	madvise(src->map, src->map_len, MADV_DONTDUMP);
	while (src->len < src->map_len) {
		ssize_t n = read(STDIN_FILENO, (char *)src->map + src->len,
				 src->map_len - src->len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			break;
		src->len += (size_t)n;
	}
	if (src->len == src->map_len)
		return -EFBIG;
	/* The loader checks the mode: the copy is ours alone. */
	if (ftruncate(fd, (off_t)src->len) || fchmod(fd, 0600))
		return -errno;
	if (dup2(fd, STDIN_FILENO) < 0)
		return -errno;
	return 0;
}

static int stdin_open(struct confsrc *src, char *err, size_t errlen)
{
	int fd = memfd_create("vpnd-config", MFD_CLOEXEC);
	int ret;

	if (fd < 0) {
		ret = -errno;
		if (err && errlen)
			snprintf(err, errlen,
				 "standard input: cannot make a memory file for it: %s",
				 strerror(-ret));
		return ret;
	}
	ret = stdin_read(src, fd);
	close(fd);
	if (ret == -EFBIG && err && errlen)
		snprintf(err, errlen,
			 "standard input: over the limit of %d bytes; large peer sets belong in the UAPI (wg set, wg addconf)",
			 CONF_FILE_MAX);
	else if (ret && err && errlen)
		snprintf(err, errlen,
			 "standard input: cannot copy it into locked memory: %s",
			 strerror(-ret));
	if (ret) {
		confsrc_close(src);
		return ret;
	}
	snprintf(src->path, sizeof(src->path), "%s", CONF_STDIN_PATH);
	return 0;
}

static int cred_open(struct confsrc *src, const char *name, char *err,
		     size_t errlen)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	int n;

	if (!*name || strchr(name, '/') || !strcmp(name, ".") ||
	    !strcmp(name, "..")) {
		if (err && errlen)
			snprintf(err, errlen,
				 "%s%.64s: a credential name is not empty and has no '/' (as LoadCredential=NAME:... gives it)",
				 CONFSRC_CRED_PREFIX, name);
		return -EINVAL;
	}
	if (!dir || dir[0] != '/') {
		if (err && errlen)
			snprintf(err, errlen,
				 "%s%.64s: $CREDENTIALS_DIRECTORY is %s; systemd sets it for a unit with LoadCredential=%.64s:FILE",
				 CONFSRC_CRED_PREFIX, name,
				 dir ? "not an absolute path" : "not set", name);
		return -ENOENT;
	}
	n = snprintf(src->path, sizeof(src->path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(src->path)) {
		if (err && errlen)
			snprintf(err, errlen, "%s%.64s: the path is too long",
				 CONFSRC_CRED_PREFIX, name);
		return -ENAMETOOLONG;
	}
	return 0;
}

int confsrc_open(struct confsrc *src, const char *arg, char *err,
		 size_t errlen)
{
	size_t plen = strlen(CONFSRC_CRED_PREFIX);

	memset(src, 0, sizeof(*src));
	if (!strcmp(arg, "-"))
		return stdin_open(src, err, errlen);
	if (!strncmp(arg, CONFSRC_CRED_PREFIX, plen))
		return cred_open(src, arg + plen, err, errlen);
	if (strlen(arg) >= sizeof(src->path)) {
		if (err && errlen)
			snprintf(err, errlen, "%.64s...: the path is too long",
				 arg);
		return -ENAMETOOLONG;
	}
	memcpy(src->path, arg, strlen(arg) + 1);
	return 0;
}

void confsrc_close(struct confsrc *src)
{
	int fd;

	if (!src->map)
		return;
	/* Only up to the end of the file: a page past it is not there. */
	sodium_memzero(src->map, src->len);
	munmap(src->map, src->map_len);
	src->map = NULL;
	src->len = src->map_len = 0;
	/* Descriptor 0 is the copy (if it got that far): empty it, then
	 * let /dev/null take its place. */
	if (!strcmp(src->path, CONF_STDIN_PATH) &&
	    ftruncate(STDIN_FILENO, 0) == 0) {
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && fd != STDIN_FILENO) {
			dup2(fd, STDIN_FILENO);
			close(fd);
		}
	}
}
