/* SPDX-License-Identifier: MIT */
/*
 * Split tunneling by application without a kernel: finding the cgroup v2
 * mount in mountinfo text (hybrid and unified layouts, escaped names, no
 * cgroup2 at all, lines that are not mountinfo), the level of a cgroup
 * path, the group names; opening the set on a directory standing in for
 * the hierarchy (vpnd-IFNAME/bypass and tunnel made, their ids the
 * directories' inodes, their level the mount root's plus two, found again
 * by a second open as existing, removed without a trace, nothing found
 * when not creating); the nameservers of resolv.conf text; the table's
 * rules (vpnd/splitapp.c), the control requests' arguments,
 * src_valid_mark raised and put back (also by the daemon after a crash),
 * and the kill switch's bypass accepts.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

/* Included to point mountinfo_path at a file of ours. */
#include "../../vpnd/cgroup.c"
#include "../../vpnd/killswitch.h"
/* Included to point svm_path at a file of ours. */
#include "../../vpnd/splitapp.c"

/* This host's own layout: v1 controllers under a tmpfs, v2 in unified. */
static const char hybrid[] =
	"22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
	"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
	"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
	"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

static const char unified[] =
	"25 1 0:23 / /sys rw shared:7 - sysfs sysfs rw\n"
	"26 25 0:24 / /sys/fs/cgroup rw shared:8 - cgroup2 cgroup2 "
	"rw,nsdelegate\n";

static void test_find_hybrid(void **state)
{
	char mnt[64], root[64];

	(void)state;
	assert_int_equal(cgroup_mountinfo_find(hybrid, 0, mnt, sizeof(mnt), root,
					       sizeof(root)), 0);
	assert_string_equal(mnt, "/sys/fs/cgroup/unified");
	assert_string_equal(root, "/");
}

static void test_find_unified(void **state)
{
	char mnt[64], root[64];

	(void)state;
	/* Optional fields (shared:8) before the separator are skipped. */
	assert_int_equal(cgroup_mountinfo_find(unified, 0, mnt, sizeof(mnt), root,
					       sizeof(root)), 0);
	assert_string_equal(mnt, "/sys/fs/cgroup");
}

static void test_find_escaped_and_nested(void **state)
{
	static const char text[] =
		"50 1 0:40 /user.slice/a\\040b /run/my\\040cg rw - cgroup2 "
		"cgroup2 rw\n";
	char mnt[64], root[64];

	(void)state;
	assert_int_equal(cgroup_mountinfo_find(text, 0, mnt, sizeof(mnt), root,
					       sizeof(root)), 0);
	assert_string_equal(mnt, "/run/my cg");
	assert_string_equal(root, "/user.slice/a b");
	assert_int_equal(cgroup_path_level(root), 2);
}

static void test_find_skip(void **state)
{
	static const char two[] =
		"30 22 0:37 / /old rw - cgroup2 cgroup2 rw\n"
		"31 22 0:28 / /x rw - tmpfs tmpfs rw\n"
		"41 31 0:38 /s /new rw - cgroup2 cgroup2 rw\n";
	char mnt[64], root[64];

	(void)state;
	assert_int_equal(cgroup_mountinfo_find(two, 0, mnt, sizeof(mnt), root,
					       sizeof(root)), 0);
	assert_string_equal(mnt, "/old");
	assert_int_equal(cgroup_mountinfo_find(two, 1, mnt, sizeof(mnt), root,
					       sizeof(root)), 0);
	assert_string_equal(mnt, "/new");
	assert_string_equal(root, "/s");
	assert_int_equal(cgroup_mountinfo_find(two, 2, mnt, sizeof(mnt), root,
					       sizeof(root)), -ENOENT);
}

static void test_find_none_and_bad(void **state)
{
	static const char v1_only[] =
		"31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
		"40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup "
		"rw,name=systemd\n";
	/* A file system called "cgroup2x" is not cgroup2. */
	static const char lookalike[] =
		"31 23 0:28 / /x rw - cgroup2x none rw\n";
	char mnt[64], root[64], tiny[8];

	(void)state;
	assert_int_equal(cgroup_mountinfo_find(v1_only, 0, mnt, sizeof(mnt), root,
					       sizeof(root)), -ENOENT);
	assert_int_equal(cgroup_mountinfo_find(lookalike, 0, mnt, sizeof(mnt),
					       root, sizeof(root)), -ENOENT);
	assert_int_equal(cgroup_mountinfo_find("", 0, mnt, sizeof(mnt), root,
					       sizeof(root)), -ENOENT);
	assert_int_equal(cgroup_mountinfo_find("garbage line\n", 0, mnt,
					       sizeof(mnt), root, sizeof(root)),
			 -EINVAL);
	assert_int_equal(cgroup_mountinfo_find(unified, 0, tiny, sizeof(tiny),
					       root, sizeof(root)),
			 -ENAMETOOLONG);
}

