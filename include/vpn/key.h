/* SPDX-License-Identifier: MIT */
/*
 * Text forms of WireGuard keys: the base64 that wg(8) prints and reads, and
 * the lowercase hex of the UAPI.  Both directions run in constant time, so
 * that neither the daemon's logs nor its timing reveal a key being parsed.
 */
#ifndef VPN_KEY_H
#define VPN_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum key_lengths {
	KEY_LEN = 32,
	KEY_BASE64_LEN = 44,	/* ((32 + 2) / 3) * 4, with one '=' */
	KEY_HEX_LEN = 64,
};

/* out holds KEY_BASE64_LEN + 1 bytes; it is NUL-terminated. */
void key_to_base64(char out[KEY_BASE64_LEN + 1], const uint8_t key[KEY_LEN]);
/* Returns 0, or -EINVAL for a wrong length, a bad character or padding. */
int key_from_base64(uint8_t key[KEY_LEN], const char *s);

/*
 * Whether the @len bytes at @s are base64 of the standard alphabet, with
 * '=' only as the last one or two.  For text handed to libsodium's decoder,
 * which (1.0.18) reads any byte above 0x7f as '/': checked first, a value
 * keeps one spelling, as a key does.  Constant time in the characters.
 */
bool key_base64_text_valid(const char *s, size_t len);

void key_to_hex(char out[KEY_HEX_LEN + 1], const uint8_t key[KEY_LEN]);
int key_from_hex(uint8_t key[KEY_LEN], const char *s);

#endif /* VPN_KEY_H */
