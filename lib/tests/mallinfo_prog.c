// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mallinfo_prog - what a program sees of its heap through mallinfo2()
 * and mallinfo(): 2000 blocks of 100 bytes must show in uordblks while
 * they live, and leave it when freed; then malloc_stats(). Run by
 * preload.sh under libkarena-malloc.so, where those blocks are karena's,
 * and without it. Exit 0 iff the counts moved as they must.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N	2000
#define SIZE	100

int main(void)
{
	static void *v[N];
	struct mallinfo2 m0, m1, m2;
	struct mallinfo old;
	int i, bad = 0;

	m0 = mallinfo2();
	for (i = 0; i < N; i++) {
		v[i] = malloc(SIZE);
		memset(v[i], 1, SIZE);
	}
	m1 = mallinfo2();
	old = mallinfo();
	for (i = 0; i < N; i++)
		free(v[i]);
	m2 = mallinfo2();
	printf("uordblks %zu -> %zu -> %zu, arena %zu\n", m0.uordblks,
	       m1.uordblks, m2.uordblks, m1.arena);
	if (m1.uordblks < m0.uordblks + N * SIZE) {
		printf("the blocks in use do not show in uordblks\n");
		bad = 1;
	}
	if (m1.uordblks - m2.uordblks < N * SIZE) {
		printf("the freed blocks do not leave uordblks\n");
		bad = 1;
	}
	if (m1.arena < (size_t)N * SIZE || (size_t)old.uordblks != m1.uordblks) {
		printf("arena %zu too small, or mallinfo %d != mallinfo2\n",
		       m1.arena, old.uordblks);
		bad = 1;
	}
	fflush(stdout);
	malloc_stats();
	return bad;
}
