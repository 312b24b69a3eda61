/* SPDX-License-Identifier: MIT */
/*
 * vpnctl split: split tunneling.  A table of subcommands: "show" (also
 * with no word at all), and "exclude" and "include" with add or del and
 * networks, by network; split tunneling by application adds its own
 * words to the same table.  vpnd owns the routes, the kill switch and the
 * profile, so a change is a request to it (docs/control.md, split=1).
 * Without a daemon, the set shown is the profile's.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../vpnd/conf.h"
#include "../vpnd/splitnet.h"
#include "ctl.h"
#include "json.h"
#include "subcommands.h"

struct split_args {
	const char *ifname;
	const char *profile;
	bool json;
	bool save;
	/* exclude/include: */
	const char *mode;
	const char *action;		/* "add" or "del" */
	char **net;
	int n_net;
};

static const struct json_field split_fields[] = {
	{ "split_mode", JSON_STRING },
	{ "split_net", JSON_ARRAY },
	{ "split_routed", JSON_STRING },
	{ "kill_switch", JSON_STRING },
	{ "kill_switch_scope", JSON_STRING },
	{ "saved", JSON_STRING },
	{ "source", JSON_STRING },
};

static void split_usage(FILE *f)
{
	fprintf(f,
		"Usage: vpnctl split [show] [--json]\n"
		"       vpnctl split exclude add|del CIDR... [--save]\n"
		"       vpnctl split include add|del CIDR... [--save]\n"
		"       vpnctl split apps [--json]\n"
		"       vpnctl split pid add|del PID --bypass|--tunnel\n"
		"       (common: [-c PROFILE] [-i IFNAME])\n\n"
		"Split tunneling by network.  'exclude' networks go outside the\n"
		"tunnel, by the physical link, and the rest through it;\n"
		"'include' networks alone go through the tunnel, and the rest\n"
		"outside.  One mode at a time.  The tunnel's addresses, its\n"
		"resolvers and the servers' endpoints cannot be named: DNS\n"
		"never leaves the tunnel.  The kill switch lets excluded\n"
		"networks out, and in include mode protects only the included\n"
		"ones.\n\n"
		"By application: 'apps' lists the processes vpnd keeps outside\n"
		"(bypass) or inside (tunnel) the tunnel, 'pid' moves one of\n"
		"yours; 'vpnctl exec' starts a command in either group.\n\n"
		"A change applies to the running vpnd at once (routes and\n"
		"firewall in an order that leaks nothing) and is forgotten when\n"
		"it stops, unless --save also writes it to the profile's\n"
		"[split] section, keeping the rest of the file as it is.\n\n"
		"  -s, --save              write the change to the profile too\n"
		"  -j, --json              one JSON object\n"
		"  -c, --profile PROFILE   the profile (default "
		CTL_PROFILE_DEFAULT ")\n"
		"  -i, --interface IFNAME  the tunnel (default " CTL_IFNAME_DEFAULT
		")\n"
		"  -h, --help              this text\n\n"
		"Exit codes: 0 shown or changed, 1 vpnd refused or failed (then\n"
		"nothing changed), 2 usage, 3 vpnd not reachable.\n");
}

