// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * lock.c - the heap lock's slow path: sleep on a futex while another
 * thread holds it, and wake one sleeper on release.
 *
 * The lock word (struct kr_lock, lock.h) is 0 when free, 1 when held,
 * 2 when held and someone may sleep on it; the scheme is the third mutex
 * of Drepper's "Futexes Are Tricky". Its only contenders are the owner of
 * a heap (on its slow paths) and the purge thread (once per pass), so the
 * sleeping side is rare; what matters is that the uncontended round trip
 * is two atomic instructions, inline.
 */
#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lock.h"

/*
 * kr_lock found the word at @seen (not 0): mark it contended and sleep.
 * futex(2) sets errno (EAGAIN: the word changed first; EINTR: a signal),
 * which the caller's free must leave as it found it.
 */
void kr_lock_wait(struct kr_lock *l, int seen)
{
	int saved_errno = errno;

	if (seen != 2)
		seen = atomic_exchange_explicit(&l->state, 2,
						memory_order_acquire);
	while (seen) {
		syscall(SYS_futex, &l->state, FUTEX_WAIT_PRIVATE, 2, NULL,
			NULL, 0);
		seen = atomic_exchange_explicit(&l->state, 2,
						memory_order_acquire);
	}
	errno = saved_errno;
}

/* kr_unlock found sleepers possible: wake one. */
void kr_lock_wake(struct kr_lock *l)
{
	syscall(SYS_futex, &l->state, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
