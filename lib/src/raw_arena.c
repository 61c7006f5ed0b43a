// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * raw_arena.c - whole arenas from the backend, for an allocator of another
 * program's own (CPython's pymalloc through PyObject_SetArenaAllocator):
 * karena_arena_alloc(), karena_arena_free(), karena_arena_prepare() and
 * karena_arena_stats() of karena.h.
 *
 * The heap of this library never sees these arenas: they are not cut into
 * pools, not registered and not purged; the caller owns every byte.
 *
 * Backend: the heap's (karena_backend(): KARENA_BACKEND and KARENA_DEVICE
 * as options.c validates them, the rule of backend.c), chosen once.
 *
 * Kernel: one open file of the device per arena size, of its own, so that
 * the size can be set on it whatever the heap's file grants:
 *
 *	fd = open("/dev/karena")
 *	ioctl(fd, KARENA_IOC_SET_ARENA_SIZE, size)	every grant: one arena
 *							of size, aligned to it
 *	  or, a module without that ioctl (ENOTTY):
 *	size == n * the module's arena size		a grant of n arenas,
 *							aligned to the module's
 *							arena size
 *	mmap(NULL, size, RW, MAP_SHARED | MAP_POPULATE, fd, 0)	grant
 *	munmap(p, size)						release
 *
 * Every file is opened by this process, so each grant counts in the
 * process's holder in the kernel, under the same limits as the heap's.
 *
 * mmap: the mmap backend's own arena_alloc (anonymous, aligned to size).
 *
 * The per-size files are set up once, under raw_lock; after that the fast
 * path reads them with an acquire load and takes no lock. The counters are
 * atomics.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/karena.h>
#include "backend.h"
#include "config.h"

#define RAW_SIZES	(MAX_ARENA_SHIFT - MIN_ARENA_SHIFT + 1)

enum raw_backend { RAW_UNCHOSEN, RAW_KERNEL, RAW_MMAP };

/* A per-size file: fd >= 0 when ready; err the errno of a failed set-up. */
struct raw_file {
	atomic_int ready;	/* 0: not set up; 1: fd or err is final */
	int fd;
	int err;
};

static pthread_mutex_t raw_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int raw_backend;		/* enum raw_backend, under raw_lock */
static struct raw_file raw_files[RAW_SIZES];

static atomic_size_t raw_held, raw_peak, raw_granted, raw_released,
		     raw_denied, raw_bytes_held;

static int raw_open_device(void)
{
	return open(kernel_device_path(), O_RDWR | O_CLOEXEC);
}

/*
 * The backend: the heap's own, chosen at its first use from the validated
 * KARENA_BACKEND and KARENA_DEVICE (options.c, backend.c), so that raw
 * arenas and the heap never disagree.
 */
static enum raw_backend raw_choose(void)
{
	enum raw_backend b = atomic_load_explicit(&raw_backend,
						  memory_order_acquire);

	if (b != RAW_UNCHOSEN)
		return b;
	pthread_mutex_lock(&raw_lock);
	b = atomic_load_explicit(&raw_backend, memory_order_relaxed);
	if (b == RAW_UNCHOSEN) {
		b = strcmp(karena_backend(), "kernel") ? RAW_MMAP : RAW_KERNEL;
		atomic_store_explicit(&raw_backend, b, memory_order_release);
	}
	pthread_mutex_unlock(&raw_lock);
	return b;
}

/* -1 unless @size is a power of two in [64 KiB, 4 MiB]; else its slot. */
static int raw_slot(size_t size)
{
	unsigned shift;

	for (shift = MIN_ARENA_SHIFT; shift <= MAX_ARENA_SHIFT; shift++)
		if (size == (size_t)1 << shift)
			return (int)(shift - MIN_ARENA_SHIFT);
	return -1;
}

/*
 * Open and size the file for arenas of @size: 0, or an errno (ENODEV: no
 * device; EINVAL: the module cannot grant arenas of that size).
 */
