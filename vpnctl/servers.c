/* SPDX-License-Identifier: MIT */
/*
 * vpnctl servers: the server list, with country, city and endpoint, as a
 * table or as a JSON array.  It comes from the running vpnd; when vpnd is
 * not running, or a profile is named with -c, it is read from the
 * profile's server list with vpnd's own reader (vpnd/conf.c), so that
 * both agree on every file.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../vpnd/conf.h"
#include "ctl.h"
#include "json.h"
#include "probe.h"
#include "subcommands.h"

struct servers_args {
	const char *ifname;
	const char *profile;		/* NULL: ask vpnd first */
	bool json;
	bool probe;
	const char *country, *city;	/* --probe's selection */
	unsigned int timeout_ms;	/* 0: the profile's probe_timeout_ms */
};

/* A group of the reply: the pairs [from, to), starting at server=. */
struct servers_group {
	size_t from, to;
};

static const struct json_field server_fields[] = {
	{ "server", JSON_STRING },
	{ "country", JSON_STRING },
	{ "city", JSON_STRING },
	{ "endpoint", JSON_STRING },
};

static const struct {
	const char *key;
	const char *title;
} columns[] = {
	{ "server", "SERVER" },
	{ "country", "COUNTRY" },
	{ "city", "CITY" },
	{ "endpoint", "ENDPOINT" },
	{ "rtt", "RTT" },		/* --probe only */
};
enum { N_COLUMNS = sizeof(columns) / sizeof(*columns) };

static void servers_usage(FILE *f)
{
	fprintf(f,
		"Usage: vpnctl servers [--json] [-c PROFILE] [-i IFNAME]\n"
		"       vpnctl servers --probe [--country CC] [--city NAME]\n"
		"                      [--timeout MS] [--json] [-c PROFILE] [-i IFNAME]\n"
		"       vpnctl servers keygen -k SECRET_KEY_FILE\n"
		"       vpnctl servers sign -k SECRET_KEY_FILE LIST\n\n"
		"Lists the servers 'vpnctl up SERVER' accepts, with country,\n"
		"city and endpoint: the running vpnd's list or, when vpnd is\n"
		"not running or -c is given, the list the profile names (its\n"
		"'servers' key), read directly (that needs read access to the\n"
		"profile: root, as a rule).\n\n"
		"  -p, --probe             send each server a handshake initiation\n"
		"                          with the profile's key, all at once, and\n"
		"                          list them by round trip, best first; no\n"
		"                          answer in the timeout is 'unreachable'\n"
		"      --country CC        --probe: only the servers of country CC\n"
		"      --city NAME         --probe: only those of city NAME (case\n"
		"                          does not matter)\n"
		"      --timeout MS        --probe: wait this long for answers\n"
		"                          (default: the profile's probe_timeout_ms,\n"
		"                          2000)\n"
		"  -j, --json              a JSON array of objects with the keys\n"
		"                          server, country, city, endpoint; with\n"
		"                          --probe: id, country, city, endpoint,\n"
		"                          rtt_ms (null: unreachable)\n"
		"  -c, --profile PROFILE   the client profile to read (default,\n"
		"                          without vpnd: " CTL_PROFILE_DEFAULT ")\n"
		"  -i, --interface IFNAME  the tunnel (default " CTL_IFNAME_DEFAULT
		")\n"
		"  -h, --help              this text\n\n"
		"keygen and sign are the provider's, for signed lists: see\n"
		"'vpnctl servers sign --help'.\n\n"
		"Exit codes: 0 listed, 1 vpnd failed or the profile or list\n"
		"cannot be read, 2 usage, 3 vpnd is running but not reachable.\n");
}

