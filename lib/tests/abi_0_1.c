// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * abi_0_1.c - a program as it was built against libkarena 0.1.0: its own
 * copy of 0.1.0's struct karena_stats (32 classes, nothing after them),
 * with a guard after it, and an unversioned reference to karena_stats
 * (tests/abi.sh links it against a library without versions). Run against
 * today's libkarena.so.0 it must get the old layout: the guard intact,
 * the 16..512-byte classes in place, the totals their sums. TAP.
 */
#include <stdio.h>
#include <string.h>

#define GUARD 0x5a

struct class_0_1 {
	size_t size, pools, blocks_in_use, blocks_free;
};

struct stats_0_1 {
	char backend[8];
	size_t arena_size, pool_size, pools_per_arena;
	size_t arenas_held, arenas_peak, arenas_allocated, arenas_released;
	size_t arenas_denied;
	size_t pools_used, pools_full, pools_empty;
	size_t pages_returned, blocks_in_use, bytes_in_use;
	size_t heaps, heaps_abandoned;
	struct class_0_1 classes[32];
};

void *karena_malloc(size_t size);
void karena_free(void *p);
void karena_stats(struct stats_0_1 *st);

static int n, failed;

static void check(int cond, const char *what)
{
	printf("%sok %d - %s\n", cond ? "" : "not ", ++n, what);
	failed |= !cond;
}

int main(void)
{
	struct {
		struct stats_0_1 st;
		unsigned char guard[4096];
	} buf;
	void *small = karena_malloc(100), *big = karena_malloc(1000);
	size_t i, sum = 0, bytes = 0;
	int guard_ok = 1;

	memset(&buf, GUARD, sizeof(buf));
	karena_stats(&buf.st);
	for (i = 0; i < sizeof(buf.guard); i++)
		guard_ok &= buf.guard[i] == GUARD;
	check(guard_ok, "nothing is written past 0.1.0's struct karena_stats");
	check(buf.st.arena_size >= 65536 && buf.st.pool_size >= 4096,
	      "arena_size and pool_size where 0.1.0 had them");
	check(buf.st.classes[0].size == 16 && buf.st.classes[31].size == 512,
	      "32 classes of 16..512 bytes");
	check(buf.st.classes[6].blocks_in_use >= 1,
	      "the 100-byte block is in use in the 112-byte class");
	for (i = 0; i < 32; i++) {
		sum += buf.st.classes[i].blocks_in_use;
		bytes += buf.st.classes[i].blocks_in_use * buf.st.classes[i].size;
	}
	check(buf.st.blocks_in_use == sum && buf.st.bytes_in_use == bytes,
	      "blocks_in_use and bytes_in_use are the sums over the 32 classes");
	karena_free(small);
	karena_free(big);
	printf("1..%d\n", n);
	return failed;
}
