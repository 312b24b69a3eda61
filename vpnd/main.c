/* SPDX-License-Identifier: MIT */
/*
 * vpnd's command line.  This release carries the protocol core only: the
 * engine, client and server roles arrive with the issues that build them,
 * and until then vpnd says so instead of pretending to run.
 */
#include <stdio.h>
#include <string.h>

#include <vpn/version.h>

#include "crypto.h"

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"Usage: %s [-f/--foreground] INTERFACE-NAME\n"
		"       %s --version | --help\n",
		prog, prog);
}

int main(int argc, char **argv)
{
	const char *prog = argv[0];

	if (argc == 2 && !strcmp(argv[1], "--version")) {
		printf("vpnd v%s\n", VPN_VERSION);
		return 0;
	}
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout, prog);
		return 0;
	}
	if (wg_init()) {
		fprintf(stderr, "%s: cannot initialise libsodium\n", prog);
		return 1;
	}
	usage(stderr, prog);
	fprintf(stderr, "%s: this build has the protocol core only; the "
			"engine is not built yet\n", prog);
	return 1;
}
