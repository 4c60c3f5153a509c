// SPDX-License-Identifier: GPL-2.0
/*
 * Migration of a batch of pages between tiers while the guest runs, as
 * HMM-V does:
 *
 *   1. allocate the target frame; mark the page copying and unmap it, so
 *      its next write faults and sets copy_dirty (reads and writes go on,
 *      to the old frame);
 *   2. copy old -> new without any lock;
 *   3. switch under the page lock (faults on that page wait): unmap it
 *      again if it was mapped meanwhile, so no write can slip in; if
 *      copy_dirty is set the copy may be stale: unlock and copy again, at
 *      most max_recopies times, then give up (busy: the page stays where it
 *      is, its frame untouched); else point the frame word at the new frame.
 *
 * Only step 3 pauses the page; its time is measured per page. A write is
 * never lost: every write after step 1 goes through a fault that sets
 * copy_dirty, and step 3 checks it after the last unmap. Cost per page: one
 * 4 KiB copy (plus recopies), at most two zaps (TLB shootdowns).
 */
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "internal.h"

#define HMMV_MIGRATE_MAX	BIT(20)
#define HMMV_MIGRATE_CHUNK	256
#define HMMV_RECOPIES_MAX	16

static s32 hmmv_migrate_page(struct hmmv_region *r, u64 page, u32 target,
			     u32 max_recopies, struct hmmv_migrate *m)
{
	struct mutex *lock = hmmv_page_lock(r, page);
	u64 old, new, t0, pause;
	u32 tries;

	mutex_lock(lock);
	old = r->frames[page];
	if (!old) {
		mutex_unlock(lock);
		return -ENOENT;		/* never touched */
	}
	if (hmmv_frame_tier(old) == target) {
		mutex_unlock(lock);
		return HMMV_MIG_ALREADY;
	}
	new = hmmv_frame_alloc(r, target, false);
	if (!new) {
		mutex_unlock(lock);
		return -ENOSPC;		/* target tier full */
	}
	set_bit(page, r->copying);
	clear_bit(page, r->copy_dirty);
	if (test_and_clear_bit(page, r->mapped))
		hmmv_zap_page(r, page);
	mutex_unlock(lock);

	for (tries = 0;; tries++) {
		memcpy(hmmv_frame_kaddr(r, new), hmmv_frame_kaddr(r, old),
		       PAGE_SIZE);
		m->bytes_copied += PAGE_SIZE;

		mutex_lock(lock);
		t0 = ktime_get_ns();
		if (test_and_clear_bit(page, r->mapped))
			hmmv_zap_page(r, page);
		if (!test_and_clear_bit(page, r->copy_dirty))
			break;
		if (tries >= max_recopies) {
			clear_bit(page, r->copying);
			mutex_unlock(lock);
			hmmv_frame_free(r, new);
			return HMMV_MIG_BUSY;
		}
		mutex_unlock(lock);
		m->recopies++;
		cond_resched();
	}
	WRITE_ONCE(r->frames[page], new);
	clear_bit(page, r->copying);
	pause = ktime_get_ns() - t0;
	mutex_unlock(lock);
	hmmv_frame_free(r, old);
	m->pause_ns += pause;
	if (pause > m->max_pause_ns)
		m->max_pause_ns = pause;
	return HMMV_MIG_MOVED;
}

long hmmv_ioc_migrate(struct hmmv_region *r, struct hmmv_migrate *m)
{
	u32 __user *upages = u64_to_user_ptr(m->pages);
	s32 __user *ustatus = u64_to_user_ptr(m->status);
	u32 *pages;
	s32 *status;
	u32 done = 0;
	long ret = 0;

	if (m->count > HMMV_MIGRATE_MAX || m->flags ||
	    m->max_recopies > HMMV_RECOPIES_MAX ||
	    m->target > HMMV_TIER_NVM ||
	    (m->target == HMMV_TIER_NVM && r->nvm_kind == HMMV_NVM_NONE))
		return -EINVAL;
	if (m->count && (!upages || !ustatus))
		return -EFAULT;
	m->moved = 0;
	m->already = 0;
	m->busy = 0;
	m->failed = 0;
	m->bytes_copied = 0;
	m->recopies = 0;
	m->pause_ns = 0;
	m->max_pause_ns = 0;

	pages = kmalloc_array(HMMV_MIGRATE_CHUNK, sizeof(u32), GFP_KERNEL);
	status = kmalloc_array(HMMV_MIGRATE_CHUNK, sizeof(s32), GFP_KERNEL);
	if (!pages || !status) {
		ret = -ENOMEM;
		goto free;
	}
	while (done < m->count) {
		u32 n = min_t(u32, m->count - done, HMMV_MIGRATE_CHUNK), i;
		struct mm_struct *mm;

		if (copy_from_user(pages, upages + done, n * sizeof(u32))) {
			ret = -EFAULT;
			break;
		}
		mm = hmmv_region_enter(r);
		for (i = 0; i < n; i++) {
			if (pages[i] >= r->pages)
				status[i] = -EINVAL;
			else if (!mm)
				status[i] = -ENOENT;	/* not mapped */
			else if (fatal_signal_pending(current))
				status[i] = -EINTR;
			else
				status[i] = hmmv_migrate_page(r, pages[i],
							      m->target,
							      m->max_recopies,
							      m);
			if (status[i] == HMMV_MIG_MOVED)
				m->moved++;
			else if (status[i] == HMMV_MIG_ALREADY)
				m->already++;
			else if (status[i] == HMMV_MIG_BUSY)
				m->busy++;
			else
				m->failed++;
		}
		if (mm)
			hmmv_region_leave(mm);
		if (copy_to_user(ustatus + done, status, n * sizeof(s32))) {
			ret = -EFAULT;
			break;
		}
		done += n;
		cond_resched();
	}
free:
	kfree(pages);
	kfree(status);
	return ret;
}
