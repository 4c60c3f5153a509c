// SPDX-License-Identifier: GPL-2.0
/*
 * Runs INSIDE the test-bed guest with hmmv.ko loaded: exercises the module
 * against regions this program maps itself (as QEMU would map guest RAM) and
 * prints one line per check on stdout:
 *   HMMV-RESULT {"check":"kmod-...","ok":true|false,...}
 * The mocha suite (test/kmod/kmod-guest.test.ts) asserts on every field.
 *
 *   kmod-check checks DAX_NAME    all checks; DAX_NAME (e.g. dax0.0) is a
 *                                 devdax device bound to device_dax: the
 *                                 program checks the module refuses it
 *                                 while bound, then unbinds it
 *   kmod-check hold NAME|anon:PAGES SECONDS HOT [STRIDE]
 *                                 maps region NAME (or anonymous memory),
 *                                 writes every page, then keeps rewriting
 *                                 pages k * STRIDE, k < HOT, until killed or
 *                                 SECONDS pass; SIGUSR1 verifies every page
 *                                 (a stand-in for QEMU)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>

#include "hmmv.h"

#define PAGE 4096UL
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIB (1024UL * 1024UL)

static int failures;

/* ---- output ------------------------------------------------------------- */

static char buf[8192];
static size_t len;

static void begin(const char *check)
{
	len = snprintf(buf, sizeof(buf), "{\"check\":\"%s\"", check);
}

static void field(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf[len++] = ',';
	len += vsnprintf(buf + len, sizeof(buf) - len, fmt, ap);
	va_end(ap);
}

static void end(int ok)
{
	if (!ok)
		failures++;
	printf("HMMV-RESULT %s,\"ok\":%s}\n", buf, ok ? "true" : "false");
	fflush(stdout);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static pid_t gettid_(void)
{
	return syscall(SYS_gettid);
}

/* ---- the control device --------------------------------------------------- */

static int ctl_open(void)
{
	struct hmmv_hello h = { .abi_version = HMMV_ABI_VERSION };
	int fd = open(HMMV_CONTROL_NODE, O_RDWR | O_CLOEXEC);

	if (fd < 0 || ioctl(fd, HMMV_IOC_HELLO, &h)) {
		perror("hmmv control");
		exit(2);
	}
	return fd;
}

/* errno of a call that should fail, 0 if it succeeded. */
static int err_of(int rc)
{
	return rc < 0 ? errno : 0;
}

static int create(int fd, const char *name, uint64_t size, uint32_t kind,
		  const char *dax, uint64_t dax_start, uint64_t dax_size,
		  uint32_t first_touch, uint64_t dram_limit)
{
	struct hmmv_region_create c;

	memset(&c, 0, sizeof(c));
	snprintf(c.name, sizeof(c.name), "%s", name);
	c.size = size;
	c.nvm_kind = kind;
	c.dram_node = -1;
	c.nvm_node = 1;
	c.first_touch = first_touch;
	c.dram_limit_pages = dram_limit;
	if (dax) {
		snprintf(c.dax_name, sizeof(c.dax_name), "%s", dax);
		c.dax_start = dax_start;
		c.dax_size = dax_size;
	}
	return ioctl(fd, HMMV_IOC_REGION_CREATE, &c);
}

static void *map_region(const char *name, uint64_t size, int *fdp)
{
	char path[128];
	void *p;
	int fd;

	snprintf(path, sizeof(path), HMMV_REGION_DIR "%s", name);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return NULL;
	}
	if (fdp)
		*fdp = fd;
	else
		close(fd);
	return p;
}

static struct hmmv_region_info info_of(int fd)
{
	struct hmmv_region_info i;

	memset(&i, 0, sizeof(i));
	if (ioctl(fd, HMMV_IOC_REGION_INFO, &i))
		perror("REGION_INFO");
	return i;
}

static uint64_t source_free(int fd, uint64_t *pages, uint32_t *count)
{
	struct hmmv_source_info s[4];
	struct hmmv_sources q = { .sources = (uintptr_t)s, .max = 4 };

	memset(s, 0, sizeof(s));
	if (ioctl(fd, HMMV_IOC_SOURCES, &q))
		perror("SOURCES");
	if (count)
		*count = q.count;
	if (pages)
		*pages = q.count ? s[0].pages : 0;
	return q.count ? s[0].free_pages : 0;
}

static int bits(int fd, unsigned long cmd, uint64_t first, uint64_t count,
		uint32_t *in, uint32_t *out, uint32_t shift, uint64_t *result)
{
	struct hmmv_page_bits b = {
		.first = first, .count = count, .in = (uintptr_t)in,
		.out = (uintptr_t)out, .unit_shift = shift,
	};
	int rc = ioctl(fd, cmd, &b);

	if (result)
		*result = b.result;
	return rc;
}

static int bit(const uint32_t *m, uint64_t i)
{
	return (m[i / 32] >> (i % 32)) & 1;
}

static uint64_t count_bits(const uint32_t *m, uint64_t n)
{
	uint64_t i, c = 0;

	for (i = 0; i < n; i++)
		c += bit(m, i);
	return c;
}

/* ---- page contents ------------------------------------------------------------ */

static uint64_t word_of(uint64_t page, uint64_t version, uint64_t i)
{
	uint64_t x = (page << 32) ^ (version * 0x9e3779b97f4a7c15ULL) ^ i;

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	return x ^ (x >> 29);
}

static void fill_page(volatile uint64_t *p, uint64_t page, uint64_t version)
{
	uint64_t i;

	for (i = 0; i < PAGE / 8; i++)
		p[i] = word_of(page, version, i);
}

static int page_ok(const volatile uint64_t *p, uint64_t page,
		   uint64_t version)
{
	uint64_t i;

	for (i = 0; i < PAGE / 8; i++)
		if (p[i] != word_of(page, version, i))
			return 0;
	return 1;
}

/* ---- migration while writing -------------------------------------------------- */

struct writer {
	char *base;
	uint64_t first, count;
	uint64_t *version;		/* per page: the version last written */
	volatile int *stop;
	uint64_t writes;
	uint32_t seed;
	pthread_t thread;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;

	while (!*w->stop) {
		uint64_t p;

		w->seed = w->seed * 1664525 + 1013904223;
		p = w->first + (w->seed >> 8) % w->count;
		w->version[p]++;
		fill_page((uint64_t *)(w->base + p * PAGE), p, w->version[p]);
		w->writes++;
	}
	return NULL;
}

struct mig_totals {
	uint64_t moved, already, busy, failed, bytes, recopies, pause_ns;
	uint64_t max_pause_ns, calls, ns;
};

