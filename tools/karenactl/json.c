// SPDX-License-Identifier: GPL-2.0
/*
 * json.c - the little JSON karenactl writes (objects of numbers and
 * strings), and the names of event types and deny reasons.
 */
#include "karenactl.h"

/* A JSON string; bytes that are not printable ASCII are \u00XX escapes. */
void kctl_json_str(FILE *f, const char *str)
{
	const unsigned char *p;

	fputc('"', f);
	for (p = (const unsigned char *)str; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

const char *kctl_event_name(uint32_t type)
{
	switch (type) {
	case KARENA_EVENT_GRANT:
		return "grant";
	case KARENA_EVENT_DENY:
		return "deny";
	case KARENA_EVENT_RELEASE:
		return "release";
	case KARENA_EVENT_FORK_COPY:
		return "fork_copy";
	}
	return "unknown";
}

const char *kctl_reason_name(uint32_t reason)
{
	switch (reason) {
	case KARENA_DENY_NONE:
		return "none";
	case KARENA_DENY_PROCESS_LIMIT:
		return "process_limit";
	case KARENA_DENY_UID_LIMIT:
		return "uid_limit";
	case KARENA_DENY_GLOBAL_LIMIT:
		return "global_limit";
	case KARENA_DENY_NOMEM:
		return "nomem";
	}
	return "unknown";
}
