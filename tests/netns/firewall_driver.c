/* SPDX-License-Identifier: MIT */
/*
 * One vpnd/firewall.c operation per invocation, for test_firewall.sh, which
 * runs it inside a namespace and judges the result with nft(8).  Exit
 * status: 0 done, 1 the operation failed (firewall_strerror on stderr),
 * 2 bad usage.  "exists" exits 0 or 3 for yes or no, so that the shell
 * can test it without parsing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "firewall.h"
#include "netlink.h"

enum { EXIT_USAGE = 2, EXIT_NO = 3 };

static const char usage[] =
	"usage: firewall_driver OP ARGS...\n"
	"  nat-up TUNNEL EGRESS PREFIX... [peer-to-peer]\n"
	"  nat-down TUNNEL | nat-table TUNNEL\n"
	"  apply FILE|-\n"
	"  exists FAMILY TABLE | delete FAMILY TABLE | table FAMILY TABLE\n"
	"  ruleset\n";

static void die_usage(const char *why)
{
	fprintf(stderr, "firewall_driver: %s\n%s", why, usage);
	exit(EXIT_USAGE);
}

static enum firewall_family family_of(const char *name)
{
	static const char *const names[] = {
		[FIREWALL_INET] = "inet", [FIREWALL_IP] = "ip",
		[FIREWALL_IP6] = "ip6", [FIREWALL_ARP] = "arp",
		[FIREWALL_BRIDGE] = "bridge", [FIREWALL_NETDEV] = "netdev",
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(*names); i++)
		if (!strcmp(name, names[i]))
			return (enum firewall_family)i;
	die_usage("unknown family");
	return FIREWALL_INET;
}

/* The whole of a file, or of stdin for "-", NUL-terminated. */
static char *slurp(const char *path)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	size_t len = 0, cap = 4096, n;
	char *buf, *grown;

	if (!f)
		return NULL;
	buf = malloc(cap);
	while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len > 1)
			continue;
		cap *= 2;
		grown = realloc(buf, cap);
		if (!grown)
			free(buf);
		buf = grown;
	}
	if (buf)
		buf[len] = '\0';
	if (f != stdin)
		fclose(f);
	return buf;
}

static int op_nat_up(struct firewall *fw, int argc, char **argv)
{
	struct netlink_prefix p[FIREWALL_NAT_PREFIX_MAX];
	struct firewall_nat n = { 0 };
	int i;

	if (argc < 3)
		die_usage("nat-up needs TUNNEL EGRESS PREFIX...");
	n.tunnel = argv[0];
	n.egress = argv[1];
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "peer-to-peer")) {
			n.peer_to_peer = true;
			continue;
		}
		if (n.n_prefixes == FIREWALL_NAT_PREFIX_MAX)
			die_usage("too many prefixes");
		if (netlink_prefix_parse(argv[i], &p[n.n_prefixes]))
			die_usage("bad prefix");
		n.n_prefixes++;
	}
	n.prefixes = p;
	return firewall_nat_up(fw, &n);
}

static int op_apply(struct firewall *fw, const char *path)
{
	char *text = slurp(path);
	int ret;

	if (!text) {
		perror("firewall_driver: reading the ruleset");
		exit(1);
	}
	ret = firewall_apply(fw, text);
	free(text);
	return ret;
}

static int op_exists(struct firewall *fw, const char *family, const char *name)
{
	bool exists;
	int ret;

	ret = firewall_table_exists(fw, family_of(family), name, &exists);
	if (ret)
		return ret;
	printf("%s\n", exists ? "yes" : "no");
	return exists ? 0 : EXIT_NO;
}

/* Prints a table, or the whole ruleset when name is NULL, exactly as the
 * module listed it. */
static int op_list(struct firewall *fw, const char *family, const char *name)
{
	char *text;
	int ret;

	if (name)
		ret = firewall_table_text(fw, family_of(family), name, &text);
	else
		ret = firewall_ruleset_text(fw, &text);
	if (!ret)
		fputs(text, stdout);
	free(text);
	return ret;
}

static int op_nat_table(const char *tunnel)
{
	char name[FIREWALL_TABLE_NAME_MAX];

	if (firewall_nat_table_name(tunnel, name, sizeof(name)))
		die_usage("bad tunnel name");
	printf("%s\n", name);
	return 0;
}

static int run(struct firewall *fw, const char *op, int argc, char **argv)
{
	if (!strcmp(op, "nat-up"))
		return op_nat_up(fw, argc, argv);
	if (!strcmp(op, "nat-down") && argc == 1)
		return firewall_nat_down(fw, argv[0]);
	if (!strcmp(op, "nat-table") && argc == 1)
		return op_nat_table(argv[0]);
	if (!strcmp(op, "apply") && argc == 1)
		return op_apply(fw, argv[0]);
	if (!strcmp(op, "exists") && argc == 2)
		return op_exists(fw, argv[0], argv[1]);
	if (!strcmp(op, "delete") && argc == 2)
		return firewall_table_delete(fw, family_of(argv[0]), argv[1]);
	if (!strcmp(op, "table") && argc == 2)
		return op_list(fw, argv[0], argv[1]);
	if (!strcmp(op, "ruleset") && argc == 0)
		return op_list(fw, NULL, NULL);
	die_usage("unknown operation or wrong arguments");
	return 0;
}

int main(int argc, char **argv)
{
	struct firewall *fw;
	int ret;

	if (argc < 2)
		die_usage("no operation");
	ret = firewall_open(&fw);
	if (ret) {
		fprintf(stderr, "firewall_driver: opening nftables: %s\n",
			strerror(-ret));
		return 1;
	}
	ret = run(fw, argv[1], argc - 2, argv + 2);
	if (ret < 0)
		fprintf(stderr, "firewall_driver: %s [errno %d]\n",
			firewall_strerror(fw), -ret);
	firewall_close(fw);
	return ret < 0 ? 1 : ret;
}
