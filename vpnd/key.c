/* SPDX-License-Identifier: MIT */
/*
 * Key encoding without secret-dependent branches or table lookups: every
 * character is mapped with arithmetic masks, and a bad character only sets a
 * flag that is looked at once, after the whole key has been read.
 */
#include <errno.h>
#include <string.h>

#include <vpn/key.h>

/*
 * All ones when lo <= c <= hi, else zero.  Both differences are negative
 * exactly when c is in range, and their AND keeps the sign bit only then.
 */
static unsigned int range_mask(int c, int lo, int hi)
{
	return (unsigned int)(((lo - 1 - c) & (c - hi - 1)) >> 8) & 0xffu;
}

static char base64_char(unsigned int v)
{
	int x = (int)v;
	unsigned int c;

	c = (range_mask(x, 0, 25) & (unsigned int)(x + 'A')) |
	    (range_mask(x, 26, 51) & (unsigned int)(x - 26 + 'a')) |
	    (range_mask(x, 52, 61) & (unsigned int)(x - 52 + '0')) |
	    (range_mask(x, 62, 62) & '+') | (range_mask(x, 63, 63) & '/');
	return (char)c;
}

/* The 6-bit value of c, or 0xff when c is not a base64 character. */
static unsigned int base64_value(unsigned char ch)
{
	int c = ch;
	unsigned int v, valid;

	valid = range_mask(c, 'A', 'Z') | range_mask(c, 'a', 'z') |
		range_mask(c, '0', '9') | range_mask(c, '+', '+') |
		range_mask(c, '/', '/');
	v = (range_mask(c, 'A', 'Z') & (unsigned int)(c - 'A')) |
	    (range_mask(c, 'a', 'z') & (unsigned int)(c - 'a' + 26)) |
	    (range_mask(c, '0', '9') & (unsigned int)(c - '0' + 52)) |
	    (range_mask(c, '+', '+') & 62) | (range_mask(c, '/', '/') & 63);
	return v | (~valid & 0xffu);
}

void key_to_base64(char out[KEY_BASE64_LEN + 1], const uint8_t key[KEY_LEN])
{
	unsigned int i, o = 0, w;

	for (i = 0; i + 3 <= KEY_LEN; i += 3) {
		w = (unsigned int)key[i] << 16 | (unsigned int)key[i + 1] << 8 |
		    key[i + 2];
		out[o++] = base64_char(w >> 18 & 63);
		out[o++] = base64_char(w >> 12 & 63);
		out[o++] = base64_char(w >> 6 & 63);
		out[o++] = base64_char(w & 63);
	}
	/* 32 = 10 * 3 + 2: the last two bytes make three characters and '='. */
	w = (unsigned int)key[30] << 16 | (unsigned int)key[31] << 8;
	out[o++] = base64_char(w >> 18 & 63);
	out[o++] = base64_char(w >> 12 & 63);
	out[o++] = base64_char(w >> 6 & 63);
	out[o++] = '=';
	out[o] = '\0';
}

bool key_base64_text_valid(const char *s, size_t len)
{
	unsigned int bad = 0;
	size_t pad = 0;

	while (pad < 2 && pad < len && s[len - 1 - pad] == '=')
		pad++;
	for (size_t i = 0; i < len - pad; i++)
		bad |= base64_value((unsigned char)s[i]) >> 6;
	return !bad;
}

int key_from_base64(uint8_t key[KEY_LEN], const char *s)
{
	uint8_t tmp[KEY_LEN];
	unsigned int i, o = 0, w, bad = 0, v[4];

	if (strlen(s) != KEY_BASE64_LEN || s[KEY_BASE64_LEN - 1] != '=')
		return -EINVAL;
	for (i = 0; i < KEY_BASE64_LEN - 4; i += 4) {
		for (int j = 0; j < 4; j++) {
			v[j] = base64_value((unsigned char)s[i + j]);
			bad |= v[j] >> 6;
		}
		w = v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3];
		tmp[o++] = (uint8_t)(w >> 16);
		tmp[o++] = (uint8_t)(w >> 8);
		tmp[o++] = (uint8_t)w;
	}
	for (int j = 0; j < 3; j++) {
		v[j] = base64_value((unsigned char)s[i + j]);
		bad |= v[j] >> 6;
	}
	w = v[0] << 18 | v[1] << 12 | v[2] << 6;
	tmp[o++] = (uint8_t)(w >> 16);
	tmp[o++] = (uint8_t)(w >> 8);
	/*
	 * The last character carries two bits beyond the key; a canonical
	 * encoding has them zero, and only canonical text is accepted so that
	 * one key has exactly one spelling.
	 */
	bad |= v[2] & 3;

	if (bad) {
		memset(tmp, 0, sizeof(tmp));
		__asm__ __volatile__("" : : "r"(tmp) : "memory");
		return -EINVAL;
	}
	memcpy(key, tmp, KEY_LEN);
	memset(tmp, 0, sizeof(tmp));
	__asm__ __volatile__("" : : "r"(tmp) : "memory");
	return 0;
}

static char hex_char(unsigned int v)
{
	int x = (int)v;

	return (char)((range_mask(x, 0, 9) & (unsigned int)(x + '0')) |
		      (range_mask(x, 10, 15) & (unsigned int)(x - 10 + 'a')));
}

/* The 4-bit value of c, or a value with bit 4 set when c is not hex. */
static unsigned int hex_value(unsigned char ch)
{
	int c = ch;
	unsigned int valid = range_mask(c, '0', '9') | range_mask(c, 'a', 'f') |
			     range_mask(c, 'A', 'F');

	return (range_mask(c, '0', '9') & (unsigned int)(c - '0')) |
	       (range_mask(c, 'a', 'f') & (unsigned int)(c - 'a' + 10)) |
	       (range_mask(c, 'A', 'F') & (unsigned int)(c - 'A' + 10)) |
	       (~valid & 0x10u);
}

void key_to_hex(char out[KEY_HEX_LEN + 1], const uint8_t key[KEY_LEN])
{
	for (unsigned int i = 0; i < KEY_LEN; i++) {
		out[2 * i] = hex_char(key[i] >> 4);
		out[2 * i + 1] = hex_char(key[i] & 15);
	}
	out[KEY_HEX_LEN] = '\0';
}

int key_from_hex(uint8_t key[KEY_LEN], const char *s)
{
	uint8_t tmp[KEY_LEN];
	unsigned int i, hi, lo, bad = 0;

	if (strlen(s) != KEY_HEX_LEN)
		return -EINVAL;
	for (i = 0; i < KEY_LEN; i++) {
		hi = hex_value((unsigned char)s[2 * i]);
		lo = hex_value((unsigned char)s[2 * i + 1]);
		bad |= (hi | lo) >> 4;
		tmp[i] = (uint8_t)(hi << 4 | (lo & 15));
	}
	if (!bad)
		memcpy(key, tmp, KEY_LEN);
	memset(tmp, 0, sizeof(tmp));
	__asm__ __volatile__("" : : "r"(tmp) : "memory");
	return bad ? -EINVAL : 0;
}
