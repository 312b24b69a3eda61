/* SPDX-License-Identifier: MIT */
/*
 * The kill switch's state file (see ksfile.h): a strict reader, since what
 * it cannot vouch for must turn into blocking, and an atomic writer.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdio.h"
#include "ksfile.h"
#include "rundir.h"

enum ksfile_key {
	KEY_MODE,
	KEY_ALLOW_LAN,
	KEY_HOLD,
	KEY_PROFILE_MODE,
	KEY_PROFILE_ALLOW_LAN,
	KEY_ARP_IGNORE,
	KEY_COUNT,
};

static const char *const key_names[KEY_COUNT] = {
	[KEY_MODE] = "mode",
	[KEY_ALLOW_LAN] = "allow_lan",
	[KEY_HOLD] = "hold",
	[KEY_PROFILE_MODE] = "profile_mode",
	[KEY_PROFILE_ALLOW_LAN] = "profile_allow_lan",
	[KEY_ARP_IGNORE] = "arp_ignore",
};

static const char *const mode_names[] = {
	[KILLSWITCH_OFF] = "off",
	[KILLSWITCH_ON] = "on",
	[KILLSWITCH_LOCKDOWN] = "lockdown",
};

const char *ksfile_dir(void)
{
	const char *d = getenv("VPND_STATEDIR");

	return d && *d ? d : KSFILE_DIR_DEFAULT;
}

const char *ksfile_mode_name(enum killswitch_mode m)
{
	if ((unsigned int)m >= sizeof(mode_names) / sizeof(*mode_names))
		return NULL;
	return mode_names[m];
}

int ksfile_mode_parse(const char *s, enum killswitch_mode *m)
{
	for (unsigned int i = 0; i < sizeof(mode_names) / sizeof(*mode_names);
	     i++)
		if (!strcmp(s, mode_names[i])) {
			*m = (enum killswitch_mode)i;
			return 0;
		}
	return -EINVAL;
}

static int path_of(char *buf, const char *dir, const char *name)
{
	if ((size_t)snprintf(buf, KSFILE_PATH_MAX, "%s/%s", dir, name) >=
	    KSFILE_PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

static int parse_bool(const char *s, bool *b)
{
	if (!strcmp(s, "yes"))
		*b = true;
	else if (!strcmp(s, "no"))
		*b = false;
	else
		return -EINVAL;
	return 0;
}

/* -1 (not raised) or a sysctl value 0..8; nothing else is ours. */
static int parse_arp(const char *s, int *v)
{
	if (!strcmp(s, "-1")) {
		*v = -1;
		return 0;
	}
	if (s[0] >= '0' && s[0] <= '8' && !s[1]) {
		*v = s[0] - '0';
		return 0;
	}
	return -EINVAL;
}

static int parse_value(enum ksfile_key k, const char *v, struct ksfile *f)
{
	switch (k) {
	case KEY_MODE:
		return ksfile_mode_parse(v, &f->mode);
	case KEY_ALLOW_LAN:
		return parse_bool(v, &f->allow_lan);
	case KEY_HOLD:
		return parse_bool(v, &f->hold);
	case KEY_PROFILE_MODE:
		return ksfile_mode_parse(v, &f->profile_mode);
	case KEY_PROFILE_ALLOW_LAN:
		return parse_bool(v, &f->profile_allow_lan);
	case KEY_ARP_IGNORE:
		return parse_arp(v, &f->arp_ignore);
	default:
		return -EINVAL;
	}
}

static int find_key(const char *name)
{
	for (int k = 0; k < KEY_COUNT; k++)
		if (!strcmp(name, key_names[k]))
			return k;
	return -1;
}

/*
 * Up to @cap bytes of the file into @buf, their count in *@got: @cap is
 * one more than a file we write can hold, so a full buffer is too long.
 * Checks that the file is one we could have written.
 */
