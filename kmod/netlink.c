// SPDX-License-Identifier: GPL-2.0
/*
 * The generic netlink family "karena" (see karena.yaml, the
 * source of truth for names, ids and types).
 *
 *   GET         do    the global counters and limits
 *   HOLDER_GET  dump  one message per holder (process), in holder id order;
 *                     without CAP_SYS_ADMIN only the caller's uid's holders
 *   SET         do    change limits; CAP_SYS_ADMIN
 *   EVENT             multicast on "monitor": grant, deny, release, fork
 *                     copy, each with the holder as it is after the event;
 *                     joining the group needs CAP_SYS_ADMIN
 *
 * Who sees whom: a holder is a process's pid, comm and uid, which
 * hidepid=2 hides from other users in /proc. A caller without
 * CAP_SYS_ADMIN sees in a dump only the holders of its own real uid, and
 * cannot join "monitor" (EPERM from NETLINK_ADD_MEMBERSHIP; the group's
 * GENL_MCAST_CAP_SYS_ADMIN flag has the core check it). CAP_SYS_ADMIN and
 * not CAP_PERFMON, whose purpose would fit better: the core's group flags
 * know only CAP_NET_ADMIN and CAP_SYS_ADMIN, and the dump asks for the
 * same capability, so that one process sees the same holders both ways.
 *
 * A user reads it with karenactl(8), or by hand:
 *
 *	id = CTRL_CMD_GETFAMILY("karena");
 *	send(GET) -> one reply, then ACK
 *	send(HOLDER_GET, NLM_F_DUMP) -> N replies, NLMSG_DONE; retry the dump
 *	if any reply carries NLM_F_DUMP_INTR
 *
 * Classic genl_ops, so one source builds for 6.1 and 6.12. Every request is
 * strictly validated (resv_start_op = 0): per-op policies, unknown
 * attributes and header flags rejected. Nothing here takes karena.lock
 * directly: holder.c's snapshot helpers copy what we send under it.
 */

#include <linux/atomic.h>
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/user_namespace.h>
#include <net/genetlink.h>
#include <net/sock.h>

#include "compat.h"
#include "karena_internal.h"

/* Holders copied out of the table per karena_holders_fill() call. */
#define KARENA_NL_DUMP_BATCH	16

/**
 * struct karena_nl_dump - HOLDER_GET dump state, kept in cb->ctx
 * @cursor:	id of the last holder put in a message (0 = none yet)
 * @buf:	KARENA_NL_DUMP_BATCH snapshots; allocated in start, freed in
 *		done
 * @all:	the caller may see every holder (CAP_SYS_ADMIN)
 * @uid:	else only the holders of this uid, the caller's real uid
 */
struct karena_nl_dump {
	u64 cursor;
	struct karena_holder_info *buf;
	bool all;
	kuid_t uid;
};

static struct genl_family karena_nl_family;

/* Sequence number of the last event built; events carry 1, 2, ... */
static atomic64_t karena_nl_event_seq = ATOMIC64_INIT(0);

/* True between registration and unregistration of the family. */
static bool karena_nl_registered;

enum karena_nl_mcgrp {
	KARENA_NL_MCGRP_MONITOR,
};

/* Events name every holder: CAP_SYS_ADMIN to join (see the top). */
static const struct genl_multicast_group karena_nl_mcgrps[] = {
	[KARENA_NL_MCGRP_MONITOR] = {
		.name	= KARENA_GENL_MCGRP_MONITOR,
		.flags	= GENL_MCAST_CAP_SYS_ADMIN,
	},
};

/* ---- message bodies ---- */

static int karena_nl_put_u64(struct sk_buff *skb, int type, u64 val, int pad)
{
	return nla_put_u64_64bit(skb, type, val, pad);
}

