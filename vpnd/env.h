/* SPDX-License-Identifier: MIT */
/*
 * Settings read from the environment: the knobs tests use to shorten the
 * daemon's waits (VPND_TEST_*, VPND_UP_TIMEOUT).
 */
#ifndef VPND_ENV_H
#define VPND_ENV_H

#include <stdint.h>

/*
 * The variable @name as a number of seconds from 1 to @max, in ns; any
 * other value, or none, gives @fallback_ns.
 */
uint64_t env_seconds_ns(const char *name, unsigned long max,
			uint64_t fallback_ns);

#endif /* VPND_ENV_H */
