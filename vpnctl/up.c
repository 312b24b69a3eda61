/* SPDX-License-Identifier: MIT */
/*
 * vpnctl up: connects, starting vpnd first when it is not running, and
 * returns once the first handshake has completed, or with exit code 4 once
 * vpnd gives up waiting for it.  Starting vpnd is start.c's.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "subcommands.h"

struct up_args {
	const char *ifname;
	const char *profile;		/* NULL: the default profile */
	const char *server;		/* NULL: the profile's server */
	bool fastest;			/* --fastest */
	const char *country, *city;	/* --country, --city */
};

static void up_usage(FILE *f)
{
	fprintf(f,
		"Usage: vpnctl up [SERVER | --fastest | --country CC | --city NAME]\n"
		"                 [-c PROFILE] [-i IFNAME]\n\n"
		"Connects to SERVER (default: the profile's 'server'), or\n"
		"switches to it when already up, and returns once the first\n"
		"handshake has completed.  --fastest probes every server of the\n"
		"list and takes the one with the shortest handshake round trip;\n"
		"--country and --city do so among the servers of a country or a\n"
		"city (case does not matter).  A server chosen so is replaced by\n"
		"the next best when it stops answering (the profile's\n"
		"failover_after); a SERVER named is never replaced.  When vpnd is not running it is\n"
		"started first as 'vpnd -c PROFILE IFNAME' ($VPND, else the vpnd\n"
		"beside vpnctl, else vpnd on PATH).\n\n"
		"  -f, --fastest           the fastest server of the list\n"
		"      --country CC        the fastest server of country CC\n"
		"      --city NAME         the fastest server of city NAME\n"
		"  -c, --profile PROFILE   the client profile vpnd starts with\n"
		"                          (default " CTL_PROFILE_DEFAULT ")\n"
		"  -i, --interface IFNAME  the tunnel (default " CTL_IFNAME_DEFAULT
		")\n"
		"  -h, --help              this text\n\n"
		"Exit codes: 0 connected, 1 vpnd refused, failed or could not\n"
		"start (its message is printed), 2 usage, 3 vpnd not reachable,\n"
		"4 no handshake in time (VPND_UP_TIMEOUT seconds, default 10):\n"
		"vpnd keeps trying until 'vpnctl down'.\n");
}

static int up_parse(int argc, char **argv, struct up_args *a)
{
	static const struct option opts[] = {
		{ "profile", required_argument, NULL, 'c' },
		{ "interface", required_argument, NULL, 'i' },
		{ "fastest", no_argument, NULL, 'f' },
		{ "country", required_argument, NULL, 'C' },
		{ "city", required_argument, NULL, 'Y' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:i:fh", opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			a->fastest = true;
			break;
		case 'C':
			a->country = optarg;
			break;
		case 'Y':
			a->city = optarg;
			break;
		case 'c':
			a->profile = optarg;
			break;
		case 'i':
			a->ifname = optarg;
			break;
		case 'h':
			up_usage(stdout);
			return CTL_EXIT_OK;
		default:
			return ctl_option_error("up", opt, optopt,
						argv[optind - 1]);
		}
	}
	if (optind < argc)
		a->server = argv[optind++];
	if (optind < argc)
		return ctl_usage_error("up", "unexpected argument '%s'",
				       argv[optind]);
	if (!ctl_ifname_valid(a->ifname))
		return ctl_usage_error("up", "invalid interface name '%s'",
				       a->ifname);
	if (a->server && !ctl_server_id_valid(a->server))
		return ctl_usage_error("up", "invalid server id '%s' (letters, "
				       "digits, - _ . and at most %d)",
				       a->server, CTL_SERVER_ID_MAX);
	if (a->profile && !*a->profile)
		return ctl_usage_error("up", "empty profile path");
	if ((a->server != NULL) + a->fastest + (a->country != NULL) +
	    (a->city != NULL) > 1)
		return ctl_usage_error("up", "SERVER, --fastest, --country and "
				       "--city choose the server: give one");
	if (a->country && (strlen(a->country) != 2 ||
			   !ctl_server_id_valid(a->country)))
		return ctl_usage_error("up", "--country: '%s' is not a "
				       "two-letter code", a->country);
	if (a->city && (!*a->city || strlen(a->city) > CTL_SERVER_ID_MAX ||
			strchr(a->city, '\n')))
		return ctl_usage_error("up", "--city: a name of 1 to %d bytes",
				       CTL_SERVER_ID_MAX);
	return CTL_CONTINUE;
}

