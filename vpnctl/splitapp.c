/* SPDX-License-Identifier: MIT */
/*
 * vpnctl split apps and vpnctl split pid: split tunneling by application.
 * "apps" lists the processes in vpnd's bypass and tunnel groups, with
 * their owner and name as /proc shows them here; "pid add|del PID
 * --bypass|--tunnel" moves a running process into a group or out of it
 * (vpnd checks that it is the caller's).  New sockets follow the move;
 * sockets the process opened before keep the path they had.
 *
 * split_apps_main() and split_pid_main() take "apps" and "pid" as their
 * argv[0], for "vpnctl split"'s own table.
 */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ctl.h"
#include "json.h"
#include "subcommands.h"

static const struct json_field apps_fields[] = {
	{ "split_apps", JSON_STRING },
	{ "socket_marks", JSON_STRING },
	{ "bypass_pid", JSON_ARRAY },
	{ "tunnel_pid", JSON_ARRAY },
};

static void apps_usage(FILE *f)
{
	fprintf(f,
		"Usage: vpnctl split apps [--json] [-i IFNAME]\n\n"
		"Lists the processes whose traffic bypasses the tunnel ('vpnctl\n"
		"exec --bypass', 'vpnctl split pid add PID --bypass') and those\n"
		"kept inside it (--tunnel), with their owner and name.\n\n"
		"  -j, --json              one JSON object\n"
		"  -i, --interface IFNAME  the tunnel (default " CTL_IFNAME_DEFAULT
		")\n"
		"  -h, --help              this text\n\n"
		"Exit codes: 0 shown, 1 vpnd failed, 2 usage, 3 vpnd not "
		"reachable.\n");
}

static void pid_usage(FILE *f)
{
	fprintf(f,
		"Usage: vpnctl split pid add|del PID --bypass|--tunnel "
		"[-i IFNAME]\n\n"
		"Moves a running process into a group (add) or back out of it\n"
		"(del): sockets it opens from then on bypass the tunnel\n"
		"(--bypass) or stay inside it (--tunnel); sockets it already\n"
		"has keep their path.  Processes it starts later inherit the\n"
		"group.  Only root may move another user's process.\n\n"
		"  -b, --bypass            the bypass group\n"
		"  -t, --tunnel            the tunnel group\n"
		"  -i, --interface IFNAME  the tunnel (default " CTL_IFNAME_DEFAULT
		")\n"
		"  -h, --help              this text\n\n"
		"Exit codes: 0 moved, 1 vpnd refused (nothing changed), 2 usage,\n"
		"3 vpnd not reachable.\n");
}

