/* SPDX-License-Identifier: MIT */
/*
 * dlopen() for the libraries of one role; see dynlib.h for why.
 *
 * RTLD_NOW: a missing symbol is found at start, where the role can still
 * refuse with a sentence, never at the first call in the middle of work.
 * RTLD_LOCAL: the library's symbols stay out of the global namespace, so
 * nothing else binds to them by accident.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dynlib.h"

/* The table holds function pointers, written from dlsym()'s void *:
 * POSIX guarantees the two have one representation. */
_Static_assert(sizeof(void *) == sizeof(void (*)(void)),
	       "function and object pointers differ in size");

int dynlib_open(const char *soname, const struct dynlib_sym *syms, size_t n,
		void *table, char *err, size_t len)
{
	void *h, *sym;
	size_t i;

	h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(err, len, "cannot load %s: %s", soname, dlerror());
		return -ENOENT;
	}
	for (i = 0; i < n; i++) {
		dlerror();
		sym = dlsym(h, syms[i].name);
		if (!sym) {
			snprintf(err, len, "%s has no %s", soname,
				 syms[i].name);
			dlclose(h);
			return -ESRCH;
		}
		memcpy((char *)table + syms[i].offset, &sym, sizeof(sym));
	}
	return 0;
}
