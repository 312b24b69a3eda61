/* SPDX-License-Identifier: MIT */
/*
 * vpnctl down: asks vpnd to undo everything up did and to exit, then waits
 * a moment for it to be gone, so that an "up" right after starts afresh.
 */
#include <getopt.h>
#include <stdio.h>

#include "ctl.h"
#include "subcommands.h"

static void down_usage(FILE *f)
{
	fprintf(f,
		"Usage: vpnctl down [-i IFNAME]\n\n"
		"Disconnects: vpnd removes every address, route, rule, firewall\n"
		"table and DNS change that 'vpnctl up' made, and exits.  With\n"
		"the kill switch in lockdown ('vpnctl killswitch'), traffic\n"
		"stays blocked, and vpnd stays to guard the block.\n\n"
		"  -i, --interface IFNAME  the tunnel (default " CTL_IFNAME_DEFAULT
		")\n"
		"  -h, --help              this text\n\n"
		"Exit codes: 0 disconnected, 1 vpnd failed (its message is\n"
		"printed), 2 usage, 3 vpnd is not running or not reachable.\n");
}

static int down_parse(int argc, char **argv, const char **ifname)
{
	static const struct option opts[] = {
		{ "interface", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":i:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			*ifname = optarg;
			break;
		case 'h':
			down_usage(stdout);
			return CTL_EXIT_OK;
		default:
			return ctl_option_error("down", opt, optopt,
						argv[optind - 1]);
		}
	}
	if (optind < argc)
		return ctl_usage_error("down", "unexpected argument '%s'",
				       argv[optind]);
	if (!ctl_ifname_valid(*ifname))
		return ctl_usage_error("down", "invalid interface name '%s'",
				       *ifname);
	return CTL_CONTINUE;
}

int cmd_down(int argc, char **argv)
{
	const char *ifname = CTL_IFNAME_DEFAULT;
	struct ctl_reply r;
	struct ctl_conn c;
	int ret;

	ret = down_parse(argc, argv, &ifname);
	if (ret != CTL_CONTINUE)
		return ret;
	ret = ctl_connect(&c, ifname);
	if (ret)
		return ctl_report_connect(&c, ret);
	ret = ctl_call(&c, "down=1\n\n", CTL_DOWN_TIMEOUT_MS, &r);
	if (ret)
		ret = ctl_report_call(&c, ret);
	else if (r.err)
		ret = ctl_report_reply(&r);
	else
		ctl_wait_closed(&c, CTL_CLOSE_WAIT_MS);
	ctl_reply_free(&r);
	ctl_close(&c);
	if (ret == CTL_EXIT_OK)
		printf("disconnected\n");
	return ret;
}
