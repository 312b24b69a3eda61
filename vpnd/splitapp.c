/* SPDX-License-Identifier: MIT */
/*
 * Split tunneling by application: the socket programs on vpnd's cgroups,
 * the table "inet vpnd_splitapp", the policy rules for the two marks, and
 * moving a caller's process in or out after checking it is theirs.
 * splitapp.h says what each piece is for.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "splitapp.h"

static const uint32_t group_mark[CGROUP_N] = {
	[CGROUP_BYPASS] = SPLITAPP_BYPASS_MARK,
	[CGROUP_TUNNEL] = SPLITAPP_TUNNEL_MARK,
};

static void sa_fail(struct splitapp *sa, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void sa_fail(struct splitapp *sa, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sa->err, sizeof(sa->err), fmt, ap);
	va_end(ap);
}

/* A unit test that includes this file points it elsewhere. */
static const char *svm_path = "/proc/sys/net/ipv4/conf/all/src_valid_mark";

void splitapp_init(struct splitapp *sa)
{
	memset(sa, 0, sizeof(*sa));
	cgroup_set_init(&sa->cg);
	sa->svm_old = -1;
}

bool splitapp_active(const struct splitapp *sa)
{
	return sa->active;
}

const char *splitapp_strerror(const struct splitapp *sa)
{
	return sa->err[0] ? sa->err : "no error";
}

/* ---------------------------------------------------------- resolvers */

unsigned int splitapp_resolvers_parse(const char *text, size_t len,
				      struct netlink_prefix *out,
				      unsigned int max)
{
	const char *p = text, *end = text + len;
	unsigned int n = 0;

	while (p < end && n < max) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		char word[INET6_ADDRSTRLEN + 1];
		union netlink_inaddr a;
		size_t k;

		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		if ((size_t)(e - p) > 11 && !memcmp(p, "nameserver", 10) &&
		    (p[10] == ' ' || p[10] == '\t')) {
			p += 10;
			while (p < e && (*p == ' ' || *p == '\t'))
				p++;
			for (k = 0; p + k < e && k < sizeof(word) - 1 &&
				    p[k] != ' ' && p[k] != '\t' && p[k] != '\r';
			     k++)
				word[k] = p[k];
			word[k] = '\0';
			if (inet_pton(AF_INET, word, &a) == 1)
				netlink_prefix_set(&out[n++], AF_INET, &a, 32);
			else if (inet_pton(AF_INET6, word, &a) == 1)
				netlink_prefix_set(&out[n++], AF_INET6, &a,
						   128);
		}
		p = nl ? nl + 1 : end;
	}
	return n;
}

/* -------------------------------------------------------------- table */

static const char *family_kw(int family)
{
	return family == AF_INET ? "ip" : "ip6";
}

/* The addresses of one family in a[], as "A" or "{ A, B }"; how many. */
static unsigned int addr_set(struct firewall_text *t,
			     const struct netlink_prefix *a, unsigned int n,
			     int family)
{
	unsigned int i, k = 0;

	for (i = 0; i < n; i++)
		k += a[i].family == family;
	if (!k)
		return 0;
	firewall_text_add(t, k > 1 ? "{ " : "");
	for (i = 0, k = 0; i < n; i++) {
		struct netlink_prefix p = a[i];

		if (p.family != family)
			continue;
		p.len = family == AF_INET ? 32 : 128;
		firewall_text_add(t, k++ ? ", " : "");
		firewall_text_prefix(t, &p);
	}
	firewall_text_add(t, k > 1 ? " }" : "");
	return k;
}

static const struct netlink_prefix *first_of(const struct netlink_prefix *a,
					     unsigned int n, int family)
{
	for (unsigned int i = 0; i < n; i++)
		if (a[i].family == family)
			return &a[i];
	return NULL;
}

static bool has_family(const struct netlink_prefix *a, unsigned int n,
		       int family)
{
	return first_of(a, n, family) != NULL;
}

static void chain_head(struct firewall_text *t, const char *name,
		       const char *type, const char *hook, const char *prio,
		       bool first)
{
	firewall_text_add(t, "%s\tchain %s {\n\t\ttype %s hook %s priority "
			  "%s; policy accept;\n", first ? "" : "\n", name,
			  type, hook, prio);
}

/* The marks, by cgroup; a bypassing query to a tunnel resolver of a
 * family the host has no resolver of goes nowhere. */
