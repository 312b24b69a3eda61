/* SPDX-License-Identifier: MIT */
/*
 * The client's cgroups for split tunneling by application: two leaves of
 * the cgroup v2 hierarchy, "bypass" and "tunnel", under one directory of
 * vpnd's own, "vpnd-IFNAME", at the root of the hierarchy.  This module
 * finds the hierarchy, creates, lists, empties and removes the cgroups,
 * and moves processes between them; what their membership means for
 * packets is splitapp.c's.
 *
 * Where the hierarchy is
 * ----------------------
 * Nothing assumes /sys/fs/cgroup: the first cgroup2 mount in
 * /proc/self/mountinfo whose mount point is a cgroup2 file system now
 * (statfs: not hidden under a later mount) is used, wherever it is
 * (/sys/fs/cgroup on current distributions, /sys/fs/cgroup/unified on a
 * hybrid layout).  When none is
 * visible (`ip netns exec` mounts a fresh sysfs; a host with only v1), the
 * daemon moves into a mount namespace of its own, whose mounts propagate
 * from the host's but never back, and mounts cgroup2 at RUNDIR/cgroup2
 * there: the same one hierarchy, seen from a place that nobody else sees
 * and that goes away with the daemon.
 *
 * Why one directory per interface at the root
 * -------------------------------------------
 * The hierarchy is the host's, shared by every network namespace: a
 * fixed name per tunnel lets a daemon restarted after a crash find, and
 * take over, the cgroups (and the processes in them) of the one that
 * died, and keeps two daemons (a test's and the host's) apart.  Its level
 * (depth) is what `socket cgroupv2 level N` compares at.
 */
#ifndef VPND_CGROUP_H
#define VPND_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum cgroup_group {
	CGROUP_BYPASS,
	CGROUP_TUNNEL,
	CGROUP_N,
};

enum cgroup_limits {
	CGROUP_PATH_MAX = 256,
	CGROUP_ERR_LEN = 320,
	/* Members listed per group at most (the reply's bound, not the
	 * kernel's). */
	CGROUP_MEMBERS_MAX = 1024,
};

/* "bypass" or "tunnel"; NULL for anything else. */
const char *cgroup_group_name(enum cgroup_group g);
/* The group of that name: 0, or -EINVAL. */
int cgroup_group_parse(const char *name, enum cgroup_group *g);

/*
 * From the text of a mountinfo file: the mount point of the cgroup2 mount
 * after @skip others (octal escapes such as \040 undone) in mnt, and the
 * path of the hierarchy it shows (its "root" field, "/" but in a cgroup
 * namespace or a bind mount) in root.  0, -ENOENT when there is none,
 * -ENAMETOOLONG, -EINVAL for a line that is not mountinfo.  A mount
 * listed may be hidden under a later one; the caller checks.
 */
int cgroup_mountinfo_find(const char *text, unsigned int skip, char *mnt,
			  size_t mnt_len, char *root, size_t root_len);
/* The level of a cgroup whose path in the hierarchy is @path ("/" is 0,
 * "/a/b" is 2; empty components do not count). */
unsigned int cgroup_path_level(const char *path);

struct cgroup_set {
	char mnt[CGROUP_PATH_MAX];	/* where we see the hierarchy */
	char base[CGROUP_PATH_MAX];	/* mnt/vpnd-IFNAME */
	bool private_mount;		/* we mounted mnt ourselves */
	int base_fd;
	int fd[CGROUP_N];		/* the leaves, O_DIRECTORY */
	uint64_t id[CGROUP_N];		/* their cgroup ids (inodes) */
	unsigned int level;		/* of the leaves in the hierarchy */
	char err[CGROUP_ERR_LEN];
};

/* Before anything else: nothing open. */
void cgroup_set_init(struct cgroup_set *cs);
/* Whether the set is open (cgroup_open() succeeded). */
bool cgroup_set_open(const struct cgroup_set *cs);

/*
 * Opens the set of tunnel @ifname, creating the cgroups when @create,
 * only finding them otherwise (-ENOENT when there are none).  @rundir is
 * where a private mount goes when no cgroup2 mount is visible.
 * *existed says whether they were there already (a daemon that died).
 * 0 or -errno with cs->err set; on failure nothing is left open, and
 * nothing this call created is left behind.
 */
int cgroup_open(struct cgroup_set *cs, const char *ifname,
		const char *rundir, bool create, bool *existed);
/* Moves @pid into group @g: 0 or -errno (-ESRCH: no such process). */
int cgroup_move(struct cgroup_set *cs, enum cgroup_group g, pid_t pid);
/* Moves @pid out of vpnd's cgroups, to the root of the hierarchy. */
int cgroup_release(struct cgroup_set *cs, pid_t pid);
/* Whether @pid is in group @g now. */
bool cgroup_has(struct cgroup_set *cs, enum cgroup_group g, pid_t pid);
/*
 * The processes in group @g, at most @max, into @pids; the number in *n.
 * 0 or -errno.
 */
int cgroup_members(struct cgroup_set *cs, enum cgroup_group g, pid_t *pids,
		   size_t max, size_t *n);
/*
 * Empties both groups (their processes go to the root of the hierarchy),
 * removes them and the directory, and closes the set.  0 or the first
 * -errno; the set is closed either way.
 */
int cgroup_remove(struct cgroup_set *cs);
/* Closes the set, leaving the cgroups in place (a daemon that stops while
 * they are in use leaves them for the next). */
void cgroup_close(struct cgroup_set *cs);

#endif /* VPND_CGROUP_H */
