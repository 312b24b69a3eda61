/* SPDX-License-Identifier: MIT */
/*
 * vpnctl exec --bypass|--tunnel -- CMD [ARGS...]: runs CMD as the calling
 * user, with the caller's environment, outside the tunnel (--bypass) or
 * inside it whatever split tunneling leaves out (--tunnel).  vpnctl asks
 * vpnd to move vpnctl's own process into the group's cgroup (vpnd checks
 * with SO_PEERCRED who is asking, and moves only that process), then
 * becomes CMD: CMD and all its descendants are born in the cgroup.
 * Nothing privileged happens here; a member of the vpnd group may run it.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "subcommands.h"

/* As env(1) and the shells: found but could not run, or not found. */
enum {
	EXEC_EXIT_CANNOT = 126,
	EXEC_EXIT_NOT_FOUND = 127,
};

struct exec_args {
	const char *ifname;
	const char *group;		/* "bypass" or "tunnel" */
	char **cmd;			/* argv of CMD, NULL-terminated */
};

static void exec_usage(FILE *f)
{
	fprintf(f,
		"Usage: vpnctl exec --bypass|--tunnel [-i IFNAME] -- CMD "
		"[ARGS...]\n\n"
		"Runs CMD as you, with your environment, so that it and every\n"
		"process it starts send:\n\n"
		"  -b, --bypass            outside the tunnel, through the\n"
		"                          host's own routes and resolvers, also\n"
		"                          with the kill switch on or the tunnel\n"
		"                          down\n"
		"  -t, --tunnel            through the tunnel only, even where\n"
		"                          split tunneling (include) leaves the\n"
		"                          rest outside\n"
		"  -i, --interface IFNAME  the tunnel (default " CTL_IFNAME_DEFAULT
		")\n"
		"  -h, --help              this text\n\n"
		"vpnd must be running (vpnctl up).  'vpnctl split apps' lists\n"
		"what runs in each group.\n\n"
		"Exit codes: CMD's own once it runs; before that 1 vpnd refused\n"
		"(nothing changed), 2 usage, 3 vpnd not reachable, 126 CMD\n"
		"cannot be run, 127 CMD not found.\n");
}

static int exec_parse(int argc, char **argv, struct exec_args *a)
{
	int opt, ret;

	opterr = 0;
	/* '+': the first word that is not an option is CMD, whose own
	 * options are its own. */
	while ((opt = getopt_long(argc, argv, "+:bti:h", split_group_opts,
				  NULL)) != -1) {
		switch (opt) {
		case 'b':
		case 't':
			ret = split_group_option("exec", opt, &a->group);
			if (ret != CTL_CONTINUE)
				return ret;
			break;
		case 'i':
			a->ifname = optarg;
			break;
		case 'h':
			exec_usage(stdout);
			return CTL_EXIT_OK;
		default:
			return ctl_option_error("exec", opt, optopt,
						argv[optind - 1]);
		}
	}
	if (!a->group)
		return ctl_usage_error("exec", "--bypass or --tunnel is needed");
	if (optind >= argc)
		return ctl_usage_error("exec", "no command given");
	if (!ctl_ifname_valid(a->ifname))
		return ctl_usage_error("exec", "invalid interface name '%s'",
				       a->ifname);
	a->cmd = &argv[optind];
	return CTL_CONTINUE;
}

static bool runnable(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISREG(st.st_mode) && !access(path, X_OK);
}

/*
 * CMD as execvp() would find it, before anything changes, so that a
 * missing command is an error with nothing moved.  0, or the exit code
 * with the message printed.
 */
static int resolve(const char *cmd, char *out, size_t len)
{
	const char *path = getenv("PATH"), *p, *colon;
	int n;

	if (!*cmd) {
		fprintf(stderr, "vpnctl: exec: empty command\n");
		return EXEC_EXIT_NOT_FOUND;
	}
	if (strchr(cmd, '/')) {
		n = snprintf(out, len, "%s", cmd);
		if (n < 0 || (size_t)n >= len || access(cmd, F_OK)) {
			fprintf(stderr, "vpnctl: exec: %s: no such file\n",
				cmd);
			return EXEC_EXIT_NOT_FOUND;
		}
		if (!runnable(cmd)) {
			fprintf(stderr, "vpnctl: exec: %s: not an executable "
				"file\n", cmd);
			return EXEC_EXIT_CANNOT;
		}
		return 0;
	}
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; ; p = colon + 1) {
		colon = strchr(p, ':');
		if (!colon)
			colon = p + strlen(p);
		/* An empty element is the current directory. */
		n = colon == p ? snprintf(out, len, "./%s", cmd) :
				 snprintf(out, len, "%.*s/%s", (int)(colon - p),
					  p, cmd);
		if (n > 0 && (size_t)n < len && runnable(out))
			return 0;
		if (!*colon)
			break;
	}
	fprintf(stderr, "vpnctl: exec: %s: command not found\n", cmd);
	return EXEC_EXIT_NOT_FOUND;
}

/* Asks vpnd to move this very process into the group. */
static int move_self(const struct exec_args *a)
{
	char req[64];
	struct ctl_reply r;
	struct ctl_conn c;
	int ret;

	ret = ctl_connect(&c, a->ifname);
	if (ret)
		return ctl_report_connect(&c, ret);
	snprintf(req, sizeof(req), "exec=1\ngroup=%s\n\n", a->group);
	ret = ctl_call(&c, req, CTL_TIMEOUT_MS, &r);
	if (ret)
		ret = ctl_report_call(&c, ret);
	else if (r.err)
		ret = ctl_report_reply(&r);
	ctl_reply_free(&r);
	ctl_close(&c);
	return ret;
}

int cmd_exec(int argc, char **argv)
{
	struct exec_args a = { .ifname = CTL_IFNAME_DEFAULT };
	char path[PATH_MAX];
	int ret;

	ret = exec_parse(argc, argv, &a);
	if (ret != CTL_CONTINUE)
		return ret;
	ret = resolve(a.cmd[0], path, sizeof(path));
	if (ret)
		return ret;
	ret = move_self(&a);
	if (ret)
		return ret;
	fflush(stdout);
	execv(path, a.cmd);
	ret = errno;
	fprintf(stderr, "vpnctl: exec: %s: %s\n", a.cmd[0], strerror(ret));
	return ret == ENOENT ? EXEC_EXIT_NOT_FOUND : EXEC_EXIT_CANNOT;
}
