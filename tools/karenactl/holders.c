// SPDX-License-Identifier: GPL-2.0
/*
 * holders.c - `karenactl holders`: the HOLDER_GET dump, one line (or JSON
 * object) per process that holds arenas. A dump that the kernel marks
 * NLM_F_DUMP_INTR (holders came or went meanwhile) is run again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "karenactl.h"

#define KCTL_DUMP_TRIES 5

struct kctl_holder {
	uint32_t pid, uid;
	char comm[32];
	uint64_t arenas, peak, denials, pages_returned;
};

struct kctl_holders {
	struct kctl_holder *v;
	size_t n, cap;
};

static int kctl_holder_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[KARENA_A_MAX + 1];
	const struct nlattr *hb[KARENA_HOLDER_A_MAX + 1];
	struct kctl_holders *hs = data;
	struct kctl_holder *h;

	if (kn_parse(nlh, tb, KARENA_A_MAX) < 0 || !tb[KARENA_A_HOLDER] ||
	    kn_parse_nested(tb[KARENA_A_HOLDER], hb, KARENA_HOLDER_A_MAX) < 0)
		return MNL_CB_OK; /* not a holder: skip it */
	if (hs->n == hs->cap) {
		size_t cap = hs->cap ? hs->cap * 2 : 64;
		void *v = realloc(hs->v, cap * sizeof(*hs->v));

		if (!v) {
			errno = ENOMEM;
			return MNL_CB_ERROR;
		}
		hs->v = v;
		hs->cap = cap;
	}
	h = &hs->v[hs->n++];
	h->pid = kn_u32(hb[KARENA_HOLDER_A_PID]);
	h->uid = kn_u32(hb[KARENA_HOLDER_A_UID]);
	snprintf(h->comm, sizeof(h->comm), "%s", kn_str(hb[KARENA_HOLDER_A_COMM]));
	h->arenas = kn_u64(hb[KARENA_HOLDER_A_ARENAS]);
	h->peak = kn_u64(hb[KARENA_HOLDER_A_PEAK]);
	h->denials = kn_u64(hb[KARENA_HOLDER_A_DENIALS]);
	h->pages_returned = kn_u64(hb[KARENA_HOLDER_A_PAGES_RETURNED]);
	return MNL_CB_OK;
}

static void kctl_holder_json(const struct kctl_holder *h)
{
	printf("{\"pid\":%u,\"comm\":", h->pid);
	kctl_json_str(stdout, h->comm);
	printf(",\"uid\":%u,\"arenas\":%llu,\"peak\":%llu,\"denials\":%llu,"
	       "\"pages_returned\":%llu}",
	       h->uid, (unsigned long long)h->arenas, (unsigned long long)h->peak,
	       (unsigned long long)h->denials, (unsigned long long)h->pages_returned);
}

int kctl_cmd_holders(struct kn_sock *s, const struct kctl_opts *o, int argc, char **argv)
{
	struct kctl_holders hs = {0};
	int ret, tries = 0;
	size_t i;

	(void)argc;
	(void)argv;
	if (kctl_connect(s) < 0)
		return 1;
	do {
		hs.n = 0;
		ret = kn_call(s, kn_msg(s, 0, KARENA_CMD_HOLDER_GET, NLM_F_DUMP), kctl_holder_cb,
			      &hs);
	} while (ret == 0 && s->dump_intr && ++tries < KCTL_DUMP_TRIES);
	if (ret < 0) {
		free(hs.v);
		return kctl_nl_fail(s, ret, "cannot list the holders");
	}
	if (s->dump_intr)
		kctl_err("holders kept changing during %d dumps; the list may be inconsistent",
			 KCTL_DUMP_TRIES);

	if (o->json) {
		putchar('[');
		for (i = 0; i < hs.n; i++) {
			if (i)
				putchar(',');
			kctl_holder_json(&hs.v[i]);
		}
		puts("]");
	} else {
		printf("%7s  %-16s %6s %7s %7s %8s %14s\n", "PID", "COMM", "UID", "ARENAS", "PEAK",
		       "DENIALS", "PAGES_RETURNED");
		for (i = 0; i < hs.n; i++) {
			const struct kctl_holder *h = &hs.v[i];

			if (h->pid)
				printf("%7u", h->pid);
			else
				printf("%7s", "-");
			printf("  %-16s %6u %7llu %7llu %8llu %14llu\n", h->comm, h->uid,
			       (unsigned long long)h->arenas, (unsigned long long)h->peak,
			       (unsigned long long)h->denials,
			       (unsigned long long)h->pages_returned);
		}
	}
	free(hs.v);
	return 0;
}
