/* SPDX-License-Identifier: MIT */
/* Settings read from the environment (env.h). */
#include <stdlib.h>

#include "env.h"

uint64_t env_seconds_ns(const char *name, unsigned long max,
			uint64_t fallback_ns)
{
	const char *v = getenv(name);
	char *end;
	unsigned long s;

	/* Decimal digits only: strtoul would take a sign or blanks. */
	if (!v || *v < '0' || *v > '9')
		return fallback_ns;
	s = strtoul(v, &end, 10);
	if (*end || !s || s > max)
		return fallback_ns;
	return (uint64_t)s * 1000000000ULL;
}
