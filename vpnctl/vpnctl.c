/* SPDX-License-Identifier: MIT */
/*
 * vpnctl: a table of subcommands, each in a file of its own.  It only ever
 * talks to vpnd's control socket (and starts vpnd for "up" and a kill switch
 * change; "servers" may read the server list, and "status" the kill
 * switch's state file, when vpnd is not running).  "leaktest" alone sends
 * packets of its own: probes, to see what the kernel lets out.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <vpn/version.h>

#include "ctl.h"
#include "subcommands.h"

struct subcommand {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("vpnctl v%s\n", VPN_VERSION);
	return CTL_EXIT_OK;
}

static const struct subcommand subcommands[] = {
	{ "up", cmd_up, "connect, starting vpnd when it is not running" },
	{ "down", cmd_down, "disconnect and undo what up did" },
	{ "status", cmd_status, "show the state of the connection" },
	{ "servers", cmd_servers, "list the servers, with country and city" },
	{ "killswitch", cmd_killswitch, "show or set the kill switch" },
	{ "leaktest", cmd_leaktest, "probe for leaks around the tunnel" },
	{ "exec", cmd_exec, "run a command outside (or inside) the tunnel" },
	/* Temporary: split.c's "split" takes over, calling split_apps_main()
	 * and split_pid_main() for "apps" and "pid". */
	{ "split", cmd_splitapp, "split tunneling by application" },
	{ "version", cmd_version, "print the version" },
};

static const struct subcommand *find(const char *name)
{
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(*subcommands); i++)
		if (!strcmp(name, subcommands[i].name))
			return &subcommands[i];
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: vpnctl COMMAND [ARGS...]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(*subcommands); i++)
		fprintf(f, "  %-10s %s\n", subcommands[i].name,
			subcommands[i].help);
	fprintf(f, "\n'vpnctl COMMAND --help' (or 'vpnctl help COMMAND') "
		   "describes one.\nExit codes: 0 success, 1 vpnd refused or "
		   "failed (leaktest: a leak), 2 usage,\n3 vpnd not reachable, "
		   "4 up timed out.\n");
}

/* "vpnctl help COMMAND" is "vpnctl COMMAND --help". */
static int help(int argc, char **argv)
{
	const struct subcommand *sub;
	char *args[] = { NULL, "--help", NULL };

	if (argc < 3) {
		usage(stdout);
		return CTL_EXIT_OK;
	}
	sub = find(argv[2]);
	if (!sub) {
		fprintf(stderr, "vpnctl: unknown command '%s'\n", argv[2]);
		usage(stderr);
		return CTL_EXIT_USAGE;
	}
	args[0] = argv[2];
	return sub->fn(2, args);
}

/* Output that did not reach stdout (a full disk, a closed pipe) fails. */
static int finish(int ret)
{
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "vpnctl: cannot write the output: %s\n",
			strerror(errno));
		return ret ? ret : CTL_EXIT_FAILED;
	}
	return ret;
}

int main(int argc, char **argv)
{
	const struct subcommand *sub;

	if (argc < 2) {
		usage(stderr);
		return CTL_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return help(1, argv);
	if (!strcmp(argv[1], "help"))
		return help(argc, argv);
	if (!strcmp(argv[1], "--version"))
		return cmd_version(argc - 1, argv + 1);
	sub = find(argv[1]);
	if (!sub) {
		fprintf(stderr, "vpnctl: unknown command '%s'\n", argv[1]);
		usage(stderr);
		return CTL_EXIT_USAGE;
	}
	return finish(sub->fn(argc - 1, argv + 1));
}
