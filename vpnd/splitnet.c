// SPDX-License-Identifier: MIT
/*
 * Split tunneling by network: the set of excepted networks, its checks,
 * and the profile rewrite of --save.  Pure; see splitnet.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "splitnet.h"

/* As netlink.h's NETLINK_INSIDE_IPV6_LEN, which this module cannot
 * include: the server's side of an IPv6 tunnel lives in its /64. */
#define SPLITNET_INSIDE_IPV6_LEN 64

const char *splitnet_mode_name(enum conf_split mode)
{
	switch (mode) {
	case CONF_SPLIT_EXCLUDE:
		return "exclude";
	case CONF_SPLIT_INCLUDE:
		return "include";
	default:
		return "none";
	}
}

bool splitnet_mode_parse(const char *text, enum conf_split *mode)
{
	if (!strcmp(text, "exclude"))
		*mode = CONF_SPLIT_EXCLUDE;
	else if (!strcmp(text, "include"))
		*mode = CONF_SPLIT_INCLUDE;
	else
		return false;
	return true;
}

const char *splitnet_parse(const char *s, size_t len, struct conf_prefix *p)
{
	const char *why = conf_prefix_parse(p, s, len);

	if (why)
		return why;
	if (conf_prefix_has_host_bits(p))
		return "host bits are set beyond the prefix length (write the network's first address)";
	return NULL;
}

static unsigned int addr_bytes(int family)
{
	return family == AF_INET ? 4 : 16;
}

/* Whether the first @bits bits of a and b are equal. */
static bool same_bits(const void *a, const void *b, unsigned int bits)
{
	const uint8_t *x = a, *y = b;
	unsigned int whole = bits / 8, rest = bits % 8;

	if (memcmp(x, y, whole))
		return false;
	if (!rest)
		return true;
	return !((x[whole] ^ y[whole]) & (uint8_t)(0xff00 >> rest));
}

bool splitnet_overlap(const struct conf_prefix *a, const struct conf_prefix *b)
{
	if (a->family != b->family)
		return false;
	return same_bits(&a->addr, &b->addr, a->cidr < b->cidr ? a->cidr :
								    b->cidr);
}

int splitnet_find_addr(const struct splitnet_set *s, int family,
		       const void *a)
{
	for (unsigned int i = 0; i < s->n; i++)
		if (s->net[i].family == family &&
		    same_bits(&s->net[i].addr, a, s->net[i].cidr))
			return (int)i;
	return -1;
}

const char *splitnet_text(const struct conf_prefix *p, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (!inet_ntop(p->family, &p->addr, ip, sizeof(ip)))
		snprintf(ip, sizeof(ip), "?");
	snprintf(buf, len, "%s/%u", ip, p->cidr);
	return buf;
}

/* The tunnel prefix @p must stay clear of: an address's network (IPv6 at
 * least a /64) or a resolver. */
static bool touches_inside(const struct conf_prefix *p,
			   const struct conf_client *c, char *why, size_t len)
{
	char a[64], b[64];

	for (unsigned int i = 0; i < c->n_address; i++) {
		struct conf_prefix in = c->address[i];

		if (in.family == AF_INET6 && in.cidr > SPLITNET_INSIDE_IPV6_LEN)
			in.cidr = SPLITNET_INSIDE_IPV6_LEN;
		if (splitnet_overlap(p, &in)) {
			snprintf(why, len, "%s overlaps the tunnel's address %s",
				 splitnet_text(p, a, sizeof(a)),
				 splitnet_text(&c->address[i], b, sizeof(b)));
			return true;
		}
	}
	for (unsigned int i = 0; i < c->n_dns; i++) {
		struct conf_prefix in = c->dns[i];

		in.cidr = (uint8_t)(addr_bytes(in.family) * 8);
		if (splitnet_overlap(p, &in)) {
			inet_ntop(in.family, &in.addr, b, sizeof(b));
			snprintf(why, len, "%s covers the tunnel's resolver %s (DNS must stay in the tunnel)",
				 splitnet_text(p, a, sizeof(a)), b);
			return true;
		}
	}
	return false;
}

