// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * limit_prog - a plain C program for test_limit, run under
 * LD_PRELOAD=libkarena-malloc.so: `limit_prog SIZE MAX` mallocs blocks of
 * SIZE bytes, writing each, until malloc returns NULL or MAX blocks are
 * held; frees them all, mallocs one more; prints
 *	blocks=N errno=E again=0|1
 * (E: errno after the NULL, 0 if none came). `limit_prog SIZE MAX THEN`
 * then frees that one too, mallocs blocks of THEN bytes the same way and
 * prints " then=N" before the newline (0 unless they ended in ENOMEM): a
 * freed large block's kept grant must not hold them back (large.c gives
 * it back when the module refuses).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Blocks of @size into @v (at most @max), each written, until NULL. */
static size_t fill(void **v, size_t size, size_t max, int *err)
{
	size_t n;

	for (n = 0; n < max; n++) {
		errno = 0;
		v[n] = malloc(size);
		if (!v[n]) {
			*err = errno;
			break;
		}
		memset(v[n], 0x6b, size);
	}
	return n;
}

int main(int argc, char **argv)
{
	size_t size, max, n, got;
	void **v, *p;
	int err = 0, err2 = 0;

	if (argc != 3 && argc != 4)
		return 2;
	size = strtoul(argv[1], NULL, 0);
	max = strtoul(argv[2], NULL, 0);
	/* not malloc: the array would count against the limit it measures */
	v = mmap(NULL, max * sizeof(*v), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (v == MAP_FAILED)
		return 3;
	got = n = fill(v, size, max, &err);
	while (n)
		free(v[--n]);
	p = malloc(size);
	printf("blocks=%zu errno=%d again=%d", got, err, p != NULL);
	free(p);
	if (argc == 4) {
		n = fill(v, strtoul(argv[3], NULL, 0), max, &err2);
		printf(" then=%zu", err2 == ENOMEM ? n : 0);
		while (n)
			free(v[--n]);
	}
	printf("\n");
	return 0;
}
