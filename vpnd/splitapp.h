/* SPDX-License-Identifier: MIT */
/*
 * Split tunneling by application: what membership of vpnd's cgroups
 * (cgroup.h) means for a process's packets.
 *
 *   bypass  everything the process and its descendants send leaves
 *           outside the tunnel, through the host's own routes, with the
 *           kill switch on or the tunnel down; its DNS goes to the
 *           host's own resolvers, outside the tunnel.
 *   tunnel  everything goes through the tunnel's table, whatever the
 *           rest of the host does (include mode), and never out another
 *           interface: a per-application kill switch.
 *
 * How
 * ---
 * 1. A mark per group, set on every socket made in the cgroup as it is
 *    created, by a four-instruction BPF_PROG_TYPE_CGROUP_SOCK program
 *    attached to the cgroup (BPF_CGROUP_INET_SOCK_CREATE).  The mark is on
 *    the socket before its first route lookup, which is what matters when
 *    the tunnel is gone: the tunnel's table then says "unreachable" to an
 *    unmarked lookup (fail-closed), and a mark set later by the firewall
 *    would come too late to reroute a packet that was never made.  The
 *    attachment belongs to the cgroup, so it outlives a daemon that dies,
 *    and a second attach replaces the first (no duplicates on takeover).
 * 2. nftables, table "inet vpnd_splitapp", matching the sockets by cgroup
 *    (`socket cgroupv2 level N`): sets the same marks (for a socket made
 *    before the program was attached, or where BPF is not allowed: while
 *    the tunnel is up such a packet is rerouted, and masqueraded from the
 *    tunnel's source address), copies the mark to the connection (ct mark)
 *    and back onto replies (for rp_filter with src_valid_mark), sends the
 *    bypass group's DNS for the tunnel's resolvers to the host's first
 *    resolver of the same family instead (DNAT; dropped when the host has
 *    none of that family), and rejects tunnel-group packets that would
 *    leave by anything but the tunnel or lo.
 * 3. Policy rules before the tunnel's (priority SPLITAPP_RULE_PRIORITY):
 *    fwmark BYPASS lookup main, fwmark TUNNEL lookup the tunnel's table,
 *    IPv4 and IPv6 alike.
 * 4. The kill switch (killswitch.h) accepts the bypass mark out of any
 *    interface, and connections carrying it back in, in all its modes.
 * 5. net.ipv4.conf.all.src_valid_mark = 1, so that reverse-path filtering
 *    (rp_filter, strict or loose as Ubuntu and systemd set it) looks a
 *    reply up with the mark its connection restored: unmarked, the lookup
 *    lands in the tunnel's table, which once the tunnel is gone says
 *    "unreachable", and the reply to a bypassing app would be dropped.
 *    The value found is kept in RUNDIR/IFNAME.src_valid_mark, so that
 *    the daemon that takes over after a crash can still put it back.
 *
 * nftables 1.0.6 and cgroup paths
 * -------------------------------
 * nft turns `socket cgroupv2 level N "PATH"` into the cgroup's id by
 * stat()ing "/sys/fs/cgroup/PATH", and refuses a bare id.  On a hybrid
 * layout (v2 at /sys/fs/cgroup/unified) or in a fresh sysfs (`ip netns
 * exec`) no such path exists.  PATH is therefore
 * "../../../proc/self/fd/FD", FD being our open descriptor of the cgroup's
 * directory: libnftables runs in this process, the magic link resolves to
 * the directory wherever (and in whichever mount namespace) the hierarchy
 * is mounted, and its inode is the cgroup's id.  Only /sys/fs/cgroup must
 * exist as a directory for the ".." to climb out of.
 *
 * DNS for bypassing applications (the choice)
 * -------------------------------------------
 * resolv.conf names the tunnel's resolvers while up, for everybody, and
 * we cannot give one cgroup another file.  So a bypassing application's
 * query to a tunnel resolver is rewritten to the host's own resolver, as
 * resolv.conf named it before up (the copy dns.c keeps), and leaves by
 * the physical link; everyone else's DNS stays in the tunnel.  A host
 * resolver on loopback (127.0.0.53, systemd-resolved) would forward by
 * its own routes, into the tunnel: the bypass then covers the traffic but
 * not the lookup.
 */
#ifndef VPND_SPLITAPP_H
#define VPND_SPLITAPP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"
#include "firewall.h"
#include "netlink.h"

#define SPLITAPP_TABLE "vpnd_splitapp"

