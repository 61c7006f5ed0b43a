// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * stats_api.c - karena_stats() in libkarena.a and libkarena-malloc.so,
 * unversioned. libkarena.so has stats_versions.c instead: one symbol per
 * layout of struct karena_stats.
 */
#include <karena.h>

#include "config.h"
#include "stats.h"

KR_API void karena_stats(struct karena_stats *st)
{
	stats_snapshot(st);
}