static int migrate_all(int fd, uint64_t pages, uint32_t target,
		       struct mig_totals *t)
{
	uint32_t *list = malloc(pages * 4);
	int32_t *status = malloc(pages * 4);
	struct hmmv_migrate m;
	uint64_t i, t0;
	int rc;

	for (i = 0; i < pages; i++)
		list[i] = i;
	memset(&m, 0, sizeof(m));
	m.pages = (uintptr_t)list;
	m.status = (uintptr_t)status;
	m.count = pages;
	m.target = target;
	m.max_recopies = 2;
	t0 = now_ns();
	rc = ioctl(fd, HMMV_IOC_MIGRATE, &m);
	t->ns += now_ns() - t0;
	t->calls++;
	t->moved += m.moved;
	t->already += m.already;
	t->busy += m.busy;
	t->failed += m.failed;
	t->bytes += m.bytes_copied;
	t->recopies += m.recopies;
	t->pause_ns += m.pause_ns;
	if (m.max_pause_ns > t->max_pause_ns)
		t->max_pause_ns = m.max_pause_ns;
	free(list);
	free(status);
	return rc;
}

static void check_migration(int fd, char *base, uint64_t pages)
{
	uint64_t *version = calloc(pages, sizeof(uint64_t));
	struct mig_totals t = { 0 };
	volatile int stop = 0;
	struct writer w[2];
	uint32_t *nvm = calloc(pages / 32 + 1, 4);
	uint64_t p, bad = 0, in_nvm, writes = 0;
	int i, round, rc = 0;

	for (p = 0; p < pages; p++)
		fill_page((uint64_t *)(base + p * PAGE), p, 0);
	for (i = 0; i < 2; i++) {
		w[i] = (struct writer){ .base = base, .first = i * pages / 2,
			.count = pages / 2, .version = version, .stop = &stop,
			.seed = 17 + i };
		pthread_create(&w[i].thread, NULL, writer_main, &w[i]);
	}
	for (round = 0; round < 4 && !rc; round++)
		rc = migrate_all(fd, pages, round % 2 ? HMMV_TIER_DRAM :
				 HMMV_TIER_NVM, &t);
	/* end in NVM: the tier map must say so for every page moved */
	if (!rc)
		rc = migrate_all(fd, pages, HMMV_TIER_NVM, &t);
	stop = 1;
	for (i = 0; i < 2; i++) {
		pthread_join(w[i].thread, NULL);
		writes += w[i].writes;
	}
	for (p = 0; p < pages; p++)
		bad += !page_ok((uint64_t *)(base + p * PAGE), p, version[p]);
	bits(fd, HMMV_IOC_READ_TIERS, 0, pages, NULL, nvm, 0, NULL);
	in_nvm = count_bits(nvm, pages);
	/* a last pass with nothing running moves every page still in DRAM */
	migrate_all(fd, pages, HMMV_TIER_NVM, &t);
	bits(fd, HMMV_IOC_READ_TIERS, 0, pages, NULL, nvm, 0, NULL);

	begin("kmod-migrate-while-writing");
	field("\"pages\":%lu,\"rounds\":%d,\"writes\":%lu", pages, round + 1,
	      writes);
	field("\"moved\":%lu,\"already\":%lu,\"busy\":%lu,\"failed\":%lu",
	      t.moved, t.already, t.busy, t.failed);
	field("\"bytesCopied\":%lu,\"recopies\":%lu", t.bytes, t.recopies);
	field("\"pauseNsPerPage\":%.0f,\"maxPauseNs\":%lu",
	      t.moved ? (double)t.pause_ns / t.moved : 0.0, t.max_pause_ns);
	field("\"mibPerSecond\":%.1f",
	      t.ns ? (double)t.moved * PAGE / MIB / (t.ns / 1e9) : 0.0);
	field("\"badPages\":%lu,\"nvmAfterWriting\":%lu,\"nvmAtEnd\":%lu",
	      bad, in_nvm, count_bits(nvm, pages));
	field("\"rc\":%d", rc);
	end(!rc && bad == 0 && t.failed == 0 && t.moved >= pages * 4 / 2 &&
	    count_bits(nvm, pages) == pages &&
	    t.moved + t.busy + t.already == t.calls * pages);
	free(version);
	free(nvm);
}

/* ---- dirty log ------------------------------------------------------------------ */

struct toucher {
	char *base;
	const uint32_t *pages;
	uint32_t count;
	int passes;
	int write;
	pid_t tid;
	pthread_t thread;
};

static void *toucher_main(void *arg)
{
	struct toucher *t = arg;
	volatile char sink = 0;
	uint32_t i;
	int pass;

	t->tid = gettid_();
	for (pass = 0; pass < t->passes; pass++)
		for (i = 0; i < t->count; i++) {
			volatile char *c = t->base + t->pages[i] * PAGE + 64;

			if (t->write)
				*c = (char)(i + pass + 1);
			else
				sink += *c;
		}
	return NULL;
}

static pid_t touch(char *base, const uint32_t *pages, uint32_t count,
		   int passes, int write)
{
	struct toucher t = { .base = base, .pages = pages, .count = count,
			     .passes = passes, .write = write };

	pthread_create(&t.thread, NULL, toucher_main, &t);
	pthread_join(t.thread, NULL);
	return t.tid;
}

struct drained {
	uint32_t pages[HMMV_MAX_THREADS * HMMV_LOG_ENTRIES];
	struct hmmv_thread_log threads[HMMV_MAX_THREADS];
	struct hmmv_drain d;
};

static int drain(int fd, struct drained *x)
{
	memset(&x->d, 0, sizeof(x->d));
	x->d.pages = (uintptr_t)x->pages;
	x->d.threads = (uintptr_t)x->threads;
	x->d.max_pages = HMMV_MAX_THREADS * HMMV_LOG_ENTRIES;
	x->d.max_threads = HMMV_MAX_THREADS;
	x->d.flags = HMMV_DRAIN_REARM;
	return ioctl(fd, HMMV_IOC_DRAIN, &x->d);
}

static const struct hmmv_thread_log *log_of(const struct drained *x,
					    pid_t tid)
{
	uint32_t i;

	for (i = 0; i < x->d.nthreads; i++)
		if (x->threads[i].tid == (uint32_t)tid)
			return &x->threads[i];
	return NULL;
}

/* The log of @tid holds exactly @pages (any order), once each. */
static int log_is(const struct drained *x, pid_t tid, const uint32_t *pages,
		  uint32_t count, uint64_t region_pages)
{
	const struct hmmv_thread_log *l = log_of(x, tid);
	uint8_t *seen;
	uint32_t i;
	int ok;

	if (!l || l->count != count)
		return 0;
	seen = calloc(region_pages, 1);
	for (i = 0; i < count; i++)
		seen[x->pages[l->offset + i]]++;
	ok = 1;
	for (i = 0; i < count; i++)
		ok &= seen[pages[i]] == 1;
	free(seen);
	return ok;
}

