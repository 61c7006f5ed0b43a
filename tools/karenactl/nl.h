/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nl.h - the karena generic netlink socket object (libmnl).
 *
 * One struct kn_sock per connection: the mnl socket, a 32 KiB receive
 * buffer (big enough for any dump batch the kernel sends), the family id
 * and monitor group id resolved by name through CTRL_CMD_GETFAMILY, the
 * next sequence number and our port id. Errors from the kernel come back
 * as a negative errno plus the extended ACK message, if the kernel gave
 * one, in sock->ext_msg.
 */
#ifndef KARENACTL_NL_H
#define KARENACTL_NL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>

#include <linux/karena.h>

#define KN_BUFSIZE (32 * 1024)

struct kn_sock {
	struct mnl_socket *nl;
	char *buf;		/* KN_BUFSIZE bytes */
	uint16_t family;	/* 0 until resolved */
	uint32_t mcgrp_monitor; /* 0 if the family has none */
	uint32_t seq;		/* of the next request */
	uint32_t portid;
	char ext_msg[256];    /* extended ACK message of the last error */
	uint32_t ext_offs;    /* its NLMSGERR_ATTR_OFFS, 0 if none */
	bool dump_intr;	      /* last dump had NLM_F_DUMP_INTR */
	size_t recv_size;     /* bytes asked of each recvmsg() */
	unsigned int nr_recv; /* recvmsg() calls of the last request */
};

/*
 * kn_open - open a socket and resolve the karena family. Returns 0,
 * -ENOENT if the family is not registered (module not loaded), or another
 * negative errno.
 */
int kn_open(struct kn_sock *s);
/*
 * kn_open_size - the same, reading at most @recv_size bytes per recvmsg().
 * The kernel sizes dump batches by the largest read a socket has made, so
 * a small @recv_size gives small batches (tests use it).
 */
int kn_open_size(struct kn_sock *s, size_t recv_size);
void kn_close(struct kn_sock *s);

/* Start a request of @cmd for the karena family (or @family if non-zero). */
struct nlmsghdr *kn_msg(struct kn_sock *s, uint16_t type, uint8_t cmd, uint16_t flags);

/*
 * kn_call - send @nlh and read replies until the ACK / NLMSG_DONE, calling
 * @cb for each data message. Returns 0 or a negative errno; on a kernel
 * error s->ext_msg holds its extended ACK message (may be empty).
 */
int kn_call(struct kn_sock *s, struct nlmsghdr *nlh, mnl_cb_t cb, void *data);

/* kn_call() for a request of @len bytes at @req, possibly malformed. */
int kn_call_raw(struct kn_sock *s, const void *req, size_t len, uint32_t seq, mnl_cb_t cb,
		void *data);

/* Join the "monitor" multicast group. */
int kn_join_monitor(struct kn_sock *s);

/*
 * kn_recv_events - block for the next batch of multicast messages and call
 * @cb for each. Returns 0, or a negative errno (-ENOBUFS: events were lost
 * because the socket buffer overran; the socket is still usable).
 */
int kn_recv_events(struct kn_sock *s, mnl_cb_t cb, void *data);

/* Parse the attributes of a karena message (after the genl header). */
int kn_parse(const struct nlmsghdr *nlh, const struct nlattr **tb, int max);
int kn_parse_nested(const struct nlattr *nest, const struct nlattr **tb, int max);

/* Convenience readers: 0 / "" when absent. */
uint64_t kn_u64(const struct nlattr *a);
uint32_t kn_u32(const struct nlattr *a);
const char *kn_str(const struct nlattr *a);

#endif /* KARENACTL_NL_H */
