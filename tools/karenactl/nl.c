// SPDX-License-Identifier: GPL-2.0
/*
 * nl.c - the karena generic netlink socket object (see nl.h).
 *
 * Modelled on iproute2's lib/mnl_utils.c: one socket, one buffer, the
 * family resolved by name, every request acked, and the kernel's extended
 * ACK (NETLINK_EXT_ACK) kept so that callers can print why a request was
 * refused rather than just an errno.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nl.h"

struct kn_ctx {
	struct kn_sock *s;
	mnl_cb_t cb;
	void *data;
};

static void kn_ext_ack(struct kn_sock *s, const struct nlmsghdr *nlh, size_t off)
{
	const struct nlattr *a;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS) || nlh->nlmsg_len < off)
		return;
	mnl_attr_for_each(a, nlh, off - sizeof(*nlh))
	{
		switch (mnl_attr_get_type(a)) {
		case NLMSGERR_ATTR_MSG:
			if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
				snprintf(s->ext_msg, sizeof(s->ext_msg), "%s", mnl_attr_get_str(a));
			break;
		case NLMSGERR_ATTR_OFFS:
			if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
				s->ext_offs = mnl_attr_get_u32(a);
			break;
		}
	}
}

/* NLMSG_ERROR: an ACK (error 0) ends a request, anything else fails it. */
static int kn_cb_error(const struct nlmsghdr *nlh, void *data)
{
	struct kn_ctx *c = data;
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
	size_t off;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	/* With NETLINK_CAP_ACK only the request's header is echoed. */
	off = mnl_nlmsg_size(sizeof(*err));
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += err->msg.nlmsg_len - sizeof(err->msg);
	kn_ext_ack(c->s, nlh, MNL_ALIGN(off));
	if (err->error == 0)
		return MNL_CB_STOP;
	errno = err->error < 0 ? -err->error : err->error;
	return MNL_CB_ERROR;
}

/* NLMSG_DONE ends a dump; it carries the dump's status (0 or -errno). */
static int kn_cb_done(const struct nlmsghdr *nlh, void *data)
{
	struct kn_ctx *c = data;
	int status = 0;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		c->s->dump_intr = true;
	if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int))
		memcpy(&status, mnl_nlmsg_get_payload(nlh), sizeof(status));
	kn_ext_ack(c->s, nlh, MNL_ALIGN(mnl_nlmsg_size(sizeof(int))));
	if (status < 0) {
		errno = -status;
		return MNL_CB_ERROR;
	}
	return MNL_CB_STOP;
}

static int kn_cb_data(const struct nlmsghdr *nlh, void *data)
{
	struct kn_ctx *c = data;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		c->s->dump_intr = true;
	if (nlh->nlmsg_len < mnl_nlmsg_size(GENL_HDRLEN))
		return MNL_CB_OK; /* not ours to read; skip */
	return c->cb ? c->cb(nlh, c->data) : MNL_CB_OK;
}

static int kn_cb_noop(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	return MNL_CB_OK;
}

static mnl_cb_t kn_ctl_cb[NLMSG_MIN_TYPE] = {
	[NLMSG_NOOP] = kn_cb_noop,
	[NLMSG_ERROR] = kn_cb_error,
	[NLMSG_DONE] = kn_cb_done,
	[NLMSG_OVERRUN] = kn_cb_noop,
};

