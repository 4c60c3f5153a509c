// SPDX-License-Identifier: GPL-2.0
/*
 * Regions: tiered guest RAM behind a device node /dev/hmmv/NAME. QEMU maps
 * it (memory-backend-file, share=on) as one VM_PFNMAP mapping of the whole
 * region; every page is backed by a DRAM page (alloc_pages_node on the DRAM
 * node) or an NVM frame (a devdax source or a NUMA node), chosen at its first
 * touch by the region's policy. The fault handler inserts the frame's PFN:
 * writable unless the page is write-armed (logging) or being copied, in which
 * case the write faults again through pfn_mkwrite. One mapping per region;
 * splitting, moving and fork copies are refused. Unmapping (QEMU exiting)
 * frees every frame; the region itself lives until HMMV_IOC_REGION_DESTROY
 * and the last file reference.
 */
#include <linux/bitmap.h>
#include <linux/ctype.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/nodemask.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "internal.h"

static LIST_HEAD(hmmv_regions);
static unsigned int hmmv_nr_regions;	/* under hmmv_lock */

static const struct file_operations hmmv_region_fops;

int hmmv_valid_name(const char *name, size_t size)
{
	size_t len = strnlen(name, size), i;

	if (len == 0 || len == size || name[0] == '.')
		return -EINVAL;
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!isalnum(c) && c != '_' && c != '-' && c != '.' && c != '+')
			return -EINVAL;
	}
	return strcmp(name, "control") ? 0 : -EINVAL;
}

struct mutex *hmmv_page_lock(struct hmmv_region *r, u64 page)
{
	return &r->page_locks[page & (HMMV_PAGE_LOCKS - 1)];
}

unsigned int hmmv_region_count(void)
{
	unsigned int n;

	mutex_lock(&hmmv_lock);
	n = hmmv_nr_regions;
	mutex_unlock(&hmmv_lock);
	return n;
}

/* ---- frames -------------------------------------------------------------- */

static u64 hmmv_node_alloc(int nid, bool zero, bool nvm)
{
	gfp_t gfp = GFP_KERNEL | __GFP_THISNODE | __GFP_NORETRY | __GFP_NOWARN;
	struct page *page;

	if (zero)
		gfp |= __GFP_ZERO;
	page = alloc_pages_node(nid, gfp, 0);
	if (!page)
		return 0;
	return page_to_pfn(page) | HMMV_FRAME_PRESENT |
	       (nvm ? HMMV_FRAME_NVM : 0);
}

/* A frame of @tier, or 0 when that tier is full (or absent). */
u64 hmmv_frame_alloc(struct hmmv_region *r, u32 tier, bool zero)
{
	unsigned long pfn;
	u64 frame = 0;

	if (tier == HMMV_TIER_DRAM) {
		frame = hmmv_node_alloc(r->dram_node, zero, false);
		if (frame)
			atomic64_inc(&r->dram_pages);
		return frame;
	}
	if (r->nvm_kind == HMMV_NVM_NODE) {
		frame = hmmv_node_alloc(r->nvm_node, zero, true);
	} else if (r->nvm_kind == HMMV_NVM_DAX) {
		pfn = hmmv_source_alloc(r->dax);
		if (pfn) {
			frame = pfn | HMMV_FRAME_PRESENT | HMMV_FRAME_NVM;
			if (zero)
				memset(hmmv_source_kaddr(r->dax, pfn), 0,
				       PAGE_SIZE);
		}
	}
	if (frame)
		atomic64_inc(&r->nvm_pages);
	return frame;
}

void hmmv_frame_free(struct hmmv_region *r, u64 frame)
{
	unsigned long pfn = hmmv_frame_pfn(frame);

	if (!(frame & HMMV_FRAME_PRESENT))
		return;
	if (hmmv_frame_tier(frame) == HMMV_TIER_DRAM) {
		atomic64_dec(&r->dram_pages);
		__free_page(pfn_to_page(pfn));
		return;
	}
	atomic64_dec(&r->nvm_pages);
	if (r->nvm_kind == HMMV_NVM_DAX)
		hmmv_source_free(r->dax, pfn);
	else
		__free_page(pfn_to_page(pfn));
}

