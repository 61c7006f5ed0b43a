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
#include "backend.h"
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
