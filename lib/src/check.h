/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * check.h - the invariants of lib/README.md, executable: a walker over a
 * heap's pools, lists and counts, run by the tests after every step and
 * by KARENA_DEBUG=1 on the slow paths (check.c).
 */
#ifndef KARENA_CHECK_H
#define KARENA_CHECK_H

#include <stdio.h>

#include "types.h"

/* check.c: 0 if every invariant holds, else -1 after printing to @out */
int kr_check_heap(struct kr_heap *h, FILE *out);

#endif /* KARENA_CHECK_H */
