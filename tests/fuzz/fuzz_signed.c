/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the signed server list, conf_servers_load_verified() in
 * vpnd/conf.c: the reading of LIST.sig, the Ed25519 check over the bytes
 * read, and what follows it.  The harness holds a signing key (from a
 * fixed seed); the profile's servers_key is its public half.
 *
 * The first input byte chooses what the rest is, and what must hold:
 *  0  LIST, signed by the harness: the signature never stands in the way;
 *     the result (code, message, every field of every server) is exactly
 *     that of the same list loaded without a key, and it is "verified".
 *  1  SIG '\0' LIST: LIST.sig holds SIG as given.  Accepted means the
 *     harness's own reading of SIG (one line of canonical base64, 64
 *     bytes, trailing blanks and newlines dropped) verifies over exactly
 *     the bytes of LIST, and the result is that of LIST loaded without a
 *     key.  The seeds hold valid signatures, so the fuzzer starts past
 *     the check.
 *  2  LIST signed, then one bit of it (chosen by its first byte) flipped
 *     before it is written, or a byte added to an empty list: refused as
 *     -EPERM, whatever the list says.
 *  3  LIST signed by another key: refused as -EPERM.
 * In every case a refusal says where (fuzz_check_refusal()) and leaves
 * no list behind, and nothing leaks (LSan).
 *
 * FUZZ_WRITE_SEEDS=DIR makes the harness write its seed corpus (lists
 * signed with its key) and exit.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <sodium.h>

#include "conf.h"

#define FUZZ_NAME "fuzz_signed"
#include "fuzz_conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A fixed "now", so that a list's expiry is judged the same every run. */
static const time_t now = 1798761600;	/* 2027-01-01T00:00:00Z */

enum mode {
	MODE_SIGNED,
	MODE_SIG_GIVEN,
	MODE_TAMPERED,
	MODE_OTHER_KEY,
	MODE_COUNT,
};

static struct {
	uint8_t pk[crypto_sign_PUBLICKEYBYTES];
	uint8_t sk[crypto_sign_SECRETKEYBYTES];
	uint8_t other_pk[crypto_sign_PUBLICKEYBYTES];
	uint8_t other_sk[crypto_sign_SECRETKEYBYTES];
} keys;

static void keys_make(void)
{
	uint8_t seed[crypto_sign_SEEDBYTES];

	if (sodium_init() < 0)
		abort();
	memset(seed, 0x5a, sizeof(seed));
	crypto_sign_seed_keypair(keys.pk, keys.sk, seed);
	memset(seed, 0xa5, sizeof(seed));
	crypto_sign_seed_keypair(keys.other_pk, keys.other_sk, seed);
}

/* The signature file "vpnctl servers sign" writes: base64 and '\n'. */
static size_t sig_text(const uint8_t *list, size_t len, const uint8_t *sk,
		       char *out, size_t cap)
{
	uint8_t sig[crypto_sign_BYTES];

	crypto_sign_detached(sig, NULL, list, len, sk);
	sodium_bin2base64(out, cap, sig, sizeof(sig),
			  sodium_base64_VARIANT_ORIGINAL);
	strcat(out, "\n");
	return strlen(out);
}

/* ------------------------------------------------------------------ */
/* The reference reading of a signature file, written apart from conf.c */

static int b64_value(char c)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c ? strchr(alphabet, c) : NULL;

	return p ? (int)(p - alphabet) : -1;
}

/* 64 bytes are 86 symbols, "==", and zero spare bits: nothing else. */
static bool ref_sig_read(const uint8_t *text, size_t len,
			 uint8_t sig[crypto_sign_BYTES])
{
	unsigned int acc = 0, bits = 0;
	size_t n = 0;

	while (len && (text[len - 1] == '\n' || text[len - 1] == ' ' ||
		       text[len - 1] == '\t' || text[len - 1] == '\r'))
		len--;
	if (len != 88 || text[86] != '=' || text[87] != '=')
		return false;
	for (size_t i = 0; i < 86; i++) {
		int v = b64_value((char)text[i]);

		if (v < 0)
			return false;
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			sig[n++] = (uint8_t)(acc >> bits);
		}
	}
	return n == crypto_sign_BYTES && !(acc & ((1u << bits) - 1));
}

/* ------------------------------------------------------------------ */

