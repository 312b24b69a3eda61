/* SPDX-License-Identifier: MIT */
/*
 * vpnd's door to nftables, through libnftables.  This file owns the
 * context and its captured output, the one primitive that changes the
 * kernel (a buffer applied as one transaction), the text builder that
 * keeps names and addresses from outside out of the nft language, table
 * queries and listings, and the server's NAT table.  firewall.h explains
 * the NAT policy and why replacing a table is atomic.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "firewall.h"
#include "firewall_nft.h"

struct firewall {
	struct firewall_nft lib;	/* libnftables, opened with us */
	struct nft_ctx *nft;
	char err[FIREWALL_ERR_LEN];	/* what firewall_strerror() says */
};

static const char *const family_names[] = {
	[FIREWALL_INET] = "inet",
	[FIREWALL_IP] = "ip",
	[FIREWALL_IP6] = "ip6",
	[FIREWALL_ARP] = "arp",
	[FIREWALL_BRIDGE] = "bridge",
	[FIREWALL_NETDEV] = "netdev",
};

/* ------------------------------------------------------------ plumbing */

static int fw_fail(struct firewall *fw, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Records "what: why" and hands the error back, so that every failure
 * path is one line: return fw_fail(...). */
static int fw_fail(struct firewall *fw, int err, const char *fmt, ...)
{
	char what[FIREWALL_ERR_LEN / 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(fw->err, sizeof(fw->err), "%s: %s", what, strerror(-err));
	return err;
}

static const char *family_name(enum firewall_family family)
{
	if ((unsigned int)family >= sizeof(family_names) / sizeof(*family_names))
		return NULL;
	return family_names[family];
}

int firewall_open(struct firewall **fwp)
{
	struct firewall *fw;
	char why[FIREWALL_ERR_LEN];
	int ret;

	*fwp = NULL;
	fw = calloc(1, sizeof(*fw));
	if (!fw)
		return -ENOMEM;
	ret = firewall_nft_open(&fw->lib, why, sizeof(why));
	if (ret) {
		fprintf(stderr, "vpnd: %s\n", why);
		free(fw);
		return ret;
	}
	fw->nft = fw->lib.ctx_new(NFT_CTX_DEFAULT);
	if (!fw->nft) {
		free(fw);
		return -ENOMEM;
	}
	/* Buffered, so that listings come back to us and errors become
	 * firewall_strerror() rather than lines on the daemon's stderr. */
	if (fw->lib.ctx_buffer_output(fw->nft) || fw->lib.ctx_buffer_error(fw->nft)) {
		firewall_close(fw);
		return -ENOMEM;
	}
	/* Counter values change with traffic; listings are compared. */
	fw->lib.ctx_output_set_flags(fw->nft, NFT_CTX_OUTPUT_STATELESS);
	*fwp = fw;
	return 0;
}

void firewall_close(struct firewall *fw)
{
	if (!fw)
		return;
	if (fw->nft)
		fw->lib.ctx_free(fw->nft);
	free(fw);
}

const char *firewall_strerror(const struct firewall *fw)
{
	return fw->err[0] ? fw->err : "no error";
}

/*
 * The errno of a failed run.  libnftables returns only -1; when the
 * kernel refused the batch, errno is the kernel's and the message quotes
 * strerror() of it.  Otherwise errno is whatever a library call left
 * behind, and the failure is nftables rejecting the text: -EINVAL.
 */
static int run_errno(int saved_errno, const char *msg)
{
	if (saved_errno > 0 && saved_errno != EAGAIN &&
	    strstr(msg, strerror(saved_errno)))
		return -saved_errno;
	return -EINVAL;
}

/*
 * Copies the first message of nftables' error output into fw->err: the
 * "Error: ..." line without its prefix, and the command it points at,
 * which is the next line.  The caret line after that is left out.  When
 * the kernel refused the batch ("Could not process rule"), nftables 1.0.6
 * quotes the first line of a multi-line buffer whatever command failed,
 * so the quote would mislead and is left out too.
 */
static void record_nft_error(struct firewall *fw, int err, const char *what,
			     const char *msg)
{
	const char *line = msg, *end, *cmd, *cmd_end;

	/* Messages about the netlink conversation come as "netlink: Error:". */
	if (!strncmp(line, "netlink: ", 9))
		line += 9;
	if (!strncmp(line, "Error: ", 7))
		line += 7;
	end = strchrnul(line, '\n');
	if (!*line || end == line) {
		fw_fail(fw, err, "%s", what);
		return;
	}
	cmd = *end ? end + 1 : end;
	if (!strncmp(line, "Could not process rule", 22))
		cmd = end;
	cmd_end = strchrnul(cmd, '\n');
	while (cmd < cmd_end && (*cmd == ' ' || *cmd == '\t'))
		cmd++;
	if (cmd < cmd_end)
		snprintf(fw->err, sizeof(fw->err), "%s: %.*s (in \"%.*s\")",
			 what, (int)(end - line), line,
			 (int)(cmd_end - cmd), cmd);
	else
		snprintf(fw->err, sizeof(fw->err), "%s: %.*s", what,
			 (int)(end - line), line);
}

/*
 * Runs one buffer of commands.  On success *out (if wanted) points at
 * what nftables printed, valid until the next run on fw.  Both captured
 * streams are read after every run, which also empties them, so one
 * run's output never leaks into the next one's.
 */
static int fw_run(struct firewall *fw, const char *cmds, const char *what,
		  const char **out)
{
	const char *output, *errors;
	int ret, saved;

	errno = 0;
	ret = fw->lib.run_cmd_from_buffer(fw->nft, cmds);
	saved = errno;
	output = fw->lib.ctx_get_output_buffer(fw->nft);
	errors = fw->lib.ctx_get_error_buffer(fw->nft);
	if (ret) {
		ret = run_errno(saved, errors ? errors : "");
		record_nft_error(fw, ret, what, errors ? errors : "");
		return ret;
	}
	if (out)
		*out = output ? output : "";
	return 0;
}

/* --------------------------------------------------------------- text */

static void text_fail(struct firewall_text *t, int err, const char *why)
{
	if (t->err)
		return;
	t->err = err;
	snprintf(t->why, sizeof(t->why), "%s", why);
}

static void text_vadd(struct firewall_text *t, const char *fmt, va_list ap)
{
	va_list again;
	size_t need;
	char *buf;
	int n;

	if (t->err)
		return;
	va_copy(again, ap);
	n = vsnprintf(NULL, 0, fmt, again);
	va_end(again);
	if (n < 0) {
		text_fail(t, -EINVAL, "unformattable ruleset text");
		return;
	}
	need = t->len + (size_t)n + 1;
	if (need > FIREWALL_TEXT_MAX) {
		text_fail(t, -E2BIG, "ruleset text too long");
		return;
	}
	if (need > t->cap) {
		size_t cap = t->cap ? t->cap : 1024;

		while (cap < need)
			cap *= 2;
		buf = realloc(t->buf, cap);
		if (!buf) {
			text_fail(t, -ENOMEM, "out of memory for ruleset text");
			return;
		}
		t->buf = buf;
		t->cap = cap;
	}
	vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
	t->len += (size_t)n;
}

void firewall_text_add(struct firewall_text *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	text_vadd(t, fmt, ap);
	va_end(ap);
}

void firewall_text_free(struct firewall_text *t)
{
	free(t->buf);
	memset(t, 0, sizeof(*t));
}

const char *firewall_text_str(const struct firewall_text *t)
{
	return t->buf ? t->buf : "";
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

/* Only characters that mean nothing to nft, inside quotes or out: no
 * quote, brace, semicolon, space, '*' (a wildcard in names), '\\', '$'. */
static bool name_chars_valid(const char *name, size_t max)
{
	size_t i;

	for (i = 0; name[i]; i++)
		if (i >= max || !name_char(name[i]))
			return false;
	return i > 0;
}

bool firewall_ifname_valid(const char *name)
{
	return name && name_chars_valid(name, IFNAMSIZ - 1);
}

bool firewall_table_name_valid(const char *name)
{
	/* Anything else first would scan as a number or an operator. */
	if (!name || !((name[0] >= 'a' && name[0] <= 'z') ||
		       (name[0] >= 'A' && name[0] <= 'Z') || name[0] == '_'))
		return false;
	return name_chars_valid(name, FIREWALL_TABLE_NAME_MAX - 1);
}

void firewall_text_ifname(struct firewall_text *t, const char *name)
{
	if (!firewall_ifname_valid(name)) {
		text_fail(t, -EINVAL, "invalid interface name");
		return;
	}
	firewall_text_add(t, "\"%s\"", name);
}

static unsigned int family_bits(int family)
{
	if (family == AF_INET)
		return 32;
	if (family == AF_INET6)
		return 128;
	return 0;
}

/* Clears the bits after the first len.  nft would too, but the text
 * applied should say what the kernel will list: the configured address
 * is usually the server's own, 10.64.0.1/24, and the rule is about the
 * network, 10.64.0.0/24. */
static void mask_prefix(union netlink_inaddr *a, unsigned int len,
			unsigned int bits)
{
	unsigned int i;

	for (i = 0; i < bits / 8; i++) {
		if (len >= 8 * (i + 1))
			continue;
		if (len <= 8 * i)
			a->bytes[i] = 0;
		else
			a->bytes[i] &= (uint8_t)(0xff << (8 - (len - 8 * i)));
	}
}

void firewall_text_prefix(struct firewall_text *t,
			  const struct netlink_prefix *p)
{
	unsigned int bits = family_bits(p->family);
	char addr[INET6_ADDRSTRLEN];
	union netlink_inaddr a;

	if (!bits || p->len > bits) {
		text_fail(t, -EINVAL, "invalid address or prefix");
		return;
	}
	a = p->addr;
	mask_prefix(&a, p->len, bits);
	if (!inet_ntop(p->family, &a, addr, sizeof(addr))) {
		text_fail(t, -EINVAL, "invalid address or prefix");
		return;
	}
	if (p->len == bits)
		firewall_text_add(t, "%s", addr);
	else
		firewall_text_add(t, "%s/%u", addr, p->len);
}

/* ---------------------------------------------------------- the kernel */

int firewall_apply(struct firewall *fw, const char *ruleset_text)
{
	return fw_run(fw, ruleset_text, "applying ruleset", NULL);
}

int firewall_apply_text(struct firewall *fw, const struct firewall_text *t)
{
	if (t->err)
		return fw_fail(fw, t->err, "refusing ruleset: %s", t->why);
	return firewall_apply(fw, firewall_text_str(t));
}

/* Validates a family and a table name together, as every table
 * operation must before a name goes into a command. */
static int check_table(struct firewall *fw, enum firewall_family family,
		       const char *name, const char **fname)
{
	*fname = family_name(family);
	if (!*fname)
		return fw_fail(fw, -EINVAL, "unknown table family %d",
			       (int)family);
	if (!firewall_table_name_valid(name))
		return fw_fail(fw, -EINVAL, "invalid table name");
	return 0;
}

static const char *next_line(const char *s)
{
	s = strchrnul(s, '\n');
	return *s ? s + 1 : s;
}

/* Finds the line "table FAMILY NAME" in the output of "list tables". */
static bool has_table_line(const char *list, const char *fname,
			   const char *name)
{
	size_t flen = strlen(fname), nlen = strlen(name);
	const char *l;

	for (l = list; *l; l = next_line(l))
		if (!strncmp(l, "table ", 6) && !strncmp(l + 6, fname, flen) &&
		    l[6 + flen] == ' ' && !strncmp(l + 7 + flen, name, nlen) &&
		    (l[7 + flen + nlen] == '\n' || !l[7 + flen + nlen]))
			return true;
	return false;
}

int firewall_table_exists(struct firewall *fw, enum firewall_family family,
			  const char *name, bool *exists)
{
	char cmd[32 + FIREWALL_TABLE_NAME_MAX];
	const char *fname, *out;
	int ret;

	*exists = false;
	ret = check_table(fw, family, name, &fname);
	if (ret)
		return ret;
	/* Listing the table by name would fail for a missing one just as
	 * for a real error; the list of tables tells them apart. */
	snprintf(cmd, sizeof(cmd), "list tables %s", fname);
	ret = fw_run(fw, cmd, "listing tables", &out);
	if (ret)
		return ret;
	*exists = has_table_line(out, fname, name);
	return 0;
}

int firewall_table_delete(struct firewall *fw, enum firewall_family family,
			  const char *name)
{
	char cmd[64 + 2 * FIREWALL_TABLE_NAME_MAX], what[96];
	const char *fname;
	int ret;

	ret = check_table(fw, family, name, &fname);
	if (ret)
		return ret;
	/* Adding it first makes the delete succeed whether or not it was
	 * there, in the same transaction, so nothing is ever in between. */
	snprintf(cmd, sizeof(cmd), "add table %s %s\ndelete table %s %s\n",
		 fname, name, fname, name);
	snprintf(what, sizeof(what), "deleting table %s %s", fname, name);
	return fw_run(fw, cmd, what, NULL);
}

int firewall_table_replace(struct firewall *fw, enum firewall_family family,
			   const char *name, const struct firewall_text *body)
{
	struct firewall_text t = FIREWALL_TEXT_INIT;
	const char *fname;
	char what[96];
	int ret;

	ret = check_table(fw, family, name, &fname);
	if (ret)
		return ret;
	if (body->err)
		return fw_fail(fw, body->err, "refusing table %s %s: %s",
			       fname, name, body->why);
	firewall_text_add(&t, "add table %s %s\ndelete table %s %s\n",
			  fname, name, fname, name);
	firewall_text_add(&t, "table %s %s {\n%s}\n", fname, name,
			  firewall_text_str(body));
	if (t.err)
		ret = fw_fail(fw, t.err, "building table %s %s: %s", fname,
			      name, t.why);
	else {
		snprintf(what, sizeof(what), "replacing table %s %s", fname,
			 name);
		ret = fw_run(fw, firewall_text_str(&t), what, NULL);
	}
	firewall_text_free(&t);
	return ret;
}

static int list_into(struct firewall *fw, const char *cmd, const char *what,
		     char **text)
{
	const char *out;
	int ret;

	*text = NULL;
	ret = fw_run(fw, cmd, what, &out);
	if (ret)
		return ret;
	*text = strdup(out);
	if (!*text)
		return fw_fail(fw, -ENOMEM, "%s", what);
	return 0;
}

int firewall_table_text(struct firewall *fw, enum firewall_family family,
			const char *name, char **text)
{
	char cmd[32 + FIREWALL_TABLE_NAME_MAX], what[96];
	const char *fname;
	bool exists;
	int ret;

	*text = NULL;
	ret = check_table(fw, family, name, &fname);
	if (ret)
		return ret;
	snprintf(cmd, sizeof(cmd), "list table %s %s", fname, name);
	snprintf(what, sizeof(what), "listing table %s %s", fname, name);
	ret = list_into(fw, cmd, what, text);
	/* nftables finds a missing table in its cache, not the kernel, and
	 * leaves no errno behind: the list of tables says which it was. */
	if (ret && !firewall_table_exists(fw, family, name, &exists) &&
	    !exists)
		return fw_fail(fw, -ENOENT, "%s", what);
	return ret;
}

int firewall_ruleset_text(struct firewall *fw, char **text)
{
	return list_into(fw, "list ruleset", "listing the ruleset", text);
}

/* ----------------------------------------------------------------- NAT */

int firewall_nat_table_name(const char *tunnel, char *name, size_t size)
{
	int n;

	if (!firewall_ifname_valid(tunnel))
		return -EINVAL;
	n = snprintf(name, size, "%s%s", FIREWALL_NAT_TABLE_PREFIX, tunnel);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

static int nat_check(struct firewall *fw, const struct firewall_nat *n)
{
	unsigned int bits;
	size_t i;

	if (!firewall_ifname_valid(n->tunnel))
		return fw_fail(fw, -EINVAL, "invalid tunnel interface name");
	if (!firewall_ifname_valid(n->egress))
		return fw_fail(fw, -EINVAL, "invalid egress interface name");
	if (!strcmp(n->tunnel, n->egress))
		return fw_fail(fw, -EINVAL,
			       "NAT egress %s is the tunnel itself", n->egress);
	if (!n->n_prefixes || n->n_prefixes > FIREWALL_NAT_PREFIX_MAX)
		return fw_fail(fw, -EINVAL, "NAT for %s needs 1 to %d prefixes",
			       n->tunnel, FIREWALL_NAT_PREFIX_MAX);
	for (i = 0; i < n->n_prefixes; i++) {
		bits = family_bits(n->prefixes[i].family);
		/* A /0 would masquerade everything leaving the egress. */
		if (!bits || !n->prefixes[i].len || n->prefixes[i].len > bits)
			return fw_fail(fw, -EINVAL,
				       "NAT prefix %zu of %s is invalid", i + 1,
				       n->tunnel);
	}
	return 0;
}

static const char *prefix_kw(const struct netlink_prefix *p)
{
	return p->family == AF_INET ? "ip" : "ip6";
}

static void nat_postrouting(struct firewall_text *t,
			    const struct firewall_nat *n)
{
	size_t i;

	firewall_text_add(t, "\tchain postrouting {\n"
			  "\t\ttype nat hook postrouting priority srcnat; "
			  "policy accept;\n");
	for (i = 0; i < n->n_prefixes; i++) {
		firewall_text_add(t, "\t\toifname ");
		firewall_text_ifname(t, n->egress);
		firewall_text_add(t, " %s saddr ", prefix_kw(&n->prefixes[i]));
		firewall_text_prefix(t, &n->prefixes[i]);
		firewall_text_add(t, " masquerade\n");
	}
	firewall_text_add(t, "\t}\n");
}

/* "\t\tiifname "A" oifname "B"" with either side left out when NULL. */
static void nat_match(struct firewall_text *t, const char *in,
		      const char *out)
{
	firewall_text_add(t, "\t\t");
	if (in) {
		firewall_text_add(t, "iifname ");
		firewall_text_ifname(t, in);
		firewall_text_add(t, out ? " " : "");
	}
	if (out) {
		firewall_text_add(t, "oifname ");
		firewall_text_ifname(t, out);
	}
}

static void nat_forward(struct firewall_text *t, const struct firewall_nat *n)
{
	size_t i;

	firewall_text_add(t, "\tchain forward {\n"
			  "\t\ttype filter hook forward priority filter; "
			  "policy accept;\n");
	for (i = 0; i < n->n_prefixes; i++) {
		nat_match(t, n->tunnel, n->egress);
		firewall_text_add(t, " %s saddr ", prefix_kw(&n->prefixes[i]));
		firewall_text_prefix(t, &n->prefixes[i]);
		firewall_text_add(t, " accept\n");
	}
	nat_match(t, n->egress, n->tunnel);
	firewall_text_add(t, " ct state established,related accept\n");
	if (n->peer_to_peer) {
		nat_match(t, n->tunnel, n->tunnel);
		firewall_text_add(t, " accept\n");
	}
	/* Everything else into or out of the tunnel: other clients, the
	 * server's other networks, connections opened from outside. */
	nat_match(t, n->tunnel, NULL);
	firewall_text_add(t, " drop\n");
	nat_match(t, NULL, n->tunnel);
	firewall_text_add(t, " drop\n");
	firewall_text_add(t, "\t}\n");
}

int firewall_nat_up(struct firewall *fw, const struct firewall_nat *n)
{
	struct firewall_text body = FIREWALL_TEXT_INIT;
	char table[FIREWALL_TABLE_NAME_MAX];
	int ret;

	ret = nat_check(fw, n);
	if (ret)
		return ret;
	ret = firewall_nat_table_name(n->tunnel, table, sizeof(table));
	if (ret)
		return fw_fail(fw, ret, "naming the NAT table of %s", n->tunnel);
	nat_postrouting(&body, n);
	nat_forward(&body, n);
	ret = firewall_table_replace(fw, FIREWALL_INET, table, &body);
	firewall_text_free(&body);
	return ret;
}

int firewall_nat_down(struct firewall *fw, const char *tunnel)
{
	char table[FIREWALL_TABLE_NAME_MAX];
	int ret;

	if (!firewall_ifname_valid(tunnel))
		return fw_fail(fw, -EINVAL, "invalid tunnel interface name");
	ret = firewall_nat_table_name(tunnel, table, sizeof(table));
	if (ret)
		return fw_fail(fw, ret, "naming the NAT table of %s", tunnel);
	return firewall_table_delete(fw, FIREWALL_INET, table);
}
