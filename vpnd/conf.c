/* SPDX-License-Identifier: MIT */
/*
 * Loading vpnd's configuration files: the client profile, the server list
 * and the server config (see conf.h; every key is in docs/config.md).
 *
 * Every file takes the same steps, in this order:
 *
 *  1. It is opened once, and the descriptor is fstat()ed: it must be a
 *     regular file of at most CONF_FILE_MAX bytes.
 *  2. Its bytes are read into sodium_malloc()'d memory.
 *  3. A line scan of our own walks those bytes.  iniparser reports no line
 *     numbers, so the scan records the line of every section and key for
 *     the messages.  It also refuses what iniparser would take silently or
 *     in a way that differs between its versions: a repeated section or key
 *     (iniparser keeps the last value, after freeing the first unwiped), a
 *     key before any section, a backslash (a line continuation or an
 *     escape), an unterminated quote, a control character, a line too long
 *     for iniparser's buffer.  Text that passes the scan is text iniparser
 *     reads without error, and reads the same way.
 *  4. The owner and mode from step 1 are checked, now that the scan knows
 *     whether the file holds a secret key.
 *  5. iniparser reads the file again through /proc/self/fd/N.  iniparser
 *     4.1 opens only paths; that magic link names the inode checked in
 *     step 1, not whatever the path names by now, so no one can swap the
 *     file in between.  Each scanned key is then tied to its value, and a
 *     dictionary that does not hold exactly the scanned entries (the file
 *     was rewritten in place meanwhile) is refused.
 *  6. The values are validated into the result.
 *
 * Whatever the outcome, each value in iniparser's dictionary and the copy
 * of the text are wiped before they are freed (a misspelt key may hold a
 * secret too), and so is the stack iniparser ran on.  What is left is
 * iniparser's stdio buffer, freed by fclose() without being wiped; the same
 * bytes are in the kernel's page cache of the file anyway.
 *
 * Nothing here changes the system: a bad file only produces a message.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

/*
 * Debian installs iniparser's headers in a directory of their own; naming
 * it here builds without an extra -I, and a flat layout works as well.
 */
#if __has_include(<iniparser/iniparser.h>)
#include <iniparser/iniparser.h>
#else
#include <iniparser.h>
#endif

#include <vpn/key.h>

#include "conf.h"
#include "splitnet.h"

/*
 * Called on each region just after it was wiped and before it is released,
 * so that the unit tests can see that it holds zeros.  Empty in vpnd.
 */
#ifndef CONF_TEST_WIPED
#define CONF_TEST_WIPED(p, len) do { } while (0)
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* More than iniparser 4.1's frame (five line buffers) and fgets() use. */
enum { STACK_WIPE_LEN = 16384 };

/* ------------------------------------------------------------------ */
/* Secrets: one sodium_malloc()'d block per loaded file.               */

struct conf_secrets {
	size_t n, used;
	uint8_t key[][KEY_LEN];
};

static size_t secrets_size(size_t n)
{
	return sizeof(struct conf_secrets) + n * KEY_LEN;
}

static struct conf_secrets *secrets_new(size_t n)
{
	struct conf_secrets *s = sodium_malloc(secrets_size(n));

	if (!s)
		return NULL;
	memset(s, 0, secrets_size(n));
	s->n = n;
	return s;
}

/* Every slot is counted by the scan before any is taken. */
static uint8_t *secrets_take(struct conf_secrets *s)
{
	return s && s->used < s->n ? s->key[s->used++] : NULL;
}

static void secrets_free(struct conf_secrets *s)
{
	size_t len;

	if (!s)
		return;
	len = secrets_size(s->n);
	sodium_memzero(s, len);
	CONF_TEST_WIPED(s, len);
	sodium_free(s);
}

/* ------------------------------------------------------------------ */
/* One file being loaded, and its messages.                            */

struct scan_key {
	char *name;		/* lowercase, as iniparser stores it */
	const char *value;	/* in the dictionary, once bound */
	unsigned int line;
};

struct scan_section {
	char *name;		/* lowercase, as iniparser stores it */
	unsigned int line;
	struct scan_key *key;	/* in file order */
	size_t n_key, cap_key;
};

struct conf_file {
	const char *path;
	char *err;
	size_t errlen;
	int fd;
	struct stat st;
	char *text;		/* sodium_malloc()'d copy of the file */
	size_t len, alloc;
	struct scan_section *sec;	/* in file order */
	size_t n_sec, cap_sec;
	size_t n_key;		/* in all sections */
	size_t n_secret;	/* keys that hold or name a secret key */
	/* Where the first secret held in the file itself is, if any. */
	unsigned int secret_line;
	const char *secret_sec, *secret_key;
	dictionary *dict;
};

static void __attribute__((format(printf, 3, 0)))
err_vadd(char *err, size_t errlen, const char *fmt, va_list ap)
{
	size_t used;

	if (!err || !errlen)
		return;
	used = strnlen(err, errlen);
	if (used + 1 < errlen)
		vsnprintf(err + used, errlen - used, fmt, ap);
}