const struct option split_group_opts[] = {
	{ "bypass", no_argument, NULL, 'b' },
	{ "tunnel", no_argument, NULL, 't' },
	{ "interface", required_argument, NULL, 'i' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int split_group_option(const char *cmd, int opt, const char **group)
{
	if (*group)
		return ctl_usage_error(cmd, "give one of --bypass and --tunnel");
	*group = opt == 'b' ? "bypass" : "tunnel";
	return CTL_CONTINUE;
}

/* One request, its reply checked; the reply in @r for the caller. */
static int call(const char *ifname, const char *req, struct ctl_reply *r)
{
	struct ctl_conn c;
	int ret;

	memset(r, 0, sizeof(*r));
	ret = ctl_connect(&c, ifname);
	if (ret)
		return ctl_report_connect(&c, ret);
	ret = ctl_call(&c, req, CTL_TIMEOUT_MS, r);
	if (ret)
		ret = ctl_report_call(&c, ret);
	else if (r->err)
		ret = ctl_report_reply(r);
	ctl_close(&c);
	return ret;
}

/* "  PID  USER  NAME" from /proc, as far as we may read it. */
static void print_process(const char *pid)
{
	char path[64], comm[64] = "?", user[32] = "?";
	struct passwd *pw;
	struct stat st;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%.20s", pid);
	if (!stat(path, &st)) {
		pw = getpwuid(st.st_uid);
		if (pw)
			snprintf(user, sizeof(user), "%s", pw->pw_name);
		else
			snprintf(user, sizeof(user), "%u",
				 (unsigned int)st.st_uid);
	}
	snprintf(path, sizeof(path), "/proc/%.20s/comm", pid);
	f = fopen(path, "re");
	if (f) {
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	printf("  %-8s %-12s ", pid, user);
	ctl_print_text(stdout, comm);
	putchar('\n');
}

static void print_apps(const struct ctl_reply *r)
{
	static const char *const groups[] = { "bypass", "tunnel" };
	const char *state = ctl_reply_get(r, "split_apps");
	const char *marks = ctl_reply_get(r, "socket_marks");

	printf("split tunneling by application: %s\n",
	       state ? state : "?");
	if (marks && !strcmp(marks, "no"))
		printf("(no socket marks: bypassing works only while the "
		       "tunnel is up)\n");
	for (size_t g = 0; g < 2; g++) {
		char key[16];
		bool any = false;

		snprintf(key, sizeof(key), "%s_pid", groups[g]);
		printf("%s:\n", groups[g]);
		for (size_t i = 0; i < r->n_pair; i++)
			if (!strcmp(r->pair[i].key, key)) {
				print_process(r->pair[i].value);
				any = true;
			}
		if (!any)
			printf("  (none)\n");
	}
}

int split_apps_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "interface", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ifname = CTL_IFNAME_DEFAULT;
	struct ctl_reply r;
	bool json = false;
	int opt, ret;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":ji:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 'i':
			ifname = optarg;
			break;
		case 'h':
			apps_usage(stdout);
			return CTL_EXIT_OK;
		default:
			return ctl_option_error("split apps", opt, optopt,
						argv[optind - 1]);
		}
	}
	if (optind < argc)
		return ctl_usage_error("split apps", "unexpected argument '%s'",
				       argv[optind]);
	if (!ctl_ifname_valid(ifname))
		return ctl_usage_error("split apps", "invalid interface name "
				       "'%s'", ifname);
	ret = call(ifname, "split_apps=1\n\n", &r);
	if (!ret && json) {
		json_object(stdout, &r, 0, r.n_pair, apps_fields,
			    sizeof(apps_fields) / sizeof(*apps_fields));
		putchar('\n');
	} else if (!ret) {
		print_apps(&r);
	}
	ctl_reply_free(&r);
	return ret;
}

int split_pid_main(int argc, char **argv)
{
	const char *ifname = CTL_IFNAME_DEFAULT, *group = NULL;
	unsigned long long pid;
	struct ctl_reply r;
	char req[96];
	int opt, ret;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":bti:h", split_group_opts,
				  NULL)) != -1) {
		switch (opt) {
		case 'b':
		case 't':
			ret = split_group_option("split pid", opt, &group);
			if (ret != CTL_CONTINUE)
				return ret;
			break;
		case 'i':
			ifname = optarg;
			break;
		case 'h':
			pid_usage(stdout);
			return CTL_EXIT_OK;
		default:
			return ctl_option_error("split pid", opt, optopt,
						argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		return ctl_usage_error("split pid", "add|del and one PID are "
				       "needed");
	if (strcmp(argv[optind], "add") && strcmp(argv[optind], "del"))
		return ctl_usage_error("split pid", "'%s' is not add or del",
				       argv[optind]);
	if (!ctl_parse_u64(argv[optind + 1], &pid) || !pid ||
	    pid > 0x3fffffff)
		return ctl_usage_error("split pid", "'%s' is not a process id",
				       argv[optind + 1]);
	if (!group)
		return ctl_usage_error("split pid", "--bypass or --tunnel is "
				       "needed");
	if (!ctl_ifname_valid(ifname))
		return ctl_usage_error("split pid", "invalid interface name "
				       "'%s'", ifname);
	snprintf(req, sizeof(req), "split_pid=1\npid=%llu\ngroup=%s\n"
		 "action=%s\n\n", pid, group, argv[optind]);
	ret = call(ifname, req, &r);
	if (!ret)
		printf("process %llu %s the %s group\n", pid,
		       !strcmp(argv[optind], "add") ? "moved into" :
						      "moved out of", group);
	ctl_reply_free(&r);
	return ret;
}

/*
 * Until "vpnctl split" (split.c, split tunneling by network) has its own
 * table: "split apps" and "split pid" alone.
 */
int cmd_splitapp(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "apps"))
		return split_apps_main(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "pid"))
		return split_pid_main(argc - 1, argv + 1);
	if (argc >= 2 && (!strcmp(argv[1], "--help") ||
			  !strcmp(argv[1], "-h"))) {
		printf("Usage: vpnctl split apps [--json]\n"
		       "       vpnctl split pid add|del PID "
		       "--bypass|--tunnel\n");
		return CTL_EXIT_OK;
	}
	return ctl_usage_error("split", "apps or pid is needed");
}
