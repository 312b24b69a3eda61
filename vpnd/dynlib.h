/* SPDX-License-Identifier: MIT */
/*
 * Libraries that only one role needs are opened when that role starts,
 * not at exec.  Linked in, libcurl alone (the fleet's etcd client) maps a
 * tree of twenty-odd libraries whose constructors run in every daemon:
 * gnutls's initialisation by itself touches 1.1 MiB, and a plain tunnel
 * paid about 4 MiB of resident memory for code it never calls.
 *
 * A role describes the functions it needs as a table of names and of the
 * offsets of function pointers in a structure of its own; dynlib_open()
 * fills them all, or none and says which was missing.
 *
 * A library, once opened, stays for the life of the process: libcurl's
 * TLS stack registers exit handlers and may keep threads, which an
 * unloaded library would leave pointing nowhere.  Opening it again only
 * takes another reference.
 */
#ifndef VPND_DYNLIB_H
#define VPND_DYNLIB_H

#include <stddef.h>

struct dynlib_sym {
	const char *name;
	size_t offset;		/* of a function pointer in the table */
};

/*
 * Opens soname and stores each symbol's address at table + offset.  On
 * failure returns -ENOENT (library) or -ESRCH (symbol), says what in err,
 * and the library stays closed.
 */
int dynlib_open(const char *soname, const struct dynlib_sym *syms, size_t n,
		void *table, char *err, size_t len);

#endif /* VPND_DYNLIB_H */
