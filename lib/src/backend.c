// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * backend.c - choose the OS layer (struct kr_backend in internal.h states
 * its contract).
 *
 * KARENA_BACKEND=kernel|mmap forces one; otherwise the kernel backend is
 * used when its device opens, else mmap. A forced kernel backend without a
 * device stays the kernel backend: its init fails with one message and
 * every arena allocation then fails with ENOMEM (never a silent mmap).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* defined in backend_kernel.c: can the device be opened at all? */
int kernel_device_present(void);

const struct kr_backend *backend_choose(void)
{
	const char *want = getenv("KARENA_BACKEND");

	if (want && !strcmp(want, "kernel"))
		return &kr_backend_kernel;
	if (want && !strcmp(want, "mmap"))
		return &kr_backend_mmap;
	if (want && *want) {
		static const char msg[] =
			"karena: KARENA_BACKEND must be \"kernel\" or \"mmap\"; "
			"choosing automatically\n";
		ssize_t r = write(STDERR_FILENO, msg, sizeof(msg) - 1);
		(void)r;
	}
	return kernel_device_present() ? &kr_backend_kernel
				       : &kr_backend_mmap;
}
