/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * options.h - the KARENA_* variables, read once at init (options.c holds
 * their table: names, accepted values, defaults).
 */
#ifndef KARENA_OPTIONS_H
#define KARENA_OPTIONS_H

#include "config.h"

/* options.c */
enum { KR_BACKEND_AUTO, KR_BACKEND_KERNEL, KR_BACKEND_MMAP };
struct kr_options {
	unsigned backend;		/* KARENA_BACKEND: KR_BACKEND_* */
	unsigned arena_kb;		/* KARENA_ARENA_KB: mmap arenas */
	unsigned debug;			/* KARENA_DEBUG */
	unsigned show_stats;		/* KARENA_SHOW_STATS */
	unsigned keep_arenas;		/* KARENA_KEEP_ARENAS */
	unsigned purge_ms;		/* KARENA_PURGE_MS */
	unsigned purge_thread;		/* KARENA_PURGE_THREAD */
	unsigned verbose;		/* KARENA_VERBOSE */
};
extern struct kr_options kr_opt KR_HIDDEN;
void options_read(void);
void options_print(void);
void kr_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* KARENA_OPTIONS_H */
