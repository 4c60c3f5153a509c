/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * hmmv.ko user interface, ABI version 1 (docs/kmod-abi.md has every call,
 * its arguments, errors and cost).
 *
 * /dev/hmmv/control (root only) creates and drives regions; each region is
 * also a device node /dev/hmmv/NAME that QEMU maps as guest RAM
 * (memory-backend-file,mem-path=/dev/hmmv/NAME,share=on). Pages are numbered
 * 0..pages-1 from the start of the region, 4 KiB each.
 *
 * Page sets travel as bitmaps of 32-bit little-endian words: bit j of word
 * j / 32 is page (or 2 MiB unit) first + j. Every control file descriptor
 * must call HMMV_IOC_HELLO with HMMV_ABI_VERSION first.
 */
#ifndef _UAPI_LINUX_HMMV_H
#define _UAPI_LINUX_HMMV_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define HMMV_ABI_VERSION	1

#define HMMV_CONTROL_NODE	"/dev/hmmv/control"
#define HMMV_REGION_DIR		"/dev/hmmv/"
#define HMMV_NAME_MAX		64	/* region name, NUL included */
#define HMMV_SOURCE_NAME_MAX	32	/* NVM source name, NUL included */
#define HMMV_PAGE_SIZE		4096
#define HMMV_LOG_ENTRIES	512	/* entries of one thread's write log */
#define HMMV_MAX_THREADS	64	/* write logs per region */
#define HMMV_HUGE_SHIFT		9	/* 2 MiB unit = 512 pages */

/* Tiers. */
#define HMMV_TIER_DRAM		0
#define HMMV_TIER_NVM		1

/* Where a region's NVM tier comes from. */
#define HMMV_NVM_NONE		0	/* DRAM only */
#define HMMV_NVM_NODE		1	/* a NUMA node (e.g. onlined PMem, CXL) */
#define HMMV_NVM_DAX		2	/* a devdax range not onlined as RAM */

/* Tier of a page at its first touch. */
#define HMMV_FIRST_TOUCH_DRAM_FIRST	0	/* DRAM up to dram_limit_pages, then NVM */
#define HMMV_FIRST_TOUCH_DRAM		1	/* DRAM, NVM only when DRAM is full */
#define HMMV_FIRST_TOUCH_NVM		2	/* NVM, DRAM only when NVM is full */

/* hmmv_hello.features */
#define HMMV_FEAT_FAULT_ACCESSED	(1U << 0)	/* accessed bits from faults */
#define HMMV_FEAT_WRITE_LOG		(1U << 1)	/* per-thread write logs */
#define HMMV_FEAT_DAX			(1U << 2)	/* devdax NVM sources */

struct hmmv_hello {
	__u32 abi_version;	/* in: the caller's; out: the module's */
	__u32 features;		/* out: HMMV_FEAT_* */
	__u32 page_size;	/* out: HMMV_PAGE_SIZE */
	__u32 log_entries;	/* out: HMMV_LOG_ENTRIES */
	__u32 max_threads;	/* out: HMMV_MAX_THREADS */
	__u32 regions;		/* out: regions that exist now */
};

struct hmmv_region_create {
	char name[HMMV_NAME_MAX];	/* [A-Za-z0-9_.+-], not "control" */
	__u64 size;			/* bytes, a multiple of 2 MiB */
	__u64 dram_limit_pages;		/* HMMV_FIRST_TOUCH_DRAM_FIRST */
	__u64 dax_start;		/* HMMV_NVM_DAX: physical address */
	__u64 dax_size;			/* HMMV_NVM_DAX: bytes */
	char dax_name[HMMV_SOURCE_NAME_MAX];	/* e.g. "dax0.0" */
	__s32 dram_node;		/* -1: the first node with memory */
	__s32 nvm_node;			/* HMMV_NVM_NODE */
	__u32 nvm_kind;			/* HMMV_NVM_* */
	__u32 first_touch;		/* HMMV_FIRST_TOUCH_* */
};

/* Names a region: attach, destroy. */
struct hmmv_region_name {
	char name[HMMV_NAME_MAX];
};

/* hmmv_region_info.flags */
#define HMMV_REGION_MAPPED	(1U << 0)
#define HMMV_REGION_DESTROYED	(1U << 1)

struct hmmv_region_info {
	char name[HMMV_NAME_MAX];
	__u64 size;
	__u64 pages;
	__u64 dram_pages;	/* pages present in DRAM */
	__u64 nvm_pages;	/* pages present in NVM */
	__u64 map_start;	/* address of page 0 in the mapping process */
	__u64 dram_limit_pages;
	__u64 faults;		/* all faults */
	__u64 first_touches;	/* faults that allocated a page */
	__u64 write_faults;	/* faults that logged or noted a write */
	__u64 log_full;		/* appends to a full log (overflows) */
	__s32 mapper_pid;	/* tgid of the mapping process, 0 if none */
	__u32 flags;		/* HMMV_REGION_* */
	__s32 dram_node;
	__s32 nvm_node;
	__u32 nvm_kind;
	__u32 first_touch;
	__u32 threads;		/* write logs in use */
	__u32 pad;
};