static int servers_parse(int argc, char **argv, struct servers_args *a)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "probe", no_argument, NULL, 'p' },
		{ "country", required_argument, NULL, 'C' },
		{ "city", required_argument, NULL, 'Y' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "profile", required_argument, NULL, 'c' },
		{ "interface", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long v;
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":jpc:i:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			a->json = true;
			break;
		case 'p':
			a->probe = true;
			break;
		case 'C':
			a->country = optarg;
			break;
		case 'Y':
			a->city = optarg;
			break;
		case 'T':
			if (!ctl_parse_u64(optarg, &v) ||
			    v < CONF_PROBE_TIMEOUT_MIN ||
			    v > CONF_PROBE_TIMEOUT_MAX)
				return ctl_usage_error("servers",
					"--timeout: '%s' is not %d to %d ms",
					optarg, CONF_PROBE_TIMEOUT_MIN,
					CONF_PROBE_TIMEOUT_MAX);
			a->timeout_ms = (unsigned int)v;
			break;
		case 'c':
			a->profile = optarg;
			break;
		case 'i':
			a->ifname = optarg;
			break;
		case 'h':
			servers_usage(stdout);
			return CTL_EXIT_OK;
		default:
			return ctl_option_error("servers", opt, optopt,
						argv[optind - 1]);
		}
	}
	if (optind < argc)
		return ctl_usage_error("servers", "unexpected argument '%s'",
				       argv[optind]);
	if (!ctl_ifname_valid(a->ifname))
		return ctl_usage_error("servers", "invalid interface name '%s'",
				       a->ifname);
	if (a->profile && !*a->profile)
		return ctl_usage_error("servers", "empty profile path");
	if (!a->probe && (a->country || a->city || a->timeout_ms))
		return ctl_usage_error("servers",
				       "--country, --city and --timeout go with --probe");
	if (a->country && a->city)
		return ctl_usage_error("servers",
				       "--country and --city: give one");
	if (a->country && (strlen(a->country) != 2 ||
			   !ctl_server_id_valid(a->country)))
		return ctl_usage_error("servers",
				       "--country: '%s' is not a two-letter code",
				       a->country);
	if (a->city && (!*a->city || strlen(a->city) > CONF_NAME_MAX ||
			strchr(a->city, '\n')))
		return ctl_usage_error("servers",
				       "--city: a name of 1 to %d bytes",
				       CONF_NAME_MAX);
	return CTL_CONTINUE;
}

/* The group starting at or after @from; false when there is none. */
static bool group_next(const struct ctl_reply *r, size_t from,
		       struct servers_group *g)
{
	while (from < r->n_pair && strcmp(r->pair[from].key, "server"))
		from++;
	if (from >= r->n_pair)
		return false;
	g->from = from;
	g->to = from + 1;
	while (g->to < r->n_pair && strcmp(r->pair[g->to].key, "server"))
		g->to++;
	return true;
}

static void print_json(const struct ctl_reply *r)
{
	struct servers_group g = { 0, 0 };
	bool first = true;

	putchar('[');
	while (group_next(r, g.to, &g)) {
		if (!first)
			putchar(',');
		json_object(stdout, r, g.from, g.to, server_fields,
			    sizeof(server_fields) / sizeof(*server_fields));
		first = false;
	}
	puts("]");
}

static void print_cell(const char *s, size_t width, bool last)
{
	ctl_print_text(stdout, s);
	if (last) {
		putchar('\n');
		return;
	}
	for (size_t w = ctl_text_width(s); w < width + 2; w++)
		putchar(' ');
}

static void print_row(const struct ctl_reply *r, const struct servers_group *g,
		      const size_t width[N_COLUMNS], size_t n)
{
	const char *v;

	for (size_t i = 0; i < n; i++) {
		v = ctl_reply_find(r, g->from, g->to, columns[i].key);
		print_cell(v ? v : "", width[i], i + 1 == n);
	}
}

/* The first @n columns, a header line and one row per server. */
static void print_table(const struct ctl_reply *r, size_t n)
{
	size_t width[N_COLUMNS];
	struct servers_group g = { 0, 0 };
	const char *v;

	for (size_t i = 0; i < n; i++)
		width[i] = strlen(columns[i].title);
	while (group_next(r, g.to, &g)) {
		for (size_t i = 0; i < n; i++) {
			v = ctl_reply_find(r, g.from, g.to, columns[i].key);
			if (v && ctl_text_width(v) > width[i])
				width[i] = ctl_text_width(v);
		}
	}
	for (size_t i = 0; i < n; i++)
		print_cell(columns[i].title, width[i], i + 1 == n);
	g.to = 0;
	while (group_next(r, g.to, &g))
		print_row(r, &g, width, n);
}

/* rtt_us as milliseconds, "unreachable" without it, and "(connected)"
 * for the server in use, which the daemon does not probe. */
