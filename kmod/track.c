// SPDX-License-Identifier: GPL-2.0
/*
 * Access and write tracking, from faults only: what the module reports is
 * what it saw fault, so it holds under KVM too, where guest accesses go
 * through EPT and never set the host PTE's accessed or dirty bits.
 *
 * Accessed: a page's bit is set by every fault on it. Test-and-clear reads
 * and clears the bits of a scan set and unmaps (zap_vma_ptes: MMU notifiers,
 * so KVM drops its EPT entry, and a TLB shootdown) the pages that may be
 * mapped, so the next access faults and sets the bit again. Per 2 MiB unit
 * the same runs over whole units. Cost: O(scan / 64) word operations, one
 * zap per run of mapped pages, one minor fault per page touched afterwards.
 *
 * Writes: a write-armed page is mapped read-only; its first write faults
 * (fault or pfn_mkwrite), is appended to the faulting thread's log of
 * HMMV_LOG_ENTRIES (as a vCPU's PML buffer) and disarms the page. A full log
 * sets its overflow flag; the write is still recorded in the written bitmap,
 * which HMMV_IOC_DIRTY scans exactly. hmmv_log_append() takes any key and
 * page and runs with interrupts off, so a kprobe on KVM's
 * mark_page_dirty_in_slot (keyed by vCPU) could feed the same logs.
 */
#include <linux/atomic.h>
#include <linux/bitmap.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "internal.h"

#define HMMV_CHUNK_BITS	32768	/* bits per copied bitmap chunk: 4 KiB */

void hmmv_log_append(struct hmmv_region *r, u32 key, u32 page)
{
	struct hmmv_log *log = NULL, *free = NULL;
	unsigned long flags;
	int i;

	spin_lock_irqsave(&r->log_lock, flags);
	for (i = 0; i < HMMV_MAX_THREADS - 1; i++) {
		if (r->logs[i].tid == key) {
			log = &r->logs[i];
			break;
		}
		if (!free && !r->logs[i].tid)
			free = &r->logs[i];
	}
	if (!log && free) {
		log = free;
		log->tid = key;
	}
	if (!log)
		log = &r->logs[HMMV_MAX_THREADS - 1];	/* shared, tid 0 */
	if (log->count < HMMV_LOG_ENTRIES) {
		log->entries[log->count++] = page;
	} else {
		log->flags |= HMMV_LOG_OVERFLOW;
		r->log_full++;
		atomic64_inc(&r->log_full_total);
	}
	spin_unlock_irqrestore(&r->log_lock, flags);
}

void hmmv_logs_reset(struct hmmv_region *r)
{
	unsigned long flags;

	spin_lock_irqsave(&r->log_lock, flags);
	memset(r->logs, 0, HMMV_MAX_THREADS * sizeof(*r->logs));
	r->log_full = 0;
	spin_unlock_irqrestore(&r->log_lock, flags);
}

/* A write fault on @page (page lock held). */
void hmmv_note_write(struct hmmv_region *r, u64 page)
{
	atomic64_inc(&r->write_faults);
	set_bit(page, r->written);
	if (test_bit(page, r->copying))
		set_bit(page, r->copy_dirty);
	if (test_and_clear_bit(page, r->wp_armed))
		hmmv_log_append(r, current->pid, page);
}

/* Unmaps pages [first, first + count); mmap_lock held (hmmv_region_enter). */
void hmmv_zap(struct hmmv_region *r, u64 first, u64 count)
{
	zap_vma_ptes(r->vma, r->map_start + (first << PAGE_SHIFT),
		     count << PAGE_SHIFT);
}

void hmmv_zap_page(struct hmmv_region *r, u64 page)
{
	hmmv_zap(r, page, 1);
}

/* Zaps each run of set bits of @bits: bit i is unit @base + i of 1 << @shift pages. */
static void hmmv_zap_bits(struct hmmv_region *r, const unsigned long *bits,
			  u64 base, unsigned long n, unsigned int shift)
{
	unsigned long start = find_first_bit(bits, n), end;

	while (start < n) {
		end = find_next_zero_bit(bits, n, start);
		hmmv_zap(r, (base + start) << shift,
			 (u64)(end - start) << shift);
		start = find_next_bit(bits, n, end);
	}
}

static long hmmv_fetch_andnot(unsigned long *word, unsigned long mask)
{
	return atomic_long_fetch_andnot(mask, (atomic_long_t *)word);
}

static long hmmv_fetch_or(unsigned long *word, unsigned long mask)
{
	return atomic_long_fetch_or(mask, (atomic_long_t *)word);
}

/*
 * One chunk of a page-bits call over whole words: @in and @out hold @n
 * bits for region words from @word. Fills @zap with the pages to unmap.
 */