void *hmmv_frame_kaddr(struct hmmv_region *r, u64 frame)
{
	unsigned long pfn = hmmv_frame_pfn(frame);

	if (hmmv_frame_tier(frame) == HMMV_TIER_NVM &&
	    r->nvm_kind == HMMV_NVM_DAX)
		return hmmv_source_kaddr(r->dax, pfn);
	return pfn_to_kaddr(pfn);
}

/* The frame a page gets at its first touch, by the region's policy. */
static u64 hmmv_first_touch(struct hmmv_region *r)
{
	bool has_nvm = r->nvm_kind != HMMV_NVM_NONE;
	u32 first = HMMV_TIER_DRAM;
	struct page *page;
	u64 frame;

	if (has_nvm && (r->first_touch == HMMV_FIRST_TOUCH_NVM ||
			(r->first_touch == HMMV_FIRST_TOUCH_DRAM_FIRST &&
			 atomic64_read(&r->dram_pages) >= r->dram_limit_pages)))
		first = HMMV_TIER_NVM;
	frame = hmmv_frame_alloc(r, first, true);
	if (!frame && has_nvm)
		frame = hmmv_frame_alloc(r, !first, true);
	if (frame)
		return frame;
	/* Both tiers full: any DRAM rather than failing the guest. */
	page = alloc_page(GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN);
	if (!page)
		return 0;
	atomic64_inc(&r->dram_pages);
	return page_to_pfn(page) | HMMV_FRAME_PRESENT;
}

/* Frees every frame and resets tracking: the mapping is gone. */
static void hmmv_region_reset(struct hmmv_region *r)
{
	u64 i;

	for (i = 0; i < r->pages; i++) {
		u64 frame = r->frames[i];

		if (frame) {
			WRITE_ONCE(r->frames[i], 0);
			hmmv_frame_free(r, frame);
		}
		if ((i & 4095) == 4095)
			cond_resched();
	}
	bitmap_fill(r->wp_armed, r->pages);
	bitmap_zero(r->written, r->pages);
	bitmap_zero(r->accessed, r->pages);
	bitmap_zero(r->mapped, r->pages);
	bitmap_zero(r->copying, r->pages);
	bitmap_zero(r->copy_dirty, r->pages);
	hmmv_logs_reset(r);
}

/* ---- the mapping ----------------------------------------------------------- */

/*
 * Enters the mapping process's mm for a control call: a reference and
 * mmap_lock for read, or NULL when the region is not mapped. Never copy
 * to or from user memory between enter and leave: the caller may be the
 * mapping process itself.
 */
struct mm_struct *hmmv_region_enter(struct hmmv_region *r)
{
	struct mm_struct *mm;

	spin_lock(&r->map_lock);
	mm = r->mm;
	if (mm && !mmget_not_zero(mm))
		mm = NULL;
	spin_unlock(&r->map_lock);
	if (!mm)
		return NULL;
	mmap_read_lock(mm);
	if (READ_ONCE(r->mm) != mm || !READ_ONCE(r->vma)) {
		mmap_read_unlock(mm);
		mmput(mm);
		return NULL;
	}
	return mm;
}

void hmmv_region_leave(struct mm_struct *mm)
{
	mmap_read_unlock(mm);
	mmput(mm);
}

static vm_fault_t hmmv_insert(struct vm_fault *vmf, struct hmmv_region *r,
			      u64 page, u64 frame, bool writable)
{
	struct vm_area_struct *vma = vmf->vma;
	unsigned long flags = vma->vm_flags;
	vm_fault_t ret;

	ret = vmf_insert_pfn_prot(vma, vmf->address, hmmv_frame_pfn(frame),
				  vm_get_page_prot(writable ? flags :
						   flags & ~VM_WRITE));
	set_bit(page, r->mapped);
	return ret;
}

static vm_fault_t hmmv_fault(struct vm_fault *vmf)
{
	struct hmmv_region *r = vmf->vma->vm_private_data;
	bool write = vmf->flags & FAULT_FLAG_WRITE;
	u64 page = vmf->pgoff;
	struct mutex *lock;
	vm_fault_t ret;
	bool writable;
	u64 frame;

	if (page >= r->pages)
		return VM_FAULT_SIGBUS;
	lock = hmmv_page_lock(r, page);
	mutex_lock(lock);
	atomic64_inc(&r->faults);
	frame = r->frames[page];
	if (!frame) {
		frame = hmmv_first_touch(r);
		if (!frame) {
			mutex_unlock(lock);
			return VM_FAULT_OOM;
		}
		WRITE_ONCE(r->frames[page], frame);
		atomic64_inc(&r->first_touches);
	}
	set_bit(page, r->accessed);
	if (write)
		hmmv_note_write(r, page);
	writable = write || (!test_bit(page, r->wp_armed) &&
			     !test_bit(page, r->copying));
	ret = hmmv_insert(vmf, r, page, frame, writable);
	mutex_unlock(lock);
	return ret;
}