static void rtt_text(const struct ctl_reply *r, const struct servers_group *g,
		     char *buf, size_t len, bool json)
{
	const char *v = ctl_reply_find(r, g->from, g->to, "rtt_us");
	const char *conn = ctl_reply_find(r, g->from, g->to, "connected");
	unsigned long long us;

	if (v && ctl_parse_u64(v, &us))
		snprintf(buf, len, json ? "%llu.%03llu" : "%llu.%llu ms",
			 us / 1000, json ? us % 1000 : us % 1000 / 100);
	else
		snprintf(buf, len, json ? "null" : "unreachable");
	if (!json && conn && !strcmp(conn, "yes"))
		snprintf(buf + strlen(buf), len - strlen(buf), " (connected)");
}

/* The probe's table: the reply with an "rtt" pair added to each group. */
static int print_probe_table(const struct ctl_reply *r)
{
	struct ctl_reply t = { 0 };
	struct servers_group g = { 0, 0 };
	char rtt[64];
	int ret = 0;

	while (!ret && group_next(r, g.to, &g)) {
		for (size_t i = g.from; i < g.to && !ret; i++)
			ret = ctl_reply_add(&t, r->pair[i].key,
					    r->pair[i].value);
		rtt_text(r, &g, rtt, sizeof(rtt), false);
		if (!ret)
			ret = ctl_reply_add(&t, "rtt", rtt);
	}
	if (!ret)
		print_table(&t, N_COLUMNS);
	ctl_reply_free(&t);
	return ret;
}

static void member(const char *key, const char *value, bool first)
{
	if (!first)
		putchar(',');
	json_string(stdout, key);
	putchar(':');
	json_string(stdout, value ? value : "");
}

/* [{"id":...,"country":...,"city":...,"endpoint":...,"rtt_ms":5.123}] */
static void print_probe_json(const struct ctl_reply *r)
{
	struct servers_group g = { 0, 0 };
	const char *conn;
	bool first = true;
	char rtt[64];

	putchar('[');
	while (group_next(r, g.to, &g)) {
		printf("%s{", first ? "" : ",");
		first = false;
		member("id", ctl_reply_find(r, g.from, g.to, "server"), true);
		member("country", ctl_reply_find(r, g.from, g.to, "country"),
		       false);
		member("city", ctl_reply_find(r, g.from, g.to, "city"), false);
		member("endpoint",
		       ctl_reply_find(r, g.from, g.to, "endpoint"), false);
		rtt_text(r, &g, rtt, sizeof(rtt), true);
		printf(",\"rtt_ms\":%s", rtt);
		conn = ctl_reply_find(r, g.from, g.to, "connected");
		if (conn && !strcmp(conn, "yes"))
			printf(",\"connected\":true");
		putchar('}');
	}
	puts("]");
}

/* The list as the reply of servers=1 would hold it. */
static int list_to_reply(const struct conf_servers *s, struct ctl_reply *r)
{
	char endpoint[INET6_ADDRSTRLEN + 16];
	const struct conf_server_entry *e;
	int ret = 0;

	for (size_t i = 0; i < s->n_entry && !ret; i++) {
		e = &s->entry[i];
		probe_endpoint_text(&e->endpoint, endpoint, sizeof(endpoint));
		ret = ctl_reply_add(r, "server", e->id);
		if (!ret && e->country[0])
			ret = ctl_reply_add(r, "country", e->country);
		if (!ret && e->city && e->city[0])
			ret = ctl_reply_add(r, "city", e->city);
		if (!ret)
			ret = ctl_reply_add(r, "endpoint", endpoint);
	}
	return ret;
}

static int conf_failed(const char *path, int err, const char *msg)
{
	fprintf(stderr, "vpnctl: %s\n", msg);
	if (err == -EACCES && geteuid())
		fprintf(stderr, "vpnctl: %s is for root only; while vpnd "
				"runs, 'vpnctl servers' without -c asks it\n",
			path);
	return CTL_EXIT_FAILED;
}