static void check_same(const struct conf_servers *a,
		       const struct conf_servers *b)
{
	if (a->n_entry != b->n_entry || a->expires != b->expires)
		FAIL("signed and unsigned loads differ: %zu/%zu servers",
		     a->n_entry, b->n_entry);
	for (size_t i = 0; i < a->n_entry; i++) {
		const struct conf_server_entry *x = &a->entry[i],
					       *y = &b->entry[i];

		if (strcmp(x->id, y->id) || strcmp(x->city, y->city) ||
		    strcmp(x->country, y->country) || x->line != y->line ||
		    memcmp(&x->endpoint, &y->endpoint, sizeof(x->endpoint)) ||
		    memcmp(x->public_key, y->public_key, KEY_LEN) ||
		    !x->preshared_key != !y->preshared_key ||
		    (x->preshared_key &&
		     memcmp(x->preshared_key, y->preshared_key, KEY_LEN)))
			FAIL("signed and unsigned loads differ at [%s]", x->id);
	}
}

/*
 * Loads the list at @path under the harness's key and without one; checks
 * the refusal or what was accepted.  Returns the code of the signed load.
 */
static int load_both(const char *path, const uint8_t *list, size_t len,
		     bool compare)
{
	struct conf_servers *s = (struct conf_servers *)1, *u = NULL;
	char err[CONF_ERR_LEN], uerr[CONF_ERR_LEN];
	unsigned int lines = fuzz_lines(list, len);
	int r, ur;

	r = conf_servers_load_verified(path, keys.pk, now, &s, err,
				       sizeof(err));
	if (r) {
		if (s)
			FAIL("refused, but a list is left");
		fuzz_check_refusal(r, err, sizeof(err), path, lines);
	} else if (!s || !s->verified) {
		FAIL("accepted, but not as verified");
	}
	if (!compare)
		goto out;
	ur = conf_servers_load_verified(path, NULL, now, &u, uerr,
					sizeof(uerr));
	if (r != ur || (r && strcmp(err, uerr)))
		FAIL("signed: %d (%s), unsigned: %d (%s)", r, r ? err : "",
		     ur, ur ? uerr : "");
	if (!r) {
		if (u->verified)
			FAIL("loaded without a key, but verified");
		check_same(s, u);
	}
	conf_servers_free(u);
out:
	if (!r)
		conf_servers_free(s);
	return r;
}

static void run_signed(const uint8_t *list, size_t len)
{
	char path[PATH_MAX], sig[256];
	size_t n = sig_text(list, len, keys.sk, sig, sizeof(sig));
	int r;

	fuzz_put("servers.conf.sig", sig, n, 0644, path);
	fuzz_put("servers.conf", list, len, 0600, path);
	r = load_both(path, list, len, true);
	if (r == -EPERM)
		FAIL("a list signed by the key refused as unsigned");
}

static void run_sig_given(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	const uint8_t *list = nul ? nul + 1 : data + size;
	size_t sig_len = nul ? (size_t)(nul - data) : size;
	size_t len = (size_t)(data + size - list);
	uint8_t sig[crypto_sign_BYTES];
	char path[PATH_MAX];

	fuzz_put("servers.conf.sig", data, sig_len, 0644, path);
	fuzz_put("servers.conf", list, len, 0600, path);
	if (load_both(path, list, len, false))
		return;
	if (!ref_sig_read(data, sig_len, sig))
		FAIL("accepted a signature file that is not one");
	if (crypto_sign_verify_detached(sig, list, len, keys.pk))
		FAIL("accepted a list its signature does not verify over");
	/* Accepted, and signed: then as the list without a key. */
	load_both(path, list, len, true);
}

static void run_refused(const uint8_t *data, size_t size, bool other_key)
{
	uint8_t *list = malloc(size + 1);
	size_t len = size;
	char path[PATH_MAX], sig[256];
	size_t n;
	int r;

	if (!list)
		abort();
	memcpy(list, data, size);
	n = sig_text(list, len, other_key ? keys.other_sk : keys.sk, sig,
		     sizeof(sig));
	if (!other_key) {
		/* data[0] picks the bit; the list is all of the input. */
		if (!len)
			list[len++] = '\n';
		else
			list[(data[0] * 131u) % len] ^=
				(uint8_t)(1u << (data[0] % 8));
	}
	fuzz_put("servers.conf.sig", sig, n, 0644, path);
	fuzz_put("servers.conf", list, len, 0600, path);
	r = load_both(path, list, len, false);
	if (r != -EPERM)
		FAIL("a list %s: %d, not -EPERM",
		     other_key ? "signed by another key" : "changed after signing",
		     r);
	free(list);
}