static void mark_chain(struct firewall_text *t, const struct cgroup_set *cg,
		       const struct splitapp_net *net)
{
	static const int families[] = { AF_INET, AF_INET6 };

	chain_head(t, "set_mark", "route", "output", "mangle", true);
	for (unsigned int g = 0; g < CGROUP_N; g++)
		firewall_text_add(t, "\t\tsocket cgroupv2 level %u "
				  "\"../../../proc/self/fd/%d\" meta mark set "
				  "0x%08x ct mark set 0x%08x\n", cg->level,
				  cg->fd[g], group_mark[g], group_mark[g]);
	for (unsigned int f = 0; f < 2; f++) {
		if (!has_family(net->tunnel_dns, net->n_tunnel_dns,
				families[f]) ||
		    has_family(net->host_dns, net->n_host_dns, families[f]))
			continue;
		firewall_text_add(t, "\t\tmeta mark 0x%08x %s daddr ",
				  SPLITAPP_BYPASS_MARK, family_kw(families[f]));
		addr_set(t, net->tunnel_dns, net->n_tunnel_dns, families[f]);
		firewall_text_add(t, " meta l4proto { tcp, udp } th dport 53 "
				  "drop\n");
	}
	firewall_text_add(t, "\t}\n");
}

static void restore_chain(struct firewall_text *t)
{
	chain_head(t, "restore_mark", "filter", "prerouting", "mangle", false);
	firewall_text_add(t, "\t\tct mark { 0x%08x, 0x%08x } meta mark set "
			  "ct mark\n\t}\n", SPLITAPP_BYPASS_MARK,
			  SPLITAPP_TUNNEL_MARK);
}

static void dns_chain(struct firewall_text *t, const struct splitapp_net *net)
{
	static const int families[] = { AF_INET, AF_INET6 };

	chain_head(t, "bypass_dns", "nat", "output", "-100", false);
	for (unsigned int f = 0; f < 2; f++) {
		const struct netlink_prefix *host =
			first_of(net->host_dns, net->n_host_dns, families[f]);
		struct netlink_prefix h;

		if (!host || !has_family(net->tunnel_dns, net->n_tunnel_dns,
					 families[f]))
			continue;
		h = *host;
		firewall_text_add(t, "\t\tmeta mark 0x%08x %s daddr ",
				  SPLITAPP_BYPASS_MARK, family_kw(families[f]));
		addr_set(t, net->tunnel_dns, net->n_tunnel_dns, families[f]);
		firewall_text_add(t, " meta l4proto { tcp, udp } th dport 53 "
				  "dnat %s to ", family_kw(families[f]));
		firewall_text_prefix(t, &h);
		firewall_text_add(t, "\n");
	}
	firewall_text_add(t, "\t}\n");
}

/* A bypassing packet routed after its source was chosen in the tunnel
 * (a socket the program did not mark) leaves with the link's address. */
static void masq_chain(struct firewall_text *t, const struct splitapp_net *net)
{
	static const int families[] = { AF_INET, AF_INET6 };

	chain_head(t, "bypass_masq", "nat", "postrouting", "srcnat", false);
	for (unsigned int f = 0; f < 2; f++) {
		if (!has_family(net->tunnel_addr, net->n_tunnel_addr,
				families[f]))
			continue;
		firewall_text_add(t, "\t\tmeta mark 0x%08x %s saddr ",
				  SPLITAPP_BYPASS_MARK, family_kw(families[f]));
		addr_set(t, net->tunnel_addr, net->n_tunnel_addr, families[f]);
		firewall_text_add(t, " oifname != ");
		firewall_text_ifname(t, net->ifname);
		firewall_text_add(t, " masquerade\n");
	}
	firewall_text_add(t, "\t}\n");
}

/* The tunnel group never leaves by another interface. */
static void tunnel_only_chain(struct firewall_text *t,
			      const struct splitapp_net *net)
{
	chain_head(t, "tunnel_only", "filter", "output", "filter", false);
	firewall_text_add(t, "\t\tmeta mark 0x%08x oifname != { \"lo\", ",
			  SPLITAPP_TUNNEL_MARK);
	firewall_text_ifname(t, net->ifname);
	firewall_text_add(t, " } reject with icmpx admin-prohibited\n\t}\n");
}

int splitapp_render(const struct cgroup_set *cg,
		    const struct splitapp_net *net, struct firewall_text *t)
{
	if (!cgroup_set_open(cg) || !firewall_ifname_valid(net->ifname)) {
		if (!t->err) {
			t->err = -EINVAL;
			snprintf(t->why, sizeof(t->why),
				 "no cgroups or no valid tunnel name");
		}
		return t->err;
	}
	mark_chain(t, cg, net);
	restore_chain(t);
	dns_chain(t, net);
	masq_chain(t, net);
	tunnel_only_chain(t, net);
	return t->err;
}