static void check_dirty_log(int fd, char *base, uint64_t pages)
{
	static struct drained x;
	uint32_t a[100], b[37], c[600], i;
	uint32_t *dirty = calloc(pages / 32 + 1, 4);
	pid_t ta, tb, tc, tr;
	uint64_t ndirty;
	int ok_ab, ok_read, ok_c, ok_scan, overflow_ab;
	const struct hmmv_thread_log *lc;

	drain(fd, &x);	/* forget the migration check's writes */
	drain(fd, &x);
	bits(fd, HMMV_IOC_DIRTY, 0, pages, NULL, dirty, 0, NULL);
	for (i = 0; i < 100; i++)
		a[i] = i * 3;
	for (i = 0; i < 37; i++)
		b[i] = i * 3 + 1;
	ta = touch(base, a, 100, 2, 1);	/* twice: still one entry per page */
	tb = touch(base, b, 37, 1, 1);
	tr = touch(base, a, 100, 1, 0);	/* reads log nothing */
	drain(fd, &x);
	ok_ab = log_is(&x, ta, a, 100, pages) && log_is(&x, tb, b, 37, pages);
	ok_read = log_of(&x, tr) == NULL;
	overflow_ab = x.d.flags & HMMV_LOG_OVERFLOW;
	begin("kmod-dirty-log");
	field("\"threads\":%u,\"entries\":%u,\"overflow\":%s", x.d.nthreads,
	      x.d.count, overflow_ab ? "true" : "false");
	field("\"exactPerThread\":%s,\"readsLogged\":%s",
	      ok_ab ? "true" : "false", ok_read ? "false" : "true");
	end(ok_ab && ok_read && !overflow_ab && x.d.count == 137 &&
	    x.d.nthreads == 2);

	/* rearmed: the same writes log again */
	ta = touch(base, a, 100, 1, 1);
	drain(fd, &x);
	begin("kmod-dirty-log-rearm");
	field("\"entries\":%u", x.d.count);
	end(log_is(&x, ta, a, 100, pages) && x.d.count == 100);

	for (i = 0; i < 600; i++)
		c[i] = (i * 7 + 2) % pages;
	tc = touch(base, c, 600, 1, 1);
	drain(fd, &x);
	lc = log_of(&x, tc);
	ok_c = lc && lc->count == HMMV_LOG_ENTRIES &&
	       (lc->flags & HMMV_LOG_OVERFLOW) &&
	       log_is(&x, tc, c, HMMV_LOG_ENTRIES, pages);
	/* the full scan finds exactly what the log missed */
	memset(dirty, 0, pages / 8 + 4);
	bits(fd, HMMV_IOC_DIRTY, 0, pages, NULL, dirty, 0, NULL);
	ndirty = count_bits(dirty, pages);
	ok_scan = ndirty == 600 - HMMV_LOG_ENTRIES;
	for (i = HMMV_LOG_ENTRIES; i < 600; i++)
		ok_scan &= bit(dirty, c[i]);
	begin("kmod-dirty-log-overflow");
	field("\"logged\":%u,\"overflowFlag\":%s,\"full\":%u,\"scanFound\":%lu",
	      lc ? lc->count : 0, x.d.flags & HMMV_LOG_OVERFLOW ? "true" :
	      "false", x.d.full, ndirty);
	end(ok_c && ok_scan && (x.d.flags & HMMV_LOG_OVERFLOW) &&
	    x.d.full == 600 - HMMV_LOG_ENTRIES);
	free(dirty);
}

/* ---- accessed bits ------------------------------------------------------------ */

static void check_accessed(int fd, char *base, uint64_t pages)
{
	uint32_t *acc = calloc(pages / 32 + 1, 4);
	uint32_t *list = calloc(pages, 4), n = 0, i;
	uint64_t scanned, wrong = 0, p, after_clear;
	uint32_t units[2] = { 1, 3 }, ulist[2];
	int ok_units;

	bits(fd, HMMV_IOC_ACCESSED, 0, pages, NULL, acc, 0, NULL);
	memset(acc, 0, pages / 8 + 4);
	bits(fd, HMMV_IOC_ACCESSED, 0, pages, NULL, acc, 0, NULL);
	after_clear = count_bits(acc, pages);
	for (p = 0; p < pages; p++)
		if (p % 5 == 2 || p % 11 == 0)
			list[n++] = p;
	touch(base, list, n, 1, 0);
	memset(acc, 0, pages / 8 + 4);
	bits(fd, HMMV_IOC_ACCESSED, 0, pages, NULL, acc, 0, &scanned);
	for (p = 0; p < pages; p++)
		wrong += bit(acc, p) != (p % 5 == 2 || p % 11 == 0);
	begin("kmod-accessed");
	field("\"scanned\":%lu,\"touched\":%u,\"reported\":%lu,\"wrong\":%lu",
	      scanned, n, count_bits(acc, pages), wrong);
	field("\"afterClear\":%lu", after_clear);
	end(wrong == 0 && scanned == pages && after_clear == 0);

	/* 2 MiB units: touch one page in units 1 and 3 */
	bits(fd, HMMV_IOC_ACCESSED, 0, pages, NULL, acc, HMMV_HUGE_SHIFT, NULL);
	for (i = 0; i < 2; i++)
		ulist[i] = units[i] * 512 + 100 + i;
	touch(base, ulist, 2, 1, 0);
	memset(acc, 0, pages / 8 + 4);
	bits(fd, HMMV_IOC_ACCESSED, 0, pages, NULL, acc, HMMV_HUGE_SHIFT,
	     &scanned);
	ok_units = count_bits(acc, pages / 512) == 2 && bit(acc, 1) &&
		   bit(acc, 3);
	begin("kmod-accessed-2m");
	field("\"units\":%lu,\"reported\":%lu", scanned,
	      count_bits(acc, pages / 512));
	end(ok_units && scanned == pages / 512);
	free(acc);
	free(list);
}

/* ---- bad calls -------------------------------------------------------------------- */

static uint32_t rnd_state = 12345;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

