// SPDX-License-Identifier: GPL-2.0
/*
 * The counters, one value per file, under
 * /sys/class/misc/karena/ (documented in ABI/sysfs-class-misc-karena):
 * one file per KARENA_COUNTER() of karena_counters.h, of its name.
 * The files are attached through miscdevice.groups, so they exist before
 * the uevent announces the device.
 */

#include <linux/device.h>
#include <linux/kernel.h>
#include <linux/sysfs.h>

#include "karena_internal.h"

static ssize_t karena_counter_show(struct device *dev,
				   struct device_attribute *attr, char *buf);

/* The files, by enum karena_stat: the counters are its first entries. */
static struct device_attribute karena_counter_attrs[KARENA_NR_COUNTERS] = {
#define KARENA_COUNTER(name, nla, unit, field)				\
	[KARENA_STAT_##name] = __ATTR(name, 0444, karena_counter_show, NULL),
#define KARENA_LIMIT(name, nla, unit, field)
#include "karena_counters.h"
#undef KARENA_COUNTER
#undef KARENA_LIMIT
};

/* Every file shares this show(); its place in the array picks the value. */
static ssize_t karena_counter_show(struct device *dev,
				   struct device_attribute *attr, char *buf)
{
	struct karena_stats s;

	karena_stats_read(&s);
	return sysfs_emit(buf, "%llu\n", s.val[attr - karena_counter_attrs]);
}

static struct attribute *karena_attrs[KARENA_NR_COUNTERS + 1] = {
#define KARENA_COUNTER(name, nla, unit, field)				\
	[KARENA_STAT_##name] = &karena_counter_attrs[KARENA_STAT_##name].attr,
#define KARENA_LIMIT(name, nla, unit, field)
#include "karena_counters.h"
#undef KARENA_COUNTER
#undef KARENA_LIMIT
};

static const struct attribute_group karena_group = {
	.attrs = karena_attrs,
};

const struct attribute_group *karena_groups[] = {
	&karena_group,
	NULL,
};