/* The GET reply: every counter, then every limit (karena_counters.h). */
static const int karena_nl_state_attrs[KARENA_NR_STATS] = {
#define KARENA_COUNTER(name, nla, unit, field)				\
	[KARENA_STAT_##name] = KARENA_A_##nla,
#define KARENA_LIMIT(name, nla, unit, field)				\
	[KARENA_STAT_##name] = KARENA_A_##nla,
#include "karena_counters.h"
#undef KARENA_COUNTER
#undef KARENA_LIMIT
};

/* Every attribute of the GET reply is a padded u64, one per table line. */
static size_t karena_nl_state_size(void)
{
	return KARENA_NR_STATS * nla_total_size_64bit(sizeof(u64));
}

static int karena_nl_fill_state(struct sk_buff *skb,
				const struct karena_stats *s)
{
	unsigned int i;

	for (i = 0; i < KARENA_NR_STATS; i++)
		if (karena_nl_put_u64(skb, karena_nl_state_attrs[i], s->val[i],
				      KARENA_A_PAD))
			return -EMSGSIZE;
	return 0;
}

static size_t karena_nl_holder_size(void)
{
	return nla_total_size(0) +			/* KARENA_A_HOLDER */
	       2 * nla_total_size(sizeof(u32)) +	/* pid, uid */
	       nla_total_size(TASK_COMM_LEN) +
	       4 * nla_total_size_64bit(sizeof(u64));
}

/**
 * karena_nl_fill_holder() - put one holder as a KARENA_A_HOLDER nest
 * @skb: the message
 * @info: the holder's snapshot
 * @ns: the user namespace the uid is reported in (the receiver's)
 *
 * Shared by the HOLDER_GET dump and every EVENT.
 *
 * Return: 0 or -EMSGSIZE (the nest is cancelled).
 */
static int karena_nl_fill_holder(struct sk_buff *skb,
				 const struct karena_holder_info *info,
				 struct user_namespace *ns)
{
	static const int pad = KARENA_HOLDER_A_PAD;
	struct nlattr *nest;

	nest = nla_nest_start(skb, KARENA_A_HOLDER);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u32(skb, KARENA_HOLDER_A_PID, info->tgid) ||
	    nla_put_string(skb, KARENA_HOLDER_A_COMM, info->comm) ||
	    nla_put_u32(skb, KARENA_HOLDER_A_UID,
			from_kuid_munged(ns, info->uid)) ||
	    karena_nl_put_u64(skb, KARENA_HOLDER_A_ARENAS, info->arenas, pad) ||
	    karena_nl_put_u64(skb, KARENA_HOLDER_A_PEAK, info->peak, pad) ||
	    karena_nl_put_u64(skb, KARENA_HOLDER_A_DENIALS, info->denials,
			      pad) ||
	    karena_nl_put_u64(skb, KARENA_HOLDER_A_PAGES_RETURNED,
			      info->pages_returned, pad)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

static size_t karena_nl_event_size(void)
{
	return nla_total_size(0) +			/* KARENA_A_EVENT */
	       2 * nla_total_size(sizeof(u32)) +	/* type, reason */
	       nla_total_size_64bit(sizeof(u64)) +	/* seq */
	       karena_nl_holder_size();
}

static int karena_nl_fill_event(struct sk_buff *skb,
				enum karena_event_type type,
				enum karena_deny_reason reason, u64 seq,
				const struct karena_holder_info *info)
{
	struct nlattr *nest;

	nest = nla_nest_start(skb, KARENA_A_EVENT);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u32(skb, KARENA_EVENT_A_TYPE, type) ||
	    nla_put_u32(skb, KARENA_EVENT_A_REASON, reason) ||
	    karena_nl_put_u64(skb, KARENA_EVENT_A_SEQ, seq,
			      KARENA_EVENT_A_PAD)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	/* Events go to every listener: uids as seen from the initial ns. */
	return karena_nl_fill_holder(skb, info, &init_user_ns);
}

/* ---- GET ---- */

static int karena_nl_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct karena_stats stats;
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(karena_nl_state_size(), GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &karena_nl_family, 0,
				KARENA_CMD_GET);
	if (!hdr)
		goto err_free;
	karena_stats_read(&stats);
	if (karena_nl_fill_state(msg, &stats))
		goto err_free;
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

err_free:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

/* ---- HOLDER_GET ---- */

static struct karena_nl_dump *karena_nl_dump_ctx(struct netlink_callback *cb)
{
	BUILD_BUG_ON(sizeof(struct karena_nl_dump) > sizeof(cb->ctx));
	return (struct karena_nl_dump *)cb->ctx;
}

static int karena_nl_holder_start(struct netlink_callback *cb)
{
	struct karena_nl_dump *ctx = karena_nl_dump_ctx(cb);

	karena_holders_identify_forked();	/* pid 0 for fork children */
	ctx->cursor = 0;
	/* the sender's socket and the sender itself, as SET checks */
	ctx->all = netlink_capable(cb->skb, CAP_SYS_ADMIN);
	ctx->uid = current_uid();
	ctx->buf = kmalloc_array(KARENA_NL_DUMP_BATCH, sizeof(*ctx->buf),
				 GFP_KERNEL);
	return ctx->buf ? 0 : -ENOMEM;
}

static int karena_nl_holder_done(struct netlink_callback *cb)
{
	kfree(karena_nl_dump_ctx(cb)->buf);
	return 0;
}

/*
 * Each call copies up to a batch of holders after the cursor and puts one
 * message per holder until the skb is full; the cursor only moves past a
 * holder once its message is in the skb, so the next call (a fresh copy)
 * resumes exactly there. cb->seq is the holder-table generation (+1, since
 * 0 means "not set"): if a holder came or went between two calls,
 * genl_dump_check_consistent() flags the next message, and the core the
 * final NLMSG_DONE, with NLM_F_DUMP_INTR.
 */
static int karena_nl_holder_dumpit(struct sk_buff *skb,
				   struct netlink_callback *cb)
{
	struct karena_nl_dump *ctx = karena_nl_dump_ctx(cb);
	struct user_namespace *ns = sk_user_ns(NETLINK_CB(cb->skb).sk);
	u64 cursor, gen;
	int i, n;
	void *hdr;

	for (;;) {
		cursor = ctx->cursor;
		n = karena_holders_fill(&cursor, ctx->buf, KARENA_NL_DUMP_BATCH,
					ctx->all ? NULL : &ctx->uid, &gen);
		cb->seq = (unsigned int)(gen % UINT_MAX) + 1;
		if (!n)
			return skb->len;

		for (i = 0; i < n; i++) {
			hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
					  cb->nlh->nlmsg_seq, &karena_nl_family,
					  NLM_F_MULTI, KARENA_CMD_HOLDER_GET);
			if (!hdr)
				return skb->len;
			genl_dump_check_consistent(cb, hdr);
			if (karena_nl_fill_holder(skb, &ctx->buf[i], ns)) {
				genlmsg_cancel(skb, hdr);
				/* Not even one holder fits: cannot happen. */
				return skb->len ?: -EMSGSIZE;
			}
			genlmsg_end(skb, hdr);
			ctx->cursor = ctx->buf[i].id;
		}
	}
}

/* ---- SET ---- */

static karena_nla_range_const struct netlink_range_validation karena_nl_limit_range = {
	.min = 0,
	.max = KARENA_LIMIT_MAX_VALUE,
};

static karena_nla_range_const struct netlink_range_validation
karena_nl_max_arenas_range = {
	.min = 1,
	.max = KARENA_LIMIT_MAX_VALUE,
};

/* SET's attributes and the limit each one sets. */
static const struct {
	int attr;
	enum karena_limit limit;
} karena_nl_limits[] = {
	{ KARENA_A_MAX_ARENAS, KARENA_LIMIT_MAX_ARENAS },
	{ KARENA_A_MAX_ARENAS_PER_PROCESS, KARENA_LIMIT_MAX_PER_PROCESS },
	{ KARENA_A_MAX_ARENAS_PER_UID, KARENA_LIMIT_MAX_PER_UID },
	{ KARENA_A_RESERVE_ARENAS, KARENA_LIMIT_RESERVE_ARENAS },
};

/* Why @a's value was refused (the policy already checked 0..U32_MAX). */
static void karena_nl_bad_limit(struct netlink_ext_ack *extack,
				const struct nlattr *a)
{
	switch (nla_type(a)) {
	case KARENA_A_MAX_ARENAS:
		NL_SET_ERR_MSG_ATTR(extack, a,
				    "max_arenas must be from 1 to the number of arenas that fit in RAM");
		break;
	case KARENA_A_MAX_ARENAS_PER_PROCESS:
		NL_SET_ERR_MSG_ATTR(extack, a,
				    "max_arenas_per_process must be 0 (no limit) or at most the number of arenas that fit in RAM");
		break;
	case KARENA_A_MAX_ARENAS_PER_UID:
		NL_SET_ERR_MSG_ATTR(extack, a,
				    "max_arenas_per_uid must be 0 (no limit) or at most the number of arenas that fit in RAM");
		break;
	default:
		NL_SET_ERR_MSG_ATTR(extack, a,
				    "reserve_arenas must be at most the number of arenas that fit in half of RAM");
		break;
	}
}

/*
 * GENL_ADMIN_PERM makes the core ask for CAP_NET_ADMIN; changing how much
 * memory karena may hand out is a system setting, so SET also needs
 * CAP_SYS_ADMIN, as the module parameters' files do (root only).
 * The limits change all together or not at all (karena_limits_set): a bad
 * value changes nothing, and a GET never sees half of a SET.
 */
static int karena_nl_set_doit(struct sk_buff *skb, struct genl_info *info)
{
	u64 val[KARENA_NR_LIMITS] = {};
	unsigned int i, given = 0;
	enum karena_limit bad;
	struct nlattr *a;
	int ret;

	if (!netlink_capable(skb, CAP_SYS_ADMIN)) {
		NL_SET_ERR_MSG(info->extack,
			       "changing karena limits needs CAP_SYS_ADMIN");
		return -EPERM;
	}

	for (i = 0; i < ARRAY_SIZE(karena_nl_limits); i++) {
		a = info->attrs[karena_nl_limits[i].attr];
		if (!a)
			continue;
		given |= BIT(karena_nl_limits[i].limit);
		val[karena_nl_limits[i].limit] = nla_get_u64(a);
	}
	if (!given) {
		NL_SET_ERR_MSG(info->extack, "no limit to set was given");
		return -EINVAL;
	}

	ret = karena_limits_set(val, given, &bad);
	if (ret) {
		for (i = 0; i < ARRAY_SIZE(karena_nl_limits); i++)
			if (karena_nl_limits[i].limit == bad)
				karena_nl_bad_limit(info->extack,
						    info->attrs[karena_nl_limits[i].attr]);
	}
	return ret;
}

/* ---- EVENT ---- */

/**
 * karena_notify() - multicast one event to the "monitor" group
 * @type: what happened
 * @reason: why a grant was denied; KARENA_DENY_NONE otherwise
 * @h: the holder it happened to, with a reference held by the caller; NULL
 *     if none exists (a denial before any accounting): then the current
 *     task is reported
 *
 * Called from process context, never under karena.lock (see grant.c), so
 * it may sleep; nothing is built unless someone listens. A failure to
 * allocate or send drops the event, which listeners see as a gap in the
 * sequence numbers.
 */
void karena_notify(enum karena_event_type type, enum karena_deny_reason reason,
		   const struct karena_holder *h)
{
	struct karena_holder_info info;
	struct sk_buff *msg;
	void *hdr;

	if (!READ_ONCE(karena_nl_registered) ||
	    !genl_has_listeners(&karena_nl_family, &init_net,
				KARENA_NL_MCGRP_MONITOR))
		return;

	if (h) {
		karena_holder_info(h, &info);
	} else {
		memset(&info, 0, sizeof(info));
		info.tgid = task_tgid_nr(current);
		info.uid = current_uid();
		get_task_comm(info.comm, current);
	}

	msg = genlmsg_new(karena_nl_event_size(), GFP_KERNEL);
	if (!msg)
		goto err_count;
	hdr = genlmsg_put(msg, 0, 0, &karena_nl_family, 0, KARENA_CMD_EVENT);
	if (!hdr)
		goto err_free;
	if (karena_nl_fill_event(msg, type, reason,
				 atomic64_inc_return(&karena_nl_event_seq),
				 &info))
		goto err_free;
	genlmsg_end(msg, hdr);
	genlmsg_multicast(&karena_nl_family, msg, 0, KARENA_NL_MCGRP_MONITOR,
			  GFP_KERNEL);
	return;

err_free:
	nlmsg_free(msg);
err_count:
	atomic64_inc(&karena_nl_event_seq);
}

/* ---- the family ---- */

/* GET and HOLDER_GET take no attributes: the core rejects any (no policy). */
static const struct nla_policy karena_nl_set_policy[KARENA_A_RESERVE_ARENAS + 1] = {
	[KARENA_A_MAX_ARENAS] =
		NLA_POLICY_FULL_RANGE(NLA_U64, &karena_nl_max_arenas_range),
	[KARENA_A_MAX_ARENAS_PER_PROCESS] =
		NLA_POLICY_FULL_RANGE(NLA_U64, &karena_nl_limit_range),
	[KARENA_A_MAX_ARENAS_PER_UID] =
		NLA_POLICY_FULL_RANGE(NLA_U64, &karena_nl_limit_range),
	[KARENA_A_RESERVE_ARENAS] =
		NLA_POLICY_FULL_RANGE(NLA_U64, &karena_nl_limit_range),
};

static const struct genl_ops karena_nl_ops[] = {
	{
		.cmd	= KARENA_CMD_GET,
		.doit	= karena_nl_get_doit,
	},
	{
		.cmd	= KARENA_CMD_HOLDER_GET,
		.start	= karena_nl_holder_start,
		.dumpit	= karena_nl_holder_dumpit,
		.done	= karena_nl_holder_done,
	},
	{
		.cmd	= KARENA_CMD_SET,
		.doit	= karena_nl_set_doit,
		.policy	= karena_nl_set_policy,
		.maxattr = ARRAY_SIZE(karena_nl_set_policy) - 1,
		.flags	= GENL_ADMIN_PERM,
	},
};

static struct genl_family karena_nl_family __ro_after_init = {
	.name		= KARENA_GENL_NAME,
	.version	= KARENA_GENL_VERSION,
	.maxattr	= KARENA_A_MAX,
	.module		= THIS_MODULE,
	.ops		= karena_nl_ops,
	.n_ops		= ARRAY_SIZE(karena_nl_ops),
	.resv_start_op	= 0,	/* validate every command strictly */
	.mcgrps		= karena_nl_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(karena_nl_mcgrps),
};

/* A request for the family by name (karenactl's first) loads the module. */
MODULE_ALIAS_GENL_FAMILY(KARENA_GENL_NAME);

int karena_netlink_init(void)
{
	int ret;

	ret = genl_register_family(&karena_nl_family);
	if (ret)
		return ret;
	WRITE_ONCE(karena_nl_registered, true);
	return 0;
}

void karena_netlink_exit(void)
{
	WRITE_ONCE(karena_nl_registered, false);
	genl_unregister_family(&karena_nl_family);
}
