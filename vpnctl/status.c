/* SPDX-License-Identifier: MIT */
/*
 * vpnctl status: the state of the connection, for a person (aligned lines,
 * bytes and times made readable) or for a program (--json: one object).
 * A daemon that is not running is a state, "disconnected", not an error.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "json.h"
#include "subcommands.h"

struct status_args {
	const char *ifname;
	bool json;
};

static const struct json_field status_fields[] = {
	{ "interface", JSON_STRING },
	{ "state", JSON_STRING },
	{ "server", JSON_STRING },
	{ "endpoint", JSON_STRING },
	{ "selection", JSON_STRING },
	{ "failovers", JSON_NUMBER },
	{ "network", JSON_STRING },
	{ "dns_method", JSON_STRING },
	{ "last_failover_reason", JSON_STRING },
	{ "last_failover_time", JSON_NUMBER },
	{ "address", JSON_ARRAY },
	{ "latest_handshake", JSON_NUMBER },
	{ "rx_bytes", JSON_NUMBER },
	{ "tx_bytes", JSON_NUMBER },
	{ "kill_switch", JSON_STRING },
	{ "allow_lan", JSON_STRING },
	{ "kill_switch_rules", JSON_STRING },
	{ "kill_switch_held", JSON_STRING },
	{ "kill_switch_kernel", JSON_STRING },
	{ "kill_switch_scope", JSON_STRING },
	{ "split_mode", JSON_STRING },
	{ "split_net", JSON_ARRAY },
	{ "error", JSON_STRING },
};

static void status_usage(FILE *f)
{
	fprintf(f,
		"Usage: vpnctl status [--json] [-i IFNAME]\n\n"
		"Shows the state (disconnected, connecting, connected, error),\n"
		"the server and its endpoint, the tunnel addresses, the latest\n"
		"handshake, the bytes each way and the kill switch (its mode,\n"
		"the rules the state gets and whether the kernel holds exactly\n"
		"those), what it protects in words (all traffic, all but the\n"
		"excluded networks, or only the included ones), and split\n"
		"tunneling by network.  When vpnd is not running, the state is disconnected\n"
		"and the kill switch is what its state file says.\n\n"
		"  -j, --json              one JSON object, keys as the control\n"
		"                          protocol's (address is an array)\n"
		"  -i, --interface IFNAME  the tunnel (default " CTL_IFNAME_DEFAULT
		")\n"
		"  -h, --help              this text\n\n"
		"Exit codes: 0 the state was shown (disconnected included),\n"
		"1 vpnd failed, 2 usage, 3 vpnd is running but not reachable.\n");
}

static int status_parse(int argc, char **argv, struct status_args *a)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "interface", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":ji:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			a->json = true;
			break;
		case 'i':
			a->ifname = optarg;
			break;
		case 'h':
			status_usage(stdout);
			return CTL_EXIT_OK;
		default:
			return ctl_option_error("status", opt, optopt,
						argv[optind - 1]);
		}
	}
	if (optind < argc)
		return ctl_usage_error("status", "unexpected argument '%s'",
				       argv[optind]);
	if (!ctl_ifname_valid(a->ifname))
		return ctl_usage_error("status", "invalid interface name '%s'",
				       a->ifname);
	return CTL_CONTINUE;
}

/* As wg(8) shows sizes: B, then KiB to TiB with two decimals. */
static void print_bytes(const char *value)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	unsigned long long n;
	double v;
	size_t u = 0;

	if (!ctl_parse_u64(value, &n)) {
		fputs("?", stdout);
		return;
	}
	if (n < 1024) {
		printf("%llu B", n);
		return;
	}
	v = (double)n / 1024;
	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(*units)) {
		v /= 1024;
		u++;
	}
	printf("%.2f %s", v, units[u]);
}

/* "1 hour, 2 minutes, 3 seconds ago", "never", as wg(8) does. */
static void print_ago(const char *value)
{
	static const struct {
		const char *name;
		unsigned long long secs;
	} units[] = {
		{ "day", 86400 }, { "hour", 3600 }, { "minute", 60 },
		{ "second", 1 },
	};
	unsigned long long t, now = (unsigned long long)time(NULL), left, n;
	bool first = true;

	if (!ctl_parse_u64(value, &t)) {
		fputs("?", stdout);
		return;
	}
	if (!t) {
		fputs("never", stdout);
		return;
	}
	left = now > t ? now - t : 0;
	for (size_t i = 0; i < sizeof(units) / sizeof(*units); i++) {
		n = left / units[i].secs;
		left %= units[i].secs;
		/* Seconds are shown when nothing else is ("0 seconds ago"). */
		if (!n && !(first && units[i].secs == 1))
			continue;
		printf("%s%llu %s%s", first ? "" : ", ", n, units[i].name,
		       n == 1 ? "" : "s");
		first = false;
	}
	fputs(" ago", stdout);
}