static int split_parse(int argc, char **argv, struct split_args *a)
{
	static const struct option opts[] = {
		{ "save", no_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "profile", required_argument, NULL, 'c' },
		{ "interface", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	opterr = 0;
	optind = 0;	/* a fresh scan: argv[0] is the word after "split" */
	/* '+' stops at each word, which is kept in order; options may come
	 * before and after the words. */
	while ((opt = getopt_long(argc, argv, "+:sjc:i:h", opts, NULL)) != -1 ||
	       optind < argc) {
		if (opt == -1) {
			a->net[a->n_net++] = argv[optind++];
			continue;
		}
		switch (opt) {
		case 's':
			a->save = true;
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
			split_usage(stdout);
			return CTL_EXIT_OK;
		default:
			return ctl_option_error("split", opt, optopt,
						argv[optind - 1]);
		}
	}
	if (!ctl_ifname_valid(a->ifname))
		return ctl_usage_error("split", "invalid interface name '%s'",
				       a->ifname);
	if (a->profile && !*a->profile)
		return ctl_usage_error("split", "empty profile path");
	return CTL_CONTINUE;
}

static void split_print(const struct ctl_reply *r)
{
	const char *mode = ctl_reply_get(r, "split_mode");
	const char *scope = ctl_reply_get(r, "kill_switch_scope");
	const char *saved = ctl_reply_get(r, "saved");
	const char *source = ctl_reply_get(r, "source");
	bool any = false;

	printf("%-18s", "split (network):");
	ctl_print_text(stdout, mode ? mode : "?");
	if (mode && !strcmp(mode, "exclude"))
		fputs(" (these go outside the tunnel)", stdout);
	else if (mode && !strcmp(mode, "include"))
		fputs(" (only these go through the tunnel)", stdout);
	else if (mode && !strcmp(mode, "none"))
		fputs(" (everything goes through the tunnel)", stdout);
	putchar('\n');
	for (size_t i = 0; i < r->n_pair; i++) {
		if (strcmp(r->pair[i].key, "split_net"))
			continue;
		printf("%-18s", any ? "" : "networks:");
		ctl_print_text(stdout, r->pair[i].value);
		putchar('\n');
		any = true;
	}
	if (scope) {
		printf("%-18s", "kill switch:");
		ctl_print_text(stdout, scope);
		putchar('\n');
	}
	if (source) {
		printf("%-18s", "source:");
		ctl_print_text(stdout, source);
		putchar('\n');
	}
	if (saved) {
		printf("%-18s", "saved to:");
		ctl_print_text(stdout, saved);
		putchar('\n');
	}
}

void split_print_summary(const struct ctl_reply *r)
{
	const char *mode = ctl_reply_get(r, "split_mode");
	bool first = true;

	if (!mode || !strcmp(mode, "none"))
		return;
	printf("%-18s", "split:");
	ctl_print_text(stdout, mode);
	for (size_t i = 0; i < r->n_pair; i++) {
		if (strcmp(r->pair[i].key, "split_net"))
			continue;
		fputs(first ? " " : ", ", stdout);
		ctl_print_text(stdout, r->pair[i].value);
		first = false;
	}
	putchar('\n');
}

static void output(const struct ctl_reply *r, bool json)
{
	if (json) {
		json_object(stdout, r, 0, r->n_pair, split_fields,
			    sizeof(split_fields) / sizeof(*split_fields));
		putchar('\n');
	} else {
		split_print(r);
	}
}

/* No daemon: the profile's [split], read with vpnd's own reader. */
static int show_from_profile(const struct split_args *a)
{
	const char *path = a->profile ? a->profile : CTL_PROFILE_DEFAULT;
	struct conf_client *c = NULL;
	struct ctl_reply r = { 0 };
	char err[CONF_ERR_LEN], buf[64];
	int ret;

	ret = conf_client_load(path, &c, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "vpnctl: vpnd is not running, and the profile cannot be read: %s\n",
			err);
		return CTL_EXIT_UNREACHABLE;
	}
	ret = ctl_reply_add(&r, "split_mode",
			    splitnet_mode_name(c->split_mode));
	for (unsigned int i = 0; !ret && i < c->n_split; i++)
		ret = ctl_reply_add(&r, "split_net",
				    splitnet_text(&c->split_net[i], buf,
						  sizeof(buf)));
	if (!ret)
		ret = ctl_reply_add(&r, "source",
				    "the profile (vpnd is not running)");
	if (!ret)
		output(&r, a->json);
	else
		fprintf(stderr, "vpnctl: out of memory\n");
	conf_client_free(c);
	ctl_reply_free(&r);
	return ret ? CTL_EXIT_FAILED : CTL_EXIT_OK;
}

static int request(struct ctl_conn *c, const struct split_args *a)
{
	size_t len = 64, used;
	struct ctl_reply r;
	const char *state;
	char *req;
	int ret;

	for (int i = 0; i < a->n_net; i++)
		len += strlen(a->net[i]) + 8;
	req = malloc(len);
	if (!req) {
		fprintf(stderr, "vpnctl: out of memory\n");
		return CTL_EXIT_FAILED;
	}
	used = (size_t)snprintf(req, len, "split=1\n");
	if (a->mode)
		used += (size_t)snprintf(req + used, len - used,
					 "mode=%s\naction=%s\n%s", a->mode,
					 a->action, a->save ? "save=yes\n" : "");
	for (int i = 0; i < a->n_net; i++)
		used += (size_t)snprintf(req + used, len - used, "net=%s\n",
					 a->net[i]);
	snprintf(req + used, len - used, "\n");
	ret = ctl_call(c, req, CTL_DOWN_TIMEOUT_MS, &r);
	free(req);
	if (ret)
		ret = ctl_report_call(c, ret);
	else if (r.err)
		ret = ctl_report_reply(&r);
	else
		output(&r, a->json);
	state = ret ? NULL : ctl_reply_get(&r, "state");
	if (state && !strcmp(state, "disconnected"))
		ctl_wait_closed(c, CTL_CLOSE_WAIT_MS);
	ctl_reply_free(&r);
	return ret;
}

/* The words' arguments: networks and the options, from argv[1] on. */
static int split_args_init(int argc, char **argv, struct split_args *a)
{
	*a = (struct split_args){ .ifname = CTL_IFNAME_DEFAULT };
	a->net = calloc((size_t)argc + 1, sizeof(*a->net));
	if (!a->net) {
		fprintf(stderr, "vpnctl: out of memory\n");
		return CTL_EXIT_FAILED;
	}
	return split_parse(argc, argv, a);
}

/* vpnctl split [show]: the set, its mode and the kill switch's scope. */
static int split_show_main(int argc, char **argv)
{
	struct split_args a;
	struct ctl_conn c;
	int ret;

	ret = split_args_init(argc, argv, &a);
	if (ret != CTL_CONTINUE)
		goto out;
	if (a.n_net) {
		ret = ctl_usage_error("split", "unexpected argument '%s'",
				      a.net[0]);
		goto out;
	}
	if (a.save) {
		ret = ctl_usage_error("split", "--save goes with exclude or include");
		goto out;
	}
	ret = ctl_connect(&c, a.ifname);
	if (ret && ctl_not_running(ret)) {
		ret = show_from_profile(&a);
		goto out;
	}
	if (ret) {
		ret = ctl_report_connect(&c, ret);
		goto out;
	}
	ret = request(&c, &a);
	ctl_close(&c);
out:
	free(a.net);
	return ret;
}

/* exclude|include add|del CIDR...: the networks are vpnd's to check. */
static int split_change(struct split_args *a, const char *mode)
{
	struct ctl_conn c;
	int ret;

	if (!a->n_net || (strcmp(a->net[0], "add") && strcmp(a->net[0], "del")))
		return ctl_usage_error("split", "%s takes add or del, then networks",
				       mode);
	if (a->n_net == 1)
		return ctl_usage_error("split", "%s %s: which networks?", mode,
				       a->net[0]);
	for (int i = 1; i < a->n_net; i++)
		if (strlen(a->net[i]) > 64)
			return ctl_usage_error("split", "'%.64s...' is not a network",
					       a->net[i]);
	a->mode = mode;
	a->action = a->net[0];
	/* A run-time change needs the daemon; only a saved one may start
	 * it (it alone may write the profile). */
	if (a->save) {
		ret = ctl_connect_or_start(&c, a->ifname, a->profile);
		if (ret)
			return ret;
	} else {
		ret = ctl_connect(&c, a->ifname);
		if (ret && ctl_not_running(ret)) {
			fprintf(stderr, "vpnctl: split: vpnd is not running, so there is nothing to change at run time; add --save to change the profile\n");
			return CTL_EXIT_UNREACHABLE;
		}
		if (ret)
			return ctl_report_connect(&c, ret);
	}
	a->net++;
	a->n_net--;
	ret = request(&c, a);
	a->net--;
	ctl_close(&c);
	return ret;
}

static int split_net_main(int argc, char **argv, const char *mode)
{
	struct split_args a;
	int ret;

	ret = split_args_init(argc, argv, &a);
	if (ret == CTL_CONTINUE)
		ret = split_change(&a, mode);
	free(a.net);
	return ret;
}

static int split_exclude_main(int argc, char **argv)
{
	return split_net_main(argc, argv, "exclude");
}

static int split_include_main(int argc, char **argv)
{
	return split_net_main(argc, argv, "include");
}

/* The words of "vpnctl split", each called with itself as argv[0]: by
 * network here, by application ("apps", "pid") in splitapp.c. */
static const struct split_subcommand {
	const char *name;
	int (*fn)(int argc, char **argv);
} split_subcommands[] = {
	{ "show", split_show_main },
	{ "exclude", split_exclude_main },
	{ "include", split_include_main },
	{ "apps", split_apps_main },
	{ "pid", split_pid_main },
};

int cmd_split(int argc, char **argv)
{
	size_t n = sizeof(split_subcommands) / sizeof(*split_subcommands);

	/* No word, or options first: show. */
	if (argc < 2 || argv[1][0] == '-')
		return split_show_main(argc, argv);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(argv[1], split_subcommands[i].name))
			return split_subcommands[i].fn(argc - 1, argv + 1);
	return ctl_usage_error("split", "unknown word '%s' (show, exclude, "
			       "include, apps or pid)", argv[1]);
}