static void __attribute__((format(printf, 3, 4)))
err_add(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vadd(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * Writes "FILE:LINE: [SECTION] KEY: message" and returns @error, so that a
 * check reads "return report(...)".  A zero line, a NULL section or a NULL
 * key is left out of the prefix.
 */
static int __attribute__((format(printf, 6, 0)))
vreport(const struct conf_file *f, unsigned int line, const char *sec,
	const char *key, int error, const char *fmt, va_list ap)
{
	if (!f->err || !f->errlen)
		return error;
	f->err[0] = '\0';
	err_add(f->err, f->errlen, "%s", f->path);
	if (line)
		err_add(f->err, f->errlen, ":%u", line);
	err_add(f->err, f->errlen, ":");
	if (sec)
		err_add(f->err, f->errlen, " [%s]", sec);
	if (key)
		err_add(f->err, f->errlen, " %s", key);
	if (sec || key)
		err_add(f->err, f->errlen, ":");
	err_add(f->err, f->errlen, " ");
	err_vadd(f->err, f->errlen, fmt, ap);
	return error;
}

static int __attribute__((format(printf, 6, 7)))
report(const struct conf_file *f, unsigned int line, const char *sec,
       const char *key, int error, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error = vreport(f, line, sec, key, error, fmt, ap);
	va_end(ap);
	return error;
}

/* A bad value: reported at the key's line, as -EINVAL. */
static int __attribute__((format(printf, 4, 5)))
bad(const struct conf_file *f, const struct scan_section *s,
    const struct scan_key *k, const char *fmt, ...)
{
	va_list ap;
	int error;

	va_start(ap, fmt);
	error = vreport(f, k->line, s->name, k->name, -EINVAL, fmt, ap);
	va_end(ap);
	return error;
}

/* A required key that is absent: reported at its section's header. */
static int missing(const struct conf_file *f, const struct scan_section *s,
		   const char *key, const char *hint)
{
	return report(f, s->line, s->name, key, -EINVAL, "missing: %s", hint);
}

static int no_memory(const struct conf_file *f)
{
	return report(f, 0, NULL, NULL, -ENOMEM, "out of memory");
}

/* ------------------------------------------------------------------ */
/* Who may own and open a file.                                        */

enum trust {
	TRUST_OK,
	TRUST_OWNER,		/* owned by someone else */
	TRUST_SECRET_MODE,	/* holds a secret and is open to others */
	TRUST_WRITABLE,		/* others may write it */
};

/*
 * A file that holds a secret must be closed to group and others, as
 * wg-quick warns.  Any file must be writable by its owner alone, and owned
 * by root or by the user vpnd runs as: whoever can rewrite a profile or the
 * server list chooses where the tunnel goes.
 */
static enum trust trust_check(const struct stat *st, bool secret)
{
	mode_t mode = st->st_mode & 07777;

	if (st->st_uid != 0 && st->st_uid != geteuid())
		return TRUST_OWNER;
	if (secret && (mode & 077))
		return TRUST_SECRET_MODE;
	if (mode & 022)
		return TRUST_WRITABLE;
	return TRUST_OK;
}

static void trust_explain(enum trust t, const struct stat *st,
			  const char *path, char *buf, size_t len)
{
	unsigned int mode = st->st_mode & 07777;

	switch (t) {
	case TRUST_OWNER:
		snprintf(buf, len,
			 "owned by uid %u, but only root or uid %u (who runs vpnd) may own it: its owner can rewrite it",
			 (unsigned int)st->st_uid, (unsigned int)geteuid());
		break;
	case TRUST_SECRET_MODE:
		snprintf(buf, len,
			 "mode %04o gives group or others access to a file that holds a secret key; run: chmod 600 %s",
			 mode, path);
		break;
	case TRUST_WRITABLE:
		snprintf(buf, len,
			 "mode %04o lets group or others write it, and whoever writes it chooses where the tunnel goes; run: chmod go-w %s",
			 mode, path);
		break;
	case TRUST_OK:
		buf[0] = '\0';
		break;
	}
}

/* ------------------------------------------------------------------ */
/* Characters and small values.                                        */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static bool is_letter(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_alnum(char c)
{
	return is_letter(c) || (c >= '0' && c <= '9');
}

static char to_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool is_section_char(char c)
{
	return is_alnum(c) || c == ' ' || c == '-' || c == '_' || c == '.' ||
	       c == '@';
}

static bool is_key_char(char c)
{
	return is_alnum(c) || c == '_' || c == '-' || c == '.';
}

/* Server ids and peer names; peer names may also hold '@'. */
static bool is_id(const char *s, bool at)
{
	if (!*s || strlen(s) > CONF_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!is_alnum(*s) && *s != '-' && *s != '_' && *s != '.' &&
		    !(at && *s == '@'))
			return false;
	return true;
}

static void trim(const char **s, const char **e)
{
	while (*s < *e && is_blank(**s))
		(*s)++;
	while (*e > *s && is_blank((*e)[-1]))
		(*e)--;
}

static char *lower_dup(const char *s, size_t len)
{
	char *d = malloc(len + 1);

	if (!d)
		return NULL;
	for (size_t i = 0; i < len; i++)
		d[i] = to_lower(s[i]);
	d[len] = '\0';
	return d;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Decimal digits only (no sign, no blanks, no 0x), at most @max. */
static bool uint_parse(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!all_digits(s))
		return false;
	for (; *s; s++) {
		unsigned long d = (unsigned long)(*s - '0');

		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* ------------------------------------------------------------------ */
/* Step 3: the line scan.                                              */

static const char *const secret_key_names[] = {
	"private_key", "preshared_key", "private_key_file",
};

static int scan_add_section(struct conf_file *f, unsigned int line,
			    const char *name, size_t len)
{
	struct scan_section *s;

	if (f->n_sec == f->cap_sec) {
		size_t cap = f->cap_sec ? 2 * f->cap_sec : 16;

		s = reallocarray(f->sec, cap, sizeof(*s));
		if (!s)
			return no_memory(f);
		f->sec = s;
		f->cap_sec = cap;
	}
	s = &f->sec[f->n_sec];
	memset(s, 0, sizeof(*s));
	s->name = lower_dup(name, len);
	if (!s->name)
		return no_memory(f);
	s->line = line;
	f->n_sec++;
	return 0;
}

static int scan_add_key(struct conf_file *f, struct scan_section *s,
			unsigned int line, const char *name, size_t len)
{
	struct scan_key *k;

	if (s->n_key == CONF_SECTION_KEYS_MAX)
		return report(f, line, s->name, NULL, -EINVAL,
			      "more than %d keys in one section",
			      CONF_SECTION_KEYS_MAX);
	if (s->n_key == s->cap_key) {
		size_t cap = s->cap_key ? 2 * s->cap_key : 8;

		k = reallocarray(s->key, cap, sizeof(*k));
		if (!k)
			return no_memory(f);
		s->key = k;
		s->cap_key = cap;
	}
	k = &s->key[s->n_key];
	memset(k, 0, sizeof(*k));
	k->name = lower_dup(name, len);
	if (!k->name)
		return no_memory(f);
	k->line = line;
	s->n_key++;
	f->n_key++;
	return 0;
}

static int scan_section(struct conf_file *f, unsigned int line,
			const char *s, const char *e)
{
	const char *n = s + 1, *ne = e - 1;

	if (e - s < 2 || e[-1] != ']')
		return report(f, line, NULL, NULL, -EINVAL,
			      "a section header must end with ']' (a comment goes on a line of its own)");
	trim(&n, &ne);
	if (n == ne)
		return report(f, line, NULL, NULL, -EINVAL,
			      "a section needs a name");
	if (ne - n > CONF_NAME_MAX)
		return report(f, line, NULL, NULL, -EINVAL,
			      "a section name is at most %d characters",
			      CONF_NAME_MAX);
	for (const char *p = n; p < ne; p++)
		if (!is_section_char(*p))
			return report(f, line, NULL, NULL, -EINVAL,
				      "a section name holds letters, digits, spaces and - _ . @ only");
	return scan_add_section(f, line, n, (size_t)(ne - n));
}

static int scan_key(struct conf_file *f, unsigned int line, const char *s,
		    const char *e)
{
	const char *eq = memchr(s, '=', (size_t)(e - s));
	const char *k = s, *ke = eq, *v, *ve = e;
	struct scan_section *sec;
	char name[CONF_NAME_MAX + 1];
	size_t len;

	if (!eq)
		return report(f, line, NULL, NULL, -EINVAL,
			      "expected \"key = value\", \"[section]\" or a comment");
	trim(&k, &ke);
	len = (size_t)(ke - k);
	if (!len)
		return report(f, line, NULL, NULL, -EINVAL,
			      "a key name is missing before '='");
	if (len > CONF_NAME_MAX)
		return report(f, line, NULL, NULL, -EINVAL,
			      "a key name is at most %d characters",
			      CONF_NAME_MAX);
	for (size_t i = 0; i < len; i++) {
		if (!is_key_char(k[i]))
			return report(f, line, NULL, NULL, -EINVAL,
				      "\"%.*s\" is not a key name: names hold letters, digits and _ - . only",
				      (int)len, k);
		name[i] = to_lower(k[i]);
	}
	name[len] = '\0';
	if (!f->n_sec)
		return report(f, line, NULL, name, -EINVAL,
			      "comes before any [section]");
	sec = &f->sec[f->n_sec - 1];
	for (size_t i = 0; i < sec->n_key; i++)
		if (!strcmp(sec->key[i].name, name))
			return report(f, line, sec->name, name, -EINVAL,
				      "set twice (first at line %u)",
				      sec->key[i].line);

	/*
	 * iniparser 4.1 takes a quoted value up to the next quote of the same
	 * kind and drops what follows; anything but a comment there, or no
	 * closing quote at all, is a mistake that should not pass silently.
	 */
	v = eq + 1;
	trim(&v, &ve);
	if (v < ve && (*v == '"' || *v == '\'')) {
		const char *q = memchr(v + 1, *v, (size_t)(ve - v - 1));

		if (!q)
			return report(f, line, sec->name, name, -EINVAL,
				      "unterminated quote");
		for (q++; q < ve && is_blank(*q); q++)
			;
		if (q < ve && *q != '#' && *q != ';')
			return report(f, line, sec->name, name, -EINVAL,
				      "text after the closing quote");
	}

	for (size_t i = 0; i < ARRAY_SIZE(secret_key_names); i++) {
		if (strcmp(name, secret_key_names[i]))
			continue;
		f->n_secret++;
		/* private_key_file names a secret; it does not hold one. */
		if (i < 2 && !f->secret_line) {
			f->secret_line = line;
			f->secret_sec = sec->name;
			f->secret_key = secret_key_names[i];
		}
	}
	return scan_add_key(f, sec, line, name, len);
}

static int scan_line(struct conf_file *f, unsigned int line, const char *s,
		     const char *e)
{
	const char *t = s, *te = e;

	if (e - s > CONF_LINE_MAX)
		return report(f, line, NULL, NULL, -EINVAL,
			      "the line is longer than %d characters",
			      CONF_LINE_MAX);
	for (const char *p = s; p < e; p++) {
		unsigned char c = (unsigned char)*p;

		if ((c < 0x20 && c != '\t' && !(c == '\r' && p + 1 == e)) ||
		    c == 0x7f)
			return report(f, line, NULL, NULL, -EINVAL,
				      "control character 0x%02x in column %u", c,
				      (unsigned int)(p - s + 1));
	}
	trim(&t, &te);
	if (t == te)
		return 0;
	/* iniparser joins a line that ends in '\' to the next, comments too. */
	if (te[-1] == '\\')
		return report(f, line, NULL, NULL, -EINVAL,
			      "a line may not end with '\\' (line continuations are not supported)");
	if (*t == '#' || *t == ';')
		return 0;
	if (memchr(t, '\\', (size_t)(te - t)))
		return report(f, line, NULL, NULL, -EINVAL,
			      "backslashes are not allowed outside comments (iniparser versions disagree on escapes)");
	if (*t == '[')
		return scan_section(f, line, t, te);
	return scan_key(f, line, t, te);
}

static int section_order(const void *a, const void *b)
{
	const struct scan_section *x = *(const struct scan_section *const *)a;
	const struct scan_section *y = *(const struct scan_section *const *)b;
	int c = strcmp(x->name, y->name);

	return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* iniparser would merge a repeated section into the first silently. */
static int scan_check_repeats(struct conf_file *f)
{
	const struct scan_section **v, *first = NULL, *again = NULL;

	if (f->n_sec < 2)
		return 0;
	v = calloc(f->n_sec, sizeof(*v));
	if (!v)
		return no_memory(f);
	for (size_t i = 0; i < f->n_sec; i++)
		v[i] = &f->sec[i];
	qsort(v, f->n_sec, sizeof(*v), section_order);
	for (size_t i = 1; i < f->n_sec; i++)
		if (!strcmp(v[i - 1]->name, v[i]->name) &&
		    (!again || v[i]->line < again->line)) {
			first = v[i - 1];
			again = v[i];
		}
	free(v);
	if (again)
		return report(f, again->line, again->name, NULL, -EINVAL,
			      "section repeated (first at line %u)", first->line);
	return 0;
}

static int scan_text(struct conf_file *f)
{
	const char *p = f->text, *end = f->text + f->len;
	unsigned int line = 0;
	int r;

	/* iniparser would take the mark for part of the first line. */
	if (f->len >= 3 && !memcmp(p, "\xef\xbb\xbf", 3))
		return report(f, 1, NULL, NULL, -EINVAL,
			      "the file starts with a UTF-8 byte order mark; save it without one");
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;

		r = scan_line(f, ++line, p, eol);
		if (r)
			return r;
		p = nl ? nl + 1 : end;
	}
	return scan_check_repeats(f);
}

/* ------------------------------------------------------------------ */
/* Steps 1, 2, 4 and 5: open, read, check, let iniparser read.         */

static int file_read(struct conf_file *f)
{
	int e;

	f->fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (f->fd < 0) {
		e = errno;
		return report(f, 0, NULL, NULL, -e, "cannot open: %s",
			      strerror(e));
	}
	if (fstat(f->fd, &f->st)) {
		e = errno;
		return report(f, 0, NULL, NULL, -e, "cannot stat: %s",
			      strerror(e));
	}
	if (!S_ISREG(f->st.st_mode))
		return report(f, 0, NULL, NULL, -EINVAL, "not a regular file");
	if (f->st.st_size > CONF_FILE_MAX)
		return report(f, 0, NULL, NULL, -EFBIG,
			      "%lld bytes is over the limit of %d; large peer sets belong in the UAPI (wg set, wg addconf)",
			      (long long)f->st.st_size, CONF_FILE_MAX);

	/* One byte more than fstat() said, to notice a file still growing. */
	f->alloc = (size_t)f->st.st_size + 1;
	f->text = sodium_malloc(f->alloc);
	if (!f->text)
		return no_memory(f);
	while (f->len < f->alloc) {
		ssize_t n = read(f->fd, f->text + f->len, f->alloc - f->len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			return report(f, 0, NULL, NULL, -EIO, "cannot read: %s",
				      strerror(e));
		}
		if (!n)
			break;
		f->len += (size_t)n;
	}
	if (f->len == f->alloc)
		return report(f, 0, NULL, NULL, -EIO,
			      "the file grew while it was read; try again");
	f->text[f->len] = '\0';
	return 0;
}

static int file_check_trust(struct conf_file *f)
{
	enum trust t = trust_check(&f->st, f->secret_line != 0);
	char why[PATH_MAX + 200];

	if (t == TRUST_OK)
		return 0;
	trust_explain(t, &f->st, f->path, why, sizeof(why));
	if (t == TRUST_SECRET_MODE)
		return report(f, f->secret_line, f->secret_sec, f->secret_key,
			      -EACCES, "%s", why);
	return report(f, 0, NULL, NULL, -EACCES, "%s", why);
}

/*
 * The index of the entry called @name.  iniparser 4.1 stores entries in
 * the order it read them, so the one at @hint (just after the previous
 * find) is nearly always it; a full search is the fallback for a library
 * that orders them otherwise.
 */
static ssize_t dict_find(const dictionary *d, ssize_t hint, const char *name)
{
	if (hint >= 0 && hint < d->size && d->key[hint] &&
	    !strcmp(d->key[hint], name))
		return hint;
	for (ssize_t i = 0; i < d->size; i++)
		if (d->key[i] && !strcmp(d->key[i], name))
			return i;
	return -1;
}

/* Ties each scanned key to its value: sections have none, keys have one. */
static int file_bind(struct conf_file *f)
{
	const dictionary *d = f->dict;
	char name[2 * CONF_NAME_MAX + 2];
	ssize_t at = 0;

	if (d->n < 0 || (size_t)d->n != f->n_sec + f->n_key)
		goto changed;
	for (size_t i = 0; i < f->n_sec; i++) {
		struct scan_section *s = &f->sec[i];

		at = dict_find(d, at, s->name);
		if (at < 0 || d->val[at])
			goto changed;
		at++;
		for (size_t j = 0; j < s->n_key; j++) {
			snprintf(name, sizeof(name), "%s:%s", s->name,
				 s->key[j].name);
			at = dict_find(d, at, name);
			if (at < 0 || !d->val[at])
				goto changed;
			s->key[j].value = d->val[at++];
		}
	}
	return 0;
changed:
	return report(f, 0, NULL, NULL, -EIO,
		      "the file changed while it was read, or iniparser read it differently from vpnd's line scan; try again");
}

static int file_parse(struct conf_file *f)
{
	char proc[64];
	struct stat st;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", f->fd);
	if (stat(proc, &st) || st.st_dev != f->st.st_dev ||
	    st.st_ino != f->st.st_ino)
		return report(f, 0, NULL, NULL, -EIO,
			      "cannot read it again through %s (is /proc mounted?)",
			      proc);
	f->dict = iniparser_load(proc);
	/* iniparser's line buffers held the text on the stack it just left. */
	sodium_stackzero(STACK_WIPE_LEN);
	if (!f->dict)
		return report(f, 0, NULL, NULL, -EIO,
			      "iniparser could not read it");
	return file_bind(f);
}

/* PATH.sig's base64, decoded; 0, or an error reported on the list. */
static int sig_read(const struct conf_file *f, uint8_t sig[CONF_SIG_LEN])
{
	char path[PATH_MAX], text[CONF_SIG_FILE_MAX + 1];
	const char *end;
	size_t len = 0, bin = 0;
	struct stat st;
	ssize_t n;
	int fd, e;

	if ((size_t)snprintf(path, sizeof(path), "%s%s", f->path,
			     CONF_SIG_SUFFIX) >= sizeof(path))
		return report(f, 0, NULL, NULL, -ENAMETOOLONG,
			      "the path of its signature is too long");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		e = errno;
		return report(f, 0, NULL, NULL, e == ENOENT ? -ENOENT : -EPERM,
			      "refused: the profile's servers_key requires a signed list, and %s cannot be opened: %s (the provider signs with vpnctl servers sign)",
			      path, strerror(e));
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    st.st_size > CONF_SIG_FILE_MAX) {
		close(fd);
		return report(f, 0, NULL, NULL, -EPERM,
			      "refused: %s is not a regular file of at most %d bytes",
			      path, CONF_SIG_FILE_MAX);
	}
	while (len < sizeof(text) - 1) {
		n = read(fd, text + len, sizeof(text) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	text[len] = '\0';
	while (len && (text[len - 1] == '\n' || is_blank(text[len - 1])))
		text[--len] = '\0';
	if (!key_base64_text_valid(text, len) ||
	    sodium_base642bin(sig, CONF_SIG_LEN, text, len, NULL, &bin, &end,
			      sodium_base64_VARIANT_ORIGINAL) ||
	    bin != CONF_SIG_LEN || *end)
		return report(f, 0, NULL, NULL, -EPERM,
			      "refused: %s is not a signature: expected one line of base64 holding %d bytes, as vpnctl servers sign writes",
			      path, CONF_SIG_LEN);
	return 0;
}

/* The exact bytes read, signed by @key; checked before any is used. */
static int sig_check(const struct conf_file *f, const uint8_t *key)
{
	uint8_t sig[CONF_SIG_LEN];
	int r = sig_read(f, sig);

	if (r)
		return r;
	if (crypto_sign_verify_detached(sig, (const unsigned char *)f->text,
					f->len, key))
		return report(f, 0, NULL, NULL, -EPERM,
			      "refused: the signature in %s%s does not match: the list was changed after it was signed, or signed by a key other than the profile's servers_key",
			      f->path, CONF_SIG_SUFFIX);
	return 0;
}

/*
 * Steps 1 to 5.  With @sig_key (a server list under the profile's
 * servers_key), the signature is checked on the bytes just read, before
 * any of them is scanned or parsed: a list that was tampered with is
 * refused as such, not for what the tampering did to its syntax.
 */
static int file_load(struct conf_file *f, const char *path,
		     const uint8_t *sig_key, char *err, size_t errlen)
{
	int r;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	f->path = path;
	f->err = err;
	f->errlen = errlen;
	if (err && errlen)
		err[0] = '\0';
	if (sodium_init() < 0)
		return report(f, 0, NULL, NULL, -EIO, "libsodium cannot start");
	r = file_read(f);
	if (!r && sig_key)
		r = sig_check(f, sig_key);
	if (!r)
		r = scan_text(f);
	if (!r)
		r = file_check_trust(f);
	if (!r)
		r = file_parse(f);
	return r;
}

/* Every value, not only the known secrets: a misspelt key may hold one. */
static void dict_wipe(dictionary *d)
{
	for (ssize_t i = 0; i < d->size; i++) {
		size_t len;

		if (!d->val[i])
			continue;
		len = strlen(d->val[i]);
		sodium_memzero(d->val[i], len);
		CONF_TEST_WIPED(d->val[i], len);
	}
}

static void file_close(struct conf_file *f)
{
	if (f->dict) {
		dict_wipe(f->dict);
		iniparser_freedict(f->dict);
	}
	if (f->text) {
		sodium_memzero(f->text, f->alloc);
		CONF_TEST_WIPED(f->text, f->alloc);
		sodium_free(f->text);
	}
	for (size_t i = 0; i < f->n_sec; i++) {
		for (size_t j = 0; j < f->sec[i].n_key; j++)
			free(f->sec[i].key[j].name);
		free(f->sec[i].key);
		free(f->sec[i].name);
	}
	free(f->sec);
	if (f->fd >= 0)
		close(f->fd);
}

/* The slots for every secret the scan saw; none is allocated for none. */
static int file_secrets(const struct conf_file *f, struct conf_secrets **out)
{
	*out = NULL;
	if (!f->n_secret)
		return 0;
	*out = secrets_new(f->n_secret);
	return *out ? 0 : no_memory(f);
}

/* ------------------------------------------------------------------ */
/* Step 6: values.                                                     */

static const struct scan_key *sec_get(const struct scan_section *s,
				      const char *name)
{
	for (size_t i = 0; i < s->n_key; i++)
		if (!strcmp(s->key[i].name, name))
			return &s->key[i];
	return NULL;
}

/* Typos must not be ignored: a key this section does not know is refused. */
static int check_keys(const struct conf_file *f, const struct scan_section *s,
		      const char *const *known)
{
	char list[256] = "";

	for (size_t i = 0; i < s->n_key; i++) {
		size_t j;

		for (j = 0; known[j]; j++)
			if (!strcmp(s->key[i].name, known[j]))
				break;
		if (known[j])
			continue;
		for (j = 0; known[j]; j++)
			err_add(list, sizeof(list), "%s%s", j ? ", " : "",
				known[j]);
		return bad(f, s, &s->key[i], "unknown key (known here: %s)",
			   list);
	}
	return 0;
}

static int key_parse(const struct conf_file *f, const struct scan_section *s,
		     const struct scan_key *k, uint8_t key[KEY_LEN])
{
	/* The value is never quoted back: it may be a secret. */
	if (key_from_base64(key, k->value))
		return bad(f, s, k,
			   "not a key: expected 44 characters of base64 ending in '=', as wg genkey and wg pubkey print");
	return 0;
}

static int secret_parse(const struct conf_file *f,
			const struct scan_section *s, const struct scan_key *k,
			struct conf_secrets *secrets, const uint8_t **out)
{
	uint8_t *slot = secrets_take(secrets);

	if (!slot)
		return no_memory(f);
	*out = slot;
	return key_parse(f, s, k, slot);
}

static bool ip_unspecified(const struct conf_prefix *p)
{
	static const uint8_t zero[16];

	return !memcmp(&p->addr, zero, p->family == AF_INET ? 4 : 16);
}

/* The mask of byte @i of a prefix @cidr bits long. */
static uint8_t mask_byte(unsigned int cidr, unsigned int i)
{
	if (cidr >= 8 * (i + 1))
		return 0xff;
	if (cidr <= 8 * i)
		return 0;
	return (uint8_t)(0xff00u >> (cidr - 8 * i));
}

static bool prefix_host_bits(const struct conf_prefix *p)
{
	const uint8_t *a = (const uint8_t *)&p->addr;
	unsigned int len = p->family == AF_INET ? 4 : 16;

	for (unsigned int i = 0; i < len; i++)
		if (a[i] & (uint8_t)~mask_byte(p->cidr, i))
			return true;
	return false;
}

static void prefix_clear_host_bits(struct conf_prefix *p)
{
	uint8_t *a = (uint8_t *)&p->addr;
	unsigned int len = p->family == AF_INET ? 4 : 16;

	for (unsigned int i = 0; i < len; i++)
		a[i] &= mask_byte(p->cidr, i);
}

static const char *prefix_text(const struct conf_prefix *p, char *buf,
			       size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(p->family, &p->addr, ip, sizeof(ip));
	snprintf(buf, len, "%s/%u", ip, p->cidr);
	return buf;
}

/*
 * "ADDR" or "ADDR/LEN" of @len bytes at @s.  Returns NULL, or why it is
 * not one.  A plain address is a /32 or a /128, as with wg-quick.
 */
static const char *prefix_parse(struct conf_prefix *p, const char *s,
				size_t len)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash;
	unsigned long max, cidr;

	if (len >= sizeof(buf))
		return "too long to be an address";
	memcpy(buf, s, len);
	buf[len] = '\0';
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	memset(p, 0, sizeof(*p));
	if (inet_pton(AF_INET, buf, &p->addr.ip4) == 1) {
		p->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, &p->addr.ip6) == 1) {
		p->family = AF_INET6;
		max = 128;
	} else if (strchr(buf, '%')) {
		return "not an IP address (zone indices such as %eth0 are not supported)";
	} else {
		return "not an IP address";
	}
	cidr = max;
	if (slash && !uint_parse(slash, max, &cidr))
		return max == 32 ? "the prefix length must be a number from 0 to 32" :
				   "the prefix length must be a number from 0 to 128";
	p->cidr = (uint8_t)cidr;
	return NULL;
}

/*
 * Calls @item for each comma-separated entry of @k, trimmed.  An empty
 * entry (",," or a trailing comma) is refused rather than skipped.
 */
typedef int (*list_item_fn)(const struct conf_file *f,
			    const struct scan_section *s,
			    const struct scan_key *k, unsigned int n,
			    const char *item, size_t len, void *ctx);

static int list_walk(const struct conf_file *f, const struct scan_section *s,
		     const struct scan_key *k, list_item_fn item, void *ctx)
{
	const char *p = k->value;
	unsigned int n = 0;
	int r;

	if (!*p)
		return bad(f, s, k, "empty");
	for (;;) {
		const char *comma = strchr(p, ',');
		const char *e = comma ? comma : p + strlen(p), *b = p;

		trim(&b, &e);
		n++;
		if (b == e)
			return bad(f, s, k, "entry %u is empty", n);
		r = item(f, s, k, n, b, (size_t)(e - b), ctx);
		if (r)
			return r;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

struct address_list {
	struct conf_prefix *v;
	unsigned int *n;
	unsigned int max;
	bool dns;		/* plain addresses, not prefixes */
};

static int address_item(const struct conf_file *f,
			const struct scan_section *s, const struct scan_key *k,
			unsigned int n, const char *item, size_t len, void *ctx)
{
	struct address_list *l = ctx;
	struct conf_prefix p;
	const char *why;

	if (*l->n == l->max)
		return bad(f, s, k, "more than %u entries", l->max);
	why = prefix_parse(&p, item, len);
	if (!why && l->dns && memchr(item, '/', len))
		why = "a DNS server is an address, without a prefix length";
	if (!why && ip_unspecified(&p))
		why = "the unspecified address names no host";
	if (!why && !l->dns && p.cidr == 0)
		why = "a prefix length of 0 would make every address local";
	if (why)
		return bad(f, s, k, "entry %u \"%.*s\": %s", n, (int)len, item,
			   why);
	l->v[(*l->n)++] = p;
	return 0;
}

static int addresses_parse(const struct conf_file *f,
			   const struct scan_section *s,
			   const struct scan_key *k, struct conf_prefix *v,
			   unsigned int *n, unsigned int max, bool dns)
{
	struct address_list l = { .v = v, .n = n, .max = max, .dns = dns };

	return list_walk(f, s, k, address_item, &l);
}

/*
 * "1.2.3.4:51820" or "[2001:db8::1]:51820".  A hostname is refused: the
 * tunnel's destination must not depend on an answer from whatever DNS
 * server the local network hands out.  The text is not quoted back in
 * messages: endpoints stay out of logs.
 */
static const char *endpoint_parse(union conf_endpoint *ep, const char *s)
{
	char host[INET6_ADDRSTRLEN];
	const char *h, *he, *port;
	unsigned long pnum;
	bool v6 = *s == '[';
	bool name = false;

	memset(ep, 0, sizeof(*ep));
	if (v6) {
		h = s + 1;
		he = strchr(h, ']');
		if (!he)
			return "a '[' without its ']'";
		if (he[1] != ':')
			return "expected \":PORT\" after ']'";
		port = he + 2;
	} else {
		h = s;
		he = strrchr(s, ':');
		if (!he)
			return "expected ADDRESS:PORT (WireGuard usually listens on 51820)";
		if (memchr(h, ':', (size_t)(he - h)))
			return "an IPv6 endpoint must be in brackets, as in [2001:db8::1]:51820";
		port = he + 1;
	}
	if ((size_t)(he - h) >= sizeof(host))
		return "not an IP address";
	memcpy(host, h, (size_t)(he - h));
	host[he - h] = '\0';
	if (strchr(host, '%'))
		return "zone indices such as %eth0 are not supported";
	for (const char *p = host; *p; p++)
		if ((*p >= 'g' && *p <= 'z') || (*p >= 'G' && *p <= 'Z'))
			name = true;

	if (v6 && inet_pton(AF_INET6, host, &ep->in6.sin6_addr) == 1) {
		ep->in6.sin6_family = AF_INET6;
	} else if (!v6 && inet_pton(AF_INET, host, &ep->in4.sin_addr) == 1) {
		ep->in4.sin_family = AF_INET;
	} else if (v6 && inet_pton(AF_INET, host, &ep->in4.sin_addr) == 1) {
		return "brackets are for IPv6 addresses only";
	} else if (name || (!v6 && strpbrk(host, "abcdefABCDEF"))) {
		return "hostnames are refused: write the server's IP address, so that no local DNS answer can choose where the tunnel goes";
	} else {
		return "not an IP address";
	}
	if (!uint_parse(port, 65535, &pnum) || !pnum)
		return "the port must be a number from 1 to 65535";
	if (ep->sa.sa_family == AF_INET) {
		ep->in4.sin_port = htons((uint16_t)pnum);
		if (ep->in4.sin_addr.s_addr == htonl(INADDR_ANY))
			return "0.0.0.0 names no server";
	} else {
		ep->in6.sin6_port = htons((uint16_t)pnum);
		if (IN6_IS_ADDR_UNSPECIFIED(&ep->in6.sin6_addr))
			return ":: names no server";
	}
	return NULL;
}

static int bool_parse(const struct conf_file *f, const struct scan_section *s,
		      const struct scan_key *k, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (!strcasecmp(k->value, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(k->value, no[i])) {
			*out = false;
			return 0;
		}
	}
	return bad(f, s, k, "\"%.32s\" is not one of yes, no, true, false, on, off, 1, 0",
		   k->value);
}

static int port_parse(const struct conf_file *f, const struct scan_section *s,
		      const struct scan_key *k, uint16_t *out)
{
	unsigned long v;

	if (!uint_parse(k->value, 65535, &v) || !v)
		return bad(f, s, k, "\"%.32s\" is not a port from 1 to 65535",
			   k->value);
	*out = (uint16_t)v;
	return 0;
}

/* A relative path is taken from the directory of the file that names it. */
static int path_parse(const struct conf_file *f, const struct scan_section *s,
		      const struct scan_key *k, char **out)
{
	const char *slash = strrchr(f->path, '/');
	const char *v = k->value;
	int n;

	if (!*v)
		return bad(f, s, k, "empty path");
	if (strlen(v) >= PATH_MAX)
		return bad(f, s, k, "the path is too long");
	if (v[0] != '/' && !strcmp(f->path, CONF_STDIN_PATH))
		return bad(f, s, k,
			   "a config read from standard input has no directory to find \"%.32s\" in: give an absolute path",
			   v);
	if (v[0] == '/' || !slash)
		n = asprintf(out, "%s", v);
	else
		n = asprintf(out, "%.*s/%s", (int)(slash - f->path), f->path,
			     v);
	if (n < 0) {
		*out = NULL;
		return no_memory(f);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* The client profile.                                                 */

static const char *const client_keys[] = {
	"private_key", "address", "dns", "mtu", "kill_switch", "allow_lan",
	"servers", "server", "servers_key", "failover_after",
	"probe_timeout_ms", NULL,
};

static int client_mtu(const struct conf_file *f, const struct scan_section *s,
		      const struct scan_key *k, struct conf_client *c)
{
	unsigned long v;

	if (!all_digits(k->value))
		return bad(f, s, k, "\"%.32s\" is not a number", k->value);
	if (!uint_parse(k->value, CONF_MTU_MAX, &v) ||
	    (v && v < CONF_MTU_MIN))
		return bad(f, s, k,
			   "%.32s is out of range: %d to %d, or 0 for the default (%d is IPv6's minimum)",
			   k->value, CONF_MTU_MIN, CONF_MTU_MAX, CONF_MTU_MIN);
	c->mtu = (unsigned int)v;
	return 0;
}

static int client_kill_switch(const struct conf_file *f,
			      const struct scan_section *s,
			      const struct scan_key *k, struct conf_client *c)
{
	static const enum conf_kill_switch all[] = {
		CONF_KILL_SWITCH_OFF, CONF_KILL_SWITCH_ON,
		CONF_KILL_SWITCH_LOCKDOWN,
	};

	for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
		if (!strcasecmp(k->value, conf_kill_switch_name(all[i]))) {
			c->kill_switch = all[i];
			return 0;
		}
	}
	return bad(f, s, k, "\"%.32s\" is not one of off, on, lockdown",
		   k->value);
}

/* An unsigned number of at most @max, for @what in a message. */
static int number_parse(const struct conf_file *f,
			const struct scan_section *s, const struct scan_key *k,
			unsigned long min, unsigned long max, const char *what,
			unsigned int *out)
{
	unsigned long v;

	if (!uint_parse(k->value, max, &v) || v < min)
		return bad(f, s, k, "\"%.32s\" is not %s from %lu to %lu",
			   k->value, what, min, max);
	*out = (unsigned int)v;
	return 0;
}

int conf_select_parse(const char *text, enum conf_select *kind, char **value,
		      char *err, size_t errlen)
{
	const char *v;

	*kind = CONF_SELECT_NONE;
	*value = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (!strcasecmp(text, "fastest")) {
		*kind = CONF_SELECT_FASTEST;
		return 0;
	}
	if (!strncasecmp(text, "country:", 8)) {
		v = text + 8;
		if (strlen(v) != 2 || !is_letter(v[0]) || !is_letter(v[1])) {
			err_add(err, errlen,
				"\"%.32s\" is not a two-letter ISO 3166-1 country code, such as country:se",
				v);
			return -EINVAL;
		}
		*kind = CONF_SELECT_COUNTRY;
		*value = lower_dup(v, 2);
		return *value ? 0 : -ENOMEM;
	}
	if (!strncasecmp(text, "city:", 5)) {
		v = text + 5;
		if (!*v || strlen(v) > CONF_NAME_MAX) {
			err_add(err, errlen,
				"a city is 1 to %d bytes, as the server list writes it (city:stockholm)",
				CONF_NAME_MAX);
			return -EINVAL;
		}
		*kind = CONF_SELECT_CITY;
		*value = strdup(v);
		return *value ? 0 : -ENOMEM;
	}
	if (!is_id(text, false)) {
		err_add(err, errlen,
			"not a server id (1 to %d letters, digits and - _ ., the name of a section of the server list), fastest, country:CC or city:NAME",
			CONF_NAME_MAX);
		return -EINVAL;
	}
	*kind = CONF_SELECT_ID;
	*value = lower_dup(text, strlen(text));
	return *value ? 0 : -ENOMEM;
}

static int client_server(const struct conf_file *f,
			 const struct scan_section *s, const struct scan_key *k,
			 struct conf_client *c)
{
	char why[CONF_ERR_LEN];
	char *value;
	int r;

	r = conf_select_parse(k->value, &c->select, &value, why, sizeof(why));
	if (r == -ENOMEM)
		return no_memory(f);
	if (r)
		return bad(f, s, k, "%s", why);
	if (c->select == CONF_SELECT_ID)
		c->server = value;
	else
		c->select_value = value;
	c->server_line = k->line;
	return 0;
}

static int client_servers_key(const struct conf_file *f,
			      const struct scan_section *s,
			      const struct scan_key *k, struct conf_client *c)
{
	if (key_from_base64(c->servers_key, k->value))
		return bad(f, s, k,
			   "not a key: expected 44 characters of base64 ending in '=', as vpnctl servers keygen prints");
	c->has_servers_key = true;
	return 0;
}

static int client_interface(const struct conf_file *f,
			    const struct scan_section *s, struct conf_client *c)
{
	const struct scan_key *k;
	int r;

	r = check_keys(f, s, client_keys);
	if (r)
		return r;

	k = sec_get(s, "private_key");
	if (!k)
		return missing(f, s, "private_key",
			       "the profile's own key, as printed by wg genkey");
	r = secret_parse(f, s, k, c->secrets, &c->private_key);
	if (r)
		return r;

	k = sec_get(s, "address");
	if (!k)
		return missing(f, s, "address",
			       "the tunnel addresses the server assigned, such as 10.64.0.2/32, fc00:bbbb::2/128");
	r = addresses_parse(f, s, k, c->address, &c->n_address,
			    CONF_ADDRESS_MAX, false);
	if (r)
		return r;

	/*
	 * Required: without a resolver reached through the tunnel, names
	 * would be looked up by whatever the local network hands out.
	 */
	k = sec_get(s, "dns");
	if (!k)
		return missing(f, s, "dns",
			       "one or more resolvers to use through the tunnel, such as 10.64.0.1");
	r = addresses_parse(f, s, k, c->dns, &c->n_dns, CONF_DNS_MAX, true);
	if (r)
		return r;

	k = sec_get(s, "mtu");
	r = k ? client_mtu(f, s, k, c) : 0;
	if (r)
		return r;

	c->kill_switch = CONF_KILL_SWITCH_ON;
	k = sec_get(s, "kill_switch");
	r = k ? client_kill_switch(f, s, k, c) : 0;
	if (r)
		return r;

	c->allow_lan = false;
	k = sec_get(s, "allow_lan");
	r = k ? bool_parse(f, s, k, &c->allow_lan) : 0;
	if (r)
		return r;

	k = sec_get(s, "servers");
	if (k) {
		r = path_parse(f, s, k, &c->servers_path);
	} else {
		c->servers_path = strdup(CONF_SERVERS_PATH);
		r = c->servers_path ? 0 : no_memory(f);
	}
	if (r)
		return r;

	k = sec_get(s, "servers_key");
	r = k ? client_servers_key(f, s, k, c) : 0;
	if (r)
		return r;

	c->failover_after = CONF_FAILOVER_DEFAULT;
	k = sec_get(s, "failover_after");
	r = k ? number_parse(f, s, k, 0, CONF_FAILOVER_MAX,
			     "a number of seconds (0: no failover)",
			     &c->failover_after) : 0;
	if (r)
		return r;

	c->probe_timeout_ms = CONF_PROBE_TIMEOUT_DEFAULT;
	k = sec_get(s, "probe_timeout_ms");
	r = k ? number_parse(f, s, k, CONF_PROBE_TIMEOUT_MIN,
			     CONF_PROBE_TIMEOUT_MAX, "a number of milliseconds",
			     &c->probe_timeout_ms) : 0;
	if (r)
		return r;

	k = sec_get(s, "server");
	return k ? client_server(f, s, k, c) : 0;
}

/* [split]: exclude or include, never both (splitnet.h). */
static const char *const split_keys[] = { "exclude", "include", NULL };

struct split_list {
	struct conf_client *c;
	struct splitnet_set set;
};

static int split_item(const struct conf_file *f, const struct scan_section *s,
		      const struct scan_key *k, unsigned int n,
		      const char *item, size_t len, void *ctx)
{
	struct split_list *l = ctx;
	char why[SPLITNET_ERR_LEN];
	struct conf_prefix p;
	const char *bad_why = splitnet_parse(item, len, &p);

	if (bad_why)
		return bad(f, s, k, "entry %u \"%.*s\": %s", n, (int)len, item,
			   bad_why);
	if (splitnet_check(&l->set, &p, l->c, why, sizeof(why)))
		return bad(f, s, k, "entry %u: %s", n, why);
	if (l->set.n == SPLITNET_MAX)
		return bad(f, s, k, "more than %d networks", SPLITNET_MAX);
	l->set.net[l->set.n++] = p;
	return 0;
}

static int client_split(const struct conf_file *f,
			const struct scan_section *s, struct conf_client *c)
{
	const struct scan_key *ex = sec_get(s, "exclude");
	const struct scan_key *in = sec_get(s, "include");
	const struct scan_key *k = ex ? ex : in;
	struct split_list l = { .c = c };
	int r = check_keys(f, s, split_keys);

	if (r)
		return r;
	if (ex && in)
		return bad(f, s, ex->line > in->line ? ex : in,
			   "exclude and include may not both be set (line %u has the other)",
			   ex->line > in->line ? in->line : ex->line);
	if (!k)
		return 0;
	l.set.mode = ex ? CONF_SPLIT_EXCLUDE : CONF_SPLIT_INCLUDE;
	r = list_walk(f, s, k, split_item, &l);
	if (r)
		return r;
	c->split_mode = l.set.mode;
	c->n_split = l.set.n;
	memcpy(c->split_net, l.set.net, sizeof(l.set.net[0]) * l.set.n);
	c->split_line = k->line;
	return 0;
}

static int client_parse(const struct conf_file *f, struct conf_client *c)
{
	const struct scan_section *iface = NULL, *split = NULL;
	int r;

	for (size_t i = 0; i < f->n_sec; i++) {
		const struct scan_section *s = &f->sec[i];

		if (!strcmp(s->name, "interface"))
			iface = s;
		else if (!strcmp(s->name, "split") && !split)
			split = s;
		else
			return report(f, s->line, s->name, NULL, -EINVAL,
				      "unknown section (a profile has [interface] and, optionally, [split])");
	}
	if (!iface)
		return report(f, 0, NULL, NULL, -EINVAL,
			      "no [interface] section");
	r = client_interface(f, iface, c);
	if (r || !split)
		return r;
	c->has_split = true;
	/* After [interface]: the networks are checked against its
	 * addresses and resolvers. */
	return client_split(f, split, c);
}

void conf_client_free(struct conf_client *c)
{
	if (!c)
		return;
	secrets_free(c->secrets);
	free(c->path);
	free(c->servers_path);
	free(c->server);
	free(c->select_value);
	free(c);
}

int conf_client_load(const char *path, struct conf_client **out, char *err,
		     size_t errlen)
{
	struct conf_file f;
	struct conf_client *c = NULL;
	int r;

	*out = NULL;
	if (!path)
		path = CONF_CLIENT_PATH;
	r = file_load(&f, path, NULL, err, errlen);
	if (r)
		goto out;
	c = calloc(1, sizeof(*c));
	if (c)
		c->path = strdup(path);
	if (!c || !c->path) {
		r = no_memory(&f);
		goto out;
	}
	r = file_secrets(&f, &c->secrets);
	if (!r)
		r = client_parse(&f, c);
out:
	file_close(&f);
	if (r) {
		conf_client_free(c);
		return r;
	}
	*out = c;
	return 0;
}

const char *conf_kill_switch_name(enum conf_kill_switch k)
{
	switch (k) {
	case CONF_KILL_SWITCH_OFF:
		return "off";
	case CONF_KILL_SWITCH_ON:
		return "on";
	case CONF_KILL_SWITCH_LOCKDOWN:
		return "lockdown";
	}
	return "?";
}

/* ------------------------------------------------------------------ */
/* The server list.                                                    */

static const char *const server_entry_keys[] = {
	"endpoint", "public_key", "preshared_key", "country", "city", NULL,
};

static int entry_parse(const struct conf_file *f, const struct scan_section *s,
		       struct conf_secrets *secrets,
		       struct conf_server_entry *e)
{
	const struct scan_key *k;
	const char *why;
	int r;

	if (!is_id(s->name, false))
		return report(f, s->line, s->name, NULL, -EINVAL,
			      "a server id is 1 to %d letters, digits and - _ . (such as [se-sto-01])",
			      CONF_NAME_MAX);
	e->line = s->line;
	e->id = strdup(s->name);
	if (!e->id)
		return no_memory(f);
	r = check_keys(f, s, server_entry_keys);
	if (r)
		return r;

	k = sec_get(s, "endpoint");
	if (!k)
		return missing(f, s, "endpoint",
			       "the server's IP address and port, such as 192.0.2.10:51820");
	why = endpoint_parse(&e->endpoint, k->value);
	if (why)
		return bad(f, s, k, "%s", why);

	k = sec_get(s, "public_key");
	if (!k)
		return missing(f, s, "public_key", "the server's public key");
	r = key_parse(f, s, k, e->public_key);
	if (r)
		return r;

	k = sec_get(s, "preshared_key");
	r = k ? secret_parse(f, s, k, secrets, &e->preshared_key) : 0;
	if (r)
		return r;

	k = sec_get(s, "country");
	if (!k)
		return missing(f, s, "country",
			       "the ISO 3166-1 code of the server's country, such as se");
	if (strlen(k->value) != 2 || !is_letter(k->value[0]) ||
	    !is_letter(k->value[1]))
		return bad(f, s, k,
			   "\"%.32s\" is not a two-letter ISO 3166-1 country code, such as se or us",
			   k->value);
	e->country[0] = to_lower(k->value[0]);
	e->country[1] = to_lower(k->value[1]);
	e->country[2] = '\0';

	k = sec_get(s, "city");
	e->city = strdup(k ? k->value : "");
	if (!e->city)
		return no_memory(f);
	return 0;
}

/*
 * "YYYY-MM-DDTHH:MM:SSZ", UTC, and nothing else: a list's lifetime must
 * not depend on the local time zone or on a lenient reading.
 */
static bool utc_parse(const char *v, time_t *out)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	struct tm tm = { 0 }, back;
	time_t t;

	if (strlen(v) != sizeof(shape) - 1)
		return false;
	for (size_t i = 0; shape[i]; i++)
		if (shape[i] == 'd' ? (v[i] < '0' || v[i] > '9') :
				      v[i] != shape[i])
			return false;
	if (sscanf(v, "%4d-%2d-%2dT%2d:%2d:%2dZ", &tm.tm_year, &tm.tm_mon,
		   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return false;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	back = tm;
	t = timegm(&tm);
	/* timegm() normalises 2026-02-30 into March: refuse what moved. */
	if (t == (time_t)-1 || tm.tm_year != back.tm_year ||
	    tm.tm_mon != back.tm_mon || tm.tm_mday != back.tm_mday ||
	    tm.tm_hour != back.tm_hour || tm.tm_min != back.tm_min ||
	    tm.tm_sec != back.tm_sec)
		return false;
	*out = t;
	return true;
}

static const char *const list_keys[] = { "expires", NULL };

/* [list]: what the provider says of the list as a whole. */
static int list_parse(const struct conf_file *f, const struct scan_section *s,
		      time_t now, struct conf_servers *l)
{
	const struct scan_key *k;
	char when[32];
	int r;

	r = check_keys(f, s, list_keys);
	if (r)
		return r;
	k = sec_get(s, "expires");
	if (!k)
		return 0;
	if (!utc_parse(k->value, &l->expires))
		return bad(f, s, k,
			   "\"%.32s\" is not a UTC time written as YYYY-MM-DDTHH:MM:SSZ",
			   k->value);
	if (l->expires <= now) {
		snprintf(when, sizeof(when), "%.20s", k->value);
		return report(f, k->line, s->name, k->name, -ESTALE,
			      "the list expired at %s: get a fresh list from the provider (an old list may name servers that are gone or no longer theirs)",
			      when);
	}
	return 0;
}

static int servers_parse(const struct conf_file *f, time_t now,
			 struct conf_servers *l)
{
	size_t n = 0;
	int r;

	l->entry = calloc(f->n_sec ? f->n_sec : 1, sizeof(*l->entry));
	if (!l->entry)
		return no_memory(f);
	for (size_t i = 0; i < f->n_sec; i++) {
		const struct scan_section *s = &f->sec[i];

		if (!strcmp(s->name, "list")) {
			r = list_parse(f, s, now, l);
			if (r)
				return r;
			continue;
		}
		/* The profile's server = fastest would be ambiguous. */
		if (!strcmp(s->name, "fastest"))
			return report(f, s->line, s->name, NULL, -EINVAL,
				      "\"fastest\" is reserved: the profile's server = fastest chooses by latency; name the server otherwise");
		/* Counted first, so that free() sees the partial entry. */
		l->n_entry++;
		r = entry_parse(f, s, l->secrets, &l->entry[n++]);
		if (r)
			return r;
	}
	if (!l->n_entry)
		return report(f, 0, NULL, NULL, -EINVAL,
			      "lists no servers: each server is a section named by its id, such as [se-sto-01]");
	return 0;
}

void conf_servers_free(struct conf_servers *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n_entry; i++) {
		free(l->entry[i].id);
		free(l->entry[i].city);
	}
	free(l->entry);
	secrets_free(l->secrets);
	free(l->path);
	free(l);
}

int conf_servers_load_verified(const char *path, const uint8_t *key,
			       time_t now, struct conf_servers **out,
			       char *err, size_t errlen)
{
	struct conf_file f;
	struct conf_servers *l = NULL;
	int r;

	*out = NULL;
	if (!path)
		path = CONF_SERVERS_PATH;
	r = file_load(&f, path, key, err, errlen);
	if (r)
		goto out;
	l = calloc(1, sizeof(*l));
	if (l)
		l->path = strdup(path);
	if (!l || !l->path) {
		r = no_memory(&f);
		goto out;
	}
	l->verified = key != NULL;
	r = file_secrets(&f, &l->secrets);
	if (!r)
		r = servers_parse(&f, now, l);
out:
	file_close(&f);
	if (r) {
		conf_servers_free(l);
		return r;
	}
	*out = l;
	return 0;
}

int conf_servers_load(const char *path, struct conf_servers **out, char *err,
		      size_t errlen)
{
	return conf_servers_load_verified(path, NULL, time(NULL), out, err,
					  errlen);
}

int conf_servers_load_for(const struct conf_client *c,
			  struct conf_servers **out, char *err, size_t errlen)
{
	return conf_servers_load_verified(c->servers_path,
					  c->has_servers_key ? c->servers_key :
							       NULL,
					  time(NULL), out, err, errlen);
}

const struct conf_server_entry *conf_servers_find(const struct conf_servers *l,
						  const char *id)
{
	if (!l || !id)
		return NULL;
	for (size_t i = 0; i < l->n_entry; i++)
		if (!strcasecmp(l->entry[i].id, id))
			return &l->entry[i];
	return NULL;
}

int conf_servers_resolve(const struct conf_servers *l,
			 const struct conf_client *c, const char *id,
			 const struct conf_server_entry **out, char *err,
			 size_t errlen)
{
	const char *want = id ? id : c ? c->server : NULL;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (!want) {
		err_add(err, errlen,
			"%s: [interface] server: not set, and no server was named: name one (vpnctl up SERVER) or set server = ID in the profile",
			c ? c->path : "profile");
		return -ENOENT;
	}
	*out = conf_servers_find(l, want);
	if (*out)
		return 0;
	if (!id && c->server_line)
		err_add(err, errlen, "%s:%u: [interface] server: ", c->path,
			c->server_line);
	err_add(err, errlen, "unknown server \"%.*s\": %s has no section [%.*s]",
		CONF_NAME_MAX, want, l ? l->path : "the server list",
		CONF_NAME_MAX, want);
	return -ENOENT;
}

/* ------------------------------------------------------------------ */
/* The server config.                                                  */

static const char *const server_keys[] = {
	"private_key", "private_key_file", "listen_port", "address", "nat",
	"forget_after", "log_sensitive", NULL,
};

static const char *const peer_keys[] = {
	"public_key", "allowed_ips", "preshared_key", NULL,
};

/* The name of a "[peer NAME]" section, or NULL when it is not one. */
static const char *peer_name(const char *section)
{
	if (strncmp(section, "peer", 4) || (section[4] && section[4] != ' '))
		return NULL;
	section += 4;
	while (*section == ' ')
		section++;
	return section;
}

static int key_file_read(const struct conf_file *f,
			 const struct scan_section *s, const struct scan_key *k,
			 const char *path, uint8_t key[KEY_LEN])
{
	char buf[128], why[PATH_MAX + 200];
	const char *b = buf, *e;
	struct stat st;
	size_t len = 0;
	enum trust t;
	int fd, r = 0, err;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		err = errno;
		return report(f, k->line, s->name, k->name, -err,
			      "%s: cannot open: %s", path, strerror(err));
	}
	if (fstat(fd, &st)) {
		err = errno;
		r = bad(f, s, k, "%s: cannot stat: %s", path, strerror(err));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = bad(f, s, k, "%s: not a regular file", path);
		goto out;
	}
	t = trust_check(&st, true);
	if (t != TRUST_OK) {
		trust_explain(t, &st, path, why, sizeof(why));
		r = report(f, k->line, s->name, k->name, -EACCES, "%s: %s", path,
			   why);
		goto out;
	}
	while (len < sizeof(buf)) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno;
			r = report(f, k->line, s->name, k->name, -EIO,
				   "%s: cannot read: %s", path, strerror(err));
			goto out;
		}
		if (!n)
			break;
		len += (size_t)n;
	}
	if (len == sizeof(buf)) {
		r = bad(f, s, k, "%s: longer than a key", path);
		goto out;
	}
	buf[len] = '\0';
	e = buf + len;
	/* wg genkey ends its key with a newline; blanks around are fine. */
	while (b < e && (is_blank(*b) || *b == '\n'))
		b++;
	while (e > b && (is_blank(e[-1]) || e[-1] == '\n'))
		e--;
	buf[e - buf] = '\0';
	if (key_from_base64(key, b))
		r = bad(f, s, k,
			"%s: does not hold a key: expected the 44 characters of base64 that wg genkey prints",
			path);
out:
	sodium_memzero(buf, sizeof(buf));
	CONF_TEST_WIPED(buf, sizeof(buf));
	close(fd);
	return r;
}

static int server_private_key(const struct conf_file *f,
			      const struct scan_section *s,
			      struct conf_server *srv)
{
	const struct scan_key *k = sec_get(s, "private_key");
	const struct scan_key *kf = sec_get(s, "private_key_file");
	uint8_t *slot;
	int r;

	if (k && kf)
		return bad(f, s, kf->line > k->line ? kf : k,
			   "private_key (line %u) and private_key_file (line %u) are both set: keep one",
			   k->line, kf->line);
	if (!k && !kf)
		return missing(f, s, "private_key",
			       "set private_key, or private_key_file to a file holding it (wg genkey > FILE)");
	if (k) {
		r = secret_parse(f, s, k, srv->secrets, &srv->private_key);
	} else {
		slot = secrets_take(srv->secrets);
		if (!slot)
			return no_memory(f);
		srv->private_key = slot;
		r = path_parse(f, s, kf, &srv->private_key_file);
		if (!r)
			r = key_file_read(f, s, kf, srv->private_key_file,
					  slot);
	}
	if (r)
		return r;
	crypto_scalarmult_curve25519_base(srv->public_key, srv->private_key);
	return 0;
}

/* The kernel's rules for an interface name (dev_valid_name). */
static bool ifname_valid(const char *s)
{
	size_t len = strlen(s);

	if (!len || len >= IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || *s == ' ' || *s == '\t' ||
		    (unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* The RAM-only keys: how soon a peer is forgotten, what logs may say. */
static int server_privacy(const struct conf_file *f,
			  const struct scan_section *s, struct conf_server *srv)
{
	const struct scan_key *k;
	unsigned long v;

	srv->forget_after = CONF_FORGET_AFTER_DEFAULT;
	k = sec_get(s, "forget_after");
	if (k) {
		if (!uint_parse(k->value, CONF_FORGET_AFTER_MAX, &v))
			return bad(f, s, k,
				   "\"%.32s\" is not a number of seconds from 0 to %d",
				   k->value, CONF_FORGET_AFTER_MAX);
		srv->forget_after = (unsigned int)v;
	}
	k = sec_get(s, "log_sensitive");
	return k ? bool_parse(f, s, k, &srv->log_sensitive) : 0;
}

static int server_interface(const struct conf_file *f,
			    const struct scan_section *s,
			    struct conf_server *srv)
{
	const struct scan_key *k;
	int r;

	r = check_keys(f, s, server_keys);
	if (!r)
		r = server_private_key(f, s, srv);
	if (r)
		return r;

	k = sec_get(s, "listen_port");
	if (!k)
		return missing(f, s, "listen_port",
			       "the UDP port clients reach, usually 51820");
	r = port_parse(f, s, k, &srv->listen_port);
	if (r)
		return r;

	k = sec_get(s, "address");
	if (!k)
		return missing(f, s, "address",
			       "the server's tunnel addresses, such as 10.64.0.1/16, fc00:bbbb::1/64");
	r = addresses_parse(f, s, k, srv->address, &srv->n_address,
			    CONF_ADDRESS_MAX, false);
	if (r)
		return r;

	k = sec_get(s, "nat");
	if (k && *k->value) {
		if (!ifname_valid(k->value))
			return bad(f, s, k,
				   "\"%.32s\" is not an interface name (1 to %d characters, no '/', ':' or blanks), nor empty for no NAT",
				   k->value, IFNAMSIZ - 1);
		memcpy(srv->nat, k->value, strlen(k->value) + 1);
	}
	return server_privacy(f, s, srv);
}

struct allowed_list {
	struct conf_peer *peer;
	size_t cap;
};

/* Host bits are refused: "10.64.0.2/16" is more often a typo for /32. */
static int allowed_item(const struct conf_file *f,
			const struct scan_section *s, const struct scan_key *k,
			unsigned int n, const char *item, size_t len, void *ctx)
{
	struct allowed_list *l = ctx;
	struct conf_prefix p, net;
	const char *why;
	char a[64], b[64];

	why = prefix_parse(&p, item, len);
	if (why)
		return bad(f, s, k, "entry %u \"%.*s\": %s", n, (int)len, item,
			   why);
	if (prefix_host_bits(&p)) {
		net = p;
		prefix_clear_host_bits(&net);
		p.cidr = p.family == AF_INET ? 32 : 128;
		return bad(f, s, k,
			   "entry %u \"%.*s\" has host bits set: write %s for the network, or %s for one host",
			   n, (int)len, item, prefix_text(&net, a, sizeof(a)),
			   prefix_text(&p, b, sizeof(b)));
	}
	if (l->peer->n_allowed_ips == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 4;
		struct conf_prefix *v = reallocarray(l->peer->allowed_ips, cap,
						     sizeof(*v));

		if (!v)
			return no_memory(f);
		l->peer->allowed_ips = v;
		l->cap = cap;
	}
	l->peer->allowed_ips[l->peer->n_allowed_ips++] = p;
	return 0;
}

static int peer_parse(const struct conf_file *f, const struct scan_section *s,
		      struct conf_secrets *secrets, struct conf_peer *p)
{
	struct allowed_list l = { .peer = p };
	const char *name = peer_name(s->name);
	const struct scan_key *k;
	int r;

	if (!*name)
		return report(f, s->line, s->name, NULL, -EINVAL,
			      "a peer section needs a name: [peer NAME]");
	if (!is_id(name, true))
		return report(f, s->line, s->name, NULL, -EINVAL,
			      "a peer name is letters, digits and - _ . @, without spaces");
	p->line = s->line;
	p->name = strdup(name);
	if (!p->name)
		return no_memory(f);
	r = check_keys(f, s, peer_keys);
	if (r)
		return r;

	k = sec_get(s, "public_key");
	if (!k)
		return missing(f, s, "public_key", "the user's public key");
	r = key_parse(f, s, k, p->public_key);
	if (r)
		return r;

	k = sec_get(s, "allowed_ips");
	if (!k)
		return missing(f, s, "allowed_ips",
			       "the user's tunnel addresses, such as 10.64.0.2/32, fc00:bbbb::2/128");
	r = list_walk(f, s, k, allowed_item, &l);
	if (r)
		return r;

	k = sec_get(s, "preshared_key");
	return k ? secret_parse(f, s, k, secrets, &p->preshared_key) : 0;
}

/* A peer's key or one of its prefixes, with where it was written. */
struct peer_ref {
	const struct conf_peer *peer;
	const struct conf_prefix *prefix;	/* NULL for the key */
	const struct scan_section *sec;
	unsigned int line;
};

static int key_order(const void *a, const void *b)
{
	const struct peer_ref *x = a, *y = b;
	int c = memcmp(x->peer->public_key, y->peer->public_key, KEY_LEN);

	return c ? c : (x->line > y->line) - (x->line < y->line);
}

static int prefix_order(const void *a, const void *b)
{
	const struct peer_ref *x = a, *y = b;
	const struct conf_prefix *p = x->prefix, *q = y->prefix;
	int c;

	if (p->family != q->family)
		return p->family < q->family ? -1 : 1;
	if (p->cidr != q->cidr)
		return p->cidr < q->cidr ? -1 : 1;
	c = memcmp(&p->addr, &q->addr, p->family == AF_INET ? 4 : 16);
	return c ? c : (x->line > y->line) - (x->line < y->line);
}

/*
 * The earliest pair of equal neighbours in @v once sorted, as the index of
 * the second, or 0 for none.
 */
static size_t refs_repeat(struct peer_ref *v, size_t n,
			  int (*order)(const void *, const void *))
{
	size_t found = 0;

	qsort(v, n, sizeof(*v), order);
	for (size_t i = 1; i < n; i++) {
		struct peer_ref x = v[i - 1], y = v[i];

		/* Equal but for the line: compare as if on the same line. */
		x.line = y.line;
		if (!order(&x, &y) && (!found || v[i].line < v[found].line))
			found = i;
	}
	return found;
}

/*
 * Two peers with one public key would be one peer to WireGuard, and a
 * prefix allowed for two peers would route to the last one only: both are
 * refused.  So is a peer holding the server's own key.
 */
static int peers_check(const struct conf_file *f, const struct conf_server *srv,
		       const struct scan_section **psec)
{
	struct peer_ref *v;
	size_t n = 0, i;
	int r = 0;

	for (i = 0; i < srv->n_peer; i++) {
		if (!memcmp(srv->peer[i].public_key, srv->public_key, KEY_LEN))
			return bad(f, psec[i], sec_get(psec[i], "public_key"),
				   "the server's own public key");
		n += srv->peer[i].n_allowed_ips;
	}
	if (n < srv->n_peer)
		n = srv->n_peer;
	if (!n)
		return 0;
	v = calloc(n, sizeof(*v));
	if (!v)
		return no_memory(f);

	for (i = 0; i < srv->n_peer; i++)
		v[i] = (struct peer_ref){
			.peer = &srv->peer[i], .sec = psec[i],
			.line = sec_get(psec[i], "public_key")->line,
		};
	i = refs_repeat(v, srv->n_peer, key_order);
	if (i) {
		r = bad(f, v[i].sec, sec_get(v[i].sec, "public_key"),
			"the same key as [%s] (line %u): each user needs a key of their own",
			v[i - 1].sec->name, v[i - 1].line);
		goto out;
	}

	n = 0;
	for (i = 0; i < srv->n_peer; i++)
		for (size_t j = 0; j < srv->peer[i].n_allowed_ips; j++)
			v[n++] = (struct peer_ref){
				.peer = &srv->peer[i],
				.prefix = &srv->peer[i].allowed_ips[j],
				.sec = psec[i],
				.line = sec_get(psec[i], "allowed_ips")->line,
			};
	i = refs_repeat(v, n, prefix_order);
	if (i) {
		char a[64];

		prefix_text(v[i].prefix, a, sizeof(a));
		if (v[i].peer == v[i - 1].peer)
			r = bad(f, v[i].sec, sec_get(v[i].sec, "allowed_ips"),
				"%s is listed twice", a);
		else
			r = bad(f, v[i].sec, sec_get(v[i].sec, "allowed_ips"),
				"%s is already allowed for [%s] (line %u): a tunnel address belongs to one peer",
				a, v[i - 1].sec->name, v[i - 1].line);
	}
out:
	free(v);
	return r;
}

/* ------------------------------------------------------------------ */
/* The [fleet] section of the server config.                           */

static const char *const fleet_keys[] = {
	"etcd", "prefix", "ca", "cert", "key", NULL,
};

static void fleet_free(struct conf_fleet *fl)
{
	if (!fl)
		return;
	for (unsigned int i = 0; i < fl->n_etcd; i++)
		free(fl->etcd[i]);
	free(fl->prefix);
	free(fl->ca);
	free(fl->cert);
	free(fl->key);
	free(fl);
}

/* Printable ASCII without blanks: what a URL or an etcd key holds here. */
static bool fleet_text_valid(const char *s, size_t len)
{
	if (!len || len > CONF_FLEET_TEXT_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

static int fleet_endpoint_item(const struct conf_file *f,
			       const struct scan_section *s,
			       const struct scan_key *k, unsigned int n,
			       const char *item, size_t len, void *ctx)
{
	struct conf_fleet *fl = ctx;
	size_t scheme = len > 8 && !strncmp(item, "https://", 8) ? 8 : 7;

	if (fl->n_etcd == CONF_FLEET_ETCD_MAX)
		return bad(f, s, k, "more than %d endpoints",
			   CONF_FLEET_ETCD_MAX);
	/* "/v3/..." is appended to it, so a trailing slash is dropped; what
	 * is left must still name a host after the scheme. */
	while (len > scheme && item[len - 1] == '/')
		len--;
	if (!fleet_text_valid(item, len) || len <= scheme ||
	    (strncmp(item, "http://", 7) && strncmp(item, "https://", 8)) ||
	    item[scheme] == '/')
		return bad(f, s, k,
			   "entry %u: an etcd endpoint is a URL of at most %d characters without blanks, http://HOST:PORT or https://HOST:PORT",
			   n, CONF_FLEET_TEXT_MAX);
	fl->etcd[fl->n_etcd] = strndup(item, len);
	if (!fl->etcd[fl->n_etcd])
		return no_memory(f);
	fl->n_etcd++;
	return 0;
}

static int fleet_parse(const struct conf_file *f, const struct scan_section *s,
		       struct conf_server *srv)
{
	struct conf_fleet *fl = calloc(1, sizeof(*fl));
	const char *const paths[] = { "ca", "cert", "key" };
	char **out[] = { NULL, NULL, NULL };
	const struct scan_key *k;
	int r;

	if (!fl)
		return no_memory(f);
	srv->fleet = fl;
	fl->line = s->line;
	out[0] = &fl->ca;
	out[1] = &fl->cert;
	out[2] = &fl->key;
	r = check_keys(f, s, fleet_keys);
	if (r)
		return r;
	k = sec_get(s, "etcd");
	if (!k)
		return missing(f, s, "etcd",
			       "the etcd cluster's client URLs, such as http://10.0.0.5:2379, http://10.0.0.6:2379");
	r = list_walk(f, s, k, fleet_endpoint_item, fl);
	if (r)
		return r;
	k = sec_get(s, "prefix");
	if (!k)
		return missing(f, s, "prefix",
			       "the etcd key prefix of the users, such as /vpnd/users/");
	if (!fleet_text_valid(k->value, strlen(k->value)))
		return bad(f, s, k,
			   "1 to %d printable characters without blanks, such as /vpnd/users/",
			   CONF_FLEET_TEXT_MAX);
	fl->prefix = strdup(k->value);
	if (!fl->prefix)
		return no_memory(f);
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		k = sec_get(s, paths[i]);
		if (k && (r = path_parse(f, s, k, out[i])))
			return r;
	}
	if (!fl->cert != !fl->key)
		return report(f, s->line, s->name, fl->cert ? "key" : "cert",
			      -EINVAL,
			      "cert and key go together: the client certificate and its private key");
	return 0;
}

const char *conf_prefix_parse(struct conf_prefix *p, const char *s,
			      size_t len)
{
	return prefix_parse(p, s, len);
}

bool conf_prefix_has_host_bits(const struct conf_prefix *p)
{
	return prefix_host_bits(p);
}

bool conf_peer_name_valid(const char *name)
{
	return is_id(name, true);
}

static int server_parse(const struct conf_file *f, struct conf_server *srv)
{
	const struct scan_section *iface = NULL, *fleet = NULL, **psec = NULL;
	size_t n_peer = 0;
	int r;

	for (size_t i = 0; i < f->n_sec; i++) {
		const struct scan_section *s = &f->sec[i];

		if (!strcmp(s->name, "interface"))
			iface = s;
		else if (!strcmp(s->name, "fleet"))
			fleet = s;
		else if (peer_name(s->name))
			n_peer++;
		else
			return report(f, s->line, s->name, NULL, -EINVAL,
				      "unknown section (a server config has [interface], [fleet] and [peer NAME] sections)");
	}
	if (!iface)
		return report(f, 0, NULL, NULL, -EINVAL,
			      "no [interface] section");
	r = server_interface(f, iface, srv);
	if (!r && fleet)
		r = fleet_parse(f, fleet, srv);
	if (r || !n_peer)
		return r;

	srv->peer = calloc(n_peer, sizeof(*srv->peer));
	psec = calloc(n_peer, sizeof(*psec));
	if (!srv->peer || !psec) {
		r = no_memory(f);
		goto out;
	}
	for (size_t i = 0; i < f->n_sec; i++) {
		const struct scan_section *s = &f->sec[i];

		if (s == iface || s == fleet)
			continue;
		psec[srv->n_peer] = s;
		/* Counted first, so that free() sees the partial peer. */
		r = peer_parse(f, s, srv->secrets, &srv->peer[srv->n_peer++]);
		if (r)
			goto out;
	}
	r = peers_check(f, srv, psec);
out:
	free(psec);
	return r;
}

void conf_server_free(struct conf_server *srv)
{
	if (!srv)
		return;
	for (size_t i = 0; i < srv->n_peer; i++) {
		free(srv->peer[i].name);
		free(srv->peer[i].allowed_ips);
	}
	free(srv->peer);
	fleet_free(srv->fleet);
	secrets_free(srv->secrets);
	free(srv->private_key_file);
	free(srv->path);
	free(srv);
}

int conf_server_load(const char *path, struct conf_server **out, char *err,
		     size_t errlen)
{
	struct conf_file f;
	struct conf_server *srv = NULL;
	int r;

	*out = NULL;
	if (!path) {
		if (err && errlen)
			snprintf(err, errlen,
				 "a server config has no default path: name it (vpnd -c FILE)");
		return -EINVAL;
	}
	r = file_load(&f, path, NULL, err, errlen);
	if (r)
		goto out;
	srv = calloc(1, sizeof(*srv));
	if (srv)
		srv->path = strdup(path);
	if (!srv || !srv->path) {
		r = no_memory(&f);
		goto out;
	}
	r = file_secrets(&f, &srv->secrets);
	if (!r)
		r = server_parse(&f, srv);
out:
	file_close(&f);
	if (r) {
		conf_server_free(srv);
		return r;
	}
	*out = srv;
	return 0;
}
