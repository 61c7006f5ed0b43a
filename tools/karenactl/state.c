// SPDX-License-Identifier: GPL-2.0
/*
 * state.c - `karenactl status` and `karenactl limits`: one GET each, the
 * global counters (named as the sysfs files) and the limits in force. The
 * table says the unit of every count and limit of arenas: arenas of the
 * module's arena_size, whatever size a process's own grants use.
 */
#include <stdlib.h>

#include "karenactl.h"

/* @arenas: a count of arenas of arena_size bytes (the table says so) */
static const struct {
	const char *name;
	int attr;
	bool limit;
	bool arenas;
} kctl_fields[] = {
	{"arena_size", KARENA_A_ARENA_SIZE, false, false},
	{"arenas_reserved", KARENA_A_ARENAS_RESERVED, false, true},
	{"arenas_free", KARENA_A_ARENAS_FREE, false, true},
	{"arenas_granted", KARENA_A_ARENAS_GRANTED, false, true},
	{"arenas_granted_peak", KARENA_A_ARENAS_GRANTED_PEAK, false, true},
	{"grants", KARENA_A_GRANTS, false, true},
	{"releases", KARENA_A_RELEASES, false, true},
	{"denials_quota", KARENA_A_DENIALS_QUOTA, false, false},
	{"denials_nomem", KARENA_A_DENIALS_NOMEM, false, false},
	{"fork_copies", KARENA_A_FORK_COPIES, false, true},
	{"fork_copy_failures", KARENA_A_FORK_COPY_FAILURES, false, true},
	{"pages_returned", KARENA_A_PAGES_RETURNED, false, false},
	{"fault_failures", KARENA_A_FAULT_FAILURES, false, false},
	{"max_arenas", KARENA_A_MAX_ARENAS, true, true},
	{"max_arenas_per_process", KARENA_A_MAX_ARENAS_PER_PROCESS, true, true},
	{"max_arenas_per_uid", KARENA_A_MAX_ARENAS_PER_UID, true, true},
	{"reserve_arenas", KARENA_A_RESERVE_ARENAS, true, true},
};

#define KCTL_NFIELDS (sizeof(kctl_fields) / sizeof(kctl_fields[0]))

struct kctl_state {
	bool have[KCTL_NFIELDS];
	uint64_t val[KCTL_NFIELDS];
};

static int kctl_state_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[KARENA_A_MAX + 1];
	struct kctl_state *st = data;
	size_t i;

	if (kn_parse(nlh, tb, KARENA_A_MAX) < 0)
		return MNL_CB_ERROR;
	for (i = 0; i < KCTL_NFIELDS; i++) {
		const struct nlattr *a = tb[kctl_fields[i].attr];

		if (a && mnl_attr_validate(a, MNL_TYPE_U64) == 0) {
			st->have[i] = true;
			st->val[i] = mnl_attr_get_u64(a);
		}
	}
	return MNL_CB_OK;
}

static int kctl_state_show(struct kn_sock *s, const struct kctl_opts *o, bool limits)
{
	struct kctl_state st = {0};
	unsigned long long unit_kb;
	const char *sep = "";
	size_t i;
	int ret;

	if (kctl_connect(s) < 0)
		return 1;
	ret = kn_call(s, kn_msg(s, 0, KARENA_CMD_GET, NLM_F_ACK), kctl_state_cb, &st);
	if (ret < 0)
		return kctl_nl_fail(s, ret, "cannot read the karena state");

	/* kctl_fields[0] is arena_size, the unit of the others */
	unit_kb = st.have[0] ? (unsigned long long)st.val[0] / 1024 : 0;
	if (o->json)
		putchar('{');
	for (i = 0; i < KCTL_NFIELDS; i++) {
		if (!st.have[i] || (limits && !kctl_fields[i].limit))
			continue;
		if (o->json) {
			printf("%s\"%s\":%llu", sep, kctl_fields[i].name,
			       (unsigned long long)st.val[i]);
			sep = ",";
			continue;
		}
		printf("%-24s %llu", kctl_fields[i].name, (unsigned long long)st.val[i]);
		if (kctl_fields[i].limit && st.val[i] == 0 &&
		    kctl_fields[i].attr != KARENA_A_RESERVE_ARENAS)
			printf(" (no limit)");
		else if (kctl_fields[i].arenas && unit_kb)
			printf(" (arenas of %llu KiB)", unit_kb);
		putchar('\n');
	}
	if (o->json)
		puts("}");
	return 0;
}

int kctl_cmd_status(struct kn_sock *s, const struct kctl_opts *o, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return kctl_state_show(s, o, false);
}

int kctl_cmd_limits(struct kn_sock *s, const struct kctl_opts *o, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return kctl_state_show(s, o, true);
}
