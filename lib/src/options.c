// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * options.c - the KARENA_* environment variables: one table says, for
 * each, what it accepts and its default; they are read once, at init.
 *
 * A value the table does not accept gets one warning on stderr naming the
 * variable, the value and what is accepted, and the default is used: a
 * typo must neither pass silently nor stop a program whose allocator it
 * merely tunes. An empty value is the same as none. Booleans accept
 * 1/0, yes/no, true/false and on/off, in any case. KARENA_VERBOSE=1
 * prints the options in force once the backend has started.
 *
 * This runs inside the first malloc: no stdio, no allocation (snprintf
 * into a buffer on the stack, then write(2)).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "backend.h"
#include "config.h"
#include "init.h"
#include "options.h"

struct kr_options kr_opt = {
	.keep_arenas = DEFAULT_KEEP_ARENAS,
	.purge_ms = DEFAULT_PURGE_MS,
	.purge_thread = 1,
	.arena_kb = 1u << (DEFAULT_ARENA_SHIFT - 10),
};

enum option_kind {
	OPT_BOOL,	/* 1/0 yes/no true/false on/off */
	OPT_UINT,	/* a decimal integer in [min, max] */
	OPT_POW2,	/* a power of two in [min, max] */
	OPT_BACKEND,	/* kernel or mmap */
};

struct option {
	const char *name;
	enum option_kind kind;
	unsigned *value;	/* holds the default until read */
	unsigned min, max;
};

static const struct option options[] = {
	{ "KARENA_BACKEND", OPT_BACKEND, &kr_opt.backend, 0, 0 },
	{ "KARENA_ARENA_KB", OPT_POW2, &kr_opt.arena_kb,
	  1u << (MIN_ARENA_SHIFT - 10), 1u << (MAX_ARENA_SHIFT - 10) },
	{ "KARENA_DEBUG", OPT_BOOL, &kr_opt.debug, 0, 1 },
	{ "KARENA_SHOW_STATS", OPT_BOOL, &kr_opt.show_stats, 0, 1 },
	{ "KARENA_KEEP_ARENAS", OPT_UINT, &kr_opt.keep_arenas, 0, 1000000 },
	{ "KARENA_PURGE_MS", OPT_UINT, &kr_opt.purge_ms, 0, 1000000 },
	{ "KARENA_PURGE_THREAD", OPT_BOOL, &kr_opt.purge_thread, 0, 1 },
	{ "KARENA_VERBOSE", OPT_BOOL, &kr_opt.verbose, 0, 1 },
};

static const char *const backend_names[] = { "auto", "kernel", "mmap" };

static const char *const bool_words[][2] = {
	{ "0", "1" }, { "no", "yes" }, { "false", "true" }, { "off", "on" },
};

/* Write @fmt to stderr without stdio or malloc. */
void kr_say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = (int)sizeof(buf) - 1;
	if (n > 0 && write(STDERR_FILENO, buf, (size_t)n) < 0)
		return;
}

static bool parse_bool(const char *s, unsigned *out)
{
	unsigned i, v;

	for (i = 0; i < sizeof(bool_words) / sizeof(bool_words[0]); i++)
		for (v = 0; v < 2; v++)
			if (!strcasecmp(s, bool_words[i][v])) {
				*out = v;
				return true;
			}
	return false;
}

static bool parse_uint(const char *s, unsigned *out)
{
	unsigned long v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > 100000000)
			return false;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	*out = (unsigned)v;
	return v <= 100000000;
}

static bool parse(const struct option *o, const char *s, unsigned *out)
{
	unsigned i;

	switch (o->kind) {
	case OPT_BOOL:
		return parse_bool(s, out);
	case OPT_UINT:
		return parse_uint(s, out) && *out >= o->min && *out <= o->max;
	case OPT_POW2:
		return parse_uint(s, out) && *out >= o->min &&
		       *out <= o->max && !(*out & (*out - 1));
	case OPT_BACKEND:
		for (i = KR_BACKEND_KERNEL; i <= KR_BACKEND_MMAP; i++)
			if (!strcmp(s, backend_names[i])) {
				*out = i;
				return true;
			}
		return false;
	}
	return false;
}

/* What @o accepts, for the warning. */
static void accepted(const struct option *o, char *buf, size_t len)
{
	switch (o->kind) {
	case OPT_BOOL:
		snprintf(buf, len, "1/0, yes/no, true/false, on/off");
		break;
	case OPT_UINT:
		snprintf(buf, len, "an integer from %u to %u", o->min, o->max);
		break;
	case OPT_POW2:
		snprintf(buf, len, "a power of two from %u to %u", o->min,
			 o->max);
		break;
	case OPT_BACKEND:
		snprintf(buf, len, "kernel, mmap; unset: the device if it "
			 "opens, else mmap");
		break;
	}
}

static const char *shown(const struct option *o, unsigned v)
{
	static char num[16];

	if (o->kind == OPT_BACKEND)
		return backend_names[v <= KR_BACKEND_MMAP ? v : 0];
	snprintf(num, sizeof(num), "%u", v);
	return num;
}

/* Read every KARENA_* variable of the table. Once, under kr.lock. */
void options_read(void)
{
	const struct option *o;

	for (o = options; o < options + sizeof(options) / sizeof(*o); o++) {
		const char *s = getenv(o->name);
		char acc[80];
		unsigned v;

		if (!s || !*s)
			continue;
		if (parse(o, s, &v)) {
			*o->value = v;
			continue;
		}
		accepted(o, acc, sizeof(acc));
		kr_say("karena: %s=\"%.64s\" is not valid (accepted: %s); "
		       "using the default, %s\n", o->name, s, acc,
		       shown(o, *o->value));
	}
}

/* KARENA_VERBOSE=1: the options in force, once the backend runs. */
void options_print(void)
{
	const struct option *o;
	char line[400];
	size_t n;

	if (!kr_opt.verbose)
		return;
	n = (size_t)snprintf(line, sizeof(line), "karena: backend %s, arena "
			     "%zu KiB;", kr.backend->name, kr.arena_size >> 10);
	for (o = options; o < options + sizeof(options) / sizeof(*o) &&
	     n < sizeof(line); o++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " %s=%s%s",
				      o->name, shown(o, *o->value),
				      o->value == &kr_opt.arena_kb &&
				      kr.backend != &kr_backend_mmap ?
				      " (mmap only)" : "");
	kr_say("%s\n", line);
}
