/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the key text codecs, vpnd/key.c.  They read what an operator or
 * a UAPI client typed (wg's base64, the UAPI's hex) and are written with
 * masks instead of branches to run in constant time, which is exactly the
 * kind of code where an off-by-one in a range hides; so they are checked
 * here against a plain, obviously correct decoder.
 *
 * Properties, for any input:
 *  - key_from_base64() accepts exactly the 44-character canonical spellings
 *    (the reference decoder's verdict), yields the reference's key, and
 *    key_to_base64() of that key gives back the input byte for byte;
 *  - key_from_hex() accepts exactly 64 hex digits of either case, yields the
 *    reference's key, and key_to_hex() gives back the input in lowercase;
 *  - a refused text leaves the output key untouched;
 *  - the first 32 bytes of the input, taken as a key, survive both round
 *    trips, and the hex decoder also takes the uppercase spelling.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vpn/key.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...)                                           \
	do {                                                \
		fprintf(stderr, "fuzz_key: " __VA_ARGS__);  \
		fputc('\n', stderr);                        \
		abort();                                    \
	} while (0)

static int ref_b64_value(char c)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c ? strchr(alphabet, c) : NULL;

	return p ? (int)(p - alphabet) : -1;
}

/* The textbook decoder: 43 symbols of 6 bits, '=', the spare bits zero. */
static bool ref_from_base64(uint8_t key[KEY_LEN], const char *s, size_t n)
{
	uint8_t bits[KEY_BASE64_LEN * 6 / 8 + 1] = { 0 };
	size_t bit = 0;

	if (n != KEY_BASE64_LEN || s[KEY_BASE64_LEN - 1] != '=')
		return false;
	for (size_t i = 0; i < KEY_BASE64_LEN - 1; i++) {
		int v = ref_b64_value(s[i]);

		if (v < 0)
			return false;
		for (int b = 5; b >= 0; b--, bit++)
			if (v >> b & 1)
				bits[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
	}
	/* 43 * 6 = 258 bits: the key's 256 and two that must be zero. */
	if (bits[32] & 0xc0)
		return false;
	memcpy(key, bits, KEY_LEN);
	return true;
}

static int ref_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool ref_from_hex(uint8_t key[KEY_LEN], const char *s, size_t n)
{
	if (n != KEY_HEX_LEN)
		return false;
	for (size_t i = 0; i < KEY_LEN; i++) {
		int hi = ref_hex_value(s[2 * i]), lo = ref_hex_value(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static void check_text(const char *s, size_t n)
{
	static const uint8_t canary[KEY_LEN] = { [0] = 0xa5, [31] = 0x5a };
	uint8_t key[KEY_LEN], want[KEY_LEN];
	char back[KEY_HEX_LEN + 1];
	bool ok, ref;

	memcpy(key, canary, KEY_LEN);
	ok = key_from_base64(key, s) == 0;
	ref = ref_from_base64(want, s, n);
	if (ok != ref)
		FAIL("key_from_base64 %s what the reference %s",
		     ok ? "accepts" : "refuses", ref ? "accepts" : "refuses");
	if (ok) {
		if (memcmp(key, want, KEY_LEN))
			FAIL("key_from_base64 decodes another key");
		key_to_base64(back, key);
		if (strlen(back) != KEY_BASE64_LEN || memcmp(back, s, n))
			FAIL("base64 round trip changes the text");
	} else if (memcmp(key, canary, KEY_LEN)) {
		FAIL("a refused base64 key wrote to the output");
	}

	memcpy(key, canary, KEY_LEN);
	ok = key_from_hex(key, s) == 0;
	ref = ref_from_hex(want, s, n);
	if (ok != ref)
		FAIL("key_from_hex %s what the reference %s",
		     ok ? "accepts" : "refuses", ref ? "accepts" : "refuses");
	if (ok) {
		if (memcmp(key, want, KEY_LEN))
			FAIL("key_from_hex decodes another key");
		key_to_hex(back, key);
		if (strlen(back) != KEY_HEX_LEN || strncasecmp(back, s, n))
			FAIL("hex round trip changes the text");
		for (size_t i = 0; i < KEY_HEX_LEN; i++)
			if (back[i] >= 'A' && back[i] <= 'F')
				FAIL("key_to_hex writes uppercase");
	} else if (memcmp(key, canary, KEY_LEN)) {
		FAIL("a refused hex key wrote to the output");
	}
}

static void check_key(const uint8_t raw[KEY_LEN])
{
	char b64[KEY_BASE64_LEN + 1], hex[KEY_HEX_LEN + 1];
	uint8_t key[KEY_LEN];

	key_to_base64(b64, raw);
	if (strlen(b64) != KEY_BASE64_LEN)
		FAIL("key_to_base64 wrote %zu characters", strlen(b64));
	if (key_from_base64(key, b64) || memcmp(key, raw, KEY_LEN))
		FAIL("a key does not survive base64");
	check_text(b64, KEY_BASE64_LEN);

	key_to_hex(hex, raw);
	if (strlen(hex) != KEY_HEX_LEN)
		FAIL("key_to_hex wrote %zu characters", strlen(hex));
	if (key_from_hex(key, hex) || memcmp(key, raw, KEY_LEN))
		FAIL("a key does not survive hex");
	for (size_t i = 0; i < KEY_HEX_LEN; i++)
		if (hex[i] >= 'a' && hex[i] <= 'f')
			hex[i] = (char)(hex[i] - 'a' + 'A');
	if (key_from_hex(key, hex) || memcmp(key, raw, KEY_LEN))
		FAIL("a key does not survive uppercase hex");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t raw[KEY_LEN] = { 0 };
	char *s;
	size_t n;

	/* The decoders read C strings: stop at the first NUL, as they do. */
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	n = strlen(s);
	check_text(s, n);
	free(s);

	memcpy(raw, data, size < KEY_LEN ? size : KEY_LEN);
	check_key(raw);
	return 0;
}