static u64 hmmv_bits_words(struct hmmv_region *r, unsigned int cmd,
			   u64 word, const unsigned long *in,
			   unsigned long *out, unsigned long *zap,
			   unsigned long n)
{
	unsigned long w, words = BITS_TO_LONGS(n);
	u64 scanned = 0;

	for (w = 0; w < words; w++) {
		unsigned long mask = in[w], hit = 0, *m;

		if (w == words - 1 && n % BITS_PER_LONG)
			mask &= BIT(n % BITS_PER_LONG) - 1;
		if (!mask)
			continue;
		scanned += hweight_long(mask);
		m = &r->mapped[word + w];
		switch (cmd) {
		case HMMV_IOC_ACCESSED:
			hit = hmmv_fetch_andnot(&r->accessed[word + w], mask);
			hit &= mask;
			zap[w] = hmmv_fetch_andnot(m, mask) & mask;
			break;
		case HMMV_IOC_DIRTY:
			hit = hmmv_fetch_andnot(&r->written[word + w], mask);
			hit &= mask;
			hmmv_fetch_or(&r->wp_armed[word + w], hit);
			zap[w] = hmmv_fetch_andnot(m, hit) & hit;
			break;
		case HMMV_IOC_WP_ARM:
			hit = ~hmmv_fetch_or(&r->wp_armed[word + w], mask);
			hit &= mask;
			zap[w] = hmmv_fetch_andnot(m, hit) & hit;
			break;
		}
		out[w] = hit;
	}
	return scanned;
}

/* The same per 2 MiB unit: bit u of @in / @out is unit @unit + u. */
static u64 hmmv_bits_units(struct hmmv_region *r, unsigned int cmd,
			   u64 unit, const unsigned long *in,
			   unsigned long *out, unsigned long *zap,
			   unsigned long n)
{
	const unsigned int wpu = (1 << HMMV_HUGE_SHIFT) / BITS_PER_LONG;
	unsigned long u, w;
	u64 scanned = 0;

	for_each_set_bit(u, in, n) {
		u64 base = (unit + u) * wpu;
		unsigned long any = 0, mapped = 0;

		scanned++;
		for (w = 0; w < wpu; w++) {
			unsigned long *m = &r->mapped[base + w];
			unsigned long old;

			switch (cmd) {
			case HMMV_IOC_ACCESSED:
				any |= hmmv_fetch_andnot(&r->accessed[base + w],
							 ~0UL);
				mapped |= hmmv_fetch_andnot(m, ~0UL);
				break;
			case HMMV_IOC_DIRTY:
				old = hmmv_fetch_andnot(&r->written[base + w],
							~0UL);
				hmmv_fetch_or(&r->wp_armed[base + w], old);
				any |= old;
				mapped |= hmmv_fetch_andnot(m, old) & old;
				break;
			case HMMV_IOC_WP_ARM:
				old = ~hmmv_fetch_or(&r->wp_armed[base + w],
						     ~0UL);
				any |= old;
				mapped |= hmmv_fetch_andnot(m, old) & old;
				break;
			}
		}
		if (any)
			__set_bit(u, out);
		if (mapped)
			__set_bit(u, zap);
	}
	return scanned;
}

static void hmmv_read_tiers(struct hmmv_region *r, u64 first,
			    unsigned int shift, bool present,
			    unsigned long *out, unsigned long n)
{
	unsigned long u;
	u64 p, end;

	for (u = 0; u < n; u++) {
		p = first + ((u64)u << shift);
		end = p + (1ULL << shift);
		for (; p < end; p++) {
			u64 frame = READ_ONCE(r->frames[p]);

			if (frame && (present || (frame & HMMV_FRAME_NVM))) {
				__set_bit(u, out);
				break;
			}
		}
	}
}

long hmmv_ioc_bits(struct hmmv_region *r, unsigned int cmd,
		   struct hmmv_page_bits *b)
{
	void __user *uin = u64_to_user_ptr(b->in);
	void __user *uout = u64_to_user_ptr(b->out);
	unsigned int shift = b->unit_shift;
	unsigned long *in, *out, *zap;
	u64 units, done = 0, scanned = 0;
	long ret = 0;

	if (shift != 0 && shift != HMMV_HUGE_SHIFT)
		return -EINVAL;
	if (b->flags & ~HMMV_TIERS_PRESENT ||
	    (b->flags && cmd != HMMV_IOC_READ_TIERS))
		return -EINVAL;
	/* Whole words of the region's bitmaps: first is 64-page aligned. */
	if (!IS_ALIGNED(b->first, BITS_PER_LONG << shift) ||
	    !IS_ALIGNED(b->count, 1ULL << shift) ||
	    b->first > r->pages || b->count > r->pages - b->first)
		return -EINVAL;
	if (!b->out)
		return -EFAULT;
	units = b->count >> shift;

