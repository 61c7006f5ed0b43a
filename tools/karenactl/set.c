// SPDX-License-Identifier: GPL-2.0
/*
 * set.c - `karenactl set NAME VALUE`: one SET request changing one limit.
 * Needs CAP_SYS_ADMIN. What karenactl can judge alone (a name, a number,
 * the least value of a limit) is a usage error, exit 2, before any
 * request; the kernel checks the value against the memory it has and says
 * why it refuses one (exit 1).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "karenactl.h"

static const struct {
	const char *name;
	int attr;
	uint64_t least;
	const char *meaning;
} kctl_limits[] = {
	{"max_arenas", KARENA_A_MAX_ARENAS, 1,
	 "arenas granted at once, system-wide (at least 1)"},
	{"max_arenas_per_process", KARENA_A_MAX_ARENAS_PER_PROCESS, 0,
	 "arenas one process may hold (0 = no limit)"},
	{"max_arenas_per_uid", KARENA_A_MAX_ARENAS_PER_UID, 0,
	 "arenas all processes of one user may hold (0 = no limit)"},
	{"reserve_arenas", KARENA_A_RESERVE_ARENAS, 0, "zeroed arenas kept ready"},
};

#define KCTL_NLIMITS (sizeof(kctl_limits) / sizeof(kctl_limits[0]))

/* Parse a decimal limit; on error say what is wrong with it. */
static int kctl_parse_value(const char *str, uint64_t *val)
{
	unsigned long long v;
	const char *p;
	char *end;

	for (p = str; isspace((unsigned char)*p); p++)
		;
	if (*p == '-') {
		kctl_err("bad value '%s': a limit cannot be negative", str);
		return -1;
	}
	if (!isdigit((unsigned char)*p)) {
		kctl_err("bad value '%s': not a number (give a decimal count of arenas)", str);
		return -1;
	}
	errno = 0;
	v = strtoull(p, &end, 10);
	if (*end) {
		kctl_err("bad value '%s': trailing characters after the number", str);
		return -1;
	}
	if (errno == ERANGE || v > KARENA_LIMIT_MAX_VALUE) {
		kctl_err("bad value '%s': too large (at most %llu)", str,
			 (unsigned long long)KARENA_LIMIT_MAX_VALUE);
		return -1;
	}
	*val = v;
	return 0;
}

static void kctl_list_limits(FILE *f)
{
	size_t i;

	fprintf(f, "valid limits:\n");
	for (i = 0; i < KCTL_NLIMITS; i++)
		fprintf(f, "  %-24s %s\n", kctl_limits[i].name, kctl_limits[i].meaning);
}

int kctl_cmd_set(struct kn_sock *s, const struct kctl_opts *o, int argc, char **argv)
{
	struct nlmsghdr *nlh;
	char what[128];
	uint64_t val;
	size_t i;
	int ret;

	(void)o;
	if (argc != 3) {
		kctl_err("usage: karenactl set NAME VALUE");
		kctl_list_limits(stderr);
		return 2;
	}
	for (i = 0; i < KCTL_NLIMITS; i++)
		if (!strcmp(argv[1], kctl_limits[i].name))
			break;
	if (i == KCTL_NLIMITS) {
		kctl_err("unknown limit '%s'", argv[1]);
		kctl_list_limits(stderr);
		return 2;
	}
	if (kctl_parse_value(argv[2], &val) < 0)
		return 2;
	if (val < kctl_limits[i].least) {
		kctl_err("bad value '%s': %s must be at least %llu", argv[2], kctl_limits[i].name,
			 (unsigned long long)kctl_limits[i].least);
		return 2;
	}

	if (kctl_connect(s) < 0)
		return 1;
	nlh = kn_msg(s, 0, KARENA_CMD_SET, NLM_F_ACK);
	mnl_attr_put_u64(nlh, kctl_limits[i].attr, val);
	ret = kn_call(s, nlh, NULL, NULL);
	if (ret == -EPERM) {
		kctl_err("permission denied: changing limits needs CAP_SYS_ADMIN");
		return 1;
	}
	if (ret < 0) {
		snprintf(what, sizeof(what), "cannot set %s to %llu", kctl_limits[i].name,
			 (unsigned long long)val);
		return kctl_nl_fail(s, ret, what);
	}
	return 0;
}