/*
 * How long to wait for the reply: the daemon's own bound, VPND_UP_TIMEOUT
 * (seconds, as the daemon we start inherits it), and a margin for it to
 * answer after that.
 */
static int up_timeout_ms(void)
{
	const char *env = getenv("VPND_UP_TIMEOUT");
	double secs;
	char *end;

	if (env && *env) {
		secs = strtod(env, &end);
		if (!*end && secs > 0 && secs <= 3600)
			return (int)(secs * 1000) + CTL_UP_MARGIN_MS;
	}
	return CTL_UP_TIMEOUT_MS + CTL_UP_MARGIN_MS;
}

static void print_addresses(const struct ctl_reply *r)
{
	bool first = true;

	for (size_t i = 0; i < r->n_pair; i++) {
		if (strcmp(r->pair[i].key, "address"))
			continue;
		fputs(first ? "; addresses " : ", ", stdout);
		ctl_print_text(stdout, r->pair[i].value);
		first = false;
	}
}

/* "se-sto-01 (192.0.2.1:51820)", or as much of it as is known. */
static void print_server(FILE *f, const struct ctl_reply *r,
			 const char *asked)
{
	const char *server = ctl_reply_get(r, "server");
	const char *endpoint = ctl_reply_get(r, "endpoint");

	if (!server)
		server = asked ? asked : "the profile's server";
	ctl_print_text(f, server);
	if (endpoint) {
		fputs(" (", f);
		ctl_print_text(f, endpoint);
		fputc(')', f);
	}
}

static void up_print(const struct ctl_reply *r, const char *asked)
{
	const char *elapsed = ctl_reply_get(r, "elapsed_ms");
	unsigned long long ms;

	fputs("connected to ", stdout);
	print_server(stdout, r, asked);
	if (elapsed && ctl_parse_u64(elapsed, &ms))
		printf(" in %.2f s", (double)ms / 1000);
	print_addresses(r);
	putchar('\n');
}

static int up_timed_out(const struct ctl_reply *r, const char *asked,
			bool replied)
{
	if (replied) {
		fputs("vpnctl: timed out waiting for the first handshake with ",
		      stderr);
		print_server(stderr, r, asked);
		if (r->message && *r->message) {
			fputs(": ", stderr);
			ctl_print_text(stderr, r->message);
		}
		fputc('\n', stderr);
	} else {
		fprintf(stderr, "vpnctl: vpnd did not answer within %d s\n",
			up_timeout_ms() / 1000);
	}
	fprintf(stderr, "vpnctl: the tunnel stays configured and vpnd keeps "
			"trying: 'vpnctl status' shows when it connects, "
			"'vpnctl down' gives up\n");
	return CTL_EXIT_TIMEOUT;
}

static int up_request(struct ctl_conn *c, const struct up_args *a)
{
	char req[32 + CTL_SERVER_ID_MAX];
	struct ctl_reply r;
	int ret;

	if (a->server)
		snprintf(req, sizeof(req), "up=1\nserver=%s\n\n", a->server);
	else if (a->fastest)
		snprintf(req, sizeof(req), "up=1\nselect=fastest\n\n");
	else if (a->country)
		snprintf(req, sizeof(req), "up=1\nselect=country:%s\n\n",
			 a->country);
	else if (a->city)
		snprintf(req, sizeof(req), "up=1\nselect=city:%s\n\n",
			 a->city);
	else
		snprintf(req, sizeof(req), "up=1\n\n");
	/* A choice adds a probe (at most 30 s) before the handshake. */
	ret = ctl_call(c, req, up_timeout_ms() +
				       (a->fastest || a->country || a->city ?
						CTL_PROBE_MAX_MS : 0), &r);
	if (ret == -ETIMEDOUT)
		ret = up_timed_out(&r, a->server, false);
	else if (ret)
		ret = ctl_report_call(c, ret);
	else if (r.err == -ETIMEDOUT)
		ret = up_timed_out(&r, a->server, true);
	else if (r.err)
		ret = ctl_report_reply(&r);
	else
		up_print(&r, a->server);
	ctl_reply_free(&r);
	return ret;
}

int cmd_up(int argc, char **argv)
{
	struct up_args a = { .ifname = CTL_IFNAME_DEFAULT };
	struct ctl_conn c;
	int ret;

	ret = up_parse(argc, argv, &a);
	if (ret != CTL_CONTINUE)
		return ret;
	ret = ctl_connect_or_start(&c, a.ifname, a.profile);
	if (ret)
		return ret;
	ret = up_request(&c, &a);
	ctl_close(&c);
	return ret;
}
