/* SPDX-License-Identifier: MIT */
/*
 * vpnctl servers keygen and vpnctl servers sign: the provider's side of a
 * signed server list.  keygen makes an Ed25519 key pair (the secret half
 * into a new file only its owner may read, the public half printed for the
 * profiles' servers_key); sign writes LIST.sig, the base64 of
 * crypto_sign_detached() over the exact bytes of LIST, which vpnd and
 * vpnctl check (vpnd/conf.c) before they use a byte of the list.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "../vpnd/conf.h"
#include "../vpnd/fdio.h"
#include "ctl.h"
#include "subcommands.h"

enum {
	SK_LEN = crypto_sign_SECRETKEYBYTES,
	PK_LEN = crypto_sign_PUBLICKEYBYTES,
	/* Base64 of the secret key, its newline and room to spare. */
	SK_TEXT_MAX = 256,
};

static void sign_usage(FILE *f)
{
	fprintf(f,
		"Usage: vpnctl servers keygen -k SECRET_KEY_FILE\n"
		"       vpnctl servers sign -k SECRET_KEY_FILE LIST\n\n"
		"For the provider of a server list.  keygen makes an Ed25519 key\n"
		"pair: it writes the secret key into SECRET_KEY_FILE, a new file\n"
		"of mode 0600, and prints the public key, which profiles name as\n"
		"servers_key.  sign writes LIST" CONF_SIG_SUFFIX
		", the signature over the exact\nbytes of LIST, after checking "
		"that vpnd accepts LIST.\n\n"
		"  -k, --key FILE   the secret key file\n"
		"  -h, --help       this text\n\n"
		"Exit codes: 0 done, 1 failed (nothing written), 2 usage.\n");
}

static int sign_parse(const char *cmd, int argc, char **argv,
		      const char **key, int operands)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":k:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'k':
			*key = optarg;
			break;
		case 'h':
			sign_usage(stdout);
			return CTL_EXIT_OK;
		default:
			return ctl_option_error(cmd, opt, optopt,
						argv[optind - 1]);
		}
	}
	if (!*key || !**key)
		return ctl_usage_error(cmd, "-k SECRET_KEY_FILE is required");
	if (argc - optind != operands)
		return ctl_usage_error(cmd, operands ? "one LIST is required" :
						       "unexpected argument");
	return CTL_CONTINUE;
}

/* "vpnctl: WHAT PATH: why", and the exit code that goes with it. */
static int failed(const char *what, const char *path, int err)
{
	fprintf(stderr, "vpnctl: %s %s: %s\n", what, path, strerror(err));
	return CTL_EXIT_FAILED;
}

