/* SPDX-License-Identifier: MIT */
/*
 * vpnctl: a table of subcommands, each in a file of its own once it exists.
 * It only ever talks to vpnd's control socket.
 */
#include <stdio.h>
#include <string.h>

#include <vpn/version.h>

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
	return 0;
}

static const struct subcommand subcommands[] = {
	{ "version", cmd_version, "print the version" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: vpnctl COMMAND [ARGS...]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(*subcommands); i++)
		fprintf(f, "  %-10s %s\n", subcommands[i].name,
			subcommands[i].help);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version"))
		return cmd_version(argc - 1, argv + 1);
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(*subcommands); i++)
		if (!strcmp(argv[1], subcommands[i].name))
			return subcommands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "vpnctl: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
