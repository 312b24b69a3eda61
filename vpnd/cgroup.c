/* SPDX-License-Identifier: MIT */
/*
 * vpnd's cgroups for split tunneling by application: finding the cgroup v2
 * hierarchy (or mounting it privately), creating, listing, emptying and
 * removing "vpnd-IFNAME/bypass" and "vpnd-IFNAME/tunnel", and moving
 * processes.  cgroup.h says where and why.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cgroup.h"

static const char *const group_names[CGROUP_N] = {
	[CGROUP_BYPASS] = "bypass",
	[CGROUP_TUNNEL] = "tunnel",
};

static bool mount_is_cgroup2(const char *path)
{
	struct statfs sf;

	return !statfs(path, &sf) &&
	       (unsigned long)sf.f_type == CGROUP2_SUPER_MAGIC;
}

/* Where mountinfo is, and how a mount point is checked; a unit test that
 * includes this file points them at a stand-in. */
static const char *mountinfo_path = "/proc/self/mountinfo";
static bool (*is_cgroup2)(const char *path) = mount_is_cgroup2;

const char *cgroup_group_name(enum cgroup_group g)
{
	return (unsigned int)g < CGROUP_N ? group_names[g] : NULL;
}

int cgroup_group_parse(const char *name, enum cgroup_group *g)
{
	for (unsigned int i = 0; i < CGROUP_N; i++)
		if (!strcmp(name, group_names[i])) {
			*g = (enum cgroup_group)i;
			return 0;
		}
	return -EINVAL;
}

static void cg_fail(struct cgroup_set *cs, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void cg_fail(struct cgroup_set *cs, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cs->err, sizeof(cs->err), fmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------------- mountinfo */

/* Copies one space-separated field of mountinfo, undoing the kernel's
 * octal escapes (space, tab, newline, backslash); -ENAMETOOLONG. */
static int field_copy(const char *s, size_t n, char *out, size_t len)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (ch == '\\' && i + 3 < n &&
		    s[i + 1] >= '0' && s[i + 1] <= '3' &&
		    s[i + 2] >= '0' && s[i + 2] <= '7' &&
		    s[i + 3] >= '0' && s[i + 3] <= '7') {
			ch = (char)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 +
				    (s[i + 3] - '0'));
			i += 3;
		}
		if (k + 1 >= len)
			return -ENAMETOOLONG;
		out[k++] = ch;
	}
	out[k] = '\0';
	return 0;
}

/* The fields of one line: [0..5] before the optional ones, then the
 * file system type after the " - " separator.  -EINVAL when it is not
 * a mountinfo line. */
struct mi_line {
	const char *f[6];
	size_t n[6];
	const char *fstype;
	size_t fstype_n;
};

static int mi_split(const char *line, size_t len, struct mi_line *m)
{
	const char *p = line, *end = line + len, *sep;
	unsigned int i;

	for (i = 0; i < 6; i++) {
		while (p < end && *p == ' ')
			p++;
		m->f[i] = p;
		while (p < end && *p != ' ')
			p++;
		m->n[i] = (size_t)(p - m->f[i]);
		if (!m->n[i])
			return -EINVAL;
	}
	sep = memmem(p, (size_t)(end - p), " - ", 3);
	if (!sep)
		return -EINVAL;
	p = sep + 3;
	m->fstype = p;
	while (p < end && *p != ' ')
		p++;
	m->fstype_n = (size_t)(p - m->fstype);
	return m->fstype_n ? 0 : -EINVAL;
}