struct nlmsghdr *kn_msg(struct kn_sock *s, uint16_t type, uint8_t cmd, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(s->buf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = type ? type : s->family;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++s->seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = KARENA_GENL_VERSION;
	return nlh;
}

int kn_call_raw(struct kn_sock *s, const void *req, size_t len, uint32_t seq, mnl_cb_t cb,
		void *data)
{
	struct kn_ctx c = {.s = s, .cb = cb, .data = data};
	ssize_t n;
	int ret;

	s->ext_msg[0] = '\0';
	s->ext_offs = 0;
	s->dump_intr = false;
	s->nr_recv = 0;
	if (mnl_socket_sendto(s->nl, req, len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(s->nl, s->buf, s->recv_size);
		if (n < 0)
			return -errno;
		s->nr_recv++;
		ret = mnl_cb_run2(s->buf, n, seq, s->portid, kn_cb_data, &c, kn_ctl_cb,
				  NLMSG_MIN_TYPE);
	} while (ret > 0);
	return ret < 0 ? -errno : 0;
}

int kn_call(struct kn_sock *s, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	return kn_call_raw(s, nlh, nlh->nlmsg_len, nlh->nlmsg_seq, cb, data);
}

struct kn_tb {
	const struct nlattr **tb;
	int max;
};

static int kn_parse_cb(const struct nlattr *a, void *data)
{
	struct kn_tb *t = data;
	int type = mnl_attr_get_type(a);

	if (type <= t->max) /* unknown (newer) attributes are skipped */
		t->tb[type] = a;
	return MNL_CB_OK;
}

int kn_parse(const struct nlmsghdr *nlh, const struct nlattr **tb, int max)
{
	struct kn_tb t = {.tb = tb, .max = max};

	memset(tb, 0, sizeof(*tb) * (max + 1));
	return mnl_attr_parse(nlh, GENL_HDRLEN, kn_parse_cb, &t) < 0 ? -EBADMSG : 0;
}

int kn_parse_nested(const struct nlattr *nest, const struct nlattr **tb, int max)
{
	struct kn_tb t = {.tb = tb, .max = max};

	memset(tb, 0, sizeof(*tb) * (max + 1));
	return mnl_attr_parse_nested(nest, kn_parse_cb, &t) < 0 ? -EBADMSG : 0;
}

uint64_t kn_u64(const struct nlattr *a)
{
	if (!a || mnl_attr_validate(a, MNL_TYPE_U64) < 0)
		return 0;
	return mnl_attr_get_u64(a);
}

uint32_t kn_u32(const struct nlattr *a)
{
	if (!a || mnl_attr_validate(a, MNL_TYPE_U32) < 0)
		return 0;
	return mnl_attr_get_u32(a);
}

const char *kn_str(const struct nlattr *a)
{
	if (!a || mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
		return "";
	return mnl_attr_get_str(a);
}

static int kn_family_grp_cb(const struct nlattr *grp, struct kn_sock *s)
{
	const struct nlattr *tb[CTRL_ATTR_MCAST_GRP_MAX + 1];

	if (kn_parse_nested(grp, tb, CTRL_ATTR_MCAST_GRP_MAX) < 0)
		return -EBADMSG;
	if (!strcmp(kn_str(tb[CTRL_ATTR_MCAST_GRP_NAME]), KARENA_GENL_MCGRP_MONITOR))
		s->mcgrp_monitor = kn_u32(tb[CTRL_ATTR_MCAST_GRP_ID]);
	return 0;
}

static int kn_family_cb(const struct nlmsghdr *nlh, void *data)
{
	struct kn_sock *s = data;
	const struct nlattr *tb[CTRL_ATTR_MAX + 1];
	const struct nlattr *grp;

	if (kn_parse(nlh, tb, CTRL_ATTR_MAX) < 0 || !tb[CTRL_ATTR_FAMILY_ID] ||
	    mnl_attr_validate(tb[CTRL_ATTR_FAMILY_ID], MNL_TYPE_U16) < 0)
		return MNL_CB_ERROR;
	s->family = mnl_attr_get_u16(tb[CTRL_ATTR_FAMILY_ID]);
	if (tb[CTRL_ATTR_MCAST_GROUPS]) {
		mnl_attr_for_each_nested(grp,
					 tb[CTRL_ATTR_MCAST_GROUPS]) if (kn_family_grp_cb(grp, s) <
									 0) return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

int kn_open(struct kn_sock *s)
{
	return kn_open_size(s, KN_BUFSIZE);
}

int kn_open_size(struct kn_sock *s, size_t recv_size)
{
	struct nlmsghdr *nlh;
	int one = 1, ret;

	memset(s, 0, sizeof(*s));
	s->recv_size = recv_size < KN_BUFSIZE ? recv_size : KN_BUFSIZE;
	s->buf = malloc(KN_BUFSIZE);
	if (!s->buf)
		return -ENOMEM;
	s->nl = mnl_socket_open(NETLINK_GENERIC);
	if (!s->nl) {
		ret = -errno;
		goto err_free;
	}
	if (mnl_socket_bind(s->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto err_close;
	}
	/* Best effort: older kernels lack them and still work. */
	mnl_socket_setsockopt(s->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(s->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	s->portid = mnl_socket_get_portid(s->nl);
	s->seq = (uint32_t)time(NULL);

	nlh = kn_msg(s, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, NLM_F_ACK);
	((struct genlmsghdr *)mnl_nlmsg_get_payload(nlh))->version = 1;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, KARENA_GENL_NAME);
	ret = kn_call(s, nlh, kn_family_cb, s);
	if (ret == 0 && !s->family)
		ret = -EBADMSG;
	if (ret < 0)
		goto err_close;
	return 0;

err_close:
	mnl_socket_close(s->nl);
	s->nl = NULL;
err_free:
	free(s->buf);
	s->buf = NULL;
	return ret;
}

void kn_close(struct kn_sock *s)
{
	if (s->nl)
		mnl_socket_close(s->nl);
	free(s->buf);
	memset(s, 0, sizeof(*s));
}

int kn_join_monitor(struct kn_sock *s)
{
	int grp = (int)s->mcgrp_monitor;

	if (!grp)
		return -ENOENT;
	if (mnl_socket_setsockopt(s->nl, NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp)) < 0)
		return -errno;
	return 0;
}

int kn_recv_events(struct kn_sock *s, mnl_cb_t cb, void *data)
{
	struct kn_ctx c = {.s = s, .cb = cb, .data = data};
	ssize_t n;
	int ret;

	n = mnl_socket_recvfrom(s->nl, s->buf, s->recv_size);
	if (n < 0)
		return -errno;
	/* seq 0 and portid 0: multicast messages carry neither. */
	ret = mnl_cb_run2(s->buf, n, 0, 0, kn_cb_data, &c, kn_ctl_cb, NLMSG_MIN_TYPE);
	return ret < 0 ? -errno : 0;
}
