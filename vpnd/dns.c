/* SPDX-License-Identifier: MIT */
/*
 * Replacing resolv.conf.  The new file is written beside it and renamed
 * over it, so no reader ever sees half a file.  Where resolv.conf is a
 * mount point (ip netns exec bind-mounts /etc/netns/NAME/resolv.conf over
 * it) rename() cannot replace it, and the file is rewritten in place
 * instead.  A symlink (to a resolver's stub file) is remembered as a
 * symlink and put back as one.
 *
 * The backup file has the format "L<target>" for a symlink, or "F" followed
 * by the original bytes.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "dns.h"
#include "fdio.h"

void dns_init(struct dns_state *d, const char *resolv_path,
	      const char *rundir, const char *ifname)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->path, sizeof(d->path), "%s", resolv_path);
	snprintf(d->backup, sizeof(d->backup), "%s/%s.resolv.conf", rundir,
		 ifname);
}

void dns_free(struct dns_state *d)
{
	free(d->original);
	free(d->ours);
	d->original = d->ours = NULL;
}

static int read_all(const char *path, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret = 0;
	char *buf = malloc(DNS_FILE_MAX);
	size_t n = 0;
	ssize_t r;

	if (fd < 0 || !buf) {
		ret = fd < 0 ? -errno : -ENOMEM;
		goto out;
	}
	while ((r = read(fd, buf + n, DNS_FILE_MAX - n)) > 0)
		n += (size_t)r;
	if (r < 0)
		ret = -errno;
	else if (n == DNS_FILE_MAX)
		ret = -EFBIG;
out:
	if (fd >= 0)
		close(fd);
	if (ret) {
		free(buf);
		return ret;
	}
	*out = buf;
	*len = n;
	return 0;
}

/* Whether path is itself a mount point, as /etc/resolv.conf is under
 * ip netns exec: /proc/self/mountinfo's fifth field is the mount point. */
static bool is_mount_point(const char *path)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096], mnt[4096];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1 &&
		    !strcmp(mnt, path))
			found = true;
	fclose(f);
	return found;
}

static int rewrite_in_place(const char *path, const char *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = fdio_write_all(fd, buf, len);
	close(fd);
	return ret;
}

/*
 * Writes a whole file at path: beside it under a name of our own and
 * renamed over it, so no reader sees half a file.  A mount point cannot be
 * renamed over, and the directory beside it is not ours to write in (under
 * ip netns exec it is the host's /etc): it is rewritten in place.
 */
static int replace_file(const char *path, const char *buf, size_t len,
			mode_t mode)
{
	char tmp[300];
	int fd, ret;

	if (is_mount_point(path))
		return rewrite_in_place(path, buf, len);
	snprintf(tmp, sizeof(tmp), "%s.vpnd-%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  mode);
	if (fd < 0)
		return -errno;
	ret = fdio_write_all(fd, buf, len);
	if (!ret && fsync(fd))
		ret = -errno;
	close(fd);
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

static int replace_with_symlink(const char *path, const char *target)
{
	char tmp[300];

	snprintf(tmp, sizeof(tmp), "%s.vpnd-%d", path, (int)getpid());
	unlink(tmp);
	if (symlink(target, tmp))
		return -errno;
	if (rename(tmp, path)) {
		int ret = -errno;

		unlink(tmp);
		return ret;
	}
	return 0;
}

static int save_backup(const struct dns_state *d)
{
	size_t len = 1 + (d->was_symlink ? strlen(d->link_target) :
					   d->original_len);
	char *buf = malloc(len);
	int ret;

	if (!buf)
		return -ENOMEM;
	buf[0] = d->was_symlink ? 'L' : 'F';
	if (d->was_symlink)
		memcpy(buf + 1, d->link_target, len - 1);
	else
		memcpy(buf + 1, d->original, len - 1);
	ret = replace_file(d->backup, buf, len, 0600);
	free(buf);
	return ret;
}

static size_t render(char *out, size_t max, const struct conf_prefix *servers,
		     unsigned int n)
{
	size_t len = (size_t)snprintf(out, max,
				      "# Written by vpnd while the tunnel is "
				      "up; restored on down.\n");
	char addr[INET6_ADDRSTRLEN];

	for (unsigned int i = 0; i < n && len < max; i++) {
		inet_ntop(servers[i].family, &servers[i].addr, addr,
			  sizeof(addr));
		len += (size_t)snprintf(out + len, max - len, "nameserver %s\n",
					addr);
	}
	return len < max ? len : max;
}

int dns_apply(struct dns_state *d, const struct conf_prefix *servers,
	      unsigned int n)
{
	struct stat st;
	char text[1024];
	ssize_t l;
	int ret;

	if (!d->active) {
		if (lstat(d->path, &st))
			return -errno;
		d->was_symlink = S_ISLNK(st.st_mode);
		if (d->was_symlink) {
			l = readlink(d->path, d->link_target,
				     sizeof(d->link_target) - 1);
			if (l < 0)
				return -errno;
			d->link_target[l] = '\0';
		}
		ret = read_all(d->path, &d->original, &d->original_len);
		if (ret == -ENOENT && d->was_symlink)
			ret = 0;	/* a dangling stub link */
		if (ret)
			return ret;
		ret = save_backup(d);
		if (ret)
			return ret;
	}
	free(d->ours);
	d->ours_len = render(text, sizeof(text), servers, n);
	d->ours = malloc(d->ours_len);
	if (!d->ours)
		return -ENOMEM;
	memcpy(d->ours, text, d->ours_len);
	/* A symlink is replaced by a file of ours, never written through. */
	ret = replace_file(d->path, d->ours, d->ours_len, 0644);
	if (ret)
		return ret;
	d->active = true;
	return 0;
}

int dns_restore(struct dns_state *d)
{
	int ret;

	if (!d->active)
		return 0;
	if (d->was_symlink)
		ret = replace_with_symlink(d->path, d->link_target);
	else
		ret = replace_file(d->path, d->original ? d->original : "",
				   d->original_len, 0644);
	if (ret)
		return ret;
	unlink(d->backup);
	d->active = false;
	return 0;
}

int dns_recover(struct dns_state *d)
{
	char *buf;
	size_t len;
	int ret = read_all(d->backup, &buf, &len);

	if (ret == -ENOENT)
		return 0;
	if (ret)
		return ret;
	if (len >= 1 && buf[0] == 'L' && len - 1 < sizeof(d->link_target)) {
		memcpy(d->link_target, buf + 1, len - 1);
		d->link_target[len - 1] = '\0';
		d->was_symlink = true;
	} else if (len >= 1 && buf[0] == 'F') {
		d->original = malloc(len - 1 ? len - 1 : 1);
		if (!d->original) {
			free(buf);
			return -ENOMEM;
		}
		memcpy(d->original, buf + 1, len - 1);
		d->original_len = len - 1;
	} else {
		free(buf);
		return -EINVAL;
	}
	free(buf);
	d->active = true;
	return dns_restore(d);
}
