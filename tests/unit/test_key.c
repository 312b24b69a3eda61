/* SPDX-License-Identifier: MIT */
/*
 * Key text forms: round trips against libsodium's own encoders as the
 * referee, and refusal of every malformed spelling.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include <vpn/key.h>

static void test_base64_roundtrip_against_libsodium(void **state)
{
	uint8_t key[32], back[32];
	char ours[KEY_BASE64_LEN + 1], ref[KEY_BASE64_LEN + 1];

	(void)state;
	for (int i = 0; i < 2000; i++) {
		randombytes_buf(key, sizeof(key));
		if (i < 256)
			memset(key, i, sizeof(key));	/* every byte value */
		key_to_base64(ours, key);
		sodium_bin2base64(ref, sizeof(ref), key, sizeof(key),
				  sodium_base64_VARIANT_ORIGINAL);
		assert_string_equal(ours, ref);
		memset(back, 0, sizeof(back));
		assert_int_equal(key_from_base64(back, ours), 0);
		assert_memory_equal(back, key, sizeof(key));
	}
}

static void test_base64_known(void **state)
{
	uint8_t key[32];
	char out[KEY_BASE64_LEN + 1];

	(void)state;
	memset(key, 0, sizeof(key));
	key_to_base64(out, key);
	assert_string_equal(out, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
	memset(key, 0xff, sizeof(key));
	key_to_base64(out, key);
	assert_string_equal(out, "//////////////////////////////////////////8=");
}

static void test_base64_rejects_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",	 /* 43 */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", /* 45 */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",	 /* no '=' */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",	 /* 31 bytes */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA*=",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA AAAAAAAAAA=",
		"-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",	 /* url-safe */
		"_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=A=",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=",	 /* stray bits */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAC=",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAD=",
		"//////////////////////////////////////////9=",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\x80=",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
	};
	uint8_t key[32], orig[32];

	(void)state;
	memset(orig, 0x5a, sizeof(orig));
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		memcpy(key, orig, sizeof(key));
		assert_int_equal(key_from_base64(key, bad[i]), -EINVAL);
		/* A refused key leaves the destination as it was. */
		assert_memory_equal(key, orig, sizeof(key));
	}
	/* Every character that is not base64, in every position. */
	for (int c = 1; c < 256; c++) {
		char s[KEY_BASE64_LEN + 1];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '/')
			continue;
		for (int pos = 0; pos < KEY_BASE64_LEN - 1; pos++) {
			memset(s, 'A', KEY_BASE64_LEN - 1);
			s[KEY_BASE64_LEN - 1] = '=';
			s[KEY_BASE64_LEN] = '\0';
			s[pos] = (char)c;
			assert_int_equal(key_from_base64(key, s), -EINVAL);
		}
	}
}

/* key_base64_text_valid(): the standard alphabet, '=' only at the end, at most
 * two; every other byte, above 0x7f included, anywhere, refused. */
static void test_base64_text_valid(void **state)
{
	char s[9];

	(void)state;
	assert_true(key_base64_text_valid("", 0));
	assert_true(key_base64_text_valid("AZaz09+/", 8));
	assert_true(key_base64_text_valid("QUI=", 4));
	assert_true(key_base64_text_valid("QQ==", 4));
	assert_false(key_base64_text_valid("Q===", 4));
	assert_false(key_base64_text_valid("Q=Q=", 4));
	assert_false(key_base64_text_valid("QUI=\n", 5));
	/* Only the bytes given are looked at. */
	assert_true(key_base64_text_valid("QUI=!!", 4));
	/* Padding alone passes here; the decoder refuses its length. */
	assert_true(key_base64_text_valid("==", 2));
	for (int c = 0; c < 256; c++) {
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '/')
			continue;
		/* Every position, the padding's two included ('=' is padding
		 * only at the end). */
		for (int pos = 0; pos < 8; pos++) {
			if (c == '=' && pos >= 6)
				continue;
			memcpy(s, "QUJDREVG", 9);
			s[pos] = (char)c;
			assert_false(key_base64_text_valid(s, 8));
			memcpy(s, "QUJDRE==", 9);
			s[pos] = (char)c;
			assert_false(key_base64_text_valid(s, 8));
		}
	}
}

static void test_hex_roundtrip_and_rejects(void **state)
{
	uint8_t key[32], back[32], orig[32];
	char ours[KEY_HEX_LEN + 1], ref[KEY_HEX_LEN + 1], s[KEY_HEX_LEN + 2];

	(void)state;
	for (int i = 0; i < 1000; i++) {
		randombytes_buf(key, sizeof(key));
		key_to_hex(ours, key);
		sodium_bin2hex(ref, sizeof(ref), key, sizeof(key));
		assert_string_equal(ours, ref);
		assert_int_equal(key_from_hex(back, ours), 0);
		assert_memory_equal(back, key, sizeof(key));
	}
	/* Upper case is read too, as the UAPI's other readers do. */
	assert_int_equal(key_from_hex(back, "ABCDEF0123456789abcdef0123456789"
					    "ABCDEF0123456789abcdef0123456789"),
			 0);
	assert_int_equal(back[0], 0xab);

	memset(orig, 0x33, sizeof(orig));
	memcpy(back, orig, sizeof(back));
	memset(s, '0', KEY_HEX_LEN);
	s[KEY_HEX_LEN - 1] = '\0';
	assert_int_equal(key_from_hex(back, s), -EINVAL);	/* 63 */
	s[KEY_HEX_LEN - 1] = '0';
	s[KEY_HEX_LEN] = '0';
	s[KEY_HEX_LEN + 1] = '\0';
	assert_int_equal(key_from_hex(back, s), -EINVAL);	/* 65 */
	s[KEY_HEX_LEN] = '\0';
	for (int c = 1; c < 256; c++) {
		if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		    (c >= 'A' && c <= 'F'))
			continue;
		for (int pos = 0; pos < KEY_HEX_LEN; pos += 7) {
			memset(s, '0', KEY_HEX_LEN);
			s[pos] = (char)c;
			assert_int_equal(key_from_hex(back, s), -EINVAL);
		}
	}
	assert_memory_equal(back, orig, sizeof(orig));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64_roundtrip_against_libsodium),
		cmocka_unit_test(test_base64_known),
		cmocka_unit_test(test_base64_rejects_malformed),
		cmocka_unit_test(test_base64_text_valid),
		cmocka_unit_test(test_hex_roundtrip_and_rejects),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
