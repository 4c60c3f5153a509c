// SPDX-License-Identifier: GPL-2.0
/*
 * NVM sources: devdax ranges the module claims for itself. The device must
 * not be bound to device_dax or kmem (daxctl disable-device daxX.Y): the
 * module checks that the range is persistent (or soft-reserved) memory and
 * not System RAM, claims it in /proc/iomem as "hmmv:daxX.Y" (which fails
 * while another driver holds it), maps it with memremap() and hands out its
 * 4 KiB frames from a bitmap. Regions on the same range share one source;
 * the last region to go releases it. Allocation is O(1) amortized with a
 * rotating hint.
 */
#include <linux/bitmap.h>
#include <linux/io.h>
#include <linux/ioport.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "internal.h"

static LIST_HEAD(hmmv_sources);

static bool hmmv_range_is_nvm(phys_addr_t start, u64 size)
{
	if (region_intersects(start, size, IORESOURCE_SYSTEM_RAM,
			      IORES_DESC_NONE) != REGION_DISJOINT)
		return false;
	return region_intersects(start, size, IORESOURCE_MEM,
				 IORES_DESC_PERSISTENT_MEMORY) ==
		REGION_INTERSECTS ||
	       region_intersects(start, size, IORESOURCE_MEM,
				 IORES_DESC_SOFT_RESERVED) == REGION_INTERSECTS;
}

static void hmmv_source_release(struct hmmv_source *src)
{
	list_del(&src->node);
	memunmap(src->kaddr);
	release_mem_region(src->start, src->pages << PAGE_SHIFT);
	kvfree(src->used);
	kfree(src);
}

/* Finds or claims the source a region asks for. Called with hmmv_lock. */
int hmmv_source_get(const struct hmmv_region_create *c,
		    struct hmmv_source **out)
{
	struct hmmv_source *src;
	u64 size = c->dax_size;
	phys_addr_t start = c->dax_start;
	size_t len = strnlen(c->dax_name, HMMV_SOURCE_NAME_MAX);

	if (len == 0 || len == HMMV_SOURCE_NAME_MAX)
		return -EINVAL;
	if (!size || !IS_ALIGNED(start, SZ_2M) || !IS_ALIGNED(size, SZ_2M) ||
	    start + size < start)
		return -EINVAL;

	list_for_each_entry(src, &hmmv_sources, node) {
		u64 end = src->start + (src->pages << PAGE_SHIFT);

		if (src->start == start) {
			if (src->pages << PAGE_SHIFT != size)
				return -EINVAL;
			src->regions++;
			*out = src;
			return 0;
		}
		if (start < end && src->start < start + size)
			return -EBUSY;
	}

	if (!hmmv_range_is_nvm(start, size))
		return -ENODEV;

	src = kzalloc(sizeof(*src), GFP_KERNEL);
	if (!src)
		return -ENOMEM;
	memcpy(src->name, c->dax_name, len);
	snprintf(src->claim, sizeof(src->claim), "hmmv:%s", src->name);
	src->start = start;
	src->pages = size >> PAGE_SHIFT;
	src->base_pfn = PHYS_PFN(start);
	src->free_pages = src->pages;
	spin_lock_init(&src->lock);
	src->used = kvcalloc(BITS_TO_LONGS(src->pages), sizeof(long),
			     GFP_KERNEL);
	if (!src->used)
		goto nomem;
	src->res = request_mem_region(start, size, src->claim);
	if (!src->res) {
		kvfree(src->used);
		kfree(src);
		return -EBUSY;
	}
	src->kaddr = memremap(start, size, MEMREMAP_WB);
	if (!src->kaddr) {
		release_mem_region(start, size);
		goto nomem;
	}
	src->regions = 1;
	list_add(&src->node, &hmmv_sources);
	*out = src;
	return 0;
nomem:
	kvfree(src->used);
	kfree(src);
	return -ENOMEM;
}

void hmmv_source_put(struct hmmv_source *src)
{
	mutex_lock(&hmmv_lock);
	if (--src->regions == 0)
		hmmv_source_release(src);
	mutex_unlock(&hmmv_lock);
}

/* A free frame's PFN, or 0 when the source is full. */
unsigned long hmmv_source_alloc(struct hmmv_source *src)
{
	unsigned long i;

	spin_lock(&src->lock);
	if (!src->free_pages) {
		spin_unlock(&src->lock);
		return 0;
	}
	i = find_next_zero_bit(src->used, src->pages, src->hint);
	if (i >= src->pages)
		i = find_first_zero_bit(src->used, src->pages);
	__set_bit(i, src->used);
	src->free_pages--;
	src->hint = i + 1;
	spin_unlock(&src->lock);
	return src->base_pfn + i;
}

void hmmv_source_free(struct hmmv_source *src, unsigned long pfn)
{
	unsigned long i = pfn - src->base_pfn;

	if (WARN_ON_ONCE(i >= src->pages))
		return;
	spin_lock(&src->lock);
	if (!WARN_ON_ONCE(!__test_and_clear_bit(i, src->used)))
		src->free_pages++;
	spin_unlock(&src->lock);
}

void *hmmv_source_kaddr(struct hmmv_source *src, unsigned long pfn)
{
	return src->kaddr + ((pfn - src->base_pfn) << PAGE_SHIFT);
}

/* Fills s->sources (user memory) with up to s->max entries. */
int hmmv_sources_list(struct hmmv_sources *s)
{
	struct hmmv_source_info __user *uinfo = u64_to_user_ptr(s->sources);
	struct hmmv_source_info info;
	struct hmmv_source *src;
	u32 n = 0;
	int ret = 0;

	if (s->max > 1024 || s->pad)
		return -EINVAL;
	mutex_lock(&hmmv_lock);
	list_for_each_entry(src, &hmmv_sources, node) {
		if (n < s->max) {
			memset(&info, 0, sizeof(info));
			memcpy(info.name, src->name, sizeof(info.name));
			info.start = src->start;
			info.pages = src->pages;
			spin_lock(&src->lock);
			info.free_pages = src->free_pages;
			spin_unlock(&src->lock);
			info.regions = src->regions;
			if (copy_to_user(&uinfo[n], &info, sizeof(info))) {
				ret = -EFAULT;
				break;
			}
		}
		n++;
	}
	mutex_unlock(&hmmv_lock);
	s->count = n;
	return ret;
}