int cmd_servers_keygen(int argc, char **argv)
{
	const char *path = NULL;
	uint8_t pk[PK_LEN], *sk = NULL;
	char pk_text[sodium_base64_ENCODED_LEN(PK_LEN,
					       sodium_base64_VARIANT_ORIGINAL)];
	char *sk_text = NULL;
	int ret, fd = -1;

	ret = sign_parse("servers keygen", argc, argv, &path, 0);
	if (ret != CTL_CONTINUE)
		return ret;
	ret = CTL_EXIT_FAILED;
	if (sodium_init() < 0) {
		fprintf(stderr, "vpnctl: libsodium cannot start\n");
		return ret;
	}
	sk = sodium_malloc(SK_LEN);
	sk_text = sodium_malloc(SK_TEXT_MAX);
	if (!sk || !sk_text) {
		fprintf(stderr, "vpnctl: out of memory\n");
		goto out;
	}
	crypto_sign_keypair(pk, sk);
	sodium_bin2base64(sk_text, SK_TEXT_MAX, sk, SK_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
	strcat(sk_text, "\n");
	sodium_bin2base64(pk_text, sizeof(pk_text), pk, PK_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
	/* A new file: an existing key is never overwritten. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0) {
		failed("cannot create", path, errno);
		goto out;
	}
	ret = fdio_write_all(fd, sk_text, strlen(sk_text));
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (ret) {
		failed("cannot write", path, -ret);
		unlink(path);
		ret = CTL_EXIT_FAILED;
		goto out;
	}
	printf("%s\n", pk_text);
	ret = CTL_EXIT_OK;
out:
	if (sk)
		sodium_free(sk);
	if (sk_text)
		sodium_free(sk_text);
	return ret;
}

/* The secret key file, as keygen writes it; 0 or CTL_EXIT_FAILED. */
static int secret_read(const char *path, uint8_t *sk, char *text)
{
	struct stat st;
	size_t len = 0, bin = 0;
	const char *end;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return failed("cannot open", path, errno);
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		fprintf(stderr, "vpnctl: %s: not a regular file\n", path);
		return CTL_EXIT_FAILED;
	}
	if (st.st_mode & 077) {
		close(fd);
		fprintf(stderr, "vpnctl: %s: mode %04o gives group or others "
				"access to the secret key; run: chmod 600 %s\n",
			path, (unsigned int)(st.st_mode & 07777), path);
		return CTL_EXIT_FAILED;
	}
	while (len < SK_TEXT_MAX - 1) {
		n = read(fd, text + len, SK_TEXT_MAX - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	text[len] = '\0';
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' ||
		       text[len - 1] == ' '))
		text[--len] = '\0';
	if (!key_base64_text_valid(text, len) ||
	    sodium_base642bin(sk, SK_LEN, text, len, NULL, &bin, &end,
			      sodium_base64_VARIANT_ORIGINAL) ||
	    bin != SK_LEN || *end) {
		fprintf(stderr, "vpnctl: %s: not a secret key as vpnctl "
				"servers keygen writes it\n", path);
		return CTL_EXIT_FAILED;
	}
	return CTL_EXIT_OK;
}

/* The whole of @path, read once: the bytes that get signed. */
static int list_read(const char *path, char **buf, size_t *len)
{
	struct stat st;
	ssize_t n;
	int fd;

	*buf = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return failed("cannot open", path, errno);
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    st.st_size > CONF_FILE_MAX) {
		close(fd);
		fprintf(stderr, "vpnctl: %s: not a regular file of at most "
				"%d bytes\n", path, CONF_FILE_MAX);
		return CTL_EXIT_FAILED;
	}
	*buf = malloc((size_t)st.st_size + 1);
	if (!*buf) {
		close(fd);
		return failed("cannot read", path, ENOMEM);
	}
	while (*len < (size_t)st.st_size + 1) {
		n = read(fd, *buf + *len, (size_t)st.st_size + 1 - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			return failed("cannot read", path, errno);
		}
		if (!n)
			break;
		*len += (size_t)n;
	}
	close(fd);
	if (*len != (size_t)st.st_size) {
		fprintf(stderr, "vpnctl: %s changed while it was read; try "
				"again\n", path);
		return CTL_EXIT_FAILED;
	}
	return CTL_EXIT_OK;
}

/* LIST.sig, written whole under a temporary name and renamed. */
static int sig_write(const char *list, const char *text)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	int fd, ret;

	if ((size_t)snprintf(path, sizeof(path), "%s%s", list,
			     CONF_SIG_SUFFIX) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s.new", path) >= sizeof(tmp))
		return failed("cannot write the signature of", list, ENAMETOOLONG);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  0644);
	if (fd < 0)
		return failed("cannot create", tmp, errno);
	ret = fdio_write_all(fd, text, strlen(text));
	if (!ret)
		ret = fdio_write_all(fd, "\n", 1);
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret) {
		unlink(tmp);
		return failed("cannot write", path, -ret);
	}
	printf("signed %s: %s\n", list, path);
	return CTL_EXIT_OK;
}

int cmd_servers_sign(int argc, char **argv)
{
	char err[CONF_ERR_LEN] = "";
	char sig_text[sodium_base64_ENCODED_LEN(
		crypto_sign_BYTES, sodium_base64_VARIANT_ORIGINAL)];
	const char *key = NULL, *list;
	uint8_t sig[crypto_sign_BYTES], *sk = NULL;
	struct conf_servers *parsed = NULL;
	char *text = NULL, *buf = NULL;
	size_t len;
	int ret;

	ret = sign_parse("servers sign", argc, argv, &key, 1);
	if (ret != CTL_CONTINUE)
		return ret;
	list = argv[optind];
	ret = CTL_EXIT_FAILED;
	if (sodium_init() < 0) {
		fprintf(stderr, "vpnctl: libsodium cannot start\n");
		return ret;
	}
	/* What vpnd would refuse is not worth a signature. */
	if (conf_servers_load(list, &parsed, err, sizeof(err))) {
		fprintf(stderr, "vpnctl: not signed: %s\n", err);
		return ret;
	}
	conf_servers_free(parsed);
	sk = sodium_malloc(SK_LEN);
	text = sodium_malloc(SK_TEXT_MAX);
	if (!sk || !text) {
		fprintf(stderr, "vpnctl: out of memory\n");
		goto out;
	}
	ret = secret_read(key, sk, text);
	if (!ret)
		ret = list_read(list, &buf, &len);
	if (ret)
		goto out;
	crypto_sign_detached(sig, NULL, (const unsigned char *)buf, len, sk);
	sodium_bin2base64(sig_text, sizeof(sig_text), sig, sizeof(sig),
			  sodium_base64_VARIANT_ORIGINAL);
	ret = sig_write(list, sig_text);
out:
	free(buf);
	if (sk)
		sodium_free(sk);
	if (text)
		sodium_free(text);
	return ret;
}