/* A write to a present, write-protected page: note it, then let it write. */
static vm_fault_t hmmv_pfn_mkwrite(struct vm_fault *vmf)
{
	struct hmmv_region *r = vmf->vma->vm_private_data;
	u64 page = vmf->pgoff;
	struct mutex *lock;

	if (page >= r->pages)
		return VM_FAULT_SIGBUS;
	lock = hmmv_page_lock(r, page);
	mutex_lock(lock);
	atomic64_inc(&r->faults);
	set_bit(page, r->accessed);
	hmmv_note_write(r, page);
	mutex_unlock(lock);
	return 0;
}

static void hmmv_vm_close(struct vm_area_struct *vma)
{
	struct hmmv_region *r = vma->vm_private_data;
	struct mm_struct *mm;

	spin_lock(&r->map_lock);
	if (r->vma != vma) {
		spin_unlock(&r->map_lock);
		return;
	}
	mm = r->mm;
	WRITE_ONCE(r->vma, NULL);
	WRITE_ONCE(r->mm, NULL);
	r->mapper = 0;
	r->map_start = 0;
	spin_unlock(&r->map_lock);
	hmmv_region_reset(r);
	mmdrop(mm);
}

static int hmmv_may_split(struct vm_area_struct *vma, unsigned long addr)
{
	return -EINVAL;
}

static int hmmv_mremap(struct vm_area_struct *vma)
{
	return -EINVAL;
}

static const struct vm_operations_struct hmmv_vm_ops = {
	.close = hmmv_vm_close,
	.may_split = hmmv_may_split,
	.mremap = hmmv_mremap,
	.fault = hmmv_fault,
	.pfn_mkwrite = hmmv_pfn_mkwrite,
};

static int hmmv_region_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct hmmv_region *r = file->private_data;
	unsigned long len = vma->vm_end - vma->vm_start;
	int ret = 0;

	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;	/* guest RAM must be share=on */
	if (vma->vm_pgoff || len != r->pages << PAGE_SHIFT)
		return -EINVAL;	/* one mapping of the whole region */
	spin_lock(&r->map_lock);
	if (r->vma) {
		ret = -EBUSY;
	} else {
		vm_flags_set(vma, VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP |
			     VM_DONTCOPY);
		vma->vm_ops = &hmmv_vm_ops;
		vma->vm_private_data = r;
		mmgrab(vma->vm_mm);
		r->mm = vma->vm_mm;
		r->vma = vma;
		r->mapper = current->tgid;
		r->map_start = vma->vm_start;
	}
	spin_unlock(&r->map_lock);
	return ret;
}

static int hmmv_region_open(struct inode *inode, struct file *file)
{
	struct miscdevice *misc = file->private_data;
	struct hmmv_region *r = container_of(misc, struct hmmv_region, misc);

	kref_get(&r->kref);
	file->private_data = r;
	return 0;
}

static int hmmv_region_release(struct inode *inode, struct file *file)
{
	hmmv_region_put(file->private_data);
	return 0;
}

static loff_t hmmv_region_llseek(struct file *file, loff_t off, int whence)
{
	struct hmmv_region *r = file->private_data;

	/* QEMU checks the size of a mem-path with lseek(SEEK_END). */
	return fixed_size_llseek(file, off, whence, r->pages << PAGE_SHIFT);
}

static const struct file_operations hmmv_region_fops = {
	.owner = THIS_MODULE,
	.open = hmmv_region_open,
	.release = hmmv_region_release,
	.mmap = hmmv_region_mmap,
	.llseek = hmmv_region_llseek,
};

/* ---- life cycle ---------------------------------------------------------------- */

