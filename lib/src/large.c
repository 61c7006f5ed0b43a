// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * large.c - large blocks: requests over kr.medium_max (128 KiB with the
 * default arenas), and alignments over a page, each in a grant of its own
 * that goes back to the backend when the block is freed.
 *
 * On the kernel backend the grant is one mmap of n * arena_size of the
 * device: n arenas in one grant, under the module's limits and counters
 * like any other arena. On the mmap backend it is an anonymous mapping,
 * aligned as asked (over-mapped and trimmed). mimalloc and jemalloc do the
 * same above their largest class (huge pages / huge extents): a block this
 * size is rare next to the cost of touching it, and a mapping of its own
 * gives it back whole on free.
 *
 * Finding one again: a large block is in no arena's registry bits (its
 * memory may be far from any arena and of any size), so free reaches it
 * on the slot-miss path, after the bitmap has said "not an arena". A hash
 * table (open addressing, linear probing, backward-shift deletion), keyed
 * by the block's address, under large_lock, holds each block's grant; it
 * is looked at only by frees that are not arena blocks (large blocks and
 * pointers karena never made), and not even that until a large block has
 * existed. Held across fork, so a child finds it whole.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "backend.h"
#include "config.h"
#include "init.h"
#include "large.h"

struct large_entry {
	uintptr_t block;	/* 0: empty */
	void *base;		/* the grant */
	size_t len;
};

static pthread_mutex_t large_lock = PTHREAD_MUTEX_INITIALIZER;
static struct large_entry *table;
static size_t table_size;	/* a power of two, or 0 */
static size_t table_used;
static atomic_bool table_exists;	/* a large block ever existed */

static size_t slot_of(uintptr_t block, size_t size)
{
	return (size_t)(((block >> OS_PAGE_SHIFT) * 0x9E3779B97F4A7C15ull) >>
			(64 - __builtin_ctzl(size)));
}

static void table_put(struct large_entry *t, size_t size,
		      const struct large_entry *e)
{
	size_t i = slot_of(e->block, size);

	while (t[i].block)
		i = (i + 1) & (size - 1);
	t[i] = *e;
}

/* Room for one more (large_lock held): 0, or -1 if none could be had. */
static int table_reserve(void)
{
	size_t size = table_size ? 2 * table_size : 1024, i;
	struct large_entry *t;

	if (table_size && 2 * (table_used + 1) <= table_size)
		return 0;
	t = mmap(NULL, size * sizeof(*t), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t == MAP_FAILED)
		return -1;
	for (i = 0; i < table_size; i++)
		if (table[i].block)
			table_put(t, size, &table[i]);
	if (table)
		munmap(table, table_size * sizeof(*t));
	table = t;
	table_size = size;
	atomic_store_explicit(&table_exists, true, memory_order_release);
	return 0;
}

/* The slot of @block, or table_size (large_lock held). */
static size_t table_find(uintptr_t block)
{
	size_t i;

	if (!table_size)
		return 0;
	for (i = slot_of(block, table_size); table[i].block;
	     i = (i + 1) & (table_size - 1))
		if (table[i].block == block)
			return i;
	return table_size;
}

/* Empty slot @i, moving later entries of its run back (large_lock held). */
static void table_remove(size_t i)
{
	size_t j = i, mask = table_size - 1;

	for (;;) {
		size_t home;

		table[i].block = 0;
		do {
			j = (j + 1) & mask;
			if (!table[j].block)
				return;
			home = slot_of(table[j].block, table_size);
		} while (i <= j ? i < home && home <= j : i < home || home <= j);
		table[i] = table[j];
		i = j;
	}
}

/*
 * A block of @size bytes aligned to @alignment (a power of two; 0 or
 * anything up to a page: a page), reading as zero. NULL + ENOMEM.
 */
