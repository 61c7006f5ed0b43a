/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * backend.h - the OS layer: where arenas and large blocks come from.
 *
 * Two backends implement struct kr_backend, whose contract is below:
 * backend_kernel.c (/dev/karena, the module's grants) and backend_mmap.c
 * (anonymous memory); backend.c chooses one at init. Nothing above this
 * layer knows which one it has.
 */
#ifndef KARENA_BACKEND_H
#define KARENA_BACKEND_H

#include <stddef.h>

/**
 * struct kr_backend - the OS layer, one per backend file
 *
 * The contract, stated once:
 * @name:	"kernel" or "mmap"
 * @init:	make the backend ready; set *arena_size (a power of two in
 *		[2^MIN_ARENA_SHIFT, 2^MAX_ARENA_SHIFT]); 0 or -errno. Called
 *		once, under kr.lock.
 * @arena_alloc: one arena of arena_size bytes, aligned to arena_size,
 *		reading as zero; NULL with errno ENOMEM when refused (a kernel
 *		denial, EDQUOT or ENOMEM, is reported as ENOMEM). Thread-safe.
 * @arena_free:	give a whole arena back. Thread-safe.
 * @return_pages: hand back the pages of [addr, addr+len) (page-aligned,
 *		inside one arena): the range stays usable and reads as zero on
 *		next touch. Returns the pages released (best effort count) or
 *		-1 with errno. Thread-safe.
 * @grant_alloc: one large block's memory (large.c): @len bytes (a multiple
 *		of the grant unit: arena_size on the kernel backend, where it
 *		is one grant of len / arena_size arenas; a page on mmap),
 *		aligned to @alignment (a power of two, at least a page; the
 *		kernel backend gives arena_size and no more), reading as zero;
 *		NULL with errno ENOMEM when refused. Thread-safe.
 * @grant_free:	give it back. Thread-safe.
 */
struct kr_backend {
	const char *name;
	int (*init)(size_t *arena_size);
	void *(*arena_alloc)(size_t arena_size);
	void (*arena_free)(void *base, size_t arena_size);
	long (*return_pages)(void *addr, size_t len);
	void *(*grant_alloc)(size_t len, size_t alignment);
	void (*grant_free)(void *base, size_t len);
};

/* backend.c: choose the backend and start it; 0 or -errno */
int backend_start(size_t *arena_size);
/* backend.c: fault in the whole pages of [from, to) at once, best effort */
void backend_populate(const void *from, const void *to);

/* backend_kernel.c */
extern const struct kr_backend kr_backend_kernel;
const char *kernel_device_path(void);	/* KARENA_DEVICE, or /dev/karena */
int kernel_device_present(void);
const char *kernel_init_error(void);

/* backend_mmap.c */
extern const struct kr_backend kr_backend_mmap;

#endif /* KARENA_BACKEND_H */
