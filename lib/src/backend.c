// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * backend.c - choose the OS layer (struct kr_backend in backend.h states
 * its contract) and start it.
 *
 * KARENA_BACKEND=kernel|mmap forces one; otherwise the kernel backend is
 * used when its device opens, else mmap. A device that opens but is not
 * usable (it does not answer KARENA_IOC_INFO: not the module's device; or
 * the module's page or arena size is one the library cannot use) is
 * passed over for mmap, with one warning, when the choice is automatic.
 * A forced kernel backend that cannot start stays the kernel backend: one
 * message, and every arena allocation then fails with ENOMEM (never a
 * silent mmap).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>

#include "backend.h"
#include "config.h"
#include "init.h"
#include "options.h"

int backend_start(size_t *arena_size)
{
	int err;

	if (kr_opt.backend == KR_BACKEND_MMAP ||
	    (kr_opt.backend == KR_BACKEND_AUTO && !kernel_device_present())) {
		kr.backend = &kr_backend_mmap;
		return kr.backend->init(arena_size);
	}
	kr.backend = &kr_backend_kernel;
	err = kr.backend->init(arena_size);
	if (!err)
		return 0;
	if (kr_opt.backend == KR_BACKEND_KERNEL) {
		kr_say("karena: KARENA_BACKEND=kernel: %s. Allocations "
		       "from arenas will fail with ENOMEM.\n",
		       kernel_init_error());
		return err;
	}
	kr_say("karena: %s; using the mmap backend instead.\n",
	       kernel_init_error());
	kr.backend = &kr_backend_mmap;
	return kr.backend->init(arena_size);
}

/*
 * The caller is about to write every page of [@from, @to): fault them in
 * for writing in one call (MADV_POPULATE_WRITE, Linux 5.14), instead of
 * one fault a page. The pages and what they cost are the same; the traps
 * are not: in a 2 vCPU virtual machine a fault costs about 10 us (up to
 * 40 on a busy host), mostly entering and leaving the kernel, and a
 * pool's pages populated at once cost half as much each
 * (docs/benchmarks.md). Pages the range only partly covers are left out,
 * and so is a range of fewer than two whole pages (one fault costs what
 * the call does). Best effort, for either
 * backend (the module's mappings fault through its handler either way):
 * a kernel without it (EINVAL) is not asked again, and a refusal leaves
 * the pages to fault one by one, as before. errno is kept.
 */
void backend_populate(const void *from, const void *to)
{
	static atomic_bool unsupported;
	uintptr_t a = ((uintptr_t)from + OS_PAGE_SIZE - 1) &
		      ~(uintptr_t)(OS_PAGE_SIZE - 1);
	uintptr_t b = (uintptr_t)to & ~(uintptr_t)(OS_PAGE_SIZE - 1);
	int saved = errno;

	if (b < a + 2 * OS_PAGE_SIZE ||
	    atomic_load_explicit(&unsupported, memory_order_relaxed))
		return;
	if (!madvise((void *)a, b - a, MADV_POPULATE_WRITE))
		atomic_fetch_add(&kr.pages_populated, (b - a) >> OS_PAGE_SHIFT);
	else if (errno == EINVAL)
		atomic_store_explicit(&unsupported, true,
				      memory_order_relaxed);
	errno = saved;
}