void *large_alloc(size_t size, size_t alignment)
{
	bool kernel = kr.backend == &kr_backend_kernel;
	size_t unit = kernel ? kr.arena_size : OS_PAGE_SIZE, slack = 0, len;
	struct large_entry e;
	uintptr_t block;
	void *base;

	kr_ensure_init();
	if (alignment < OS_PAGE_SIZE)
		alignment = OS_PAGE_SIZE;
	if (kernel && alignment > kr.arena_size)
		slack = alignment - kr.arena_size;	/* grants align less */
	if (size > SIZE_MAX / 2 - slack - unit)
		goto nomem;
	len = (size + slack + unit - 1) & ~(unit - 1);
	base = kr.backend_ok ? kr.backend->grant_alloc(len, alignment) : NULL;
	if (!base)
		goto nomem;
	block = ((uintptr_t)base + alignment - 1) & ~(uintptr_t)(alignment - 1);
	e = (struct large_entry){ block, base, len };
	pthread_mutex_lock(&large_lock);
	if (table_reserve() < 0) {
		pthread_mutex_unlock(&large_lock);
		kr.backend->grant_free(base, len);
		goto nomem;
	}
	table_put(table, table_size, &e);
	table_used++;
	pthread_mutex_unlock(&large_lock);
	atomic_fetch_add(&kr.large_blocks, 1);
	atomic_fetch_add(&kr.large_bytes, len);
	return (void *)block;
nomem:
	errno = ENOMEM;
	return NULL;
}

/* If @p is a large block, give its grant back and say so. */
bool large_free(void *p)
{
	struct large_entry e;
	size_t i;

	if (!atomic_load_explicit(&table_exists, memory_order_acquire) || !p)
		return false;
	pthread_mutex_lock(&large_lock);
	i = table_find((uintptr_t)p);
	if (i == table_size) {
		pthread_mutex_unlock(&large_lock);
		return false;
	}
	e = table[i];
	table_remove(i);
	table_used--;
	pthread_mutex_unlock(&large_lock);
	if (kr_debug)
		memset(p, DEAD_BYTE, (uintptr_t)e.base + e.len - e.block);
	kr.backend->grant_free(e.base, e.len);
	atomic_fetch_sub(&kr.large_blocks, 1);
	atomic_fetch_sub(&kr.large_bytes, e.len);
	return true;
}

/*
 * Large block @p, resized to hold @size bytes (over kr.medium_max) by
 * moving its mapping (mremap): no copy, and the pages it had stay
 * resident, where a new block would fault in every page again (a growing
 * Python list reallocates at each 1/8 of growth). The mmap backend only,
 * and a block at its mapping's start (alignment up to a page: realloc
 * promises no more). NULL if it cannot be done: the caller copies.
 */
void *large_resize(void *p, size_t size)
{
	size_t i, len = (size + OS_PAGE_SIZE - 1) & ~(size_t)(OS_PAGE_SIZE - 1);
	struct large_entry e;
	void *q;

	if (kr.backend != &kr_backend_mmap ||
	    !atomic_load_explicit(&table_exists, memory_order_acquire))
		return NULL;
	pthread_mutex_lock(&large_lock);
	i = table_find((uintptr_t)p);
	if (i == table_size || table[i].base != p) {
		pthread_mutex_unlock(&large_lock);
		return NULL;
	}
	e = table[i];
	q = mremap(e.base, e.len, len, MREMAP_MAYMOVE);
	if (q == MAP_FAILED) {
		pthread_mutex_unlock(&large_lock);
		return NULL;
	}
	table_remove(i);
	table_put(table, table_size, &(struct large_entry){
		(uintptr_t)q, q, len });
	pthread_mutex_unlock(&large_lock);
	if (len > e.len)
		atomic_fetch_add(&kr.large_bytes, len - e.len);
	else
		atomic_fetch_sub(&kr.large_bytes, e.len - len);
	return q;
}

/* The bytes from large block @p to its grant's end; 0 if not one. */
size_t large_usable_size(const void *p)
{
	size_t i, n = 0;

	if (!atomic_load_explicit(&table_exists, memory_order_acquire) || !p)
		return 0;
	pthread_mutex_lock(&large_lock);
	i = table_find((uintptr_t)p);
	if (i != table_size)
		n = (uintptr_t)table[i].base + table[i].len - table[i].block;
	pthread_mutex_unlock(&large_lock);
	return n;
}

void large_atfork_prepare(void)
{
	pthread_mutex_lock(&large_lock);
}

void large_atfork_parent(void)
{
	pthread_mutex_unlock(&large_lock);
}

void large_atfork_child(void)
{
	pthread_mutex_init(&large_lock, NULL);
}