static int read_text(const char *path, char *buf, size_t cap, size_t *got,
		     char *err, size_t len)
{
	struct stat st;
	ssize_t n;
	int fd, ret = 0;

	*got = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		ret = -errno;
		if (ret == -ELOOP) {
			snprintf(err, len, "%s: a symbolic link", path);
			return -EBADMSG;
		}
		if (ret != -ENOENT)
			snprintf(err, len, "%s: %s", path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st)) {
		ret = -errno;
		snprintf(err, len, "%s: %s", path, strerror(-ret));
		goto out;
	}
	/* Whoever may write it could open the kill switch: only root. */
	if (!S_ISREG(st.st_mode) || (st.st_mode & 022) ||
	    (st.st_uid != 0 && st.st_uid != geteuid())) {
		snprintf(err, len,
			 "%s: not a regular file owned by root and writable by it alone",
			 path);
		ret = -EBADMSG;
		goto out;
	}
	for (;;) {
		n = read(fd, buf + *got, cap - *got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		*got += (size_t)n;
		if (*got == cap)
			break;
	}
	if (n < 0) {
		ret = -errno;
		snprintf(err, len, "%s: %s", path, strerror(-ret));
	}
out:
	close(fd);
	return ret;
}

static int parse_text(const char *path, char *text, struct ksfile *f,
		      char *err, size_t len)
{
	bool seen[KEY_COUNT] = { false };
	char *line = text, *next, *eq;
	unsigned int lineno = 0;
	int k;

	for (; *line; line = next) {
		next = strchr(line, '\n');
		if (!next) {
			snprintf(err, len, "%s:%u: no newline at the end", path,
				 lineno + 1);
			return -EBADMSG;
		}
		*next++ = '\0';
		lineno++;
		if (!*line || *line == '#')
			continue;
		eq = strchr(line, '=');
		if (!eq) {
			snprintf(err, len, "%s:%u: not key=value", path, lineno);
			return -EBADMSG;
		}
		*eq = '\0';
		k = find_key(line);
		if (k < 0) {
			snprintf(err, len, "%s:%u: unknown key '%.32s'", path,
				 lineno, line);
			return -EBADMSG;
		}
		if (seen[k]) {
			snprintf(err, len, "%s:%u: %s given twice", path,
				 lineno, line);
			return -EBADMSG;
		}
		seen[k] = true;
		if (parse_value((enum ksfile_key)k, eq + 1, f)) {
			snprintf(err, len, "%s:%u: %s: bad value '%.32s'",
				 path, lineno, line, eq + 1);
			return -EBADMSG;
		}
	}
	for (k = 0; k < KEY_COUNT; k++)
		if (!seen[k]) {
			snprintf(err, len, "%s: %s missing", path,
				 key_names[k]);
			return -EBADMSG;
		}
	return 0;
}

/*
 * Only what ksfile_save() writes: lines of printable ASCII.  Anything else
 * is refused before a message could quote it: a key or value is quoted
 * back, and the message goes to the log and to vpnctl's terminal.
 */
static int check_bytes(const char *name, const char *text, size_t n,
		       char *err, size_t len)
{
	unsigned int lineno = 1;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c == '\n') {
			lineno++;
		} else if (c < 0x20 || c > 0x7e) {
			snprintf(err, len,
				 "%s:%u: byte 0x%02x, which vpnd never writes",
				 name, lineno, c);
			return -EBADMSG;
		}
	}
	return 0;
}

int ksfile_parse(const char *name, const char *text, size_t n,
		 struct ksfile *f, char *err, size_t len)
{
	char buf[KSFILE_SIZE_MAX + 1];
	struct ksfile tmp;
	int ret;

	err[0] = '\0';
	if (n > KSFILE_SIZE_MAX) {
		snprintf(err, len, "%s: longer than %d bytes", name,
			 KSFILE_SIZE_MAX);
		return -EBADMSG;
	}
	if (memchr(text, '\0', n)) {
		snprintf(err, len, "%s: contains a NUL byte", name);
		return -EBADMSG;
	}
	ret = check_bytes(name, text, n, err, len);
	if (ret)
		return ret;
	memcpy(buf, text, n);
	buf[n] = '\0';
	memset(&tmp, 0, sizeof(tmp));
	ret = parse_text(name, buf, &tmp, err, len);
	if (!ret)
		*f = tmp;
	return ret;
}

