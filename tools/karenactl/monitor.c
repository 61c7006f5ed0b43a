// SPDX-License-Identifier: GPL-2.0
/*
 * monitor.c - `karenactl monitor [-n COUNT]`: join the "monitor" group and
 * print one line (or one JSON object per line) per event until interrupted
 * or COUNT events were printed. Lost events (a full receive buffer, seen
 * as ENOBUFS or as a gap in the sequence numbers) are reported on stderr.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "karenactl.h"

static volatile sig_atomic_t kctl_stop;

static void kctl_on_signal(int sig)
{
	(void)sig;
	kctl_stop = 1;
}

struct kctl_monitor {
	const struct kctl_opts *o;
	long printed;
	uint64_t last_seq;
};

static int kctl_event_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[KARENA_A_MAX + 1];
	const struct nlattr *eb[KARENA_EVENT_A_MAX + 1];
	const struct nlattr *hb[KARENA_HOLDER_A_MAX + 1];
	struct kctl_monitor *m = data;
	uint32_t type, reason;
	uint64_t seq;
	const char *comm;

	if (kn_parse(nlh, tb, KARENA_A_MAX) < 0 || !tb[KARENA_A_EVENT] ||
	    kn_parse_nested(tb[KARENA_A_EVENT], eb, KARENA_EVENT_A_MAX) < 0)
		return MNL_CB_OK;
	memset(hb, 0, sizeof(hb));
	if (tb[KARENA_A_HOLDER])
		kn_parse_nested(tb[KARENA_A_HOLDER], hb, KARENA_HOLDER_A_MAX);

	type = kn_u32(eb[KARENA_EVENT_A_TYPE]);
	reason = kn_u32(eb[KARENA_EVENT_A_REASON]);
	seq = kn_u64(eb[KARENA_EVENT_A_SEQ]);
	if (m->last_seq && seq > m->last_seq + 1)
		kctl_err("%llu events lost", (unsigned long long)(seq - m->last_seq - 1));
	m->last_seq = seq;
	comm = kn_str(hb[KARENA_HOLDER_A_COMM]);

	if (m->o->json) {
		printf("{\"seq\":%llu,\"event\":\"%s\",\"reason\":\"%s\","
		       "\"pid\":%u,\"comm\":",
		       (unsigned long long)seq, kctl_event_name(type), kctl_reason_name(reason),
		       kn_u32(hb[KARENA_HOLDER_A_PID]));
		kctl_json_str(stdout, comm);
		printf(",\"uid\":%u,\"arenas\":%llu,\"peak\":%llu,"
		       "\"denials\":%llu}\n",
		       kn_u32(hb[KARENA_HOLDER_A_UID]),
		       (unsigned long long)kn_u64(hb[KARENA_HOLDER_A_ARENAS]),
		       (unsigned long long)kn_u64(hb[KARENA_HOLDER_A_PEAK]),
		       (unsigned long long)kn_u64(hb[KARENA_HOLDER_A_DENIALS]));
	} else {
		printf("%6llu %-9s pid %u (%s) uid %u arenas %llu", (unsigned long long)seq,
		       kctl_event_name(type), kn_u32(hb[KARENA_HOLDER_A_PID]), comm,
		       kn_u32(hb[KARENA_HOLDER_A_UID]),
		       (unsigned long long)kn_u64(hb[KARENA_HOLDER_A_ARENAS]));
		if (type == KARENA_EVENT_DENY)
			printf(" reason %s", kctl_reason_name(reason));
		putchar('\n');
	}
	fflush(stdout);
	if (m->o->count && ++m->printed >= m->o->count)
		return MNL_CB_STOP;
	return MNL_CB_OK;
}

int kctl_cmd_monitor(struct kn_sock *s, const struct kctl_opts *o, int argc, char **argv)
{
	struct kctl_monitor m = {.o = o};
	struct sigaction sa;
	int ret;

	(void)argc;
	(void)argv;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kctl_on_signal; /* no SA_RESTART: recv returns EINTR */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (kctl_connect(s) < 0)
		return 1;
	ret = kn_join_monitor(s);
	if (ret == -EPERM)
		return kctl_nl_fail(s, ret,
				    "cannot join the monitor group (it needs CAP_SYS_ADMIN: events name every process)");
	if (ret < 0)
		return kctl_nl_fail(s, ret, "cannot join the monitor group");
	while (!kctl_stop && !(o->count && m.printed >= o->count)) {
		ret = kn_recv_events(s, kctl_event_cb, &m);
		if (ret == -EINTR)
			break;
		if (ret == -ENOBUFS) {
			kctl_err("events lost: the receive buffer overran");
			continue;
		}
		if (ret < 0)
			return kctl_nl_fail(s, ret, "cannot read events");
	}
	return 0;
}
