/* SPDX-License-Identifier: MIT */
/*
 * vpnctl killswitch: shows the kill switch, or sets its mode (off, on,
 * lockdown) and whether the LAN is allowed.  vpnd owns the firewall and
 * the state file, so a change is a request to it: when no daemon runs, one
 * is started with the profile (as "up" does), which applies the change and
 * then stays only if there is a table to guard.  Shown without a daemon,
 * the kill switch is what its state file says, and the kernel unchecked.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "../vpnd/ksfile.h"
#include "ctl.h"
#include "json.h"
#include "subcommands.h"

struct killswitch_args {
	const char *ifname;
	const char *profile;
	const char *mode;		/* NULL: unchanged */
	const char *allow_lan;		/* NULL: unchanged */
	bool json;
};

static const struct json_field killswitch_fields[] = {
	{ "kill_switch", JSON_STRING },
	{ "allow_lan", JSON_STRING },
	{ "kill_switch_rules", JSON_STRING },
	{ "kill_switch_held", JSON_STRING },
	{ "kill_switch_kernel", JSON_STRING },
	{ "kill_switch_scope", JSON_STRING },
};

static void killswitch_usage(FILE *f)
{
	fprintf(f,
		"Usage: vpnctl killswitch [status | off | on | lockdown]\n"
		"                         [--allow-lan yes|no] [--json]\n"
		"                         [-c PROFILE] [-i IFNAME]\n\n"
		"Without a mode, or with 'status', shows the kill switch: its\n"
		"mode, whether the LAN is allowed, the rules the present state\n"
		"gets (none, block, tunnel), whether a hold from an earlier run\n"
		"still blocks, and whether the kernel holds exactly those rules.\n\n"
		"  off       nothing is blocked\n"
		"  on        nothing leaves outside the tunnel from 'up' until\n"
		"            'down', also while reconnecting or after vpnd dies\n"
		"  lockdown  as on, and also while disconnected, from boot on\n"
		"            (with the vpnd-killswitch unit enabled)\n\n"
		"The setting is kept in $VPND_STATEDIR/killswitch (default\n"
		KSFILE_DIR_DEFAULT "/killswitch) and wins over the profile's\n"
		"kill_switch and allow_lan until the profile changes them.  When\n"
		"vpnd is not running, a change starts it as 'vpnctl up' would.\n\n"
		"  --allow-lan yes|no      let the fixed private ranges through\n"
		"  -j, --json              one JSON object\n"
		"  -c, --profile PROFILE   the profile vpnd starts with (default\n"
		"                          " CTL_PROFILE_DEFAULT ")\n"
		"  -i, --interface IFNAME  the tunnel (default " CTL_IFNAME_DEFAULT
		")\n"
		"  -h, --help              this text\n\n"
		"Exit codes: 0 shown or changed, 1 vpnd refused or failed (the\n"
		"kill switch is then as it was), 2 usage, 3 vpnd not reachable or\n"
		"no permission (changing the kill switch needs root).\n");
}

static int killswitch_parse(int argc, char **argv, struct killswitch_args *a)
{
	static const struct option opts[] = {
		{ "allow-lan", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ "profile", required_argument, NULL, 'c' },
		{ "interface", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	enum killswitch_mode m;
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":jc:i:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			a->allow_lan = optarg;
			break;
		case 'j':
			a->json = true;
			break;
		case 'c':
			a->profile = optarg;
			break;
		case 'i':
			a->ifname = optarg;
			break;
		case 'h':
			killswitch_usage(stdout);
			return CTL_EXIT_OK;
		default:
			return ctl_option_error("killswitch", opt, optopt,
						argv[optind - 1]);
		}
	}
	if (optind < argc && strcmp(argv[optind], "status"))
		a->mode = argv[optind];
	if (optind < argc)
		optind++;
	if (optind < argc)
		return ctl_usage_error("killswitch", "unexpected argument '%s'",
				       argv[optind]);
	if (a->mode && ksfile_mode_parse(a->mode, &m))
		return ctl_usage_error("killswitch", "unknown mode '%s' (off, "
				       "on, lockdown or status)", a->mode);
	if (a->allow_lan && strcmp(a->allow_lan, "yes") &&
	    strcmp(a->allow_lan, "no"))
		return ctl_usage_error("killswitch", "--allow-lan takes yes or "
				       "no, not '%s'", a->allow_lan);
	if (!ctl_ifname_valid(a->ifname))
		return ctl_usage_error("killswitch", "invalid interface name "
				       "'%s'", a->ifname);
	if (a->profile && !*a->profile)
		return ctl_usage_error("killswitch", "empty profile path");
	return CTL_CONTINUE;
}

static void print_value(const struct ctl_reply *r, const char *key,
			const char *fallback)
{
	const char *v = ctl_reply_get(r, key);

	ctl_print_text(stdout, v ? v : fallback);
}

