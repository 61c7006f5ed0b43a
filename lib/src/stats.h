/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * stats.h - the counters behind karena_stats() and the table printed at
 * exit with KARENA_SHOW_STATS=1 (stats.c).
 */
#ifndef KARENA_STATS_H
#define KARENA_STATS_H

struct karena_stats;

/* stats.c */
void stats_snapshot(struct karena_stats *st);	/* what karena_stats() fills */
void stats_at_exit(void);

#endif /* KARENA_STATS_H */