static void hmmv_region_free(struct kref *kref)
{
	struct hmmv_region *r = container_of(kref, struct hmmv_region, kref);

	WARN_ON_ONCE(r->vma);
	if (r->dax)
		hmmv_source_put(r->dax);
	kfree(r->misc.name);
	kfree(r->misc.nodename);
	kvfree(r->frames);
	kvfree(r->wp_armed);
	kvfree(r->written);
	kvfree(r->accessed);
	kvfree(r->mapped);
	kvfree(r->copying);
	kvfree(r->copy_dirty);
	kvfree(r->scratch);
	kvfree(r->logs);
	kvfree(r->drain_pages);
	kvfree(r->drain_threads);
	kfree(r);
	module_put(THIS_MODULE);
}

void hmmv_region_put(struct hmmv_region *r)
{
	kref_put(&r->kref, hmmv_region_free);
}

static unsigned long *hmmv_bitmap(u64 bits)
{
	return kvcalloc(BITS_TO_LONGS(bits), sizeof(long), GFP_KERNEL);
}

static int hmmv_check_node(int nid)
{
	if (nid < 0 || nid >= MAX_NUMNODES || !node_online(nid) ||
	    !node_state(nid, N_MEMORY))
		return -EINVAL;
	return 0;
}

static int hmmv_check_create(const struct hmmv_region_create *c)
{
	if (hmmv_valid_name(c->name, sizeof(c->name)))
		return -EINVAL;
	if (!c->size || !IS_ALIGNED(c->size, SZ_2M) ||
	    (c->size >> PAGE_SHIFT) > U32_MAX)
		return -EINVAL;
	if (c->first_touch > HMMV_FIRST_TOUCH_NVM || c->nvm_kind > HMMV_NVM_DAX)
		return -EINVAL;
	if (c->dram_node != -1 && hmmv_check_node(c->dram_node))
		return -EINVAL;
	if (c->nvm_kind == HMMV_NVM_NODE &&
	    (hmmv_check_node(c->nvm_node) || c->nvm_node == c->dram_node))
		return -EINVAL;
	return 0;
}

static struct hmmv_region *hmmv_region_alloc(const struct hmmv_region_create *c)
{
	struct hmmv_region *r;
	u64 pages = c->size >> PAGE_SHIFT;
	int i;

	r = kzalloc(sizeof(*r), GFP_KERNEL);
	if (!r)
		return NULL;
	kref_init(&r->kref);
	memcpy(r->name, c->name, sizeof(r->name));
	r->pages = pages;
	r->dram_node = c->dram_node == -1 ? numa_mem_id() : c->dram_node;
	r->nvm_kind = c->nvm_kind;
	r->nvm_node = c->nvm_kind == HMMV_NVM_NODE ? c->nvm_node : NUMA_NO_NODE;
	r->first_touch = c->first_touch;
	r->dram_limit_pages = c->dram_limit_pages;
	for (i = 0; i < HMMV_PAGE_LOCKS; i++)
		mutex_init(&r->page_locks[i]);
	mutex_init(&r->ctl_mutex);
	mutex_init(&r->mig_mutex);
	spin_lock_init(&r->map_lock);
	spin_lock_init(&r->log_lock);
	r->frames = kvcalloc(pages, sizeof(u64), GFP_KERNEL);
	r->wp_armed = hmmv_bitmap(pages);
	r->written = hmmv_bitmap(pages);
	r->accessed = hmmv_bitmap(pages);
	r->mapped = hmmv_bitmap(pages);
	r->copying = hmmv_bitmap(pages);
	r->copy_dirty = hmmv_bitmap(pages);
	r->scratch = hmmv_bitmap(pages);
	r->logs = kvcalloc(HMMV_MAX_THREADS, sizeof(*r->logs), GFP_KERNEL);
	r->drain_pages = kvcalloc(HMMV_MAX_THREADS * HMMV_LOG_ENTRIES,
				  sizeof(u32), GFP_KERNEL);
	r->drain_threads = kvcalloc(HMMV_MAX_THREADS,
				    sizeof(*r->drain_threads), GFP_KERNEL);
	r->misc.minor = MISC_DYNAMIC_MINOR;
	r->misc.fops = &hmmv_region_fops;
	r->misc.mode = 0600;
	r->misc.name = kasprintf(GFP_KERNEL, "hmmv-%s", c->name);
	r->misc.nodename = kasprintf(GFP_KERNEL, "hmmv/%s", c->name);
	__module_get(THIS_MODULE);
	if (!r->frames || !r->wp_armed || !r->written || !r->accessed ||
	    !r->mapped || !r->copying || !r->copy_dirty || !r->scratch ||
	    !r->logs || !r->drain_pages || !r->drain_threads ||
	    !r->misc.name || !r->misc.nodename) {
		hmmv_region_put(r);
		return NULL;
	}
	bitmap_fill(r->wp_armed, pages);
	return r;
}

