/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the kill switch's state file reader, ksfile_parse() in
 * vpnd/ksfile.c: what ksfile_load() does with the bytes once it has read
 * them.  A daemon that starts reads this file before anything else and
 * blocks when it cannot vouch for it, so the reader must be strict and
 * must say why.
 *
 * Properties, for any input:
 *  - a refusal is -EBADMSG with a message that names the file, holds no
 *    control character (it goes to the log), and names a line that
 *    exists when it names one; the struct given is left untouched;
 *  - an accepted file has known modes and an arp_ignore of -1 to 8, and
 *    what the writer (format(), as ksfile_save() writes it) makes of it
 *    reads back the same.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The writer is static: the file under test is part of the harness. */
#include "../../vpnd/ksfile.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NAME "/var/lib/vpnd/killswitch"

#define FAIL(...)                                              \
	do {                                                   \
		fprintf(stderr, "fuzz_ksfile: " __VA_ARGS__);  \
		fputc('\n', stderr);                           \
		abort();                                       \
	} while (0)

static void check_refusal(int r, const char *err, const uint8_t *data,
			  size_t size)
{
	size_t plen = strlen(NAME), len = strnlen(err, KSFILE_ERR_LEN);
	unsigned int lines = 0;

	if (r != -EBADMSG)
		FAIL("refused with %d", r);
	if (!len || len == KSFILE_ERR_LEN)
		FAIL("a message of %zu bytes", len);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)err[i] < 0x20 || err[i] == 0x7f)
			FAIL("control character 0x%02x in the message: %s",
			     (unsigned char)err[i], err);
	if (strncmp(err, NAME, plen) || err[plen] != ':')
		FAIL("a message that does not start with the file: %s", err);
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	lines += size && data[size - 1] != '\n';
	if (err[plen + 1] >= '0' && err[plen + 1] <= '9') {
		unsigned long line = strtoul(err + plen + 1, NULL, 10);

		if (line < 1 || line > lines)
			FAIL("line %lu named, of %u: %s", line, lines, err);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ksfile f, before, again;
	char err[KSFILE_ERR_LEN], text[KSFILE_SIZE_MAX];
	int r, n;

	memset(&f, 0x5a, sizeof(f));
	before = f;
	r = ksfile_parse(NAME, (const char *)data, size, &f, err, sizeof(err));
	if (r) {
		check_refusal(r, err, data, size);
		if (memcmp(&f, &before, sizeof(f)))
			FAIL("a refused file changed the struct");
		return 0;
	}
	if (!ksfile_mode_name(f.mode) || !ksfile_mode_name(f.profile_mode))
		FAIL("modes %d, %d", f.mode, f.profile_mode);
	if (f.arp_ignore < -1 || f.arp_ignore > 8)
		FAIL("arp_ignore %d", f.arp_ignore);
	n = format(&f, text, sizeof(text));
	if (n < 0)
		FAIL("what was read cannot be written: %d", n);
	memset(&again, 0, sizeof(again));
	if (ksfile_parse(NAME, text, (size_t)n, &again, err, sizeof(err)))
		FAIL("what was written does not read back: %s", err);
	if (again.mode != f.mode || again.allow_lan != f.allow_lan ||
	    again.hold != f.hold || again.profile_mode != f.profile_mode ||
	    again.profile_allow_lan != f.profile_allow_lan ||
	    again.arp_ignore != f.arp_ignore)
		FAIL("what was written reads back otherwise");
	return 0;
}