static int table_apply(struct splitapp *sa, struct firewall *fw,
		       const struct splitapp_net *net)
{
	struct firewall_text body = FIREWALL_TEXT_INIT;
	int ret;

	ret = splitapp_render(&sa->cg, net, &body);
	if (ret)
		sa_fail(sa, "refusing the split tunneling rules: %s", body.why);
	else
		ret = firewall_table_replace(fw, FIREWALL_INET, SPLITAPP_TABLE,
					     &body);
	if (ret && !body.err)
		sa_fail(sa, "split tunneling rules: %s", firewall_strerror(fw));
	firewall_text_free(&body);
	return ret;
}

/* ------------------------------------------------------- socket marks */

/* r1 is the struct bpf_sock of the socket being made. */
static int bpf_mark_program(uint32_t mark)
{
	struct bpf_insn prog[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_2,
		  .imm = (int32_t)mark },
		{ .code = BPF_STX | BPF_MEM | BPF_W, .dst_reg = BPF_REG_1,
		  .src_reg = BPF_REG_2,
		  .off = offsetof(struct bpf_sock, mark) },
		/* 1: the socket may be made. */
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0,
		  .imm = 1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr a;
	int fd;

	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_CGROUP_SOCK;
	a.expected_attach_type = BPF_CGROUP_INET_SOCK_CREATE;
	a.insns = (uint64_t)(uintptr_t)prog;
	a.insn_cnt = sizeof(prog) / sizeof(prog[0]);
	a.license = (uint64_t)(uintptr_t)"MIT";
	fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a));
	return fd < 0 ? -errno : fd;
}

/* Without BPF_F_ALLOW_MULTI, attaching again replaces: a daemon that takes
 * over attaches its own in place of the dead one's. */
static int bpf_attach(int cgroup_fd, uint32_t mark)
{
	union bpf_attr a;
	int prog = bpf_mark_program(mark), ret = 0;

	if (prog < 0)
		return prog;
	memset(&a, 0, sizeof(a));
	a.target_fd = (uint32_t)cgroup_fd;
	a.attach_bpf_fd = (uint32_t)prog;
	a.attach_type = BPF_CGROUP_INET_SOCK_CREATE;
	if (syscall(SYS_bpf, BPF_PROG_ATTACH, &a, sizeof(a)))
		ret = -errno;
	/* The attachment holds the program now. */
	close(prog);
	return ret;
}

/* -------------------------------------------------------------- rules */

static void rule_fill(struct netlink_rule *r, int family, unsigned int g,
		      const struct splitapp_net *net)
{
	memset(r, 0, sizeof(*r));
	r->family = family;
	r->priority = SPLITAPP_RULE_PRIORITY;
	r->table = g == CGROUP_BYPASS ? 0 : net->tunnel_table;
	r->match_fwmark = true;
	r->fwmark = group_mark[g];
	r->protocol = NETLINK_PROTO_VPND;
}

static int rules_change(struct netlink *nl, const struct splitapp_net *net,
			bool add)
{
	static const int families[] = { AF_INET, AF_INET6 };
	struct netlink_rule r;
	int ret = 0, err;

	for (unsigned int f = 0; f < 2; f++)
		for (unsigned int g = 0; g < CGROUP_N; g++) {
			rule_fill(&r, families[f], g, net);
			err = add ? netlink_rule_add(nl, &r) :
				    netlink_rule_del(nl, &r);
			if (err == (add ? -EEXIST : -ENOENT))
				err = 0;
			if (err && !ret)
				ret = err;
			if (err && add)
				return ret;
		}
	return ret;
}

/* ----------------------------------------------------- src_valid_mark */

static int int_read(const char *path, int *v)
{
	char buf[32];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	return sscanf(buf, "%d", v) == 1 ? 0 : -EINVAL;
}

static int int_write(const char *path, int v, bool create)
{
	char buf[32];
	int fd, n, ret = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC | O_TRUNC |
			(create ? O_CREAT : 0), 0600);
	if (fd < 0)
		return -errno;
	n = snprintf(buf, sizeof(buf), "%d\n", v);
	if (write(fd, buf, (size_t)n) != n)
		ret = -EIO;
	if (close(fd) && !ret)
		ret = -EIO;
	return ret;
}