/* Creates a region; *out holds a reference for the caller. */
int hmmv_region_create(const struct hmmv_region_create *c,
		       struct hmmv_region **out)
{
	struct hmmv_region *r, *other;
	int ret;

	ret = hmmv_check_create(c);
	if (ret)
		return ret;
	r = hmmv_region_alloc(c);
	if (!r)
		return -ENOMEM;
	if (r->nvm_kind == HMMV_NVM_NODE && r->nvm_node == r->dram_node) {
		hmmv_region_put(r);
		return -EINVAL;
	}

	mutex_lock(&hmmv_lock);
	list_for_each_entry(other, &hmmv_regions, node) {
		if (!strcmp(other->name, r->name)) {
			ret = -EEXIST;
			goto unlock;
		}
	}
	if (c->nvm_kind == HMMV_NVM_DAX) {
		ret = hmmv_source_get(c, &r->dax);
		if (ret)
			goto unlock;
	}
	ret = misc_register(&r->misc);
	if (ret)
		goto unlock;
	list_add(&r->node, &hmmv_regions);
	hmmv_nr_regions++;
	kref_get(&r->kref);	/* the caller's */
	*out = r;
unlock:
	mutex_unlock(&hmmv_lock);
	if (ret)
		hmmv_region_put(r);	/* drops the source too */
	return ret;
}

/* A live region by name, with a reference, or NULL. */
struct hmmv_region *hmmv_region_find(const char *name)
{
	struct hmmv_region *r, *found = NULL;

	mutex_lock(&hmmv_lock);
	list_for_each_entry(r, &hmmv_regions, node) {
		if (!strcmp(r->name, name)) {
			kref_get(&r->kref);
			found = r;
			break;
		}
	}
	mutex_unlock(&hmmv_lock);
	return found;
}

/*
 * Removes the device node and the list's reference. A mapping keeps the
 * region (and its pages) until it goes; then everything is freed.
 */
int hmmv_region_destroy(const char *name)
{
	struct hmmv_region *r, *found = NULL;

	mutex_lock(&hmmv_lock);
	list_for_each_entry(r, &hmmv_regions, node) {
		if (!strcmp(r->name, name)) {
			found = r;
			list_del(&r->node);
			r->destroyed = true;
			hmmv_nr_regions--;
			break;
		}
	}
	mutex_unlock(&hmmv_lock);
	if (!found)
		return -ENOENT;
	misc_deregister(&found->misc);
	hmmv_region_put(found);
	return 0;
}

void hmmv_region_info(struct hmmv_region *r, struct hmmv_region_info *info)
{
	unsigned int i;

	memset(info, 0, sizeof(*info));
	memcpy(info->name, r->name, sizeof(info->name));
	info->pages = r->pages;
	info->size = r->pages << PAGE_SHIFT;
	info->dram_pages = atomic64_read(&r->dram_pages);
	info->nvm_pages = atomic64_read(&r->nvm_pages);
	info->dram_limit_pages = r->dram_limit_pages;
	info->faults = atomic64_read(&r->faults);
	info->first_touches = atomic64_read(&r->first_touches);
	info->write_faults = atomic64_read(&r->write_faults);
	info->log_full = atomic64_read(&r->log_full_total);
	info->dram_node = r->dram_node;
	info->nvm_node = r->nvm_node;
	info->nvm_kind = r->nvm_kind;
	info->first_touch = r->first_touch;
	spin_lock(&r->map_lock);
	if (r->vma) {
		info->flags |= HMMV_REGION_MAPPED;
		info->mapper_pid = r->mapper;
		info->map_start = r->map_start;
	}
	spin_unlock(&r->map_lock);
	mutex_lock(&hmmv_lock);
	if (r->destroyed)
		info->flags |= HMMV_REGION_DESTROYED;
	mutex_unlock(&hmmv_lock);
	spin_lock_irq(&r->log_lock);
	for (i = 0; i < HMMV_MAX_THREADS; i++)
		info->threads += r->logs[i].tid != 0;
	spin_unlock_irq(&r->log_lock);
}