/* Reads the profile's server list into @r, as vpnd would read it. */
static int read_list(const char *profile, struct ctl_reply *r)
{
	char err[CONF_ERR_LEN] = "";
	struct conf_client *client = NULL;
	struct conf_servers *list = NULL;
	int ret;

	ret = conf_client_load(profile, &client, err, sizeof(err));
	if (ret)
		return conf_failed(profile, ret, err);
	ret = conf_servers_load_for(client, &list, err, sizeof(err));
	if (ret) {
		ret = conf_failed(client->servers_path, ret, err);
		conf_client_free(client);
		return ret;
	}
	conf_client_free(client);
	ret = list_to_reply(list, r);
	conf_servers_free(list);
	if (ret) {
		fprintf(stderr, "vpnctl: %s\n", strerror(-ret));
		return CTL_EXIT_FAILED;
	}
	return CTL_EXIT_OK;
}

/* Asks vpnd; *asked is false when it is not running. */
static int ask_vpnd(const char *ifname, const char *request, int timeout_ms,
		    struct ctl_reply *r, bool *asked)
{
	struct ctl_conn c;
	int ret;

	*asked = false;
	ret = ctl_connect(&c, ifname);
	if (ret && ctl_not_running(ret))
		return CTL_EXIT_OK;
	*asked = true;
	if (ret)
		return ctl_report_connect(&c, ret);
	ret = ctl_call(&c, request, timeout_ms, r);
	ctl_close(&c);
	if (ret)
		return ctl_report_call(&c, ret);
	if (r->err)
		return ctl_report_reply(r);
	return CTL_EXIT_OK;
}

/* probe=1 with the selection and timeout given. */
static void probe_request(const struct servers_args *a, char *buf, size_t len)
{
	size_t n = (size_t)snprintf(buf, len, "probe=1\n");

	if (a->country)
		n += (size_t)snprintf(buf + n, len - n, "country=%s\n",
				      a->country);
	if (a->city)
		n += (size_t)snprintf(buf + n, len - n, "city=%s\n", a->city);
	if (a->timeout_ms)
		n += (size_t)snprintf(buf + n, len - n, "timeout_ms=%u\n",
				      a->timeout_ms);
	snprintf(buf + n, len - n, "\n");
}

static int probe(const struct servers_args *a, struct ctl_reply *r)
{
	enum conf_select kind = a->country ? CONF_SELECT_COUNTRY :
				a->city ? CONF_SELECT_CITY :
					  CONF_SELECT_FASTEST;
	char request[256];
	bool asked = false;
	int ret = CTL_EXIT_OK;

	if (!a->profile) {
		probe_request(a, request, sizeof(request));
		ret = ask_vpnd(a->ifname, request,
			       CTL_TIMEOUT_MS + CONF_PROBE_TIMEOUT_MAX, r,
			       &asked);
	}
	if (!asked)
		ret = probe_locally(a->profile ? a->profile :
						 CTL_PROFILE_DEFAULT,
				    kind, a->country ? a->country : a->city,
				    a->timeout_ms, r);
	if (ret == CTL_EXIT_OK && a->json)
		print_probe_json(r);
	else if (ret == CTL_EXIT_OK && print_probe_table(r))
		ret = CTL_EXIT_FAILED;
	return ret;
}

int cmd_servers(int argc, char **argv)
{
	struct servers_args a = { .ifname = CTL_IFNAME_DEFAULT };
	struct ctl_reply r = { 0 };
	bool asked = false;
	int ret;

	if (argc > 1 && !strcmp(argv[1], "keygen"))
		return cmd_servers_keygen(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "sign"))
		return cmd_servers_sign(argc - 1, argv + 1);
	ret = servers_parse(argc, argv, &a);
	if (ret != CTL_CONTINUE)
		return ret;
	if (a.probe) {
		ret = probe(&a, &r);
		ctl_reply_free(&r);
		return ret;
	}
	if (!a.profile)
		ret = ask_vpnd(a.ifname, "servers=1\n\n", CTL_TIMEOUT_MS, &r,
			       &asked);
	if (!asked)
		ret = read_list(a.profile ? a.profile : CTL_PROFILE_DEFAULT,
				&r);
	if (ret == CTL_EXIT_OK && a.json)
		print_json(&r);
	else if (ret == CTL_EXIT_OK)
		print_table(&r, N_COLUMNS - 1);
	ctl_reply_free(&r);
	return ret;
}
