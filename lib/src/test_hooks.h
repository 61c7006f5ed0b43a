/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_hooks.h - what the tests reach into the library with: the invariant
 * walker, knobs set after start, an explicit purge, a clock the test
 * moves.
 */
#ifndef KARENA_TEST_HOOKS_H
#define KARENA_TEST_HOOKS_H

#include <stdint.h>
#include <stdio.h>

/*
 * test_hooks.c: linked into the test programs only (build/libkarena-test.a),
 * never into libkarena.so, libkarena-malloc.so or libkarena.a
 */
int karena__check(FILE *out);	/* the invariants of every heap it can read */
void karena__set_keep_arenas(unsigned n);
void karena__set_purge_ms(unsigned ms);
void karena__purge(unsigned min_age_ms);
void karena__flush_kept(void);
int karena__is_ours(const void *p);
void karena__set_clock(uint32_t now_ms);
void karena__advance_clock(uint32_t ms);
void karena__real_clock(void);

#endif /* KARENA_TEST_HOOKS_H */