static void check_bad_calls(int fd, char *base, uint64_t pages,
			    const char *name)
{
	static const unsigned long cmds[] = {
		HMMV_IOC_HELLO, HMMV_IOC_SOURCES, HMMV_IOC_REGION_CREATE,
		HMMV_IOC_REGION_ATTACH, HMMV_IOC_REGION_DESTROY,
		HMMV_IOC_REGION_INFO, HMMV_IOC_READ_TIERS, HMMV_IOC_ACCESSED,
		HMMV_IOC_DIRTY, HMMV_IOC_WP_ARM, HMMV_IOC_DRAIN,
		HMMV_IOC_MIGRATE,
	};
	uint32_t out[64], idx[2] = { 0, (uint32_t)pages + 5 };
	int32_t status[2];
	struct hmmv_page_bits b;
	struct hmmv_migrate m;
	struct hmmv_drain d;
	unsigned char junk[256];
	int e[16], n = 0, i, k, ok, fresh, fuzz_ok = 1;
	uint64_t fuzz_calls = 0;

	memset(&b, 0, sizeof(b));
	b.first = 1;
	b.count = 64;
	b.out = (uintptr_t)out;
	e[n++] = err_of(ioctl(fd, HMMV_IOC_ACCESSED, &b));	/* unaligned */
	b.first = 0;
	b.count = pages + 64;
	e[n++] = err_of(ioctl(fd, HMMV_IOC_ACCESSED, &b));	/* too far */
	b.count = 64;
	b.out = 0;
	e[n++] = err_of(ioctl(fd, HMMV_IOC_READ_TIERS, &b));	/* no out */
	b.out = (uintptr_t)out;
	b.in = 8;
	e[n++] = err_of(ioctl(fd, HMMV_IOC_DIRTY, &b));	/* bad in */
	b.in = 0;
	b.unit_shift = 3;
	e[n++] = err_of(ioctl(fd, HMMV_IOC_WP_ARM, &b));	/* bad unit */
	b.unit_shift = 0;
	b.flags = 0x80;
	e[n++] = err_of(ioctl(fd, HMMV_IOC_READ_TIERS, &b));	/* bad flags */
	memset(&d, 0, sizeof(d));
	d.flags = 0x4;
	e[n++] = err_of(ioctl(fd, HMMV_IOC_DRAIN, &d));	/* bad flags */
	memset(&m, 0, sizeof(m));
	m.count = 1U << 21;
	e[n++] = err_of(ioctl(fd, HMMV_IOC_MIGRATE, &m));	/* too many */
	m.count = 2;
	m.target = 7;
	m.pages = (uintptr_t)idx;
	m.status = (uintptr_t)status;
	e[n++] = err_of(ioctl(fd, HMMV_IOC_MIGRATE, &m));	/* bad tier */
	m.target = HMMV_TIER_DRAM;
	m.max_recopies = 100;
	e[n++] = err_of(ioctl(fd, HMMV_IOC_MIGRATE, &m));	/* recopies */
	m.max_recopies = 1;
	m.pages = 16;
	e[n++] = err_of(ioctl(fd, HMMV_IOC_MIGRATE, &m));	/* bad pages */
	e[n++] = err_of(ioctl(fd, HMMV_IOC_MIGRATE, NULL));	/* no arg */
	e[n++] = err_of(ioctl(fd, _IO(HMMV_IOC_MAGIC, 0x7f)));	/* unknown */
	e[n++] = err_of(ioctl(fd, _IOR('x', 1, int), out));	/* other */
	m.pages = (uintptr_t)idx;
	k = ioctl(fd, HMMV_IOC_MIGRATE, &m);	/* per page: one bad index */
	ok = e[0] == EINVAL && e[1] == EINVAL && e[2] == EFAULT &&
	     e[3] == EFAULT && e[4] == EINVAL && e[5] == EINVAL &&
	     e[6] == EINVAL && e[7] == EINVAL && e[8] == EINVAL &&
	     e[9] == EINVAL && e[10] == EFAULT && e[11] == EFAULT &&
	     e[12] == ENOTTY && e[13] == ENOTTY && k == 0 &&
	     status[1] == -EINVAL && m.failed == 1;

	/* random arguments to every call, on a fresh control file */
	fresh = ctl_open();
	ioctl(fresh, HMMV_IOC_REGION_ATTACH, &(struct hmmv_region_name){
		"checks" });
	for (i = 0; i < 400; i++) {
		unsigned long cmd = cmds[i % ARRAY_SIZE(cmds)];

		for (k = 0; k < (int)sizeof(junk); k++)
			junk[k] = rnd();
		if (i % 3 == 0)	/* plausible pointers too */
			memcpy(junk + 16, &base, sizeof(base));
		if (cmd == HMMV_IOC_REGION_DESTROY || cmd == HMMV_IOC_HELLO)
			continue;
		ioctl(fresh, cmd, junk);
		fuzz_calls++;
	}
	close(fresh);
	/* the region still answers after all that */
	fuzz_ok = info_of(fd).pages == pages;

	begin("kmod-bad-ioctls");
	field("\"errnos\":[");
	for (i = 0; i < n; i++)
		len += snprintf(buf + len, sizeof(buf) - len, "%s%d",
				i ? "," : "", e[i]);
	len += snprintf(buf + len, sizeof(buf) - len, "]");
	field("\"perPageStatus\":[%d,%d],\"fuzzCalls\":%lu,\"regionOk\":%s",
	      status[0], status[1], fuzz_calls, fuzz_ok ? "true" : "false");
	end(ok && fuzz_ok);
	(void)name;
}

/* ---- regions: creation errors, mapping rules, independence, exit ------------------- */

static void check_create_errors(int fd, const char *dax, uint64_t dstart,
				uint64_t dsize)
{
	int e[12], n = 0, ok;
	char long_name[80];
	struct hmmv_region_create c;

	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = 0;
	e[n++] = err_of(create(fd, "", 4 * MIB, 0, NULL, 0, 0, 0, 0));
	e[n++] = err_of(create(fd, "a/b", 4 * MIB, 0, NULL, 0, 0, 0, 0));
	e[n++] = err_of(create(fd, "control", 4 * MIB, 0, NULL, 0, 0, 0, 0));
	memset(&c, 'a', sizeof(c));	/* name without a NUL */
	e[n++] = err_of(ioctl(fd, HMMV_IOC_REGION_CREATE, &c));
	e[n++] = err_of(create(fd, "x", 0, 0, NULL, 0, 0, 0, 0));
	e[n++] = err_of(create(fd, "x", 4 * MIB + PAGE, 0, NULL, 0, 0, 0, 0));
	e[n++] = err_of(create(fd, "x", 4 * MIB, 9, NULL, 0, 0, 0, 0));
	/* System RAM is not NVM */
	e[n++] = err_of(create(fd, "x", 4 * MIB, HMMV_NVM_DAX, "ram",
			       16 * MIB, 16 * MIB, 0, 0));
	/* misaligned devdax range */
	e[n++] = err_of(create(fd, "x", 4 * MIB, HMMV_NVM_DAX, dax,
			       dstart + PAGE, dsize - 2 * MIB, 0, 0));
	/* still bound to device_dax: the range is busy */
	e[n++] = err_of(create(fd, "x", 4 * MIB, HMMV_NVM_DAX, dax, dstart,
			       dsize, 0, 0));
	e[n++] = err_of(ioctl(fd, HMMV_IOC_REGION_CREATE, NULL));
	ok = e[0] == EINVAL && e[1] == EINVAL && e[2] == EINVAL &&
	     e[3] == EINVAL && e[4] == EINVAL && e[5] == EINVAL &&
	     e[6] == EINVAL && e[7] == ENODEV && e[8] == EINVAL &&
	     e[9] == EBUSY && e[10] == EFAULT;
	begin("kmod-create-errors");
	field("\"errnos\":[%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d]", e[0], e[1],
	      e[2], e[3], e[4], e[5], e[6], e[7], e[8], e[9], e[10]);
	end(ok);
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	int ok = fd >= 0 && write(fd, text, strlen(text)) ==
		 (ssize_t)strlen(text);

	if (fd >= 0)
		close(fd);
	return ok;
}