static void print_label(const char *label)
{
	printf("%-18s", label);
}

static void print_line(const struct ctl_reply *r, const char *key,
		       const char *label)
{
	const char *v = ctl_reply_get(r, key);

	if (!v)
		return;
	print_label(label);
	ctl_print_text(stdout, v);
	putchar('\n');
}

static void print_addresses(const struct ctl_reply *r)
{
	bool first = true;

	for (size_t i = 0; i < r->n_pair; i++) {
		if (strcmp(r->pair[i].key, "address"))
			continue;
		if (first)
			print_label("addresses:");
		else
			fputs(", ", stdout);
		ctl_print_text(stdout, r->pair[i].value);
		first = false;
	}
	if (!first)
		putchar('\n');
}

static void print_transfer(const struct ctl_reply *r)
{
	const char *rx = ctl_reply_get(r, "rx_bytes");
	const char *tx = ctl_reply_get(r, "tx_bytes");

	if (!rx || !tx)
		return;
	print_label("transfer:");
	print_bytes(rx);
	fputs(" received, ", stdout);
	print_bytes(tx);
	fputs(" sent\n", stdout);
}

/* "2, the last 12 seconds ago: REASON", or "0". */
static void print_failovers(const struct ctl_reply *r)
{
	const char *n = ctl_reply_get(r, "failovers");
	const char *when = ctl_reply_get(r, "last_failover_time");
	const char *why = ctl_reply_get(r, "last_failover_reason");

	if (!n)
		return;
	print_label("failovers:");
	ctl_print_text(stdout, n);
	if (when && why) {
		fputs(", the last ", stdout);
		print_ago(when);
		fputs(": ", stdout);
		ctl_print_text(stdout, why);
	}
	putchar('\n');
}

static void status_print(const struct ctl_reply *r)
{
	const char *hs = ctl_reply_get(r, "latest_handshake");

	print_line(r, "interface", "interface:");
	print_line(r, "state", "state:");
	print_line(r, "error", "error:");
	print_line(r, "server", "server:");
	print_line(r, "endpoint", "endpoint:");
	print_line(r, "selection", "selection:");
	print_line(r, "network", "network:");
	print_line(r, "dns_method", "dns:");
	print_failovers(r);
	print_addresses(r);
	if (hs) {
		print_label("latest handshake:");
		print_ago(hs);
		putchar('\n');
	}
	print_transfer(r);
	killswitch_print(r);
}

static void status_output(const struct ctl_reply *r, bool json)
{
	if (json) {
		json_object(stdout, r, 0, r->n_pair, status_fields,
			    sizeof(status_fields) / sizeof(*status_fields));
		putchar('\n');
	} else {
		status_print(r);
	}
}

/* No daemon: the reply it would give, had it nothing to do. */
static int status_not_running(const char *ifname, bool json)
{
	struct ctl_reply r = { 0 };
	int ret;

	ret = ctl_reply_add(&r, "interface", ifname);
	if (!ret)
		ret = ctl_reply_add(&r, "state", "disconnected");
	if (!ret)
		ret = killswitch_from_file(&r);
	if (!ret)
		status_output(&r, json);
	else
		fprintf(stderr, "vpnctl: out of memory\n");
	ctl_reply_free(&r);
	return ret ? CTL_EXIT_FAILED : CTL_EXIT_OK;
}

int cmd_status(int argc, char **argv)
{
	struct status_args a = { .ifname = CTL_IFNAME_DEFAULT };
	struct ctl_reply r;
	struct ctl_conn c;
	int ret;

	ret = status_parse(argc, argv, &a);
	if (ret != CTL_CONTINUE)
		return ret;
	ret = ctl_connect(&c, a.ifname);
	if (ret && ctl_not_running(ret))
		return status_not_running(a.ifname, a.json);
	if (ret)
		return ctl_report_connect(&c, ret);
	ret = ctl_call(&c, "status=1\n\n", CTL_TIMEOUT_MS, &r);
	ctl_close(&c);
	if (ret)
		ret = ctl_report_call(&c, ret);
	else if (r.err)
		ret = ctl_report_reply(&r);
	else
		status_output(&r, a.json);
	ctl_reply_free(&r);
	return ret;
}
