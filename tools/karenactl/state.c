// SPDX-License-Identifier: GPL-2.0
/*
 * state.c - `karenactl status` and `karenactl limits`: one GET each, the
 * global counters (named as the sysfs files) and the limits in force. The
 * table, made from the module's (kmod/karena_counters.h), says the unit of
 * every count and limit of arenas: arenas of the module's arena_size,
 * whatever size a process's own grants use.
 */
#include <stdlib.h>

#include "karenactl.h"

/* A unit of karena_counters.h: is the value a count of arenas? */
#define KCTL_UNIT_ARENAS	true
#define KCTL_UNIT_OTHER		false

/*
 * Every counter, then every limit, as the module's table lists them.
 * @arenas: a count of arenas of arena_size bytes (the output says so)
 */
static const struct {
	const char *name;
	int attr;
	bool limit;
	bool arenas;
} kctl_fields[] = {
#define KARENA_COUNTER(name, nla, unit, field) \
	{#name, KARENA_A_##nla, false, KCTL_UNIT_##unit},
#define KARENA_LIMIT(name, nla, unit, field) \
	{#name, KARENA_A_##nla, true, KCTL_UNIT_##unit},
#include "karena_counters.h"
#undef KARENA_COUNTER
#undef KARENA_LIMIT
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
