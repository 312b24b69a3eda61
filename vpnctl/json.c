/* SPDX-License-Identifier: MIT */
/*
 * JSON output: string escaping that also repairs invalid UTF-8 (each bad
 * byte becomes U+FFFD), numbers checked before they are printed bare, and
 * objects built from a reply by a table of typed fields.
 */
#include <stdbool.h>
#include <string.h>

#include "json.h"

/*
 * The length of the valid UTF-8 sequence at @s (2 to 4), or 0.  The ranges
 * of the second byte refuse overlong forms, surrogates and code points
 * beyond U+10FFFF, as RFC 3629 does.
 */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

static void json_char(FILE *f, unsigned char ch)
{
	switch (ch) {
	case '"':
		fputs("\\\"", f);
		break;
	case '\\':
		fputs("\\\\", f);
		break;
	case '\n':
		fputs("\\n", f);
		break;
	case '\r':
		fputs("\\r", f);
		break;
	case '\t':
		fputs("\\t", f);
		break;
	default:
		if (ch < ' ' || ch == 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
}

void json_string(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n;

	fputc('"', f);
	while (*s) {
		if (*s < 0x80) {
			json_char(f, *s++);
			continue;
		}
		n = utf8_len(s);
		if (n) {
			fwrite(s, 1, n, f);
			s += n;
		} else {
			fputs("\\ufffd", f);
			s++;
		}
	}
	fputc('"', f);
}

static void json_number(FILE *f, const char *s)
{
	unsigned long long v;

	if (ctl_parse_u64(s, &v))
		fprintf(f, "%llu", v);
	else
		fputs("null", f);
}

static void json_array(FILE *f, const struct ctl_reply *r, size_t from,
		       size_t to, const char *key)
{
	bool first = true;

	fputc('[', f);
	for (size_t i = from; i < to && i < r->n_pair; i++) {
		if (strcmp(r->pair[i].key, key))
			continue;
		if (!first)
			fputc(',', f);
		json_string(f, r->pair[i].value);
		first = false;
	}
	fputc(']', f);
}

void json_object(FILE *f, const struct ctl_reply *r, size_t from, size_t to,
		 const struct json_field *fields, size_t n_fields)
{
	bool first = true;
	const char *v;

	fputc('{', f);
	for (size_t i = 0; i < n_fields; i++) {
		v = ctl_reply_find(r, from, to, fields[i].key);
		if (!v && fields[i].type != JSON_ARRAY)
			continue;
		if (!first)
			fputc(',', f);
		first = false;
		json_string(f, fields[i].key);
		fputc(':', f);
		if (fields[i].type == JSON_ARRAY)
			json_array(f, r, from, to, fields[i].key);
		else if (fields[i].type == JSON_NUMBER)
			json_number(f, v);
		else
			json_string(f, v);
	}
	fputc('}', f);
}