static void svm_backup_path(const struct splitapp_net *net, char *buf,
			    size_t len)
{
	snprintf(buf, len, "%s/%s.src_valid_mark", net->rundir, net->ifname);
}

/*
 * Raises src_valid_mark, the value found going to the backup file first
 * (a crash in between still leaves it); a backup already there is a dead
 * daemon's, whose value is the one to put back.  Best effort: without it
 * only replies under rp_filter after the tunnel is gone are lost.
 */
static void svm_raise(struct splitapp *sa, const struct splitapp_net *net)
{
	char backup[CGROUP_PATH_MAX];
	int cur;

	svm_backup_path(net, backup, sizeof(backup));
	if (!int_read(backup, &sa->svm_old) && sa->svm_old >= 0)
		return;
	sa->svm_old = -1;
	if (int_read(svm_path, &cur) || cur)
		return;
	if (int_write(backup, cur, true) || int_write(svm_path, 1, false)) {
		unlink(backup);
		return;
	}
	sa->svm_old = cur;
}

/* Puts it back, unless someone changed it since. */
static void svm_restore(struct splitapp *sa, const struct splitapp_net *net)
{
	char backup[CGROUP_PATH_MAX];
	int cur;

	if (sa->svm_old < 0)
		return;
	if (!int_read(svm_path, &cur) && cur == 1)
		int_write(svm_path, sa->svm_old, false);
	svm_backup_path(net, backup, sizeof(backup));
	unlink(backup);
	sa->svm_old = -1;
}

/* ---------------------------------------------------------- lifecycle */

int splitapp_start(struct splitapp *sa, struct firewall *fw,
		   struct netlink *nl, const struct splitapp_net *net,
		   bool create, bool *found)
{
	bool existed = false;
	int ret;

	*found = false;
	sa->err[0] = '\0';
	if (sa->active)
		return splitapp_refresh(sa, fw, net);
	ret = cgroup_open(&sa->cg, net->ifname, net->rundir, create, &existed);
	/* Looking for a dead daemon's cgroups: none we can see (or no
	 * hierarchy to look in) is nothing to take over, not an error. */
	if (ret && !create)
		return 0;
	if (ret) {
		sa_fail(sa, "%s", sa->cg.err);
		return ret;
	}
	*found = existed;
	sa->bpf = true;
	for (unsigned int g = 0; g < CGROUP_N; g++)
		if (bpf_attach(sa->cg.fd[g], group_mark[g]))
			sa->bpf = false;
	ret = table_apply(sa, fw, net);
	if (ret)
		goto undo;
	ret = rules_change(nl, net, true);
	if (ret) {
		sa_fail(sa, "split tunneling rules: %s", netlink_strerror(nl));
		rules_change(nl, net, false);
		firewall_table_delete(fw, FIREWALL_INET, SPLITAPP_TABLE);
		goto undo;
	}
	svm_raise(sa, net);
	sa->active = true;
	return 0;
undo:
	if (existed)
		cgroup_close(&sa->cg);
	else
		cgroup_remove(&sa->cg);
	return ret;
}

int splitapp_refresh(struct splitapp *sa, struct firewall *fw,
		     const struct splitapp_net *net)
{
	if (!sa->active)
		return 0;
	return table_apply(sa, fw, net);
}

int splitapp_stop(struct splitapp *sa, struct firewall *fw,
		  struct netlink *nl, const struct splitapp_net *net)
{
	int ret, r;

	if (!sa->active)
		return 0;
	ret = cgroup_remove(&sa->cg);
	if (ret)
		sa_fail(sa, "%s", sa->cg.err);
	r = firewall_table_delete(fw, FIREWALL_INET, SPLITAPP_TABLE);
	if (r && !ret) {
		ret = r;
		sa_fail(sa, "split tunneling rules: %s", firewall_strerror(fw));
	}
	r = rules_change(nl, net, false);
	if (r && !ret) {
		ret = r;
		sa_fail(sa, "split tunneling rules: %s", netlink_strerror(nl));
	}
	svm_restore(sa, net);
	sa->active = false;
	sa->bpf = false;
	return ret;
}

/* ------------------------------------------------------------ requests */

bool splitapp_request_op(const char *op)
{
	return !strcmp(op, "exec") || !strcmp(op, "split_pid") ||
	       !strcmp(op, "split_apps");
}

int splitapp_request_key(const char *op, const char *key, const char *value,
			 struct splitapp_request *r, char *msg, size_t len)
{
	bool with_group = !strcmp(op, "exec") || !strcmp(op, "split_pid");
	unsigned long long v;
	char *end;

