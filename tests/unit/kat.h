/* SPDX-License-Identifier: MIT */
/*
 * Reads the known-answer vectors in tests/unit/vectors/wireguard-kat.txt
 * (a copy of shared/vectors, checked identical by .ci/run): blocks of
 * "name = hex" lines, each block opened by "kind = number".
 */
#ifndef TESTS_KAT_H
#define TESTS_KAT_H

#include <stddef.h>
#include <stdint.h>

struct kat_block;

/* The block "kind = number", or NULL; the file is read once and kept. */
const struct kat_block *kat_find(const char *kind, int number);
/* The bytes of field name; fails the running test when it is missing. */
const uint8_t *kat_get(const struct kat_block *b, const char *name,
		       size_t *len);
/* Like kat_get, and fails the test unless the field has exactly len bytes. */
const uint8_t *kat_get_len(const struct kat_block *b, const char *name,
			   size_t len);
/* Parses hex text into bytes, for tests' own inline vectors. */
size_t kat_hex(uint8_t *out, size_t max, const char *hex);
void kat_free(void);

/* Low-order X25519 public keys, as hex, for the tests that refuse them. */
enum { KAT_LOW_ORDER_POINTS = 14 };
extern const char *const kat_low_order_points[KAT_LOW_ORDER_POINTS];

#endif /* TESTS_KAT_H */