static uint64_t read_hex(const char *path)
{
	char text[64] = { 0 };
	int fd = open(path, O_RDONLY);

	if (fd < 0 || read(fd, text, sizeof(text) - 1) <= 0)
		return 0;
	close(fd);
	return strtoull(text, NULL, 0);
}

static void check_abi(void)
{
	struct hmmv_hello h = { .abi_version = 99 };
	struct hmmv_region_info info;
	int fd = open(HMMV_CONTROL_NODE, O_RDWR), e_before, e_abi, e_unattached;
	int ok_hello;
	struct stat st;
	pid_t child;
	int status = 0;

	e_before = err_of(ioctl(fd, HMMV_IOC_REGION_INFO, &info));
	e_abi = err_of(ioctl(fd, HMMV_IOC_HELLO, &h));
	ok_hello = h.abi_version == HMMV_ABI_VERSION;
	h.abi_version = HMMV_ABI_VERSION;
	ok_hello &= ioctl(fd, HMMV_IOC_HELLO, &h) == 0 &&
		    h.page_size == PAGE && h.log_entries == HMMV_LOG_ENTRIES;
	e_unattached = err_of(ioctl(fd, HMMV_IOC_REGION_INFO, &info));
	close(fd);
	stat(HMMV_CONTROL_NODE, &st);
	child = fork();
	if (child == 0) {
		/* nobody may not open the control device */
		if (setuid(65534))
			_exit(3);
		_exit(open(HMMV_CONTROL_NODE, O_RDWR) < 0 &&
		      errno == EACCES ? 0 : 1);
	}
	waitpid(child, &status, 0);
	begin("kmod-abi");
	field("\"beforeHello\":%d,\"otherAbi\":%d,\"moduleAbi\":%u", e_before,
	      e_abi, h.abi_version);
	field("\"unattached\":%d,\"mode\":\"%o\",\"nobodyRefused\":%s",
	      e_unattached, st.st_mode & 0777,
	      WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "true" :
	      "false");
	end(e_before == EPROTO && e_abi == EPROTONOSUPPORT && ok_hello &&
	    e_unattached == EBADFD && (st.st_mode & 0777) == 0600 &&
	    WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void check_mapping(int fd, const char *name, uint64_t size,
			  uint64_t dram_limit)
{
	char path[128];
	int rfd, e_private, e_size, e_offset, e_second, e_dup;
	off_t end_off;
	void *p, *q;
	struct hmmv_region_info i;
	uint32_t *nvm;
	uint64_t pages = size / PAGE, k, tier_ok = 1;

	snprintf(path, sizeof(path), HMMV_REGION_DIR "%s", name);
	rfd = open(path, O_RDWR);
	end_off = lseek(rfd, 0, SEEK_END);
	q = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, rfd, 0);
	e_private = q == MAP_FAILED ? errno : 0;
	q = mmap(NULL, size / 2, PROT_READ | PROT_WRITE, MAP_SHARED, rfd, 0);
	e_size = q == MAP_FAILED ? errno : 0;
	q = mmap(NULL, size - PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, rfd,
		 PAGE);
	e_offset = q == MAP_FAILED ? errno : 0;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, rfd, 0);
	q = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, rfd, 0);
	e_second = q == MAP_FAILED ? errno : 0;
	e_dup = err_of(create(fd, name, size, 0, NULL, 0, 0, 0, 0));
	close(rfd);
	/* first touch, in order: DRAM up to the limit, then NVM */
	for (k = 0; k < pages; k++)
		((volatile char *)p)[k * PAGE] = 1;
	i = info_of(fd);
	nvm = calloc(pages / 32 + 1, 4);
	bits(fd, HMMV_IOC_READ_TIERS, 0, pages, NULL, nvm, 0, NULL);
	for (k = 0; k < pages; k++)
		tier_ok &= bit(nvm, k) == (k >= dram_limit);
	begin("kmod-mapping");
	field("\"seekEnd\":%ld,\"private\":%d,\"partial\":%d,\"offset\":%d",
	      (long)end_off, e_private, e_size, e_offset);
	field("\"second\":%d,\"duplicateName\":%d", e_second, e_dup);
	field("\"dramPages\":%lu,\"nvmPages\":%lu,\"firstTouchInOrder\":%s",
	      i.dram_pages, i.nvm_pages, tier_ok ? "true" : "false");
	field("\"mapper\":%d,\"mapped\":%s", i.mapper_pid,
	      i.flags & HMMV_REGION_MAPPED ? "true" : "false");
	end(end_off == (off_t)size && e_private == EINVAL &&
	    e_size == EINVAL && e_offset == EINVAL && e_second == EBUSY &&
	    e_dup == EEXIST && i.dram_pages == dram_limit &&
	    i.nvm_pages == pages - dram_limit && tier_ok &&
	    i.mapper_pid == getpid() && p != MAP_FAILED);
	free(nvm);
}

static uint64_t checksum(const char *base, uint64_t pages)
{
	const uint64_t *w = (const uint64_t *)base;
	uint64_t i, s = 0;

	for (i = 0; i < pages * PAGE / 8; i++)
		s = s * 31 + w[i];
	return s;
}

