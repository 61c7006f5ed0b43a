// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * _karena.c - CPython's pymalloc arenas from libkarena's backend.
 *
 * pymalloc (Objects/obmalloc.c) serves objects of up to 512 bytes from
 * pools inside arenas, and takes and gives back whole arenas through one
 * hook, PyObject_SetArenaAllocator(). enable() installs this module's
 * arena allocator there:
 *
 *	pymalloc --alloc(ARENA_SIZE)--> kp_arena_alloc --> karena_arena_alloc
 *		  (the kernel's /dev/karena, or anonymous mmap: lib/src/raw_arena.c)
 *	pymalloc --free(p, ARENA_SIZE)--> kp_arena_free
 *		  p one of ours (owned)	--> karena_arena_free
 *		  else			--> the allocator that was installed
 *					    before (it made p)
 *
 * Ownership: every arena we hand out is in `owned`, a small open-addressing
 * set of addresses (an arena is 1 MiB on 3.10+, so a process holds few).
 * Arenas pymalloc took before enable() keep going back to the allocator
 * that made them; so do ours after disable(), to us. disable() therefore
 * stops new arenas from coming here, and puts the previous allocator back
 * as it was only when no arena of ours is left (a later disable() does it
 * then); until that, our hook stays installed and routes the frees.
 *
 * A denial becomes MemoryError. When its arena allocator fails, pymalloc
 * does not fail: _PyObject_Malloc/_Calloc fall back to PyMem_RawMalloc/
 * RawCalloc, so a process at its arena limit would go on in malloc
 * memory that no limit sees. A hook on the RAW domain closes that: a
 * denial sets a per-thread flag, and the very next raw allocation of that
 * thread (pymalloc's fallback, which follows the failed arena allocation
 * with nothing in between) fails and clears it; the object allocation
 * returns NULL and Python raises MemoryError. The hook wraps the previous
 * RAW allocator (PyMem_SetAllocator's rule after start-up) and costs one
 * thread-local test per raw allocation; free is the previous one itself.
 *
 * Locking: the arena hooks run under the GIL on 3.11, but 3.12's
 * per-interpreter GIL may run two at once, so `owned` has a mutex of its
 * own. The set's memory comes from the C library's malloc, never from
 * Python's allocators, which the hooks sit under.
 *
 * The free-threaded build (Py_GIL_DISABLED) allocates objects with
 * mimalloc and has no arenas to give: the module refuses to load there.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <karena.h>

/* The set of arena addresses this module handed to pymalloc. */
struct arena_set {
	uintptr_t *slots;	/* 0 = empty */
	size_t mask;		/* capacity - 1, a power of two */
	size_t count;
};

static pthread_mutex_t owned_lock = PTHREAD_MUTEX_INITIALIZER;
static struct arena_set owned;		/* under owned_lock */

static PyObjectArenaAllocator previous_arena;	/* before enable() */
static PyMemAllocatorEx previous_raw;		/* the RAW domain we wrap */
static int installed;		/* our arena hook is in place (GIL) */
static int raw_installed;	/* our RAW hook is in place (GIL) */
static atomic_int enabled;	/* new arenas come from karena */
static atomic_size_t arena_size;	/* pymalloc's ARENA_SIZE */
static atomic_size_t previous_frees;	/* arenas handed back to previous */
static _Thread_local int fail_next_raw;	/* a denial: see above */

static size_t set_hash(uintptr_t p, size_t mask)
{
	uint64_t h = (uint64_t)(p >> 12) * 0x9e3779b97f4a7c15ULL;

	return (size_t)(h ^ (h >> 29)) & mask;
}

static void set_put(struct arena_set *s, uintptr_t p)
{
	size_t i = set_hash(p, s->mask);

	while (s->slots[i])
		i = (i + 1) & s->mask;
	s->slots[i] = p;
	s->count++;
}

/* Add @p, growing the table at half full; -1 when memory lacks. */
static int set_add(struct arena_set *s, uintptr_t p)
{
	struct arena_set bigger;
	size_t i;

	if ((s->count + 1) * 2 > s->mask + 1 || !s->slots) {
		bigger.mask = s->slots ? 2 * s->mask + 1 : 63;
		bigger.count = 0;
		bigger.slots = calloc(bigger.mask + 1, sizeof(uintptr_t));
		if (!bigger.slots)
			return -1;
		for (i = 0; s->slots && i <= s->mask; i++)
			if (s->slots[i])
				set_put(&bigger, s->slots[i]);
		free(s->slots);
		*s = bigger;
	}
	set_put(s, p);
	return 0;
}

/* Remove @p if present (backward-shift deletion); 1 if it was there. */
static int set_remove(struct arena_set *s, uintptr_t p)
{
	size_t i, j, home;

	if (!s->slots)
		return 0;
	for (i = set_hash(p, s->mask); s->slots[i] != p; i = (i + 1) & s->mask)
		if (!s->slots[i])
			return 0;
	for (j = (i + 1) & s->mask; s->slots[j]; j = (j + 1) & s->mask) {
		home = set_hash(s->slots[j], s->mask);
		/* slot j may move into the hole at i if home is not in (i, j] */
		if (((j - home) & s->mask) >= ((j - i) & s->mask)) {
			s->slots[i] = s->slots[j];
			i = j;
		}
	}
	s->slots[i] = 0;
	s->count--;
	return 1;
}

static size_t owned_count(void)
{
	size_t n;

	pthread_mutex_lock(&owned_lock);
	n = owned.count;
	pthread_mutex_unlock(&owned_lock);
	return n;
}

static void *kp_arena_alloc(void *ctx, size_t size)
{
	void *p;
	int ok;

	(void)ctx;
	if (!atomic_load_explicit(&enabled, memory_order_relaxed))
		return previous_arena.alloc(previous_arena.ctx, size);
	p = karena_arena_alloc(size);
	if (p) {
		pthread_mutex_lock(&owned_lock);
		ok = set_add(&owned, (uintptr_t)p) == 0;
		pthread_mutex_unlock(&owned_lock);
		if (!ok) {
			karena_arena_free(p, size);
			p = NULL;
		}
	}
	if (!p) {
		fail_next_raw = 1;	/* pymalloc's raw fallback must fail */
		return NULL;
	}
	atomic_store_explicit(&arena_size, size, memory_order_relaxed);
	return p;
}

static void kp_arena_free(void *ctx, void *p, size_t size)
{
	int ours;

	(void)ctx;
	pthread_mutex_lock(&owned_lock);
	ours = set_remove(&owned, (uintptr_t)p);
	pthread_mutex_unlock(&owned_lock);
	if (ours) {
		karena_arena_free(p, size);
		return;
	}
	atomic_fetch_add_explicit(&previous_frees, 1, memory_order_relaxed);
	previous_arena.free(previous_arena.ctx, p, size);
}

static void *kp_raw_malloc(void *ctx, size_t n)
{
	if (fail_next_raw) {
		fail_next_raw = 0;
		return NULL;
	}
	return previous_raw.malloc(ctx, n);
}

static void *kp_raw_calloc(void *ctx, size_t nelem, size_t elsize)
{
	if (fail_next_raw) {
		fail_next_raw = 0;
		return NULL;
	}
	return previous_raw.calloc(ctx, nelem, elsize);
}

static void *kp_raw_realloc(void *ctx, void *p, size_t n)
{
	if (fail_next_raw) {
		fail_next_raw = 0;
		return NULL;
	}
	return previous_raw.realloc(ctx, p, n);
}

/*
 * pymalloc's arena size, as sys._debugmallocstats() prints it ("N arenas *
 * SIZE bytes/arena"): 0 when that function is not exported, -1 (with
 * RuntimeError set) when pymalloc is not in use (PYTHONMALLOC=malloc).
 */
static long long pymalloc_arena_size(void)
{
	int (*debug_stats)(FILE *out);
	char *buf = NULL, *line;
	size_t len = 0;
	long long size = 0, narenas;
	FILE *out;
	int used;

	*(void **)&debug_stats = dlsym(RTLD_DEFAULT,
				       "_PyObject_DebugMallocStats");
	if (!debug_stats)
		return 0;
	out = open_memstream(&buf, &len);
	if (!out)
		return 0;
	used = debug_stats(out);
	fclose(out);
	for (line = buf; used && line && *line; line = strchr(line, '\n')) {
		line += *line == '\n';
		if (sscanf(line, "%lld arenas * %lld bytes/arena", &narenas,
			   &size) == 2)
			break;
		size = 0;
	}
	free(buf);
	if (!used) {
		PyErr_SetString(PyExc_RuntimeError,
				"karena: pymalloc is not in use (PYTHONMALLOC "
				"selects another allocator, or CPython was "
				"built --without-pymalloc): there are no "
				"arenas to take from karena");
		return -1;
	}
	return size;
}

static PyObject *kp_enable(PyObject *self, PyObject *unused)
{
	PyObjectArenaAllocator ours = { NULL, kp_arena_alloc, kp_arena_free };
	PyMemAllocatorEx raw;
	long long size;

	(void)self;
	(void)unused;
	if (atomic_load(&enabled))
		Py_RETURN_NONE;
	size = pymalloc_arena_size();
	if (size < 0)
		return NULL;
	if (size > 0) {
		if (karena_arena_prepare((size_t)size) < 0) {
			int err = errno;

			return PyErr_Format(PyExc_OSError,
				"karena: the backend cannot grant arenas of "
				"%lld KiB, pymalloc's size (%s)%s", size >> 10,
				strerror(err), err == EINVAL ?
				"; the karena module needs "
				"KARENA_IOC_SET_ARENA_SIZE, or arena_kb set to "
				"a divisor of that size" : "");
		}
		atomic_store(&arena_size, (size_t)size);
	}
	if (!raw_installed) {
		PyMem_GetAllocator(PYMEM_DOMAIN_RAW, &previous_raw);
		raw = previous_raw;
		raw.malloc = kp_raw_malloc;
		raw.calloc = kp_raw_calloc;
		raw.realloc = kp_raw_realloc;
		PyMem_SetAllocator(PYMEM_DOMAIN_RAW, &raw);
		raw_installed = 1;
	}
	if (!installed) {
		PyObject_GetArenaAllocator(&previous_arena);
		PyObject_SetArenaAllocator(&ours);
		installed = 1;
	}
	atomic_store(&enabled, 1);
	Py_RETURN_NONE;
}

static PyObject *kp_disable(PyObject *self, PyObject *unused)
{
	PyObjectArenaAllocator current;
	PyMemAllocatorEx raw;

	(void)self;
	(void)unused;
	atomic_store(&enabled, 0);
	/* Unhook only where nobody has hooked on top of us since. */
	PyObject_GetArenaAllocator(&current);
	if (installed && current.alloc == kp_arena_alloc && !owned_count()) {
		PyObject_SetArenaAllocator(&previous_arena);
		installed = 0;
	}
	PyMem_GetAllocator(PYMEM_DOMAIN_RAW, &raw);
	if (raw_installed && raw.malloc == kp_raw_malloc) {
		PyMem_SetAllocator(PYMEM_DOMAIN_RAW, &previous_raw);
		raw_installed = 0;
	}
	Py_RETURN_NONE;
}

static PyObject *kp_is_enabled(PyObject *self, PyObject *unused)
{
	(void)self;
	(void)unused;
	return PyBool_FromLong(atomic_load(&enabled));
}

static int put_size(PyObject *d, const char *key, size_t v)
{
	PyObject *o = PyLong_FromSize_t(v);
	int rc = o ? PyDict_SetItemString(d, key, o) : -1;

	Py_XDECREF(o);
	return rc;
}

static PyObject *kp_stats(PyObject *self, PyObject *unused)
{
	struct karena_arena_stats st;
	PyObject *d, *o;
	size_t held = owned_count();
	long long size;

	(void)self;
	(void)unused;
	if (!atomic_load(&arena_size)) {
		/* before enable(): pymalloc's size all the same; 0 without it */
		size = pymalloc_arena_size();
		if (size < 0)
			PyErr_Clear();
		else
			atomic_store(&arena_size, (size_t)size);
	}
	karena_arena_stats(&st);
	d = PyDict_New();
	if (!d)
		return NULL;
	o = PyUnicode_FromString(st.backend);
	if (!o || PyDict_SetItemString(d, "backend", o) < 0)
		goto fail;
	Py_CLEAR(o);
	if (PyDict_SetItemString(d, "enabled",
				 atomic_load(&enabled) ? Py_True : Py_False) < 0 ||
	    put_size(d, "arena_size", atomic_load(&arena_size)) < 0 ||
	    put_size(d, "arenas_held", held) < 0 ||
	    put_size(d, "arenas_peak", st.peak) < 0 ||
	    put_size(d, "arenas_granted", st.granted) < 0 ||
	    put_size(d, "arenas_released", st.released) < 0 ||
	    put_size(d, "denials", st.denied) < 0 ||
	    put_size(d, "previous_arenas_freed",
		     atomic_load(&previous_frees)) < 0)
		goto fail;
	return d;
fail:
	Py_XDECREF(o);
	Py_DECREF(d);
	return NULL;
}

static PyMethodDef kp_methods[] = {
	{ "enable", kp_enable, METH_NOARGS,
	  "enable()\n--\n\nTake every new pymalloc arena from karena's backend." },
	{ "disable", kp_disable, METH_NOARGS,
	  "disable()\n--\n\nNew arenas come from the previous allocator again; "
	  "karena's arenas still go back to karena." },
	{ "is_enabled", kp_is_enabled, METH_NOARGS,
	  "is_enabled()\n--\n\nTrue between enable() and disable()." },
	{ "stats", kp_stats, METH_NOARGS,
	  "stats()\n--\n\nA dict: backend, arena_size, arenas_held, arenas_peak, "
	  "arenas_granted, arenas_released, denials, previous_arenas_freed, "
	  "enabled." },
	{ NULL, NULL, 0, NULL }
};

static struct PyModuleDef kp_module = {
	PyModuleDef_HEAD_INIT,
	.m_name = "karena._karena",
	.m_doc = "pymalloc arenas from libkarena's backend (see karena).",
	.m_size = -1,
	.m_methods = kp_methods,
};

PyMODINIT_FUNC PyInit__karena(void)
{
#ifdef Py_GIL_DISABLED
	PyErr_SetString(PyExc_ImportError,
			"karena: this CPython is free-threaded (Py_GIL_DISABLED"
			"): it allocates objects with mimalloc and has no "
			"pymalloc arenas to take from karena; use a default "
			"(GIL) build of CPython");
	return NULL;
#else
	return PyModule_Create(&kp_module);
#endif
}
