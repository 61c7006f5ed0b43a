// SPDX-License-Identifier: GPL-2.0
/*
 * The counters, one value per file, under
 * /sys/class/misc/karena/ (documented in ABI/sysfs-class-misc-karena).
 * The files are attached through miscdevice.groups, so they exist before
 * the uevent announces the device.
 */

#include <linux/device.h>
#include <linux/kernel.h>
#include <linux/stddef.h>
#include <linux/string.h>
#include <linux/sysfs.h>

#include "karena_internal.h"

/* Where each file's value sits in struct karena_stats. */
#define KARENA_FIELD(name) { #name, offsetof(struct karena_stats, name) }

static const struct {
	const char *name;
	size_t offset;
} karena_fields[] = {
	KARENA_FIELD(arena_size),
	KARENA_FIELD(arenas_reserved),
	KARENA_FIELD(arenas_free),
	KARENA_FIELD(arenas_granted),
	KARENA_FIELD(arenas_granted_peak),
	KARENA_FIELD(grants),
	KARENA_FIELD(releases),
	KARENA_FIELD(denials_quota),
	KARENA_FIELD(denials_nomem),
	KARENA_FIELD(fork_copies),
	KARENA_FIELD(fork_copy_failures),
	KARENA_FIELD(pages_returned),
	KARENA_FIELD(fault_failures),
	KARENA_FIELD(orphaned_pages),
};

/* Every file shares this show(); the file's name picks the field. */
static ssize_t karena_counter_show(struct device *dev,
				   struct device_attribute *attr, char *buf)
{
	struct karena_stats s;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(karena_fields); i++)
		if (!strcmp(attr->attr.name, karena_fields[i].name))
			break;
	if (i == ARRAY_SIZE(karena_fields))
		return -EINVAL;
	karena_stats_read(&s);
	return sysfs_emit(buf, "%llu\n",
			  *(u64 *)((char *)&s + karena_fields[i].offset));
}

#define KARENA_COUNTER_ATTR(name)					\
	static struct device_attribute dev_attr_##name =		\
		__ATTR(name, 0444, karena_counter_show, NULL)

KARENA_COUNTER_ATTR(arena_size);
KARENA_COUNTER_ATTR(arenas_reserved);
KARENA_COUNTER_ATTR(arenas_free);
KARENA_COUNTER_ATTR(arenas_granted);
KARENA_COUNTER_ATTR(arenas_granted_peak);
KARENA_COUNTER_ATTR(grants);
KARENA_COUNTER_ATTR(releases);
KARENA_COUNTER_ATTR(denials_quota);
KARENA_COUNTER_ATTR(denials_nomem);
KARENA_COUNTER_ATTR(fork_copies);
KARENA_COUNTER_ATTR(fork_copy_failures);
KARENA_COUNTER_ATTR(pages_returned);
KARENA_COUNTER_ATTR(fault_failures);
KARENA_COUNTER_ATTR(orphaned_pages);

static struct attribute *karena_attrs[] = {
	&dev_attr_arena_size.attr,
	&dev_attr_arenas_reserved.attr,
	&dev_attr_arenas_free.attr,
	&dev_attr_arenas_granted.attr,
	&dev_attr_arenas_granted_peak.attr,
	&dev_attr_grants.attr,
	&dev_attr_releases.attr,
	&dev_attr_denials_quota.attr,
	&dev_attr_denials_nomem.attr,
	&dev_attr_fork_copies.attr,
	&dev_attr_fork_copy_failures.attr,
	&dev_attr_pages_returned.attr,
	&dev_attr_fault_failures.attr,
	&dev_attr_orphaned_pages.attr,
	NULL,
};

static const struct attribute_group karena_group = {
	.attrs = karena_attrs,
};

const struct attribute_group *karena_groups[] = {
	&karena_group,
	NULL,
};
