/* SPDX-License-Identifier: MIT */
/*
 * The vector file reader.  It is test code: it fails the running cmocka test
 * loudly on anything it does not understand, rather than skipping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kat.h"

enum { KAT_MAX_FIELDS = 48, KAT_MAX_BLOCKS = 32 };

struct kat_field {
	char *name;
	uint8_t *bytes;
	size_t len;
};

struct kat_block {
	char *kind;
	int number;
	size_t nfields;
	struct kat_field fields[KAT_MAX_FIELDS];
};

struct kat_file {
	size_t nblocks;
	struct kat_block blocks[KAT_MAX_BLOCKS];
	int loaded;
};

/* Test-only cache of the parsed file: the tests are single-threaded. */
static struct kat_file kat;

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t kat_hex(uint8_t *out, size_t max, const char *hex)
{
	size_t n = strlen(hex), i;

	if (n % 2 || n / 2 > max)
		fail_msg("bad hex of %zu characters", n);
	for (i = 0; i < n / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			fail_msg("bad hex character near '%.8s'", hex + 2 * i);
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return n / 2;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
			 e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static void kat_load(void)
{
	const char *path = getenv("VPN_KAT");
	struct kat_block *cur = NULL;
	char line[4096];
	FILE *f;

	if (kat.loaded)
		return;
	if (!path)
		path = "tests/unit/vectors/wireguard-kat.txt";
	f = fopen(path, "r");
	if (!f)
		fail_msg("cannot open %s (run from the repository root)", path);
	while (fgets(line, sizeof(line), f)) {
		char *s = trim(line), *eq, *name, *val;

		if (!*s) {
			cur = NULL;
			continue;
		}
		if (*s == '#')
			continue;
		eq = strchr(s, '=');
		if (!eq)
			fail_msg("%s: line without '=': %s", path, s);
		*eq = '\0';
		name = trim(s);
		val = trim(eq + 1);
		if (!cur) {
			if (kat.nblocks == KAT_MAX_BLOCKS)
				fail_msg("%s: too many blocks", path);
			cur = &kat.blocks[kat.nblocks++];
			cur->kind = strdup(name);
			cur->number = atoi(val);
			continue;
		}
		if (cur->nfields == KAT_MAX_FIELDS)
			fail_msg("%s: too many fields in a block", path);
		struct kat_field *fl = &cur->fields[cur->nfields++];

		fl->name = strdup(name);
		fl->bytes = malloc(strlen(val) / 2 + 1);
		fl->len = kat_hex(fl->bytes, strlen(val) / 2, val);
	}
	fclose(f);
	kat.loaded = 1;
}

const struct kat_block *kat_find(const char *kind, int number)
{
	kat_load();
	for (size_t i = 0; i < kat.nblocks; i++)
		if (!strcmp(kat.blocks[i].kind, kind) &&
		    kat.blocks[i].number == number)
			return &kat.blocks[i];
	return NULL;
}

const uint8_t *kat_get(const struct kat_block *b, const char *name,
		       size_t *len)
{
	if (!b)
		fail_msg("vector block missing");
	for (size_t i = 0; i < b->nfields; i++)
		if (!strcmp(b->fields[i].name, name)) {
			if (len)
				*len = b->fields[i].len;
			return b->fields[i].bytes;
		}
	fail_msg("vector %s %d has no field %s", b->kind, b->number, name);
	return NULL;
}

const uint8_t *kat_get_len(const struct kat_block *b, const char *name,
			   size_t len)
{
	size_t got;
	const uint8_t *p = kat_get(b, name, &got);

	if (got != len)
		fail_msg("vector field %s has %zu bytes, expected %zu", name,
			 got, len);
	return p;
}

void kat_free(void)
{
	for (size_t i = 0; i < kat.nblocks; i++) {
		struct kat_block *b = &kat.blocks[i];

		for (size_t j = 0; j < b->nfields; j++) {
			free(b->fields[j].name);
			free(b->fields[j].bytes);
		}
		free(b->kind);
	}
	memset(&kat, 0, sizeof(kat));
}

/*
 * Curve25519 points of order 1, 2, 4 and 8, then the same points with the
 * top bit set, which X25519 ignores: a peer must not slip one past us that
 * way.
 */
const char *const kat_low_order_points[KAT_LOW_ORDER_POINTS] = {
	"0000000000000000000000000000000000000000000000000000000000000000",
	"0100000000000000000000000000000000000000000000000000000000000000",
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"0000000000000000000000000000000000000000000000000000000000000080",
	"0100000000000000000000000000000000000000000000000000000000000080",
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880",
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
};