/* Two regions, one process each side: what one does leaves the other be. */
static void check_exit_and_independence(int fd, char *base, uint64_t pages,
					const char *dax, uint64_t dstart,
					uint64_t dsize)
{
	uint64_t sum_before = checksum(base, pages), sum_after, sum_moved;
	uint64_t free_before, free_during = 0, free_after, free_killed;
	uint64_t src_pages;
	struct hmmv_region_info i2, i1_before = info_of(fd), i1_after;
	int fd2 = ctl_open(), pipefd[2], status, rc;
	uint64_t size2 = 16 * MIB, pages2 = size2 / PAGE;
	struct mig_totals t = { 0 };
	pid_t child;
	char c;

	rc = create(fd2, "exit-test", size2, HMMV_NVM_DAX, dax, dstart, dsize,
		    HMMV_FIRST_TOUCH_NVM, 0);
	free_before = source_free(fd, &src_pages, NULL);
	if (pipe(pipefd))
		exit(2);
	child = fork();
	if (child == 0) {
		char *p = map_region("exit-test", size2, NULL);
		uint64_t k;

		if (!p)
			_exit(2);
		for (k = 0; k < pages2; k++)
			p[k * PAGE] = (char)k;
		if (write(pipefd[1], "x", 1) != 1)
			_exit(2);
		pause();
		_exit(0);
	}
	if (read(pipefd[0], &c, 1) != 1)
		exit(2);
	free_during = source_free(fd, NULL, NULL);
	/* region 2 moves back and forth; region 1 must not notice */
	migrate_all(fd2, pages2, HMMV_TIER_DRAM, &t);
	migrate_all(fd2, pages2, HMMV_TIER_NVM, &t);
	kill(child, SIGKILL);	/* QEMU dying, not exiting nicely */
	waitpid(child, &status, 0);
	i2 = info_of(fd2);
	free_killed = source_free(fd, NULL, NULL);
	sum_after = checksum(base, pages);
	i1_after = info_of(fd);

	/* a manager that attaches and dies leaves the region alone */
	child = fork();
	if (child == 0) {
		int m = ctl_open();
		struct hmmv_region_name nm = { "exit-test" };

		ioctl(m, HMMV_IOC_REGION_ATTACH, &nm);
		_exit(0);
	}
	waitpid(child, &status, 0);
	sum_moved = checksum(base, pages);
	ioctl(fd2, HMMV_IOC_REGION_DESTROY, &(struct hmmv_region_name){
		"exit-test" });
	close(fd2);
	free_after = source_free(fd, NULL, NULL);

	begin("kmod-exit-frees");
	field("\"create\":%d,\"sourcePages\":%lu,\"freeBefore\":%lu", rc,
	      src_pages, free_before);
	field("\"freeWhileMapped\":%lu,\"freeAfterKill\":%lu,\"freeAfterDestroy\":%lu",
	      free_during, free_killed, free_after);
	field("\"region2Pages\":[%lu,%lu],\"region2Mapped\":%s",
	      i2.dram_pages, i2.nvm_pages,
	      i2.flags & HMMV_REGION_MAPPED ? "true" : "false");
	field("\"region2Moved\":%lu", t.moved);
	end(!rc && free_during == free_before - pages2 &&
	    free_killed == free_before && free_after == free_before &&
	    !i2.dram_pages && !i2.nvm_pages &&
	    !(i2.flags & HMMV_REGION_MAPPED) && t.moved == 2 * pages2);

	begin("kmod-independent-regions");
	field("\"checksumSame\":%s,\"afterManagerDied\":%s",
	      sum_after == sum_before ? "true" : "false",
	      sum_moved == sum_before ? "true" : "false");
	field("\"region1Pages\":[%lu,%lu]", i1_after.dram_pages,
	      i1_after.nvm_pages);
	end(sum_after == sum_before && sum_moved == sum_before &&
	    i1_after.dram_pages == i1_before.dram_pages &&
	    i1_after.nvm_pages == i1_before.nvm_pages);
}

static void check_unload(int fd, char *base, uint64_t size, int rfd,
			 const char *name)
{
	struct hmmv_region_name nm;
	uint32_t sources;
	int e_busy, e_busy_mapped, destroyed_flag, node_gone, e_after;
	struct hmmv_region_info i;
	struct stat st;
	char path[128];

	snprintf(nm.name, sizeof(nm.name), "%s", name);
	snprintf(path, sizeof(path), HMMV_REGION_DIR "%s", name);
	e_busy = err_of(syscall(SYS_delete_module, "hmmv", O_NONBLOCK));
	ioctl(fd, HMMV_IOC_REGION_DESTROY, &nm);
	node_gone = stat(path, &st) != 0;
	i = info_of(fd);
	destroyed_flag = !!(i.flags & HMMV_REGION_DESTROYED);
	e_busy_mapped = err_of(syscall(SYS_delete_module, "hmmv",
				       O_NONBLOCK));
	munmap(base, size);
	close(rfd);
	close(fd);
	fd = ctl_open();
	source_free(fd, NULL, &sources);
	close(fd);
	e_after = err_of(syscall(SYS_delete_module, "hmmv", O_NONBLOCK));
	begin("kmod-unload");
	field("\"rmmodWithRegion\":%d,\"rmmodWhileMapped\":%d", e_busy,
	      e_busy_mapped);
	field("\"nodeGone\":%s,\"destroyedFlag\":%s,\"sourcesLeft\":%u",
	      node_gone ? "true" : "false", destroyed_flag ? "true" : "false",
	      sources);
	field("\"rmmodAtEnd\":%d", e_after);
	end((e_busy == EWOULDBLOCK || e_busy == EBUSY) &&
	    (e_busy_mapped == EWOULDBLOCK || e_busy_mapped == EBUSY) &&
	    node_gone && destroyed_flag && sources == 0 && e_after == 0);
}

/* ---- bad calls: sizes, page indices, privileges ------------------------------------ */

/* A call number of this ABI with another size or direction than the header's. */
#define RESHAPED(dir, cmd, size) \
	_IOC((dir), HMMV_IOC_MAGIC, _IOC_NR(cmd), (size))

static const unsigned long every_call[] = {
	HMMV_IOC_HELLO, HMMV_IOC_SOURCES, HMMV_IOC_REGION_CREATE,
	HMMV_IOC_REGION_ATTACH, HMMV_IOC_REGION_DESTROY,
	HMMV_IOC_REGION_INFO, HMMV_IOC_READ_TIERS, HMMV_IOC_ACCESSED,
	HMMV_IOC_DIRTY, HMMV_IOC_WP_ARM, HMMV_IOC_DRAIN, HMMV_IOC_MIGRATE,
};

/*
 * Every call with a size 4 bytes short, 4 bytes long, 0, and with another
 * direction: ENOTTY (a caller built against another header), the region
 * untouched. A HELLO of another size is that error too, not "no HELLO yet",
 * and leaves the file without its handshake.
 */