static int raw_file_setup(size_t size, int *fdp)
{
	struct karena_arena_size as;
	struct karena_info info;
	int fd, err;

	fd = raw_open_device();
	if (fd < 0)
		return errno == ENOENT || errno == ENXIO ? ENODEV : errno;
	memset(&as, 0, sizeof(as));
	as.arena_size = size;
	if (ioctl(fd, KARENA_IOC_SET_ARENA_SIZE, &as) == 0)
		goto out;
	err = errno;
	if (err != ENOTTY)
		goto fail;
	/* A module without per-file sizes: n of its arenas per grant. */
	memset(&info, 0, sizeof(info));
	if (ioctl(fd, KARENA_IOC_INFO, &info) < 0) {
		err = errno;
		goto fail;
	}
	err = EINVAL;
	if (!info.arena_size || size % info.arena_size)
		goto fail;
out:
	*fdp = fd;
	return 0;
fail:
	close(fd);
	return err;
}

/* The ready file for @slot, setting it up on first use; -1 with errno. */
static int raw_file_get(int slot)
{
	struct raw_file *f = &raw_files[slot];

	if (!atomic_load_explicit(&f->ready, memory_order_acquire)) {
		pthread_mutex_lock(&raw_lock);
		if (!atomic_load_explicit(&f->ready, memory_order_relaxed)) {
			f->fd = -1;
			f->err = raw_file_setup((size_t)1 << (slot +
							      MIN_ARENA_SHIFT),
						&f->fd);
			atomic_store_explicit(&f->ready, 1,
					      memory_order_release);
		}
		pthread_mutex_unlock(&raw_lock);
	}
	if (f->fd < 0) {
		errno = f->err;
		return -1;
	}
	return f->fd;
}

KR_API int karena_arena_prepare(size_t size)
{
	int slot = raw_slot(size);

	if (slot < 0) {
		errno = EINVAL;
		return -1;
	}
	if (raw_choose() == RAW_MMAP)
		return 0;
	return raw_file_get(slot) < 0 ? -1 : 0;
}

static void raw_count_grant(size_t size)
{
	size_t held = atomic_fetch_add(&raw_held, 1) + 1;
	size_t peak = atomic_load(&raw_peak);

	while (held > peak &&
	       !atomic_compare_exchange_weak(&raw_peak, &peak, held))
		;
	atomic_fetch_add(&raw_granted, 1);
	atomic_fetch_add(&raw_bytes_held, size);
}

KR_API void *karena_arena_alloc(size_t size)
{
	void *p;
	int fd;

	if (karena_arena_prepare(size) < 0)
		return NULL;
	if (raw_choose() == RAW_MMAP) {
		p = kr_backend_mmap.arena_alloc(size);
	} else {
		fd = raw_file_get(raw_slot(size));
		/*
		 * MAP_POPULATE, as the heap's kernel backend does: the module
		 * has every page of a granted arena allocated and zeroed.
		 */
		p = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_POPULATE, fd, 0);
		if (p == MAP_FAILED) {
			p = NULL;
			/* EDQUOT (a limit), ENOMEM: a denial */
			if (errno == EDQUOT || errno == ENOMEM)
				errno = ENOMEM;
		}
	}
	if (!p) {
		if (errno == ENOMEM)
			atomic_fetch_add(&raw_denied, 1);
		return NULL;
	}
	raw_count_grant(size);
	return p;
}

KR_API int karena_arena_free(void *p, size_t size)
{
	if (!p || raw_slot(size) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (munmap(p, size) < 0)
		return -1;
	atomic_fetch_sub(&raw_held, 1);
	atomic_fetch_sub(&raw_bytes_held, size);
	atomic_fetch_add(&raw_released, 1);
	return 0;
}

KR_API void karena_arena_stats(struct karena_arena_stats *st)
{
	memset(st, 0, sizeof(*st));
	strcpy(st->backend, raw_choose() == RAW_KERNEL ? "kernel" : "mmap");
	st->held = atomic_load(&raw_held);
	st->peak = atomic_load(&raw_peak);
	st->granted = atomic_load(&raw_granted);
	st->released = atomic_load(&raw_released);
	st->denied = atomic_load(&raw_denied);
	st->bytes_held = atomic_load(&raw_bytes_held);
}