void killswitch_print(const struct ctl_reply *r)
{
	const char *lan = ctl_reply_get(r, "allow_lan");
	const char *held = ctl_reply_get(r, "kill_switch_held");
	const char *rules = ctl_reply_get(r, "kill_switch_rules");

	if (ctl_reply_get(r, "kill_switch")) {
		printf("%-18s", "kill switch:");
		print_value(r, "kill_switch", "?");
		if (lan)
			fputs(!strcmp(lan, "yes") ? ", LAN allowed" :
						    ", LAN blocked",
			      stdout);
		putchar('\n');
	}
	if (!ctl_reply_get(r, "kill_switch_kernel"))
		return;
	printf("%-18s", "firewall:");
	if (rules) {
		print_value(r, "kill_switch_rules", "?");
		if (held && !strcmp(held, "yes"))
			fputs(" (held from an earlier run)", stdout);
		fputs(", kernel ", stdout);
	}
	print_value(r, "kill_switch_kernel", "?");
	putchar('\n');
	if (ctl_reply_get(r, "kill_switch_scope")) {
		printf("%-18s", "protects:");
		print_value(r, "kill_switch_scope", "?");
		putchar('\n');
	}
	split_print_summary(r);
}

static void output(const struct ctl_reply *r, bool json)
{
	if (json) {
		json_object(stdout, r, 0, r->n_pair, killswitch_fields,
			    sizeof(killswitch_fields) /
				    sizeof(*killswitch_fields));
		putchar('\n');
	} else {
		killswitch_print(r);
	}
}

/*
 * No daemon: what the state file says (a reader that may not read it is
 * told so), with the kernel unchecked, since only vpnd reads nftables.
 */
int killswitch_from_file(struct ctl_reply *r)
{
	char err[KSFILE_ERR_LEN];
	struct ksfile f;
	int ret;

	ret = ksfile_load(ksfile_dir(), &f, err, sizeof(err));
	if (ret == -ENOENT)
		return ctl_reply_add(r, "kill_switch_kernel",
				     "unchecked (vpnd is not running; no "
				     "state file)");
	if (ret)
		return ctl_reply_add(r, "kill_switch_kernel",
				     "unchecked (vpnd is not running; state "
				     "file unreadable or corrupt)");
	ret = ctl_reply_add(r, "kill_switch", ksfile_mode_name(f.mode));
	if (!ret)
		ret = ctl_reply_add(r, "allow_lan", f.allow_lan ? "yes" : "no");
	if (!ret)
		ret = ctl_reply_add(r, "kill_switch_kernel",
				    "unchecked (vpnd is not running)");
	return ret;
}

static int show_without_daemon(bool json)
{
	struct ctl_reply r = { 0 };
	int ret;

	ret = killswitch_from_file(&r);
	if (!ret)
		output(&r, json);
	else
		fprintf(stderr, "vpnctl: out of memory\n");
	ctl_reply_free(&r);
	return ret ? CTL_EXIT_FAILED : CTL_EXIT_OK;
}

static int request(struct ctl_conn *c, const struct killswitch_args *a)
{
	char req[96];
	struct ctl_reply r;
	const char *state;
	int ret;

	snprintf(req, sizeof(req), "killswitch=1\n%s%s%s%s%s%s\n",
		 a->mode ? "mode=" : "", a->mode ? a->mode : "",
		 a->mode ? "\n" : "", a->allow_lan ? "allow_lan=" : "",
		 a->allow_lan ? a->allow_lan : "", a->allow_lan ? "\n" : "");
	ret = ctl_call(c, req, CTL_DOWN_TIMEOUT_MS, &r);
	if (ret)
		ret = ctl_report_call(c, ret);
	else if (r.err)
		ret = ctl_report_reply(&r);
	else
		output(&r, a->json);
	/* Disconnected, the daemon closes after its reply, and may exit:
	 * the next vpnctl must not find it half gone. */
	state = ret ? NULL : ctl_reply_get(&r, "state");
	if (state && !strcmp(state, "disconnected"))
		ctl_wait_closed(c, CTL_CLOSE_WAIT_MS);
	ctl_reply_free(&r);
	return ret;
}

int cmd_killswitch(int argc, char **argv)
{
	struct killswitch_args a = { .ifname = CTL_IFNAME_DEFAULT };
	struct ctl_conn c;
	int ret;

	ret = killswitch_parse(argc, argv, &a);
	if (ret != CTL_CONTINUE)
		return ret;
	if (!a.mode && !a.allow_lan) {
		ret = ctl_connect(&c, a.ifname);
		if (ret && ctl_not_running(ret))
			return show_without_daemon(a.json);
		if (ret)
			return ctl_report_connect(&c, ret);
	} else {
		ret = ctl_connect_or_start(&c, a.ifname, a.profile);
		if (ret)
			return ret;
	}
	ret = request(&c, &a);
	ctl_close(&c);
	return ret;
}
