// SPDX-License-Identifier: GPL-2.0
/*
 * karena-demo: what a program sees of karena, step by step.
 *
 * Opens /dev/karena, prints KARENA_IOC_INFO, is granted a few arenas (each
 * one mmap of the device), shows them in /proc/self/maps and reads them as
 * zero, then lowers its own per-process limit (as root, through the module
 * parameter) and shows the immediate, explicit denial. With HOLD_SECONDS it
 * keeps its arenas that long first, so other tools can look at it.
 * Used by `make demo`.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/karena.h>

#define LIMIT_PARAM "/sys/module/karena/parameters/max_arenas_per_process"

static int write_param(const char *path, const char *value)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (!f)
		return -1;
	ok = fputs(value, f) >= 0;
	return (fclose(f) == 0 && ok) ? 0 : -1;
}

static void show_maps(void)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "/dev/karena"))
			printf("    %s", line);
	fclose(f);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 4;
	int hold = argc > 2 ? atoi(argv[2]) : 0;
	struct karena_info info;
	void *arena[64];
	size_t i, j;
	int fd;

	if (n < 1 || n > 64) {
		fprintf(stderr, "usage: karena-demo [ARENAS 1..64 [HOLD_SECONDS]]\n");
		return 2;
	}
	fd = open("/dev/karena", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "karena-demo: /dev/karena: %s (load the module: modprobe karena)\n",
			strerror(errno));
		return 1;
	}
	memset(&info, 0, sizeof(info));
	if (ioctl(fd, KARENA_IOC_INFO, &info)) {
		perror("karena-demo: KARENA_IOC_INFO");
		return 1;
	}
	printf("KARENA_IOC_INFO: abi %u, arena %llu KiB, page %u, max_arenas %llu, per process %llu, per uid %llu\n",
	       info.abi_version, (unsigned long long)info.arena_size >> 10,
	       info.page_size, (unsigned long long)info.max_arenas,
	       (unsigned long long)info.max_arenas_per_process,
	       (unsigned long long)info.max_arenas_per_uid);

	for (i = 0; i < (size_t)n; i++) {
		unsigned char *p = mmap(NULL, info.arena_size, PROT_READ | PROT_WRITE,
					MAP_SHARED, fd, 0);

		if (p == MAP_FAILED) {
			printf("grant %zu: denied: %s\n", i, strerror(errno));
			return 1;
		}
		for (j = 0; j < info.arena_size; j++)
			if (p[j]) {
				printf("grant %zu: byte %zu is not zero!\n", i, j);
				return 1;
			}
		memset(p, 0xa5, info.arena_size);
		arena[i] = p;
		printf("grant %zu: arena at %p (aligned: %s), all zero, now filled\n",
		       i, (void *)p,
		       ((unsigned long)p & (info.arena_size - 1)) ? "no" : "yes");
	}
	printf("/proc/self/maps shows the arenas:\n");
	show_maps();

	memset(&info, 0, sizeof(info));
	ioctl(fd, KARENA_IOC_INFO, &info);
	printf("this process holds %llu arenas (peak %llu)\n",
	       (unsigned long long)info.arenas_held,
	       (unsigned long long)info.arenas_peak);

	/* a test waiting for this line sees it before the hold starts */
	fflush(stdout);
	if (hold > 0)
		sleep(hold);
	if (write_param(LIMIT_PARAM, "1") == 0) {
		void *p = mmap(NULL, info.arena_size, PROT_READ | PROT_WRITE,
			       MAP_SHARED, fd, 0);

		printf("limit lowered to 1 arena per process; next grant: %s\n",
		       p == MAP_FAILED ? strerror(errno) : "granted (unexpected)");
		write_param(LIMIT_PARAM, "0");
	}
	for (i = 0; i < (size_t)n; i++)
		munmap(arena[i], info.arena_size);
	printf("released %d arenas\n", n);
	close(fd);
	return 0;
}