static void check_bad_sizes(int fd)
{
	struct hmmv_region_info before = info_of(fd), after;
	int fresh, e_hello, e_after, e_nr, i, k, calls = 0, wrong = 0;
	unsigned char junk[1024];
	unsigned long cmd;

	memset(junk, 0, sizeof(junk));
	((struct hmmv_hello *)junk)->abi_version = HMMV_ABI_VERSION;
	fresh = open(HMMV_CONTROL_NODE, O_RDWR | O_CLOEXEC);
	e_hello = err_of(ioctl(fresh, RESHAPED(_IOC_READ | _IOC_WRITE,
					       HMMV_IOC_HELLO, 4), junk));
	e_after = err_of(ioctl(fresh, HMMV_IOC_REGION_INFO, junk));
	close(fresh);
	for (i = 0; i < (int)ARRAY_SIZE(every_call); i++) {
		unsigned int size = _IOC_SIZE(every_call[i]);
		unsigned int dir = _IOC_DIR(every_call[i]);
		unsigned long shapes[4] = {
			RESHAPED(dir, every_call[i], size - 4),
			RESHAPED(dir, every_call[i], size + 4),
			RESHAPED(dir, every_call[i], 0),
			RESHAPED(dir ^ _IOC_READ, every_call[i], size),
		};

		for (k = 0; k < 4; k++) {
			cmd = shapes[k];
			calls++;
			wrong += err_of(ioctl(fd, cmd, junk)) != ENOTTY;
		}
	}
	/* a number no ABI version has */
	e_nr = err_of(ioctl(fd, _IOWR(HMMV_IOC_MAGIC, 0x40,
				      struct hmmv_migrate), junk));
	after = info_of(fd);
	begin("kmod-bad-sizes");
	field("\"helloOtherSize\":%d,\"afterIt\":%d,\"unknownNumber\":%d",
	      e_hello, e_after, e_nr);
	field("\"calls\":%d,\"notEnotty\":%d,\"regionUnchanged\":%s", calls,
	      wrong, before.pages == after.pages &&
	      before.dram_pages == after.dram_pages &&
	      before.nvm_pages == after.nvm_pages &&
	      before.faults == after.faults ? "true" : "false");
	end(e_hello == ENOTTY && e_after == EPROTO && e_nr == ENOTTY &&
	    wrong == 0 && before.pages == after.pages &&
	    before.dram_pages == after.dram_pages &&
	    before.nvm_pages == after.nvm_pages);
}

/*
 * Page indices out of the region among good ones: each bad one fails alone
 * (-EINVAL), a page named twice moves once; ranges that overflow or end
 * past the region are refused whole; the pages moved keep their contents.
 */
static void check_bad_indices(int fd, char *base, uint64_t pages)
{
	uint32_t last = (uint32_t)pages - 1, out[64];
	uint32_t idx[6] = { UINT32_MAX, (uint32_t)pages, last, 5, 5, 1U << 31 };
	uint32_t home[2] = { 5, last };
	int32_t st[6], want[6] = { -EINVAL, -EINVAL, HMMV_MIG_MOVED,
				   HMMV_MIG_MOVED, HMMV_MIG_ALREADY, -EINVAL };
	uint64_t sum5 = checksum(base + 5 * PAGE, 1);
	uint64_t sum_last = checksum(base + last * PAGE, 1);
	struct hmmv_migrate m;
	struct hmmv_drain d;
	int e[8], n = 0, i, status_ok = 1, rc, rc_back;
	uint64_t empty = 99;

	memset(&m, 0, sizeof(m));
	m.pages = (uintptr_t)home;
	m.status = (uintptr_t)st;
	m.count = 2;
	m.max_recopies = 2;
	m.target = HMMV_TIER_DRAM;
	ioctl(fd, HMMV_IOC_MIGRATE, &m);	/* both in DRAM to start */
	m.pages = (uintptr_t)idx;
	m.count = 6;
	m.target = HMMV_TIER_NVM;
	rc = ioctl(fd, HMMV_IOC_MIGRATE, &m);
	for (i = 0; i < 6; i++)
		status_ok &= st[i] == want[i];
	status_ok &= m.moved == 2 && m.already == 1 && m.failed == 3;
	begin("kmod-bad-indices");
	field("\"status\":[%d,%d,%d,%d,%d,%d],\"moved\":%lu,\"already\":%lu,\"failed\":%lu",
	      st[0], st[1], st[2], st[3], st[4], st[5], m.moved, m.already,
	      m.failed);
	m.pages = (uintptr_t)home;
	m.count = 2;
	m.target = HMMV_TIER_DRAM;
	rc_back = ioctl(fd, HMMV_IOC_MIGRATE, &m);

	e[n++] = err_of(bits(fd, HMMV_IOC_ACCESSED, ~63ULL, 64, NULL, out, 0,
			     NULL));
	e[n++] = err_of(bits(fd, HMMV_IOC_ACCESSED, 0, ~0ULL, NULL, out, 0,
			     NULL));
	e[n++] = err_of(bits(fd, HMMV_IOC_WP_ARM, pages, ~0ULL - 63, NULL,
			     out, 0, NULL));
	e[n++] = err_of(bits(fd, HMMV_IOC_DIRTY, pages - 64, 128, NULL, out,
			     0, NULL));
	e[n++] = err_of(bits(fd, HMMV_IOC_ACCESSED, pages, 512, NULL, out,
			     HMMV_HUGE_SHIFT, NULL));
	/* an empty range at the end is a valid no-op */
	e[n++] = err_of(bits(fd, HMMV_IOC_READ_TIERS, pages, 0, NULL, out, 0,
			     &empty));
	memset(&d, 0, sizeof(d));
	d.max_threads = 4;	/* room for logs, no buffer */
	e[n++] = err_of(ioctl(fd, HMMV_IOC_DRAIN, &d));
	field("\"rangeErrnos\":[%d,%d,%d,%d,%d,%d,%d],\"emptyScanned\":%lu",
	      e[0], e[1], e[2], e[3], e[4], e[5], e[6], empty);
	field("\"contentsKept\":%s",
	      checksum(base + 5 * PAGE, 1) == sum5 &&
	      checksum(base + last * PAGE, 1) == sum_last ? "true" : "false");
	end(rc == 0 && status_ok && rc_back == 0 && e[0] == EINVAL &&
	    e[1] == EINVAL && e[2] == EINVAL && e[3] == EINVAL &&
	    e[4] == EINVAL && e[5] == 0 && empty == 0 && e[6] == EFAULT &&
	    checksum(base + 5 * PAGE, 1) == sum5 &&
	    checksum(base + last * PAGE, 1) == sum_last);
}

