// SPDX-License-Identifier: GPL-2.0
/*
 * karenactl - inspect and tune karena.ko over generic netlink.
 *
 *   karenactl [--json] status | holders | limits | monitor [-n COUNT]
 *   karenactl set NAME VALUE
 *
 * main.c holds the option parsing, the table of subcommands and the one
 * place that turns a netlink error into a message for people.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "karenactl.h"

static const struct {
	const char *name;
	kctl_cmd_fn fn;
	const char *args;
	const char *help;
} kctl_cmds[] = {
	{"status", kctl_cmd_status, "", "global counters and limits"},
	{"holders", kctl_cmd_holders, "", "every process that holds arenas"},
	{"limits", kctl_cmd_limits, "", "the limits in force"},
	{"set", kctl_cmd_set, "NAME VALUE", "change a limit (needs CAP_SYS_ADMIN)"},
	{"monitor", kctl_cmd_monitor, "[-n COUNT]",
	 "print grants, denials, releases and fork copies as they happen"},
};

#define KCTL_NCMDS (sizeof(kctl_cmds) / sizeof(kctl_cmds[0]))

void kctl_err(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("karenactl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int kctl_connect(struct kn_sock *s)
{
	int ret = kn_open(s);

	if (ret == -ENOENT && access("/sys/module/karena", F_OK) == 0) {
		/* Loaded, but the family is registered in init_net only. */
		kctl_err("karena's netlink family serves the initial network "
			 "namespace only, and karenactl runs in another one: run it "
			 "on the host (limits and counters are also in "
			 "/sys/module/karena/parameters and /sys/class/misc/karena)");
		return -1;
	}
	if (ret == -ENOENT) {
		kctl_err("karena module is not loaded: modprobe karena");
		return -1;
	}
	if (ret < 0) {
		kctl_err("cannot open a generic netlink socket: %s", strerror(-ret));
		return -1;
	}
	return 0;
}

int kctl_nl_fail(const struct kn_sock *s, int err, const char *what)
{
	if (s->ext_msg[0])
		kctl_err("%s: %s", what, s->ext_msg);
	else if (err == -EPERM)
		kctl_err("%s: permission denied", what);
	else
		kctl_err("%s: %s", what, strerror(-err));
	return 1;
}

static void kctl_usage(FILE *f)
{
	size_t i;

	fprintf(f,
		"usage: karenactl [--json] COMMAND [ARGS]\n\n"
		"Inspect and tune the karena kernel module (generic netlink family\n"
		"\"%s\").\n\ncommands:\n",
		KARENA_GENL_NAME);
	for (i = 0; i < KCTL_NCMDS; i++)
		fprintf(f, "  %-7s %-11s %s\n", kctl_cmds[i].name, kctl_cmds[i].args,
			kctl_cmds[i].help);
	fprintf(f, "\noptions:\n"
		   "  -j, --json   machine-readable output (status, holders, limits,\n"
		   "               monitor: one JSON object per line)\n"
		   "  -h, --help   this text\n\nSee karenactl(8).\n");
}

static int kctl_parse_count(const char *str, long *count)
{
	char *end;

	errno = 0;
	*count = strtol(str, &end, 10);
	if (errno || end == str || *end || *count <= 0) {
		kctl_err("bad count '%s': give a positive number of events", str);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct kctl_opts o = {0};
	char **args = calloc(argc + 1, sizeof(*args));
	struct kn_sock s;
	int i, n = 0, ret;
	size_t c;

	if (!args)
		return 1;
	/* Options may come before or after the command. */
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j")) {
			o.json = true;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			kctl_usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "-n") || !strcmp(argv[i], "--count")) {
			if (i + 1 == argc) {
				kctl_err("%s needs a number of events", argv[i]);
				return 2;
			}
			if (kctl_parse_count(argv[++i], &o.count) < 0)
				return 2;
		} else if (argv[i][0] == '-' && argv[i][1] && n == 0) {
			kctl_err("unknown option '%s'", argv[i]);
			kctl_usage(stderr);
			return 2;
		} else {
			args[n++] = argv[i];
		}
	}
	if (n == 0) {
		kctl_usage(stderr);
		return 2;
	}
	for (c = 0; c < KCTL_NCMDS; c++)
		if (!strcmp(args[0], kctl_cmds[c].name))
			break;
	if (c == KCTL_NCMDS) {
		kctl_err("unknown command '%s'", args[0]);
		kctl_usage(stderr);
		return 2;
	}
	if (o.count && kctl_cmds[c].fn != kctl_cmd_monitor) {
		kctl_err("-n only applies to monitor");
		return 2;
	}
	if (n > 1 && kctl_cmds[c].fn != kctl_cmd_set) {
		kctl_err("%s takes no arguments", args[0]);
		return 2;
	}

	memset(&s, 0, sizeof(s));
	ret = kctl_cmds[c].fn(&s, &o, n, args);
	kn_close(&s);
	free(args);
	return ret;
}
