/* SPDX-License-Identifier: GPL-2.0 */
/*
 * karenactl.h - what the command files of karenactl share: options, the
 * subcommand signature, error reporting and JSON output helpers.
 */
#ifndef KARENACTL_H
#define KARENACTL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "nl.h"

struct kctl_opts {
	bool json;  /* --json: machine-readable output */
	bool pretty; /* --pretty: that JSON indented (json_pretty.c) */
	long count; /* monitor -n COUNT; 0 = until interrupted */
};

/* One subcommand: argv[0] is its name. Returns the exit status. */
typedef int (*kctl_cmd_fn)(struct kn_sock *s, const struct kctl_opts *o, int argc, char **argv);

/* state.c */
int kctl_cmd_status(struct kn_sock *s, const struct kctl_opts *o, int argc, char **argv);
int kctl_cmd_limits(struct kn_sock *s, const struct kctl_opts *o, int argc, char **argv);
/* holders.c */
int kctl_cmd_holders(struct kn_sock *s, const struct kctl_opts *o, int argc, char **argv);
/* set.c */
int kctl_cmd_set(struct kn_sock *s, const struct kctl_opts *o, int argc, char **argv);
/* monitor.c */
int kctl_cmd_monitor(struct kn_sock *s, const struct kctl_opts *o, int argc, char **argv);

/*
 * main.c: open @s and resolve the family, saying what is wrong if that
 * fails (e.g. the module is not loaded). 0 or -1; every command calls it
 * after checking its arguments.
 */
int kctl_connect(struct kn_sock *s);
/* main.c: print "karenactl: <what>: <reason>" for a failed request. */
int kctl_nl_fail(const struct kn_sock *s, int err, const char *what);
void kctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* json.c */
void kctl_json_str(FILE *f, const char *str);
const char *kctl_event_name(uint32_t type);
const char *kctl_reason_name(uint32_t reason);

/*
 * json_pretty.c: from here on, JSON written to stdout comes out indented,
 * one member or element per line. 0, or -1 if stdout cannot be replaced.
 */
int kctl_json_pretty_stdout(void);

#endif /* KARENACTL_H */