/* Root's capabilities without CAP_SYS_ADMIN. */
static int drop_sys_admin(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return -1;
	data[CAP_SYS_ADMIN / 32].effective &= ~(1U << (CAP_SYS_ADMIN % 32));
	return syscall(SYS_capset, &hdr, data);
}

/*
 * errno of open(@path) in a child that is nobody (@as_nobody) or root
 * without CAP_SYS_ADMIN; 0 if it opened, 200 if the set-up failed.
 */
static int open_errno_as(int as_nobody, const char *path)
{
	pid_t child = fork();
	int status = 0, fd;

	if (child == 0) {
		if (as_nobody ? setuid(65534) : drop_sys_admin())
			_exit(200);
		fd = open(path, O_RDWR);
		_exit(fd >= 0 ? 0 : errno);
	}
	waitpid(child, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

/*
 * The control device: root with CAP_SYS_ADMIN only (EACCES for nobody by
 * its mode, EPERM for root without the capability). A region's node: mode
 * 0600 keeps nobody out, and root without capabilities may open it: that
 * is QEMU as libvirt starts it (user root, capabilities cleared).
 */
static void check_unprivileged(const char *name)
{
	char path[160];
	int e_nobody, e_nocap, e_nobody_region, e_nocap_region;

	snprintf(path, sizeof(path), HMMV_REGION_DIR "%s", name);
	e_nobody = open_errno_as(1, HMMV_CONTROL_NODE);
	e_nocap = open_errno_as(0, HMMV_CONTROL_NODE);
	e_nobody_region = open_errno_as(1, path);
	e_nocap_region = open_errno_as(0, path);
	begin("kmod-unprivileged");
	field("\"nobodyControl\":%d,\"noCapControl\":%d", e_nobody, e_nocap);
	field("\"nobodyRegion\":%d,\"noCapRegion\":%d", e_nobody_region,
	      e_nocap_region);
	end(e_nobody == EACCES && e_nocap == EPERM &&
	    e_nobody_region == EACCES && e_nocap_region == 0);
}

static int run_checks(const char *dax)
{
	char path[160];
	uint64_t dstart, dsize, size = 32 * MIB, pages = size / PAGE;
	uint64_t dram_limit = pages / 4;
	int fd, rfd, rc;
	char *base;

	snprintf(path, sizeof(path), "/sys/bus/dax/devices/%s/resource", dax);
	dstart = read_hex(path);
	snprintf(path, sizeof(path), "/sys/bus/dax/devices/%s/size", dax);
	dsize = read_hex(path);
	check_abi();
	fd = ctl_open();
	check_create_errors(fd, dax, dstart, dsize);
	if (!write_file("/sys/bus/dax/drivers/device_dax/unbind", dax)) {
		begin("kmod-unbind");
		field("\"dax\":\"%s\",\"errno\":%d", dax, errno);
		end(0);
		return 1;
	}
	rc = create(fd, "checks", size, HMMV_NVM_DAX, dax, dstart, dsize,
		    HMMV_FIRST_TOUCH_DRAM_FIRST, dram_limit);
	begin("kmod-create");
	field("\"dax\":\"%s\",\"daxStart\":%lu,\"daxBytes\":%lu,\"rc\":%d",
	      dax, dstart, dsize, rc ? errno : 0);
	end(rc == 0);
	if (rc)
		return 1;
	check_mapping(fd, "checks", size, dram_limit);
	snprintf(path, sizeof(path), HMMV_REGION_DIR "checks");
	/* check_mapping left its mapping in place: find it again */
	rfd = open(path, O_RDWR);
	base = (char *)(uintptr_t)info_of(fd).map_start;
	check_migration(fd, base, pages);
	check_dirty_log(fd, base, pages);
	check_accessed(fd, base, pages);
	check_bad_calls(fd, base, pages, "checks");
	check_bad_sizes(fd);
	check_bad_indices(fd, base, pages);
	check_unprivileged("checks");
	check_exit_and_independence(fd, base, pages, dax, dstart, dsize);
	check_unload(fd, base, size, rfd, "checks");
	return failures ? 1 : 0;
}

static volatile sig_atomic_t verify_asked;

static void on_usr1(int sig)
{
	verify_asked = 1;
}

/*
 * The backend suite's stand-in for QEMU: map TARGET (a region name, or
 * "anon:PAGES" for anonymous memory in 4 KiB pages, what the linux backend
 * drives), write every page, then keep rewriting the HOT pages k * STRIDE
 * (the same contents: a page is always checkable). SIGUSR1 checks every page
 * and prints "HOLD verified BAD".
 */
static int hold(const char *target, int seconds, uint64_t hot,
		uint64_t stride)
{
	char path[128];
	uint64_t size, k, n = 0, bad, pages;
	char *p;
	time_t end;
	int fd;

	if (!strncmp(target, "anon:", 5)) {
		size = strtoull(target + 5, NULL, 0) * PAGE;
		p = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED)
			madvise(p, size, MADV_NOHUGEPAGE);
	} else {
		snprintf(path, sizeof(path), HMMV_REGION_DIR "%s", target);
		fd = open(path, O_RDWR);
		if (fd < 0)
			return 2;
		size = lseek(fd, 0, SEEK_END);
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	}
	if (p == MAP_FAILED)
		return 2;
	pages = size / PAGE;
	signal(SIGUSR1, on_usr1);
	if (!hot)
		hot = 1;
	if (!stride || hot * stride > pages)
		stride = 1;
	for (k = 0; k < pages; k++)
		fill_page((uint64_t *)(p + k * PAGE), k, 1);
	printf("HOLD ready %lu %lu\n", pages, (unsigned long)(uintptr_t)p);
	end = time(NULL) + seconds;
	while (time(NULL) < end) {
		k = (n++ % hot) * stride;
		fill_page((uint64_t *)(p + k * PAGE), k, 1);
		if (n % hot)
			continue;	/* a pause once per pass over the hot pages */
		if (verify_asked) {
			verify_asked = 0;
			for (bad = 0, k = 0; k < pages; k++)
				bad += !page_ok((uint64_t *)(p + k * PAGE), k, 1);
			printf("HOLD verified %lu\n", bad);
		}
		usleep(1000);
	}
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "checks"))
		return run_checks(argv[2]);
	if ((argc == 5 || argc == 6) && !strcmp(argv[1], "hold"))
		return hold(argv[2], atoi(argv[3]), strtoull(argv[4], NULL, 0),
			    argc == 6 ? strtoull(argv[5], NULL, 0) : 1);
	fprintf(stderr, "usage: kmod-check checks DAX | hold NAME|anon:PAGES SECONDS HOT [STRIDE]\n");
	return 2;
}
