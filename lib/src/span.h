/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * span.h - medium blocks (1 KiB < size <= kr.medium_max): spans of 1 to
 * 16 pools of an arena of spans, one medium class each, 8 classes per
 * power of two (span.c).
 */
#ifndef KARENA_SPAN_H
#define KARENA_SPAN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "karena.h"

#include "arena.h"
#include "pool.h"
#include "types.h"

extern struct kr_mclass kr_medium[MEDIUM_CLASSES] KR_HIDDEN;

/* The medium class of @size (1024 < size <= MEDIUM_LIMIT). */
static inline unsigned medium_class(size_t size)
{
	size_t s = size - 1;
	unsigned k = 63 - (unsigned)__builtin_clzl(s);	/* >= 10 */

	return (k - 10) * 8 + (unsigned)(s >> (k - 3)) - 8;
}

/* 1152, 1280, ..., 2048, 2304, ...: (9..16) << 7, << 8, ... */
static inline size_t medium_class_size(unsigned m)
{
	return (size_t)(m % 8 + 9) << (m / 8 + 7);
}

static inline struct kr_span *span_slot(const void *p)
{
	return (struct kr_span *)pool_of(p);
}

/*
 * The word a span's free block holds after its link: its span's key (the
 * header's address), which free compares before it frees (equal: maybe a
 * double free) and malloc clears when it hands the block out (span.c).
 */
static inline uintptr_t *block_key(void *b)
{
	return (uintptr_t *)b + 1;
}

/*
 * Is @b not a block start of the span whose key is @key, whose string of
 * non-starts is at @bias (bit @bit), or is it keyed "freed" (its second
 * word holds @key)? On x86-64: cmp, then bt on the string's word, loaded
 * (a bt with a register offset into memory is microcoded: pool.h), and
 * one branch on "below or equal" (CF: not a start; ZF: the key), which
 * the caller takes. The word is the one such a bt would address: 8 *
 * (@bit / 64) bytes from @bias, as a signed offset.
 */
static inline bool block_suspect(uintptr_t key, void *b, uintptr_t bias,
				 uintptr_t bit)
{
#if defined(__x86_64__)
	uint64_t w = *(const uint64_t *)(bias + ((intptr_t)bit >> 6) * 8);
	bool bad;

	__asm__("cmpq %2, %1\n\tbtq %4, %3" : "=@ccbe"(bad)
		: "m"(*block_key(b)), "r"(key), "r"(w), "r"(bit));
	return bad;
#else
	const uint8_t *bits = (const uint8_t *)bias;

	return ((bits[bit >> 3] >> (bit & 7)) & 1) || *block_key(b) == key;
#endif
}

void span_init_classes(void);
void *span_alloc(struct kr_heap *h, unsigned m);
/* free's fast path: @b 16-aligned in the arena of spans at @base */
void span_free(void *b, uintptr_t base);
/* every check, and the diagnosis (misaligned, KARENA_DEBUG, suspects) */
void span_free_checked(void *b);
/* a remote free collected by the owner (heap.c): checked when pushed */
void span_free_local(struct kr_heap *h, void *b);
size_t span_usable_size(const void *b);
void span_flush_kept(struct kr_heap *h);
char *span_take_empty(struct kr_heap *h);
unsigned span_release_old(struct kr_heap *h, uint32_t now,
			  uint32_t min_age_ms, unsigned keep);
void span_purge(struct kr_heap *h, uint32_t now, uint32_t min_age_ms);
void span_count(struct kr_heap *h, struct karena_stats *st);
int span_check_heap(struct kr_heap *h, FILE *out);
/* is @p in an arena of spans? (@p in an arena we hold) */
static inline bool in_span_arena(const void *p)
{
	return arena_of(p)->magic == SPAN_ARENA_MAGIC;
}

#endif /* KARENA_SPAN_H */