int splitnet_check(const struct splitnet_set *s, const struct conf_prefix *p,
		   const struct conf_client *c, char *why, size_t len)
{
	char a[64], b[64];

	for (unsigned int i = 0; i < s->n; i++) {
		if (!splitnet_overlap(p, &s->net[i]))
			continue;
		if (p->cidr == s->net[i].cidr) {
			snprintf(why, len, "%s is listed already",
				 splitnet_text(p, a, sizeof(a)));
			return -EEXIST;
		}
		snprintf(why, len, "%s overlaps %s, listed already",
			 splitnet_text(p, a, sizeof(a)),
			 splitnet_text(&s->net[i], b, sizeof(b)));
		return -EINVAL;
	}
	if (c && touches_inside(p, c, why, len))
		return -EINVAL;
	return 0;
}

static int find_exact(const struct splitnet_set *s, const struct conf_prefix *p)
{
	for (unsigned int i = 0; i < s->n; i++)
		if (s->net[i].family == p->family && s->net[i].cidr == p->cidr &&
		    !memcmp(&s->net[i].addr, &p->addr, addr_bytes(p->family)))
			return (int)i;
	return -1;
}

int splitnet_change(const struct splitnet_set *s, enum conf_split mode,
		    bool add, const struct conf_prefix *p, unsigned int n,
		    const struct conf_client *c, struct splitnet_set *out,
		    char *why, size_t len)
{
	struct splitnet_set t = *s;
	char a[64];
	int ret;

	if (s->n && s->mode != mode) {
		snprintf(why, len, "the profile's split is in %s mode: %s and %s at once are not allowed (remove the %s networks first)",
			 splitnet_mode_name(s->mode), splitnet_mode_name(s->mode),
			 splitnet_mode_name(mode), splitnet_mode_name(s->mode));
		return -EINVAL;
	}
	for (unsigned int i = 0; i < n; i++) {
		int k = find_exact(&t, &p[i]);

		if (!add) {
			if (k < 0) {
				snprintf(why, len, "%s is not %sd",
					 splitnet_text(&p[i], a, sizeof(a)),
					 splitnet_mode_name(mode));
				return -ENOENT;
			}
			memmove(&t.net[k], &t.net[k + 1],
				(t.n - (unsigned int)k - 1) * sizeof(t.net[0]));
			t.n--;
			continue;
		}
		ret = splitnet_check(&t, &p[i], c, why, len);
		if (ret)
			return ret;
		if (t.n == SPLITNET_MAX) {
			snprintf(why, len, "at most %d networks", SPLITNET_MAX);
			return -E2BIG;
		}
		t.net[t.n++] = p[i];
	}
	t.mode = t.n ? mode : CONF_SPLIT_NONE;
	*out = t;
	return 0;
}

bool splitnet_list(const struct splitnet_set *s, char *buf, size_t len)
{
	size_t used = 0;
	char a[64];
	int k;

	if (!len)
		return false;
	buf[0] = '\0';
	for (unsigned int i = 0; i < s->n; i++) {
		k = snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
			     splitnet_text(&s->net[i], a, sizeof(a)));
		if (k < 0 || (size_t)k >= len - used)
			return false;
		used += (size_t)k;
	}
	return true;
}

/* ------------------------------------------------------ profile rewrite */

struct text_out {
	char *buf;
	size_t len, cap;
	int err;
};

