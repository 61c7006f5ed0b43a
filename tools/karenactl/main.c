// SPDX-License-Identifier: GPL-2.0
/*
 * karenactl - inspect and tune karena.ko over generic netlink.
 *
 *   karenactl [-j|-p] status | holders | limits | monitor [-n COUNT]
 *   karenactl set NAME VALUE
 *   karenactl help | -V
 *
 * main.c holds the option parsing, the table of subcommands (a command may
 * be abbreviated to any prefix that names one command only, as in
 * iproute2) and the one place that turns a netlink error into a message
 * for people.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "karenactl.h"

#ifndef KARENA_VERSION
#define KARENA_VERSION "unknown"
#endif

static int kctl_cmd_help(struct kn_sock *s, const struct kctl_opts *o, int argc, char **argv);

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
	{"help", kctl_cmd_help, "", "this text"},
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
		"usage: karenactl [OPTIONS] COMMAND [ARGS]\n\n"
		"Inspect and tune the karena kernel module (generic netlink family\n"
		"\"%s\"). A command may be shortened to any unique prefix.\n\n"
		"commands:\n",
		KARENA_GENL_NAME);
	for (i = 0; i < KCTL_NCMDS; i++)
		fprintf(f, "  %-7s %-11s %s\n", kctl_cmds[i].name, kctl_cmds[i].args,
			kctl_cmds[i].help);
	fprintf(f, "\noptions:\n"
		   "  -j, --json     machine-readable output (status, holders, limits,\n"
		   "                 monitor: one JSON object per line)\n"
		   "  -p, --pretty   JSON, indented for people (implies --json)\n"
		   "  -n, --count N  monitor: stop after N events\n"
		   "  -V, --version  print karenactl's version\n"
		   "  -h, --help     this text\n\n"
		   "Exit status: 0 done, 1 the request failed, 2 usage error.\n"
		   "See karenactl(8).\n");
}

static int kctl_cmd_help(struct kn_sock *s, const struct kctl_opts *o, int argc, char **argv)
{
	(void)s;
	(void)o;
	(void)argc;
	(void)argv;
	kctl_usage(stdout);
	return 0;
}

/*
 * The command @name names: itself, or the one command it is a prefix of.
 * KCTL_NCMDS if there is none (or several, after saying which).
 */
static size_t kctl_find_cmd(const char *name)
{
	size_t c, found = KCTL_NCMDS, matches = 0, len = strlen(name);

	for (c = 0; c < KCTL_NCMDS; c++) {
		if (!strcmp(name, kctl_cmds[c].name))
			return c;
		if (len && !strncmp(name, kctl_cmds[c].name, len)) {
			found = c;
			matches++;
		}
	}
	if (matches == 1)
		return found;
	if (matches == 0) {
		kctl_err("unknown command '%s'", name);
		kctl_usage(stderr);
		return KCTL_NCMDS;
	}
	fflush(stdout);
	fprintf(stderr, "karenactl: ambiguous command '%s': it could be", name);
	for (c = 0; c < KCTL_NCMDS; c++)
		if (!strncmp(name, kctl_cmds[c].name, len))
			fprintf(stderr, " %s", kctl_cmds[c].name);
	fputc('\n', stderr);
	return KCTL_NCMDS;
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
		} else if (!strcmp(argv[i], "--pretty") || !strcmp(argv[i], "-p")) {
			o.json = true;
			o.pretty = true;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			kctl_usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-V")) {
			printf("karenactl %s\n", KARENA_VERSION);
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
	c = kctl_find_cmd(args[0]);
	if (c == KCTL_NCMDS)
		return 2;
	if (o.count && kctl_cmds[c].fn != kctl_cmd_monitor) {
		kctl_err("-n only applies to monitor");
		return 2;
	}
	if (n > 1 && kctl_cmds[c].fn != kctl_cmd_set) {
		kctl_err("%s takes no arguments", kctl_cmds[c].name);
		return 2;
	}

	if (o.pretty && kctl_json_pretty_stdout() < 0) {
		kctl_err("cannot set up --pretty output");
		return 1;
	}
	memset(&s, 0, sizeof(s));
	ret = kctl_cmds[c].fn(&s, &o, n, args);
	kn_close(&s);
	if (fflush(stdout) == EOF && !ret) {
		kctl_err("cannot write the output: %s", strerror(errno));
		ret = 1;
	}
	free(args);
	return ret;
}
