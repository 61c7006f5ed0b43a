// SPDX-License-Identifier: GPL-2.0
/*
 * json_pretty.c - `karenactl -p`: the compact JSON the commands print,
 * indented as it goes out, in the manner of `ip -j -p`.
 *
 * The commands keep writing compact JSON to stdout; -p replaces stdout by
 * a stream (fopencookie) whose bytes pass through a small state machine
 * before they reach the real standard output:
 *
 *   {"a":1,"b":[]}\n   ->   {
 *                               "a": 1,
 *                               "b": []
 *                           }
 *
 * Each member or element goes on a line of its own, four spaces deeper
 * than its container; an empty object or array stays on one line; strings
 * pass untouched (their escapes are followed so that a quoted brace or
 * comma is not taken for structure). A flush of the stream (monitor
 * flushes after each event) flushes the real output too.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <unistd.h>

#include "karenactl.h"

#define KCTL_INDENT 4

struct kctl_pretty {
	FILE *out;	/* the real standard output */
	int depth;	/* containers open */
	char pending;	/* '{' or '[' just written: newline not written yet */
	bool in_string;
	bool escape;	/* the previous byte in a string was a backslash */
};

static void kctl_pretty_newline(struct kctl_pretty *p)
{
	int i;

	fputc('\n', p->out);
	for (i = 0; i < p->depth * KCTL_INDENT; i++)
		fputc(' ', p->out);
}

static void kctl_pretty_byte(struct kctl_pretty *p, char c)
{
	if (p->in_string) {
		fputc(c, p->out);
		if (p->escape)
			p->escape = false;
		else if (c == '\\')
			p->escape = true;
		else if (c == '"')
			p->in_string = false;
		return;
	}
	if (p->pending) {
		char open = p->pending;

		p->pending = 0;
		if ((open == '{' && c == '}') || (open == '[' && c == ']')) {
			p->depth--;
			fputc(c, p->out);
			return;
		}
		kctl_pretty_newline(p);
	}
	switch (c) {
	case '"':
		p->in_string = true;
		fputc(c, p->out);
		break;
	case '{':
	case '[':
		fputc(c, p->out);
		p->depth++;
		p->pending = c;
		break;
	case '}':
	case ']':
		if (p->depth > 0)
			p->depth--;
		kctl_pretty_newline(p);
		fputc(c, p->out);
		break;
	case ',':
		fputc(c, p->out);
		kctl_pretty_newline(p);
		break;
	case ':':
		fputs(": ", p->out);
		break;
	default:
		fputc(c, p->out);
	}
}

static ssize_t kctl_pretty_write(void *cookie, const char *buf, size_t size)
{
	struct kctl_pretty *p = cookie;
	size_t i;

	for (i = 0; i < size; i++)
		kctl_pretty_byte(p, buf[i]);
	if (fflush(p->out) == EOF)
		return -1;
	return (ssize_t)size;
}

static int kctl_pretty_close(void *cookie)
{
	struct kctl_pretty *p = cookie;

	return fclose(p->out);
}

int kctl_json_pretty_stdout(void)
{
	static struct kctl_pretty pretty;
	cookie_io_functions_t io = {
		.write = kctl_pretty_write,
		.close = kctl_pretty_close,
	};
	int fd = dup(STDOUT_FILENO);
	FILE *f;

	if (fd < 0)
		return -1;
	pretty.out = fdopen(fd, "w");
	if (!pretty.out) {
		close(fd);
		return -1;
	}
	f = fopencookie(&pretty, "w", io);
	if (!f) {
		fclose(pretty.out);
		return -1;
	}
	fflush(stdout);
	stdout = f;
	return 0;
}
