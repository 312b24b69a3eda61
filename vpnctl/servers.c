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
#include "subcommands.h"

struct servers_args {
	const char *ifname;
	const char *profile;		/* NULL: ask vpnd first */
	bool json;
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
};
enum { N_COLUMNS = sizeof(columns) / sizeof(*columns) };

static void servers_usage(FILE *f)
{
	fprintf(f,
		"Usage: vpnctl servers [--json] [-c PROFILE] [-i IFNAME]\n\n"
		"Lists the servers 'vpnctl up SERVER' accepts, with country,\n"
		"city and endpoint: the running vpnd's list or, when vpnd is\n"
		"not running or -c is given, the list the profile names (its\n"
		"'servers' key), read directly (that needs read access to the\n"
		"profile: root, as a rule).\n\n"
		"  -j, --json              a JSON array of objects with the keys\n"
		"                          server, country, city, endpoint\n"
		"  -c, --profile PROFILE   the client profile to read (default,\n"
		"                          without vpnd: " CTL_PROFILE_DEFAULT ")\n"
		"  -i, --interface IFNAME  the tunnel (default " CTL_IFNAME_DEFAULT
		")\n"
		"  -h, --help              this text\n\n"
		"Exit codes: 0 listed, 1 vpnd failed or the profile or list\n"
		"cannot be read, 2 usage, 3 vpnd is running but not reachable.\n");
}

static int servers_parse(int argc, char **argv, struct servers_args *a)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "profile", required_argument, NULL, 'c' },
		{ "interface", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":jc:i:h", opts, NULL)) != -1) {
		switch (opt) {
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
		      const size_t width[N_COLUMNS])
{
	const char *v;

	for (size_t i = 0; i < N_COLUMNS; i++) {
		v = ctl_reply_find(r, g->from, g->to, columns[i].key);
		print_cell(v ? v : "", width[i], i + 1 == N_COLUMNS);
	}
}

static void print_table(const struct ctl_reply *r)
{
	size_t width[N_COLUMNS];
	struct servers_group g = { 0, 0 };
	const char *v;

	for (size_t i = 0; i < N_COLUMNS; i++)
		width[i] = strlen(columns[i].title);
	while (group_next(r, g.to, &g)) {
		for (size_t i = 0; i < N_COLUMNS; i++) {
			v = ctl_reply_find(r, g.from, g.to, columns[i].key);
			if (v && ctl_text_width(v) > width[i])
				width[i] = ctl_text_width(v);
		}
	}
	for (size_t i = 0; i < N_COLUMNS; i++)
		print_cell(columns[i].title, width[i], i + 1 == N_COLUMNS);
	g.to = 0;
	while (group_next(r, g.to, &g))
		print_row(r, &g, width);
}

/* "ADDR:PORT" or "[ADDR]:PORT", as the daemon writes endpoints. */
static void format_endpoint(const union conf_endpoint *e, char *buf,
			    size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (e->sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &e->in6.sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(e->in6.sin6_port));
	} else {
		inet_ntop(AF_INET, &e->in4.sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(e->in4.sin_port));
	}
}

/* The list as the reply of servers=1 would hold it. */
static int list_to_reply(const struct conf_servers *s, struct ctl_reply *r)
{
	char endpoint[INET6_ADDRSTRLEN + 16];
	const struct conf_server_entry *e;
	int ret = 0;

	for (size_t i = 0; i < s->n_entry && !ret; i++) {
		e = &s->entry[i];
		format_endpoint(&e->endpoint, endpoint, sizeof(endpoint));
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
static int ask_vpnd(const char *ifname, struct ctl_reply *r, bool *asked)
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
	ret = ctl_call(&c, "servers=1\n\n", CTL_TIMEOUT_MS, r);
	ctl_close(&c);
	if (ret)
		return ctl_report_call(&c, ret);
	if (r->err)
		return ctl_report_reply(r);
	return CTL_EXIT_OK;
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
	if (!a.profile)
		ret = ask_vpnd(a.ifname, &r, &asked);
	if (!asked)
		ret = read_list(a.profile ? a.profile : CTL_PROFILE_DEFAULT,
				&r);
	if (ret == CTL_EXIT_OK && a.json)
		print_json(&r);
	else if (ret == CTL_EXIT_OK)
		print_table(&r);
	ctl_reply_free(&r);
	return ret;
}