	in = kmalloc(HMMV_CHUNK_BITS / 8, GFP_KERNEL);
	out = kmalloc(HMMV_CHUNK_BITS / 8, GFP_KERNEL);
	zap = kmalloc(HMMV_CHUNK_BITS / 8, GFP_KERNEL);
	if (!in || !out || !zap) {
		ret = -ENOMEM;
		goto free;
	}
	while (done < units) {
		unsigned long n = min_t(u64, units - done, HMMV_CHUNK_BITS);
		size_t bytes = DIV_ROUND_UP(n, 32) * 4;
		u64 first_unit = (b->first >> shift) + done;
		struct mm_struct *mm;

		memset(in, 0, HMMV_CHUNK_BITS / 8);
		memset(out, 0, HMMV_CHUNK_BITS / 8);
		memset(zap, 0, HMMV_CHUNK_BITS / 8);
		if (!uin) {
			bitmap_fill(in, n);
		} else if (copy_from_user(in, uin + done / 8, bytes)) {
			ret = -EFAULT;
			break;
		}
		if (cmd == HMMV_IOC_READ_TIERS) {
			hmmv_read_tiers(r, first_unit << shift, shift,
					b->flags & HMMV_TIERS_PRESENT, out, n);
			scanned += bitmap_weight(in, n);
		} else {
			mm = hmmv_region_enter(r);
			if (mm) {
				if (shift)
					scanned += hmmv_bits_units(r, cmd,
								   first_unit,
								   in, out,
								   zap, n);
				else
					scanned += hmmv_bits_words(r, cmd,
								   first_unit /
								   BITS_PER_LONG,
								   in, out,
								   zap, n);
				hmmv_zap_bits(r, zap, first_unit, n, shift);
				hmmv_region_leave(mm);
			} else {
				scanned += bitmap_weight(in, n);
			}
		}
		if (copy_to_user(uout + done / 8, out, bytes)) {
			ret = -EFAULT;
			break;
		}
		done += n;
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		cond_resched();
	}
	b->result = scanned;
free:
	kfree(in);
	kfree(out);
	kfree(zap);
	return ret;
}

/*
 * Drains every thread's log into the caller's buffers and, with
 * HMMV_DRAIN_REARM, write-protects the drained pages again and clears their
 * written bits (HMMV_IOC_DIRTY then reports only what the logs missed). A
 * log without entries for two drains frees its slot for another thread.
 */
long hmmv_ioc_drain(struct hmmv_region *r, struct hmmv_drain *d)
{
	u32 n = 0, nt = 0, overflow = 0, full, i, j;
	struct mm_struct *mm;
	unsigned long flags;

	if (d->flags & ~HMMV_DRAIN_REARM)
		return -EINVAL;
	if ((d->max_pages && !d->pages) || (d->max_threads && !d->threads))
		return -EFAULT;

	spin_lock_irqsave(&r->log_lock, flags);
	for (i = 0; i < HMMV_MAX_THREADS; i++) {
		struct hmmv_log *log = &r->logs[i];

		if (!log->count && !log->flags) {
			if (i < HMMV_MAX_THREADS - 1 && log->tid &&
			    ++log->idle_drains >= 2) {
				log->tid = 0;
				log->idle_drains = 0;
			}
			continue;
		}
		log->idle_drains = 0;
		if (nt < d->max_threads && n + log->count <= d->max_pages) {
			struct hmmv_thread_log *t = &r->drain_threads[nt++];

			t->tid = log->tid;
			t->count = log->count;
			t->flags = log->flags;
			t->offset = n;
			memcpy(&r->drain_pages[n], log->entries,
			       log->count * sizeof(u32));
			n += log->count;
		} else {
			overflow = HMMV_LOG_OVERFLOW;
		}
		overflow |= log->flags;
		log->count = 0;
		log->flags = 0;
	}
	full = r->log_full;
	r->log_full = 0;
	spin_unlock_irqrestore(&r->log_lock, flags);

	if (d->flags & HMMV_DRAIN_REARM && n) {
		mm = hmmv_region_enter(r);
		if (mm) {
			for (j = 0; j < n; j++) {
				u32 p = r->drain_pages[j];

				if (p >= r->pages)
					continue;
				/* Reported now: the full scan skips it. */
				clear_bit(p, r->written);
				if (!test_and_set_bit(p, r->wp_armed) &&
				    test_and_clear_bit(p, r->mapped))
					__set_bit(p, r->scratch);
			}
			hmmv_zap_bits(r, r->scratch, 0, r->pages, 0);
			for (j = 0; j < n; j++)
				if (r->drain_pages[j] < r->pages)
					__clear_bit(r->drain_pages[j],
						    r->scratch);
			hmmv_region_leave(mm);
		}
	}

	if (copy_to_user(u64_to_user_ptr(d->pages), r->drain_pages,
			 n * sizeof(u32)) ||
	    copy_to_user(u64_to_user_ptr(d->threads), r->drain_threads,
			 nt * sizeof(struct hmmv_thread_log)))
		return -EFAULT;
	d->count = n;
	d->nthreads = nt;
	d->flags = overflow;
	d->full = full;
	return 0;
}