static void test_level_and_names(void **state)
{
	enum cgroup_group g;

	(void)state;
	assert_int_equal(cgroup_path_level("/"), 0);
	assert_int_equal(cgroup_path_level(""), 0);
	assert_int_equal(cgroup_path_level("/vpnd-wg0/bypass"), 2);
	assert_int_equal(cgroup_path_level("//a///b/"), 2);
	assert_int_equal(cgroup_group_parse("bypass", &g), 0);
	assert_int_equal(g, CGROUP_BYPASS);
	assert_int_equal(cgroup_group_parse("tunnel", &g), 0);
	assert_int_equal(g, CGROUP_TUNNEL);
	assert_int_equal(cgroup_group_parse("Bypass", &g), -EINVAL);
	assert_int_equal(cgroup_group_parse("", &g), -EINVAL);
	assert_string_equal(cgroup_group_name(CGROUP_TUNNEL), "tunnel");
	assert_null(cgroup_group_name(CGROUP_N));
}

/* ------------------------------------------------- a stand-in hierarchy */

struct scratch {
	char dir[64];		/* the "mount point" */
	char info[96];		/* the mountinfo naming it */
};

/* The stand-in counts as cgroup2; /hidden is a mount point another mount
 * covers. */
static bool fake_is_cgroup2(const char *path)
{
	return strcmp(path, "/hidden");
}

