/* SPDX-License-Identifier: MIT */
/*
 * What the harnesses of vpnd's files (fuzz_client, fuzz_servers,
 * fuzz_server, fuzz_signed) share.  The loaders read by path, as they
 * must: iniparser 4.1 opens paths only, and the signature of a list is
 * found next to it.  So each input is written into a private directory of
 * the harness (under /dev/shm when there is one: memory, no disk), mode
 * 0600 as a file holding a key must be, and loaded from there.
 *
 * A refusal must explain itself: a message that is not empty, fits, holds
 * no control character but a tab (it goes to logs and terminals, where a
 * newline would forge a line and an escape sequence would reach the
 * terminal; the files may hold tabs, and the messages quote them),
 * starts with the file's path and, when it names a line, names one the
 * file has.
 *
 * Include it after defining FUZZ_NAME, the harness's name for messages.
 */
#ifndef FUZZ_CONF_H
#define FUZZ_CONF_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FAIL(...)                                              \
	do {                                                   \
		fprintf(stderr, FUZZ_NAME ": " __VA_ARGS__);   \
		fputc('\n', stderr);                           \
		abort();                                       \
	} while (0)

enum { FUZZ_FILES_MAX = 4 };

/* The directory, and the files written into it, removed at exit. */
static struct {
	char dir[64];
	char file[FUZZ_FILES_MAX][PATH_MAX];
	unsigned int n;
} fuzz_files;

static void fuzz_files_remove(void)
{
	for (unsigned int i = 0; i < fuzz_files.n; i++)
		unlink(fuzz_files.file[i]);
	rmdir(fuzz_files.dir);
}

static inline const char *fuzz_dir(void)
{
	struct stat st;

	if (fuzz_files.dir[0])
		return fuzz_files.dir;
	snprintf(fuzz_files.dir, sizeof(fuzz_files.dir), "%s/%s.XXXXXX",
		 stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ?
			 "/dev/shm" : "/tmp",
		 FUZZ_NAME);
	if (!mkdtemp(fuzz_files.dir))
		FAIL("mkdtemp %s: %s", fuzz_files.dir, strerror(errno));
	atexit(fuzz_files_remove);
	return fuzz_files.dir;
}

/* Writes @len bytes at @data to DIR/@name, mode @mode; its path in @path. */
static inline void fuzz_put(const char *name, const void *data, size_t len,
			    mode_t mode, char path[PATH_MAX])
{
	const char *p = data;
	unsigned int i;
	int fd;

	snprintf(path, PATH_MAX, "%s/%s", fuzz_dir(), name);
	for (i = 0; i < fuzz_files.n; i++)
		if (!strcmp(fuzz_files.file[i], path))
			break;
	if (i == fuzz_files.n && i < FUZZ_FILES_MAX)
		snprintf(fuzz_files.file[fuzz_files.n++], PATH_MAX, "%s",
			 path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  mode);
	if (fd < 0 || fchmod(fd, mode))
		FAIL("cannot write %s: %s", path, strerror(errno));
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			FAIL("cannot write %s: %s", path, strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	close(fd);
}

/* How many lines a loader may name: a last line without '\n' counts. */
static inline unsigned int fuzz_lines(const uint8_t *data, size_t size)
{
	unsigned int n = 0;

	for (size_t i = 0; i < size; i++)
		n += data[i] == '\n';
	return n + (size && data[size - 1] != '\n');
}

/*
 * A refusal (@r) with its message @err (of @errlen bytes) about the file
 * at @path, which has @lines lines.
 */
static inline void fuzz_check_refusal(int r, const char *err, size_t errlen,
				      const char *path, unsigned int lines)
{
	size_t plen = strlen(path), len = strnlen(err, errlen);

	if (r >= 0)
		FAIL("refused with %d", r);
	if (!len)
		FAIL("refused (%d) without a message", r);
	if (len == errlen)
		FAIL("a message without its NUL");
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)err[i] < 0x20 && err[i] != '\t') ||
		    err[i] == 0x7f)
			FAIL("control character 0x%02x in the message: %s",
			     (unsigned char)err[i], err);
	if (strncmp(err, path, plen) || err[plen] != ':')
		FAIL("a message that does not start with the path: %s", err);
	if (err[plen + 1] >= '0' && err[plen + 1] <= '9') {
		unsigned long line = strtoul(err + plen + 1, NULL, 10);

		if (line < 1 || line > lines)
			FAIL("line %lu named, of %u lines: %s", line, lines,
			     err);
	}
}

#endif /* FUZZ_CONF_H */