/* ------------------------------------------------------------------ */
/* Seeds: lists signed with the harness's key, in each mode.           */

static const char *const seed_lists[] = {
	"[list]\nexpires = 2099-12-31T23:59:59Z\n\n"
	"[se-sto-01]\nendpoint = 192.0.2.10:51820\n"
	"public_key = TZAsZYGqr0Bg/WGgMktIhgrvZ+sDGpfFHpvOyGWp/SQ=\n"
	"preshared_key = 4xO2uguLcEbIR0m0lMN0fmUx1NYu3Ks6MeIFTeDajvY=\n"
	"country = se\ncity = Stockholm\n\n"
	"[ch-zrh-01]\nendpoint = [2001:db8::10]:51820\n"
	"public_key = Sm/pUNAo6ToGU1zpY5Z2x8MvvYOqtKA6/Sn+Zavp61A=\n"
	"country = CH\ncity = \"Zurich\"\n",
	"[a]\nendpoint = 198.51.100.7:443\n"
	"public_key = pbWvlCChLeHhLRWjyphTvbxxtIhApv+LiehwUWU9e3w=\n"
	"country = us\n",
	"[list]\nexpires = 2026-06-01T00:00:00Z\n[a]\n",
};

static void seed_write(const char *dir, const char *name, uint8_t mode,
		       const void *a, size_t alen, const void *b, size_t blen)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f || fwrite(&mode, 1, 1, f) != 1 ||
	    (alen && fwrite(a, alen, 1, f) != 1) ||
	    (blen && fwrite(b, blen, 1, f) != 1) || fclose(f))
		FAIL("cannot write %s", path);
}

static void seeds_write(const char *dir)
{
	char name[64], sig[256], given[300];

	for (size_t i = 0; i < sizeof(seed_lists) / sizeof(*seed_lists); i++) {
		const char *l = seed_lists[i];
		size_t len = strlen(l), n;

		n = sig_text((const uint8_t *)l, len, keys.sk, sig, sizeof(sig));
		snprintf(name, sizeof(name), "seed-%zu-signed", i);
		seed_write(dir, name, MODE_SIGNED, l, len, NULL, 0);
		memcpy(given, sig, n);
		given[n] = '\0';
		snprintf(name, sizeof(name), "seed-%zu-sig", i);
		seed_write(dir, name, MODE_SIG_GIVEN, given, n + 1, l, len);
		snprintf(name, sizeof(name), "seed-%zu-tampered", i);
		seed_write(dir, name, MODE_TAMPERED, l, len, NULL, 0);
		snprintf(name, sizeof(name), "seed-%zu-other-key", i);
		seed_write(dir, name, MODE_OTHER_KEY, l, len, NULL, 0);
	}
	/* A signature with CRLF and blanks after it, and one that is not. */
	{
		const char *l = seed_lists[0];
		size_t n = sig_text((const uint8_t *)l, strlen(l), keys.sk, sig,
				    sizeof(sig));

		memcpy(given, sig, n - 1);
		memcpy(given + n - 1, " \r\n\n", 5);
		seed_write(dir, "seed-sig-crlf", MODE_SIG_GIVEN, given, n + 4,
			   l, strlen(l));
		seed_write(dir, "seed-sig-short", MODE_SIG_GIVEN, "AAAA\n", 6,
			   l, strlen(l));
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FUZZ_WRITE_SEEDS");

	(void)argc;
	(void)argv;
	keys_make();
	if (dir) {
		seeds_write(dir);
		exit(0);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	switch (data[0] % MODE_COUNT) {
	case MODE_SIGNED:
		run_signed(data + 1, size - 1);
		break;
	case MODE_SIG_GIVEN:
		run_sig_given(data + 1, size - 1);
		break;
	case MODE_TAMPERED:
		run_refused(data + 1, size - 1, false);
		break;
	case MODE_OTHER_KEY:
		run_refused(data + 1, size - 1, true);
		break;
	}
	return 0;
}