	if (with_group && !strcmp(key, "group")) {
		if (cgroup_group_parse(value, &r->group)) {
			snprintf(msg, len, "group: '%.32s' is not bypass or "
				 "tunnel", value);
			return -EINVAL;
		}
		r->has_group = true;
		return 1;
	}
	if (strcmp(op, "split_pid"))
		return 0;
	if (!strcmp(key, "pid")) {
		errno = 0;
		v = strtoull(value, &end, 10);
		if (errno || *end || *value < '0' || *value > '9' || v < 1 ||
		    v > 0x3fffffff) {
			snprintf(msg, len, "pid: '%.32s' is not a process id",
				 value);
			return -EINVAL;
		}
		r->pid = (pid_t)v;
		return 1;
	}
	if (!strcmp(key, "action")) {
		if (strcmp(value, "add") && strcmp(value, "del")) {
			snprintf(msg, len, "action: '%.32s' is not add or del",
				 value);
			return -EINVAL;
		}
		r->add = !strcmp(value, "add");
		r->has_action = true;
		return 1;
	}
	return 0;
}

/* ------------------------------------------------------------- moving */

/* The real, effective and saved uids of the process whose /proc
 * directory is @dirfd: 0, -ESRCH when it is gone. */
static int proc_uids(int dirfd, uid_t uid[3])
{
	char buf[4096], *p;
	ssize_t n;
	int fd;
	unsigned long r, e, s;

	fd = openat(dirfd, "status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ESRCH;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	buf[n] = '\0';
	p = strstr(buf, "\nUid:");
	if (!p || sscanf(p + 5, "%lu %lu %lu", &r, &e, &s) != 3)
		return -EIO;
	uid[0] = (uid_t)r;
	uid[1] = (uid_t)e;
	uid[2] = (uid_t)s;
	return 0;
}

/*
 * Opens /proc/PID and checks the caller may move it.  The descriptor
 * stays valid only while that process lives, so reading through it after
 * the move proves the pid was still the one checked (a pid reused in
 * between would be a different process, and reads would fail).
 */
static int pid_open_checked(pid_t pid, uid_t caller, int *dirfd, char *msg,
			    size_t len)
{
	char path[32];
	uid_t uid[3];
	int fd, ret;

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(msg, len, "no process %d", (int)pid);
		return -ESRCH;
	}
	ret = proc_uids(fd, uid);
	if (ret) {
		close(fd);
		snprintf(msg, len, "no process %d", (int)pid);
		return -ESRCH;
	}
	if (caller != 0 &&
	    (uid[0] != caller || uid[1] != caller || uid[2] != caller)) {
		close(fd);
		snprintf(msg, len, "process %d belongs to another user: only "
			 "its owner or root may move it", (int)pid);
		return -EPERM;
	}
	*dirfd = fd;
	return 0;
}

int splitapp_may_move(pid_t pid, uid_t caller, char *msg, size_t len)
{
	int fd, ret;

	ret = pid_open_checked(pid, caller, &fd, msg, len);
	if (!ret)
		close(fd);
	return ret;
}

int splitapp_move(struct splitapp *sa, enum cgroup_group g, pid_t pid,
		  bool add, uid_t caller, char *msg, size_t len)
{
	const char *name = cgroup_group_name(g);
	uid_t uid[3];
	int fd, ret;

	if (!name || pid <= 0) {
		snprintf(msg, len, "invalid process or group");
		return -EINVAL;
	}
	if (!sa->active) {
		snprintf(msg, len, "split tunneling by application is not "
			 "active");
		return -ENOENT;
	}
	ret = pid_open_checked(pid, caller, &fd, msg, len);
	if (ret)
		return ret;
	if (!add && !cgroup_has(&sa->cg, g, pid)) {
		close(fd);
		snprintf(msg, len, "process %d is not in the %s group",
			 (int)pid, name);
		return -ENOENT;
	}
	ret = add ? cgroup_move(&sa->cg, g, pid) :
		    cgroup_release(&sa->cg, pid);
	if (!ret && proc_uids(fd, uid)) {
		/* Gone while we moved it: whatever has its pid now is not
		 * what we checked; put it back where processes live. */
		if (add)
			cgroup_release(&sa->cg, pid);
		ret = -ESRCH;
	}
	close(fd);
	if (ret)
		snprintf(msg, len, "cannot move process %d %s the %s group: %s",
			 (int)pid, add ? "into" : "out of", name,
			 ret == -ESRCH ? "it exited" : strerror(-ret));
	return ret;
}