static int scratch_setup(void **state)
{
	struct scratch *s = calloc(1, sizeof(*s));
	FILE *f;

	assert_non_null(s);
	strcpy(s->dir, "/tmp/vpnd-cgroup.XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->info, sizeof(s->info), "%s.mountinfo", s->dir);
	f = fopen(s->info, "w");
	assert_non_null(f);
	/* Mounted from /a/b of the hierarchy: the leaves are at level 4. */
	fprintf(f, "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
		   "30 22 0:37 / /hidden rw - cgroup2 cgroup2 rw\n"
		   "41 31 0:38 /a/b %s rw - cgroup2 cgroup2 rw\n", s->dir);
	fclose(f);
	mountinfo_path = s->info;
	is_cgroup2 = fake_is_cgroup2;
	*state = s;
	return 0;
}

static int scratch_teardown(void **state)
{
	struct scratch *s = *state;

	unlink(s->info);
	rmdir(s->dir);
	mountinfo_path = "/proc/self/mountinfo";
	is_cgroup2 = mount_is_cgroup2;
	free(s);
	return 0;
}

static uint64_t inode_of(const char *dir, const char *sub)
{
	char path[160];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_ino;
}

static void test_open_create_find_remove(void **state)
{
	struct scratch *s = *state;
	struct cgroup_set cs, again;
	bool existed = true;
	char base[96];

	/* Not creating, nothing there: -ENOENT and nothing made. */
	assert_int_equal(cgroup_open(&cs, "wg0", "/nonexistent", false,
				     &existed), -ENOENT);
	assert_false(cgroup_set_open(&cs));
	snprintf(base, sizeof(base), "%s/vpnd-wg0", s->dir);
	assert_int_not_equal(access(base, F_OK), 0);

	assert_int_equal(cgroup_open(&cs, "wg0", "/nonexistent", true,
				     &existed), 0);
	assert_false(existed);
	assert_true(cgroup_set_open(&cs));
	assert_false(cs.private_mount);
	/* The first cgroup2 line is hidden: the next one is used. */
	assert_string_equal(cs.mnt, s->dir);
	assert_int_equal(cs.level, 4);
	assert_true(cs.id[CGROUP_BYPASS] ==
		    inode_of(s->dir, "vpnd-wg0/bypass"));
	assert_true(cs.id[CGROUP_TUNNEL] ==
		    inode_of(s->dir, "vpnd-wg0/tunnel"));
	assert_true(cs.id[CGROUP_BYPASS] != cs.id[CGROUP_TUNNEL]);

	/* A second daemon (after a crash) finds the same cgroups. */
	assert_int_equal(cgroup_open(&again, "wg0", "/nonexistent", false,
				     &existed), 0);
	assert_true(existed);
	assert_true(again.id[CGROUP_BYPASS] == cs.id[CGROUP_BYPASS]);
	assert_true(again.id[CGROUP_TUNNEL] == cs.id[CGROUP_TUNNEL]);
	cgroup_close(&again);
	assert_false(cgroup_set_open(&again));

	assert_int_equal(cgroup_remove(&cs), 0);
	assert_false(cgroup_set_open(&cs));
	assert_int_not_equal(access(base, F_OK), 0);
}

static void test_open_bad_name(void **state)
{
	struct cgroup_set cs;
	bool existed;
	char name[300];

	(void)state;
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(cgroup_open(&cs, name, "/nonexistent", true, &existed),
			 -ENAMETOOLONG);
	assert_false(cgroup_set_open(&cs));
}

/* ---------------------------------------------------------- resolvers */

static void test_resolvers(void **state)
{
	static const char text[] =
		"# local network resolver (DHCP)\n"
		"search lan.example\t\n"
		"nameserver 192.0.2.53\n"
		"  nameserver\t2001:db8::53  \n"
		"nameserver fe80::1%eth0\n"
		"nameserverx 192.0.2.99\n"
		"; nameserver 192.0.2.98\n"
		"nameserver not-an-address\n"
		"options edns0 timeout:1  \n"
		"nameserver 198.51.100.53";
	struct netlink_prefix p[8];
	char a[INET6_ADDRSTRLEN];
	unsigned int n;

	(void)state;
	n = splitapp_resolvers_parse(text, strlen(text), p, 8);
	assert_int_equal(n, 3);
	assert_int_equal(p[0].family, AF_INET);
	inet_ntop(AF_INET, &p[0].addr, a, sizeof(a));
	assert_string_equal(a, "192.0.2.53");
	assert_int_equal(p[1].family, AF_INET6);
	inet_ntop(AF_INET6, &p[1].addr, a, sizeof(a));
	assert_string_equal(a, "2001:db8::53");
	inet_ntop(AF_INET, &p[2].addr, a, sizeof(a));
	assert_string_equal(a, "198.51.100.53");
	/* At most max. */
	assert_int_equal(splitapp_resolvers_parse(text, strlen(text), p, 1), 1);
}

/* -------------------------------------------------------------- rules */

static void net_fill(struct splitapp_net *n, bool host6)
{
	memset(n, 0, sizeof(*n));
	n->ifname = "wg0";
	n->tunnel_table = 0x5670;
	assert_int_equal(netlink_prefix_parse("10.64.0.2/32",
					      &n->tunnel_addr[0]), 0);
	assert_int_equal(netlink_prefix_parse("fd64::2/128",
					      &n->tunnel_addr[1]), 0);
	n->n_tunnel_addr = 2;
	assert_int_equal(netlink_prefix_parse("10.64.0.1", &n->tunnel_dns[0]),
			 0);
	assert_int_equal(netlink_prefix_parse("fd64::1", &n->tunnel_dns[1]),
			 0);
	n->n_tunnel_dns = 2;
	assert_int_equal(netlink_prefix_parse("192.0.2.53", &n->host_dns[0]),
			 0);
	n->n_host_dns = 1;
	if (host6) {
		assert_int_equal(netlink_prefix_parse("2001:db8::53",
						      &n->host_dns[1]), 0);
		n->n_host_dns = 2;
	}
}

static void cg_fake(struct cgroup_set *cg)
{
	cgroup_set_init(cg);
	cg->base_fd = 5;
	cg->fd[CGROUP_BYPASS] = 7;
	cg->fd[CGROUP_TUNNEL] = 8;
	cg->level = 2;
}

static void test_render(void **state)
{
	struct firewall_text t = FIREWALL_TEXT_INIT;
	struct splitapp_net net;
	struct cgroup_set cg;
	const char *s;

	(void)state;
	cg_fake(&cg);
	net_fill(&net, false);
	assert_int_equal(splitapp_render(&cg, &net, &t), 0);
	s = firewall_text_str(&t);
	assert_non_null(strstr(s, "type route hook output priority mangle;"));
	assert_non_null(strstr(s, "socket cgroupv2 level 2 \"../../../proc/self/fd/7\" "
				  "meta mark set 0x00005671 ct mark set 0x00005671\n"));
	assert_non_null(strstr(s, "socket cgroupv2 level 2 \"../../../proc/self/fd/8\" "
				  "meta mark set 0x00005672 ct mark set 0x00005672\n"));
	/* IPv4 DNS of bypassing apps to the host's resolver; IPv6 has none
	 * on the host: dropped, not sent to the tunnel's resolver in plain. */
	assert_non_null(strstr(s, "meta mark 0x00005671 ip daddr 10.64.0.1 meta "
				  "l4proto { tcp, udp } th dport 53 dnat ip to "
				  "192.0.2.53\n"));
	assert_non_null(strstr(s, "meta mark 0x00005671 ip6 daddr fd64::1 meta "
				  "l4proto { tcp, udp } th dport 53 drop\n"));
	assert_null(strstr(s, "dnat ip6"));
	assert_non_null(strstr(s, "meta mark 0x00005671 ip saddr 10.64.0.2 "
				  "oifname != \"wg0\" masquerade\n"));
	assert_non_null(strstr(s, "meta mark 0x00005671 ip6 saddr fd64::2 "
				  "oifname != \"wg0\" masquerade\n"));
	assert_non_null(strstr(s, "meta mark 0x00005672 oifname != { \"lo\", "
				  "\"wg0\" } reject with icmpx admin-prohibited"));
	assert_non_null(strstr(s, "ct mark { 0x00005671, 0x00005672 } meta mark "
				  "set ct mark"));
	firewall_text_free(&t);

	/* With an IPv6 host resolver: DNAT for both, no drop. */
	net_fill(&net, true);
	assert_int_equal(splitapp_render(&cg, &net, &t), 0);
	s = firewall_text_str(&t);
	assert_non_null(strstr(s, "dnat ip6 to 2001:db8::53\n"));
	assert_null(strstr(s, "th dport 53 drop"));
	firewall_text_free(&t);
}

static void test_render_refused(void **state)
{
	struct firewall_text t = FIREWALL_TEXT_INIT;
	struct splitapp_net net;
	struct cgroup_set cg;

	(void)state;
	cg_fake(&cg);
	net_fill(&net, false);
	net.ifname = "wg0\" accept; #";
	assert_int_equal(splitapp_render(&cg, &net, &t), -EINVAL);
	firewall_text_free(&t);
	/* No cgroups open: nothing to match. */
	cgroup_set_init(&cg);
	net.ifname = "wg0";
	assert_int_equal(splitapp_render(&cg, &net, &t), -EINVAL);
	firewall_text_free(&t);
}

/* The control requests' arguments: what is refused says what and why. */
static void test_request_keys(void **state)
{
	static const char *const bad_pids[] = {
		"", "0", "-1", " 12", "12x", "+5", "1073741824",
		"99999999999999999999999",
	};
	struct splitapp_request r;
	char msg[128];

	(void)state;
	assert_true(splitapp_request_op("exec"));
	assert_true(splitapp_request_op("split_pid"));
	assert_true(splitapp_request_op("split_apps"));
	assert_false(splitapp_request_op("split"));

	memset(&r, 0, sizeof(r));
	assert_int_equal(splitapp_request_key("exec", "group", "tunnel", &r,
					      msg, sizeof(msg)), 1);
	assert_true(r.has_group);
	assert_int_equal(r.group, CGROUP_TUNNEL);
	assert_int_equal(splitapp_request_key("exec", "group", "all", &r, msg,
					      sizeof(msg)), -EINVAL);
	assert_string_equal(msg, "group: 'all' is not bypass or tunnel");
	/* exec names no pid: the caller's own is moved. */
	assert_int_equal(splitapp_request_key("exec", "pid", "1", &r, msg,
					      sizeof(msg)), 0);
	assert_int_equal(splitapp_request_key("split_apps", "group", "bypass",
					      &r, msg, sizeof(msg)), 0);

	assert_int_equal(splitapp_request_key("split_pid", "pid", "4711", &r,
					      msg, sizeof(msg)), 1);
	assert_int_equal(r.pid, 4711);
	for (size_t i = 0; i < sizeof(bad_pids) / sizeof(*bad_pids); i++) {
		assert_int_equal(splitapp_request_key("split_pid", "pid",
						      bad_pids[i], &r, msg,
						      sizeof(msg)), -EINVAL);
		assert_non_null(strstr(msg, "is not a process id"));
	}
	assert_int_equal(splitapp_request_key("split_pid", "action", "del", &r,
					      msg, sizeof(msg)), 1);
	assert_true(r.has_action);
	assert_false(r.add);
	assert_int_equal(splitapp_request_key("split_pid", "action", "move",
					      &r, msg, sizeof(msg)), -EINVAL);
	assert_string_equal(msg, "action: 'move' is not add or del");
	assert_int_equal(splitapp_request_key("split_pid", "other", "x", &r,
					      msg, sizeof(msg)), 0);
}

/* src_valid_mark: raised from 0 with the value kept in a backup first,
 * put back at the end; left alone when it was not 0; a dead daemon's
 * backup is what the next one puts back. */
static int read_value(const char *path)
{
	int v = -99;

	assert_int_equal(int_read(path, &v), 0);
	return v;
}

static void test_src_valid_mark(void **state)
{
	char dir[] = "/tmp/vpnd-svm.XXXXXX", sysctl[64], backup[64];
	struct splitapp sa, next;
	struct splitapp_net net = { .ifname = "wg0" };

	(void)state;
	assert_non_null(mkdtemp(dir));
	net.rundir = dir;
	snprintf(sysctl, sizeof(sysctl), "%s/src_valid_mark", dir);
	snprintf(backup, sizeof(backup), "%s/wg0.src_valid_mark", dir);
	svm_path = sysctl;
	assert_int_equal(int_write(sysctl, 0, true), 0);

	splitapp_init(&sa);
	svm_raise(&sa, &net);
	assert_int_equal(read_value(sysctl), 1);
	assert_int_equal(read_value(backup), 0);
	assert_int_equal(sa.svm_old, 0);
	svm_restore(&sa, &net);
	assert_int_equal(read_value(sysctl), 0);
	assert_int_not_equal(access(backup, F_OK), 0);

	/* Someone else's 1: not ours to raise or to put back. */
	assert_int_equal(int_write(sysctl, 1, false), 0);
	svm_raise(&sa, &net);
	assert_int_equal(sa.svm_old, -1);
	assert_int_not_equal(access(backup, F_OK), 0);
	svm_restore(&sa, &net);
	assert_int_equal(read_value(sysctl), 1);

	/* A daemon dies after raising it; the next one puts it back. */
	assert_int_equal(int_write(sysctl, 0, false), 0);
	svm_raise(&sa, &net);
	splitapp_init(&next);
	svm_raise(&next, &net);
	assert_int_equal(next.svm_old, 0);
	assert_int_equal(read_value(sysctl), 1);
	svm_restore(&next, &net);
	assert_int_equal(read_value(sysctl), 0);
	assert_int_not_equal(access(backup, F_OK), 0);

	/* Changed by someone since: their word stands. */
	svm_raise(&sa, &net);
	assert_int_equal(int_write(sysctl, 2, false), 0);
	svm_restore(&sa, &net);
	assert_int_equal(read_value(sysctl), 2);

	svm_path = "/proc/sys/net/ipv4/conf/all/src_valid_mark";
	unlink(sysctl);
	assert_int_equal(rmdir(dir), 0);
}

/* The kill switch lets the bypass mark out and its connections in, right
 * after loopback, in BLOCK and TUNNEL rules; without it, nothing. */
static void test_killswitch_bypass(void **state)
{
	struct killswitch_state st = {
		.mode = KILLSWITCH_LOCKDOWN,
		.phase = KILLSWITCH_DISCONNECTED,
		.fwmark = 0x5670,
		.bypass_mark = SPLITAPP_BYPASS_MARK,
	};
	struct firewall_text t = FIREWALL_TEXT_INIT;
	enum killswitch_rules rules;
	const char *s;

	(void)state;
	assert_int_equal(killswitch_render(&st, false, &t, &rules), 0);
	assert_int_equal(rules, KILLSWITCH_RULES_BLOCK);
	s = firewall_text_str(&t);
	assert_non_null(strstr(s, "oifname \"lo\" accept\n\t\tmeta mark 0x00005671 "
				  "accept\n"));
	assert_non_null(strstr(s, "iifname \"lo\" accept\n\t\tct mark 0x00005671 "
				  "accept\n"));
	firewall_text_free(&t);

	st.bypass_mark = 0;
	assert_int_equal(killswitch_render(&st, false, &t, &rules), 0);
	s = firewall_text_str(&t);
	assert_null(strstr(s, "0x00005671"));
	firewall_text_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find_hybrid),
		cmocka_unit_test(test_find_unified),
		cmocka_unit_test(test_find_escaped_and_nested),
		cmocka_unit_test(test_find_skip),
		cmocka_unit_test(test_find_none_and_bad),
		cmocka_unit_test(test_level_and_names),
		cmocka_unit_test_setup_teardown(test_open_create_find_remove,
						scratch_setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_open_bad_name,
						scratch_setup, scratch_teardown),
		cmocka_unit_test(test_resolvers),
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_render_refused),
		cmocka_unit_test(test_request_keys),
		cmocka_unit_test(test_src_valid_mark),
		cmocka_unit_test(test_killswitch_bypass),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