struct hmmv_source_info {
	char name[HMMV_SOURCE_NAME_MAX];
	__u64 start;		/* physical address */
	__u64 pages;
	__u64 free_pages;
	__u32 regions;		/* regions using it */
	__u32 pad;
};

struct hmmv_sources {
	__u64 sources;		/* user struct hmmv_source_info[max] */
	__u32 max;
	__u32 count;		/* out: sources claimed (may exceed max) */
	__u32 regions;		/* out: regions that exist */
	__u32 pad;
};

/* hmmv_page_bits.flags */
#define HMMV_TIERS_PRESENT	(1U << 0)	/* READ_TIERS: present map */

struct hmmv_page_bits {
	__u64 first;		/* first page, a multiple of 1 << unit_shift */
	__u64 count;		/* pages, a multiple of 1 << unit_shift */
	__u64 in;		/* user bitmap: the scan set; 0: every page */
	__u64 out;		/* user bitmap: the result */
	__u32 unit_shift;	/* 0: 4 KiB pages; HMMV_HUGE_SHIFT: 2 MiB */
	__u32 flags;
	__u64 result;		/* out: pages (units) scanned */
};

/* hmmv_thread_log.flags and hmmv_drain.flags (out) */
#define HMMV_LOG_OVERFLOW	(1U << 0)	/* writes were not logged */
/* hmmv_drain.flags (in) */
#define HMMV_DRAIN_REARM	(1U << 8)	/* write-protect drained pages */

struct hmmv_thread_log {
	__u32 tid;		/* thread id; 0: threads past HMMV_MAX_THREADS */
	__u32 count;		/* entries of this thread */
	__u32 flags;		/* HMMV_LOG_OVERFLOW */
	__u32 offset;		/* first entry in hmmv_drain.pages */
};

struct hmmv_drain {
	__u64 pages;		/* user __u32[max_pages]: page indices */
	__u64 threads;		/* user struct hmmv_thread_log[max_threads] */
	__u32 max_pages;
	__u32 max_threads;
	__u32 count;		/* out: entries written */
	__u32 nthreads;		/* out: logs written */
	__u32 flags;		/* in: HMMV_DRAIN_*; out: HMMV_LOG_OVERFLOW */
	__u32 full;		/* out: appends to a full log since last drain */
};

/* hmmv_migrate status values; a negative value is -errno (failed). */
#define HMMV_MIG_MOVED		0
#define HMMV_MIG_ALREADY	1
#define HMMV_MIG_BUSY		2	/* written during every copy: not moved */

struct hmmv_migrate {
	__u64 pages;		/* user __u32[count]: page indices */
	__u64 status;		/* user __s32[count]: out */
	__u32 count;		/* at most 1 << 20 */
	__u32 target;		/* HMMV_TIER_* */
	__u32 max_recopies;	/* per page, at most 16 */
	__u32 flags;		/* must be 0 */
	__u64 moved;		/* out */
	__u64 already;		/* out */
	__u64 busy;		/* out */
	__u64 failed;		/* out */
	__u64 bytes_copied;	/* out */
	__u64 recopies;		/* out */
	__u64 pause_ns;		/* out: sum over switched pages */
	__u64 max_pause_ns;	/* out */
};

#define HMMV_IOC_MAGIC		0xB7

#define HMMV_IOC_HELLO		_IOWR(HMMV_IOC_MAGIC, 0x00, struct hmmv_hello)
#define HMMV_IOC_SOURCES	_IOWR(HMMV_IOC_MAGIC, 0x01, struct hmmv_sources)
#define HMMV_IOC_REGION_CREATE	_IOW(HMMV_IOC_MAGIC, 0x10, struct hmmv_region_create)
#define HMMV_IOC_REGION_ATTACH	_IOW(HMMV_IOC_MAGIC, 0x11, struct hmmv_region_name)
#define HMMV_IOC_REGION_DESTROY	_IOW(HMMV_IOC_MAGIC, 0x12, struct hmmv_region_name)
#define HMMV_IOC_REGION_INFO	_IOR(HMMV_IOC_MAGIC, 0x13, struct hmmv_region_info)
#define HMMV_IOC_READ_TIERS	_IOWR(HMMV_IOC_MAGIC, 0x20, struct hmmv_page_bits)
#define HMMV_IOC_ACCESSED	_IOWR(HMMV_IOC_MAGIC, 0x21, struct hmmv_page_bits)
#define HMMV_IOC_DIRTY		_IOWR(HMMV_IOC_MAGIC, 0x22, struct hmmv_page_bits)
#define HMMV_IOC_WP_ARM		_IOWR(HMMV_IOC_MAGIC, 0x23, struct hmmv_page_bits)
#define HMMV_IOC_DRAIN		_IOWR(HMMV_IOC_MAGIC, 0x24, struct hmmv_drain)
#define HMMV_IOC_MIGRATE	_IOWR(HMMV_IOC_MAGIC, 0x30, struct hmmv_migrate)

#endif /* _UAPI_LINUX_HMMV_H */
