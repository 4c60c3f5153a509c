/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmmv.ko internals: regions of tiered guest RAM, their page frames, write
 * logs and tracking bitmaps. Locking, outermost first:
 *
 *   hmmv_lock		region and source lists, create and destroy
 *   region->ctl_mutex	one drain at a time (scratch, drain buffers);
 *   region->mig_mutex	one migration at a time; accessed and dirty
 *			calls need neither (atomic bit operations)
 *   mm->mmap_lock	(read) control calls that zap PTEs, copy or free
 *			frames; the fault path holds it too; the mapping's
 *			close holds it for write, so it never runs beside them
 *   page lock		one of HMMV_PAGE_LOCKS mutexes by page index: the
 *			fault path and the migration switch of that page
 *   map_lock, log_lock, source->lock	spinlocks, innermost
 *
 * Per page the region keeps a frame word (PFN, tier, present) and six bits:
 * wp_armed (the next write faults and is logged), written (a write fault
 * since the last re-arm), accessed (a fault since the last test-and-clear),
 * mapped (a PTE may exist), copying and copy_dirty (migration in progress and
 * a write fault during its copy). About 8.8 bytes per 4 KiB page.
 */
#ifndef HMMV_INTERNAL_H
#define HMMV_INTERNAL_H

#include <linux/kref.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/mm_types.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>

#include "uapi/hmmv.h"

#define HMMV_PAGE_LOCKS		64

/* Frame word: 0 when not present. */
#define HMMV_FRAME_PRESENT	BIT_ULL(63)
#define HMMV_FRAME_NVM		BIT_ULL(62)
#define HMMV_FRAME_PFN_MASK	(BIT_ULL(52) - 1)

static inline unsigned long hmmv_frame_pfn(u64 frame)
{
	return frame & HMMV_FRAME_PFN_MASK;
}

static inline u32 hmmv_frame_tier(u64 frame)
{
	return (frame & HMMV_FRAME_NVM) ? HMMV_TIER_NVM : HMMV_TIER_DRAM;
}

/* A devdax range the module claimed: NVM the kernel's allocator never sees. */
struct hmmv_source {
	struct list_head node;		/* hmmv_sources, under hmmv_lock */
	char name[HMMV_SOURCE_NAME_MAX];
	char claim[HMMV_SOURCE_NAME_MAX + 8];	/* "hmmv:NAME" in /proc/iomem */
	phys_addr_t start;
	u64 pages;
	unsigned long base_pfn;
	void *kaddr;			/* memremap() of the whole range */
	struct resource *res;
	unsigned int regions;		/* under hmmv_lock */
	spinlock_t lock;		/* used, free_pages, hint */
	unsigned long *used;
	u64 free_pages;
	u64 hint;
};

/* One thread's write log, as a vCPU's PML buffer. */
struct hmmv_log {
	u32 tid;			/* 0: free (or the shared last slot) */
	u32 count;
	u32 flags;			/* HMMV_LOG_OVERFLOW */
	u32 idle_drains;		/* drains without entries: slot reuse */
	u32 entries[HMMV_LOG_ENTRIES];
};

struct hmmv_region {
	struct kref kref;
	struct list_head node;		/* hmmv_regions, under hmmv_lock */
	char name[HMMV_NAME_MAX];
	struct miscdevice misc;
	bool destroyed;			/* under hmmv_lock */

	u64 pages;
	int dram_node;
	int nvm_node;
	u32 nvm_kind;
	u32 first_touch;
	u64 dram_limit_pages;
	struct hmmv_source *dax;

	u64 *frames;
	unsigned long *wp_armed;
	unsigned long *written;
	unsigned long *accessed;
	unsigned long *mapped;
	unsigned long *copying;
	unsigned long *copy_dirty;
	unsigned long *scratch;		/* under ctl_mutex */
	struct mutex page_locks[HMMV_PAGE_LOCKS];
	struct mutex ctl_mutex;		/* one drain at a time */
	struct mutex mig_mutex;		/* one migration at a time */

	spinlock_t map_lock;		/* vma, mm, mapper, map_start */
	struct vm_area_struct *vma;
	struct mm_struct *mm;		/* mmgrab()ed while mapped */
	pid_t mapper;
	unsigned long map_start;

	atomic64_t dram_pages;
	atomic64_t nvm_pages;
	atomic64_t faults;
	atomic64_t first_touches;
	atomic64_t write_faults;
	atomic64_t log_full_total;

	spinlock_t log_lock;		/* logs, log_full */
	struct hmmv_log *logs;		/* HMMV_MAX_THREADS; the last is shared */
	u32 log_full;			/* full-log appends since the last drain */
	u32 *drain_pages;		/* under ctl_mutex */
	struct hmmv_thread_log *drain_threads;
};

extern struct mutex hmmv_lock;

/* source.c */
int hmmv_source_get(const struct hmmv_region_create *c,
		    struct hmmv_source **out);
void hmmv_source_put(struct hmmv_source *src);
unsigned long hmmv_source_alloc(struct hmmv_source *src);
void hmmv_source_free(struct hmmv_source *src, unsigned long pfn);
void *hmmv_source_kaddr(struct hmmv_source *src, unsigned long pfn);
int hmmv_sources_list(struct hmmv_sources *s);

/* region.c */
int hmmv_region_create(const struct hmmv_region_create *c,
		       struct hmmv_region **out);
struct hmmv_region *hmmv_region_find(const char *name);
int hmmv_region_destroy(const char *name);
void hmmv_region_put(struct hmmv_region *r);
void hmmv_region_info(struct hmmv_region *r, struct hmmv_region_info *info);
unsigned int hmmv_region_count(void);
int hmmv_valid_name(const char *name, size_t len);
struct mm_struct *hmmv_region_enter(struct hmmv_region *r);
void hmmv_region_leave(struct mm_struct *mm);
struct mutex *hmmv_page_lock(struct hmmv_region *r, u64 page);
u64 hmmv_frame_alloc(struct hmmv_region *r, u32 tier, bool zero);
void hmmv_frame_free(struct hmmv_region *r, u64 frame);
void *hmmv_frame_kaddr(struct hmmv_region *r, u64 frame);

/* track.c */
void hmmv_note_write(struct hmmv_region *r, u64 page);
void hmmv_log_append(struct hmmv_region *r, u32 key, u32 page);
void hmmv_logs_reset(struct hmmv_region *r);
void hmmv_zap(struct hmmv_region *r, u64 first, u64 count);
void hmmv_zap_page(struct hmmv_region *r, u64 page);
long hmmv_ioc_bits(struct hmmv_region *r, unsigned int cmd,
		   struct hmmv_page_bits *b);
long hmmv_ioc_drain(struct hmmv_region *r, struct hmmv_drain *d);

/* migrate.c */
long hmmv_ioc_migrate(struct hmmv_region *r, struct hmmv_migrate *m);

#endif /* HMMV_INTERNAL_H */