int ksfile_load(const char *dir, struct ksfile *f, char *err, size_t len)
{
	char path[KSFILE_PATH_MAX];
	char text[KSFILE_SIZE_MAX + 1];
	size_t got;
	int ret;

	err[0] = '\0';
	ret = path_of(path, dir, KSFILE_NAME);
	if (ret) {
		snprintf(err, len, "%s/%s: path too long", dir, KSFILE_NAME);
		return ret;
	}
	ret = read_text(path, text, sizeof(text), &got, err, len);
	if (!ret)
		ret = ksfile_parse(path, text, got, f, err, len);
	return ret;
}

static int format(const struct ksfile *f, char *buf, size_t cap)
{
	const char *mode = ksfile_mode_name(f->mode);
	const char *pmode = ksfile_mode_name(f->profile_mode);
	int n;

	if (!mode || !pmode || f->arp_ignore < -1 || f->arp_ignore > 8)
		return -EINVAL;
	n = snprintf(buf, cap,
		     "# vpnd kill switch state: written by vpnd; change it with vpnctl\n"
		     "mode=%s\nallow_lan=%s\nhold=%s\nprofile_mode=%s\n"
		     "profile_allow_lan=%s\narp_ignore=%d\n",
		     mode, f->allow_lan ? "yes" : "no", f->hold ? "yes" : "no",
		     pmode, f->profile_allow_lan ? "yes" : "no", f->arp_ignore);
	if (n < 0 || (size_t)n >= cap)
		return -EOVERFLOW;
	return n;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd))
		ret = -errno;
	close(fd);
	return ret;
}

/* The directory, 0755 whatever the umask (vpnctl reads the file as a
 * member of the vpnd group), and refused when others could write to it. */
static int make_dir(const char *dir)
{
	char err[RUNDIR_ERR_LEN];

	return rundir_make(dir, 0755, NULL, err, sizeof(err));
}

/* Opens dir/killswitch.lock, creating it when there is none, and says
 * which: a lock file that was already there is the trace of an earlier
 * daemon on this host. */
static int open_lock(const char *path, bool *fresh)
{
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	*fresh = fd >= 0;
	if (fd < 0 && errno == EEXIST)
		fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	return fd;
}

int ksfile_lock(const char *dir, int *fd, bool *fresh)
{
	char path[KSFILE_PATH_MAX];
	int ret;

	*fd = -1;
	ret = path_of(path, dir, KSFILE_LOCK_NAME);
	if (!ret)
		ret = make_dir(dir);
	if (ret)
		return ret;
	*fd = open_lock(path, fresh);
	if (*fd < 0)
		return -errno;
	if (!flock(*fd, LOCK_EX | LOCK_NB))
		return 0;
	ret = errno == EWOULDBLOCK ? -EBUSY : -errno;
	close(*fd);
	*fd = -1;
	return ret;
}

int ksfile_save(const char *dir, const struct ksfile *f)
{
	char path[KSFILE_PATH_MAX], tmp[KSFILE_PATH_MAX];
	char text[KSFILE_SIZE_MAX];
	int fd, n, ret;

	n = format(f, text, sizeof(text));
	if (n < 0)
		return n;
	ret = path_of(path, dir, KSFILE_NAME);
	if (!ret)
		ret = path_of(tmp, dir, "." KSFILE_NAME ".tmp");
	if (ret)
		return ret;
	ret = make_dir(dir);
	if (ret)
		return ret;
	/* A temporary file left by a crash is ours to replace. */
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  0644);
	if (fd < 0)
		return -errno;
	ret = fchmod(fd, 0644) ? -errno : 0;
	if (!ret)
		ret = fdio_write_all(fd, text, (size_t)n);
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret) {
		unlink(tmp);
		return ret;
	}
	/* The new file is in place: that it might not survive a power cut
	 * is no reason to say it was not written (the caller would then
	 * believe the old one still holds). */
	fsync_dir(dir);
	return 0;
}