static void out_put(struct text_out *o, const char *s, size_t n)
{
	if (o->err)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t cap = (o->len + n + 1) * 2;
		char *b = realloc(o->buf, cap);

		if (!b) {
			o->err = -ENOMEM;
			return;
		}
		o->buf = b;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

static void out_str(struct text_out *o, const char *s)
{
	out_put(o, s, strlen(s));
}

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* The section a "[name]" line opens (lowercase into name), or false. */
static bool section_line(const char *s, const char *e, char *name, size_t len)
{
	size_t k = 0;

	while (s < e && blank(*s))
		s++;
	if (s == e || *s != '[')
		return false;
	for (s++; s < e && *s != ']'; s++)
		if (k + 1 < len && !blank(*s))
			name[k++] = (char)(*s >= 'A' && *s <= 'Z' ? *s + 32 : *s);
	name[k] = '\0';
	return s < e;
}

/* Which of exclude/include a "key = value" line sets, or NONE. */
static enum conf_split key_line(const char *s, const char *e)
{
	static const struct {
		const char *name;
		enum conf_split mode;
	} keys[] = { { "exclude", CONF_SPLIT_EXCLUDE },
		     { "include", CONF_SPLIT_INCLUDE } };

	while (s < e && blank(*s))
		s++;
	for (size_t i = 0; i < 2; i++) {
		size_t n = strlen(keys[i].name);
		const char *p = s + n;

		if ((size_t)(e - s) < n || strncasecmp(s, keys[i].name, n))
			continue;
		while (p < e && blank(*p))
			p++;
		if (p < e && *p == '=')
			return keys[i].mode;
	}
	return CONF_SPLIT_NONE;
}

/* "KEY = LIST" for the set, with @tail (a comment and the end of line,
 * or just a newline) after it. */
static void out_key(struct text_out *o, const struct splitnet_set *s,
		    const char *tail, size_t tail_len)
{
	char list[SPLITNET_TEXT_MAX];

	if (!splitnet_list(s, list, sizeof(list))) {
		o->err = -E2BIG;
		return;
	}
	out_str(o, splitnet_mode_name(s->mode));
	out_str(o, " = ");
	out_str(o, list);
	out_put(o, tail, tail_len);
}

/* What follows a key's value on its line: " ; comment\n", or "\n". */
static void line_tail(const char *s, const char *e, const char **t,
		      size_t *n)
{
	const char *eq = memchr(s, '=', (size_t)(e - s));
	const char *c = eq;

	while (c && c < e && *c != ';' && *c != '#')
		c++;
	if (c && c < e) {
		while (c > eq + 1 && blank(c[-1]))
			c--;
		*t = c;
		*n = (size_t)(e - c);
		return;
	}
	*t = "\n";
	*n = 1;
	if (e > s && e[-1] == '\n' && e - 1 > s && e[-2] == '\r') {
		*t = "\r\n";
		*n = 2;
	}
}

int splitnet_profile_rewrite(const char *in, size_t len,
			     const struct splitnet_set *s, char **out,
			     size_t *out_len)
{
	struct text_out o = { 0 };
	const char *p = in, *end = in + len;
	bool in_split = false, seen_split = false, written = false;
	char name[32];

	*out = NULL;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl + 1 : end;
		enum conf_split k;

		if (section_line(p, e, name, sizeof(name))) {
			if (in_split && !written && s->n) {
				out_key(&o, s, "\n", 1);
				written = true;
			}
			in_split = !strcmp(name, "split");
			seen_split |= in_split;
			out_put(&o, p, (size_t)(e - p));
			if (!nl && in_split)
				out_str(&o, "\n");
			p = e;
			continue;
		}
		k = in_split ? key_line(p, e) : CONF_SPLIT_NONE;
		if (k == CONF_SPLIT_NONE) {
			out_put(&o, p, (size_t)(e - p));
		} else if (k == s->mode && !written) {
			const char *t;
			size_t n;

			line_tail(p, e, &t, &n);
			out_key(&o, s, t, n);
			if (!o.err && o.buf[o.len - 1] != '\n')
				out_str(&o, "\n");
			written = true;
		}
		/* The other key, or a second line of the same: dropped. */
		p = e;
	}
	if (in_split && !written && s->n) {
		if (o.len && o.buf[o.len - 1] != '\n')
			out_str(&o, "\n");
		out_key(&o, s, "\n", 1);
		written = true;
	}
	if (!seen_split && s->n) {
		if (o.len && o.buf[o.len - 1] != '\n')
			out_str(&o, "\n");
		out_str(&o, "\n[split]\n");
		out_key(&o, s, "\n", 1);
	}
	if (!o.err && !o.buf)
		out_put(&o, "", 0);
	if (o.err) {
		free(o.buf);
		return o.err;
	}
	*out = o.buf;
	*out_len = o.len;
	return 0;
}
