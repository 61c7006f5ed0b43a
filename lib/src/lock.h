/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lock.h - a heap's lock: two inline atomic instructions when uncontended
 * (kr_lock, kr_unlock), the sleeping side out of line in lock.c.
 */
#ifndef KARENA_LOCK_H
#define KARENA_LOCK_H

#include <stdatomic.h>

#include "config.h"

/**
 * struct kr_lock - a heap's lock: 0 free, 1 held, 2 held and contended
 *
 * Not a pthread mutex: the owner takes it twice per pool it gives to or
 * takes from an arena, and pthread_mutex_lock + unlock cost ~80
 * instructions in calls around the same two atomic instructions that
 * kr_lock + kr_unlock are inline. The sleeping side is in lock.c.
 */
struct kr_lock {
	atomic_int state;
};

/* lock.c */
void kr_lock_wait(struct kr_lock *l, int seen);
void kr_lock_wake(struct kr_lock *l);

static inline void kr_lock(struct kr_lock *l)
{
	int seen = 0;

	if (unlikely(!atomic_compare_exchange_strong_explicit(&l->state,
				&seen, 1, memory_order_acquire,
				memory_order_relaxed)))
		kr_lock_wait(l, seen);
}

static inline void kr_unlock(struct kr_lock *l)
{
	if (unlikely(atomic_exchange_explicit(&l->state, 0,
					      memory_order_release) == 2))
		kr_lock_wake(l);
}

/* fork child: no thread holds or waits for it */
static inline void kr_lock_init(struct kr_lock *l)
{
	atomic_store_explicit(&l->state, 0, memory_order_relaxed);
}

#endif /* KARENA_LOCK_H */