int cgroup_mountinfo_find(const char *text, unsigned int skip, char *mnt,
			  size_t mnt_len, char *root, size_t root_len)
{
	const char *line = text, *nl;
	struct mi_line m;
	int ret;

	for (; *line; line = nl + 1) {
		size_t len;

		nl = strchr(line, '\n');
		if (!nl)
			nl = line + strlen(line);
		len = (size_t)(nl - line);
		if (len) {
			if (mi_split(line, len, &m))
				return -EINVAL;
			if (m.fstype_n == 7 && !memcmp(m.fstype, "cgroup2", 7) &&
			    !skip--) {
				ret = field_copy(m.f[4], m.n[4], mnt, mnt_len);
				if (!ret)
					ret = field_copy(m.f[3], m.n[3], root,
							 root_len);
				return ret;
			}
		}
		if (!*nl)
			break;
	}
	return -ENOENT;
}

unsigned int cgroup_path_level(const char *path)
{
	unsigned int level = 0;
	bool in = false;

	for (; *path; path++) {
		if (*path == '/') {
			in = false;
		} else if (!in) {
			in = true;
			level++;
		}
	}
	return level;
}

static int read_text(const char *path, char **text)
{
	size_t cap = 8192, len = 0;
	char *buf = malloc(cap), *b;
	ssize_t n;
	int fd, ret = 0;

	if (!buf)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		free(buf);
		return ret;
	}
	for (;;) {
		if (len + 1 >= cap) {
			b = cap < (1 << 24) ? realloc(buf, cap * 2) : NULL;
			if (!b) {
				ret = -ENOMEM;
				break;
			}
			buf = b;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			ret = -errno;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (ret) {
		free(buf);
		return ret;
	}
	buf[len] = '\0';
	*text = buf;
	return 0;
}

/* -------------------------------------------------------------- mount */

/*
 * No cgroup2 mount in sight: a mount namespace of our own (slave, so the
 * host's later mounts still reach us and ours never reach it), and the
 * hierarchy mounted at RUNDIR/cgroup2 in it.
 */
static int mount_private(struct cgroup_set *cs, const char *rundir)
{
	int n = snprintf(cs->mnt, sizeof(cs->mnt), "%s/cgroup2", rundir);
	int ret;

	if (n < 0 || (size_t)n >= sizeof(cs->mnt)) {
		cg_fail(cs, "%s/cgroup2: path too long", rundir);
		return -ENAMETOOLONG;
	}
	if (unshare(CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL)) {
		ret = -errno;
		cg_fail(cs, "no cgroup2 mount visible, and no mount namespace "
			    "of our own to mount one in: %s", strerror(-ret));
		return ret;
	}
	if (mkdir(cs->mnt, 0700) && errno != EEXIST) {
		ret = -errno;
		cg_fail(cs, "cannot create %s: %s", cs->mnt, strerror(-ret));
		return ret;
	}
	if (mount("cgroup2", cs->mnt, "cgroup2",
		  MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)) {
		ret = -errno;
		cg_fail(cs, "cannot mount cgroup2 at %s: %s", cs->mnt,
			strerror(-ret));
		rmdir(cs->mnt);
		return ret;
	}
	cs->private_mount = true;
	return 0;
}

static void unmount_private(struct cgroup_set *cs)
{
	if (!cs->private_mount)
		return;
	umount2(cs->mnt, MNT_DETACH);
	rmdir(cs->mnt);
	cs->private_mount = false;
}

/* Finds the hierarchy (or mounts it); the level of its root in *level. */
static int find_hierarchy(struct cgroup_set *cs, const char *rundir,
			  unsigned int *level)
{
	char root[CGROUP_PATH_MAX];
	char *text;
	int ret;

	ret = read_text(mountinfo_path, &text);
	if (ret) {
		cg_fail(cs, "cannot read %s: %s", mountinfo_path,
			strerror(-ret));
		return ret;
	}
	for (unsigned int skip = 0; ; skip++) {
		ret = cgroup_mountinfo_find(text, skip, cs->mnt,
					    sizeof(cs->mnt), root,
					    sizeof(root));
		/* Hidden under a later mount, the path leads elsewhere. */
		if (ret || is_cgroup2(cs->mnt))
			break;
	}
	free(text);
	if (!ret) {
		*level = cgroup_path_level(root);
		return 0;
	}
	if (ret != -ENOENT) {
		cg_fail(cs, "%s: cannot read its cgroup2 mount: %s",
			mountinfo_path, strerror(-ret));
		return ret;
	}
	*level = 0;
	return mount_private(cs, rundir);
}

/* ---------------------------------------------------------------- set */

void cgroup_set_init(struct cgroup_set *cs)
{
	memset(cs, 0, sizeof(*cs));
	cs->base_fd = -1;
	for (unsigned int i = 0; i < CGROUP_N; i++)
		cs->fd[i] = -1;
}

bool cgroup_set_open(const struct cgroup_set *cs)
{
	return cs->base_fd >= 0;
}

static void close_fds(struct cgroup_set *cs)
{
	for (unsigned int i = 0; i < CGROUP_N; i++) {
		if (cs->fd[i] >= 0)
			close(cs->fd[i]);
		cs->fd[i] = -1;
	}
	if (cs->base_fd >= 0)
		close(cs->base_fd);
	cs->base_fd = -1;
}

/* Opens (or makes) one directory under @at; *made when this call did. */
static int open_dir(int at, const char *name, bool create, bool *made)
{
	int fd;

	*made = false;
	if (create) {
		if (!mkdirat(at, name, 0755))
			*made = true;
		else if (errno != EEXIST)
			return -errno;
	}
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int cgroup_open(struct cgroup_set *cs, const char *ifname,
		const char *rundir, bool create, bool *existed)
{
	bool made_base = false, made[CGROUP_N] = { false };
	unsigned int root_level;
	struct stat st;
	int ret, n;

	cgroup_set_init(cs);
	*existed = false;
	ret = find_hierarchy(cs, rundir, &root_level);
	if (ret)
		return ret;
	n = snprintf(cs->base, sizeof(cs->base), "%s/vpnd-%s", cs->mnt,
		     ifname);
	if (n < 0 || (size_t)n >= sizeof(cs->base)) {
		ret = -ENAMETOOLONG;
		cg_fail(cs, "cgroup path too long");
		goto fail;
	}
	ret = open_dir(AT_FDCWD, cs->base, create, &made_base);
	if (ret < 0) {
		if (ret != -ENOENT || create)
			cg_fail(cs, "cannot %s %s: %s",
				create ? "create" : "open", cs->base,
				strerror(-ret));
		goto fail;
	}
	cs->base_fd = ret;
	*existed = !made_base;
	for (unsigned int i = 0; i < CGROUP_N; i++) {
		ret = open_dir(cs->base_fd, group_names[i], create, &made[i]);
		if (ret < 0) {
			cg_fail(cs, "cannot %s %s/%s: %s",
				create ? "create" : "open", cs->base,
				group_names[i], strerror(-ret));
			goto fail;
		}
		cs->fd[i] = ret;
		if (fstat(cs->fd[i], &st)) {
			ret = -errno;
			goto fail;
		}
		/* A cgroup's id is its directory's inode number. */
		cs->id[i] = (uint64_t)st.st_ino;
	}
	cs->level = root_level + 2;
	return 0;
fail:
	close_fds(cs);
	if (made_base) {
		char leaf[CGROUP_PATH_MAX + 8];

		for (unsigned int i = 0; i < CGROUP_N; i++)
			if (made[i] && snprintf(leaf, sizeof(leaf), "%s/%s",
						cs->base, group_names[i]) > 0)
				rmdir(leaf);
		rmdir(cs->base);
	}
	unmount_private(cs);
	return ret < 0 ? ret : -EIO;
}

/* Writes the decimal pid into the cgroup.procs under @dirfd. */
static int write_procs(int dirfd, pid_t pid)
{
	char buf[24];
	int fd, n, ret = 0;

	fd = openat(dirfd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	errno = 0;
	n = snprintf(buf, sizeof(buf), "%d\n", (int)pid);
	if (write(fd, buf, (size_t)n) != n)
		ret = errno ? -errno : -EIO;
	close(fd);
	return ret;
}

int cgroup_move(struct cgroup_set *cs, enum cgroup_group g, pid_t pid)
{
	if (!cgroup_set_open(cs) || (unsigned int)g >= CGROUP_N || pid <= 0)
		return -EINVAL;
	return write_procs(cs->fd[g], pid);
}

static int release_to_root(const struct cgroup_set *cs, pid_t pid)
{
	int fd = open(cs->mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = write_procs(fd, pid);
	close(fd);
	return ret;
}

int cgroup_release(struct cgroup_set *cs, pid_t pid)
{
	if (!cgroup_set_open(cs) || pid <= 0)
		return -EINVAL;
	return release_to_root(cs, pid);
}

int cgroup_members(struct cgroup_set *cs, enum cgroup_group g, pid_t *pids,
		   size_t max, size_t *n)
{
	char path[CGROUP_PATH_MAX + 32], *text, *p, *end;
	int ret;

	*n = 0;
	if (!cgroup_set_open(cs) || (unsigned int)g >= CGROUP_N)
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/%s/cgroup.procs", cs->base,
		 group_names[g]);
	ret = read_text(path, &text);
	if (ret)
		return ret;
	for (p = text; *p && *n < max; p = end) {
		long v = strtol(p, &end, 10);

		if (end == p)
			break;
		if (v > 0)
			pids[(*n)++] = (pid_t)v;
		while (*end == '\n')
			end++;
	}
	free(text);
	return 0;
}

bool cgroup_has(struct cgroup_set *cs, enum cgroup_group g, pid_t pid)
{
	pid_t *pids = calloc(CGROUP_MEMBERS_MAX, sizeof(*pids));
	size_t n = 0;
	bool found = false;

	if (pids && !cgroup_members(cs, g, pids, CGROUP_MEMBERS_MAX, &n))
		for (size_t i = 0; i < n && !found; i++)
			found = pids[i] == pid;
	free(pids);
	return found;
}

/* Moves everything in group @g to the root, then removes the cgroup; a
 * process that is exiting may hold it a moment longer. */
static int empty_and_remove(struct cgroup_set *cs, enum cgroup_group g)
{
	pid_t *pids = calloc(CGROUP_MEMBERS_MAX, sizeof(*pids));
	size_t n = 0;
	int ret = 0;

	if (!pids)
		return -ENOMEM;
	for (int round = 0; round < 50; round++) {
		if (cgroup_members(cs, g, pids, CGROUP_MEMBERS_MAX, &n))
			n = 0;
		for (size_t i = 0; i < n; i++)
			release_to_root(cs, pids[i]);
		if (!unlinkat(cs->base_fd, group_names[g], AT_REMOVEDIR)) {
			ret = 0;
			break;
		}
		ret = -errno;
		if (ret != -EBUSY)
			break;
		usleep(20000);
	}
	free(pids);
	return ret;
}

int cgroup_remove(struct cgroup_set *cs)
{
	int ret = 0, r;

	if (!cgroup_set_open(cs))
		return 0;
	for (unsigned int i = 0; i < CGROUP_N; i++) {
		close(cs->fd[i]);
		cs->fd[i] = -1;
		r = empty_and_remove(cs, (enum cgroup_group)i);
		if (r && r != -ENOENT && !ret) {
			ret = r;
			cg_fail(cs, "cannot remove %s/%s: %s", cs->base,
				group_names[i], strerror(-r));
		}
	}
	if (rmdir(cs->base) && errno != ENOENT && !ret) {
		ret = -errno;
		cg_fail(cs, "cannot remove %s: %s", cs->base, strerror(-ret));
	}
	cgroup_close(cs);
	return ret;
}

void cgroup_close(struct cgroup_set *cs)
{
	close_fds(cs);
	unmount_private(cs);
}