enum splitapp_values {
	/* The client's own mark is 0x5670 (control.h's CLIENT_FWMARK). */
	SPLITAPP_BYPASS_MARK = 0x5671,
	SPLITAPP_TUNNEL_MARK = 0x5672,
	/* Before the tunnel's rule (NETLINK_TUNNEL_PRIORITY, 32000). */
	SPLITAPP_RULE_PRIORITY = 31990,
	SPLITAPP_ADDR_MAX = 8,
	SPLITAPP_ERR_LEN = 400,
};

/* What the rules depend on besides the cgroups; control.c fills it. */
struct splitapp_net {
	const char *ifname;		/* the tunnel */
	const char *rundir;		/* for a private cgroup2 mount */
	uint32_t tunnel_table;		/* the tunnel's routing table */
	struct netlink_prefix tunnel_addr[SPLITAPP_ADDR_MAX];
	unsigned int n_tunnel_addr;
	struct netlink_prefix tunnel_dns[SPLITAPP_ADDR_MAX];
	unsigned int n_tunnel_dns;
	/* The host's own resolvers (resolv.conf before up). */
	struct netlink_prefix host_dns[SPLITAPP_ADDR_MAX];
	unsigned int n_host_dns;
};

struct splitapp {
	struct cgroup_set cg;
	bool active;		/* cgroups, table and rules are in place */
	bool bpf;		/* the socket programs are attached */
	int svm_old;		/* src_valid_mark found; -1: not ours */
	char err[SPLITAPP_ERR_LEN];
};

void splitapp_init(struct splitapp *sa);
bool splitapp_active(const struct splitapp *sa);
const char *splitapp_strerror(const struct splitapp *sa);

/*
 * Starts split tunneling by application: the cgroups (created when
 * @create, else only found: a daemon's start takes over those of one that
 * died, *found saying so), their socket programs, the table and the
 * rules.  Already active: only the table is brought up to date.  All or
 * nothing: on failure what this call made is undone.  0 or -errno.
 */
int splitapp_start(struct splitapp *sa, struct firewall *fw,
		   struct netlink *nl, const struct splitapp_net *net,
		   bool create, bool *found);
/* The tunnel's addresses or resolvers changed (up, down): the table
 * again, in one transaction.  Inactive: nothing. */
int splitapp_refresh(struct splitapp *sa, struct firewall *fw,
		     const struct splitapp_net *net);
/*
 * Ends it: every process goes back to the root of the hierarchy, then the
 * rules, the table and the cgroups go.  Keeps going after a failure and
 * returns the first one.
 */
int splitapp_stop(struct splitapp *sa, struct firewall *fw,
		  struct netlink *nl, const struct splitapp_net *net);

/*
 * Moves @pid into group @g (add) or out of it (!add), for a caller of
 * uid @caller (from SO_PEERCRED): root may move any process, anyone else
 * only their own (real, effective and saved uid all the caller's).
 * 0, or -errno with a sentence in msg: -ESRCH no such process, -EPERM
 * someone else's, -ENOENT (del) not in that group.
 */
int splitapp_move(struct splitapp *sa, enum cgroup_group g, pid_t pid,
		  bool add, uid_t caller, char *msg, size_t len);
/* The same checks alone, before anything is started for a move: 0, or
 * -ESRCH or -EPERM with a sentence in msg. */
int splitapp_may_move(pid_t pid, uid_t caller, char *msg, size_t len);

/* A control request's arguments (docs/control.md): exec=1 group=,
 * split_pid=1 pid= group= action=. */
struct splitapp_request {
	enum cgroup_group group;
	bool has_group;
	pid_t pid;			/* split_pid=1 */
	bool add;			/* split_pid=1 action= */
	bool has_action;
};

/* exec, split_pid or split_apps. */
bool splitapp_request_op(const char *op);
/* One key=value of request @op: 1 taken, 0 not ours, -EINVAL with a
 * sentence in msg. */
int splitapp_request_key(const char *op, const char *key, const char *value,
			 struct splitapp_request *r, char *msg, size_t len);

/*
 * The table's body (between its braces) for the set, as one text; pure.
 * cgroup fds, ids and level come from @cg, the rest from @net.
 */
int splitapp_render(const struct cgroup_set *cg,
		    const struct splitapp_net *net, struct firewall_text *t);

/*
 * The nameserver addresses of resolv.conf text (IPv4 and IPv6; scoped
 * IPv6 ones are skipped), at most @max, in order; returns how many.
 */
unsigned int splitapp_resolvers_parse(const char *text, size_t len,
				      struct netlink_prefix *out,
				      unsigned int max);

#endif /* VPND_SPLITAPP_H */
