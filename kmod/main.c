// SPDX-License-Identifier: GPL-2.0
/*
 * hmmv.ko: tiered guest RAM for hmmv (HMM-V, arXiv 2209.13111). The control
 * device /dev/hmmv/control (root only) creates regions and drives them for
 * the per-domain manager: accessed test-and-clear, per-thread write logs,
 * migration between DRAM and NVM with a copy while the guest runs. Every
 * control file must say HMMV_IOC_HELLO with the ABI version it speaks
 * first; another version is refused with EPROTONOSUPPORT. Each region holds
 * a module reference, so rmmod is refused while a region exists.
 */
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "internal.h"

/* Region and source lists, create and destroy (internal.h). */
DEFINE_MUTEX(hmmv_lock);

/* A control file: its ABI handshake and the region it is attached to. */
struct hmmv_ctl {
	struct mutex lock;	/* one call at a time on this file */
	bool hello;
	struct hmmv_region *region;
};

static int hmmv_ctl_open(struct inode *inode, struct file *file)
{
	struct hmmv_ctl *ctl;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	ctl = kzalloc(sizeof(*ctl), GFP_KERNEL);
	if (!ctl)
		return -ENOMEM;
	mutex_init(&ctl->lock);
	file->private_data = ctl;
	return 0;
}

static int hmmv_ctl_release(struct inode *inode, struct file *file)
{
	struct hmmv_ctl *ctl = file->private_data;

	if (ctl->region)
		hmmv_region_put(ctl->region);
	kfree(ctl);
	return 0;
}

static long hmmv_hello(struct hmmv_ctl *ctl, void __user *arg)
{
	struct hmmv_hello h;
	u32 caller;

	if (copy_from_user(&h, arg, sizeof(h)))
		return -EFAULT;
	caller = h.abi_version;
	memset(&h, 0, sizeof(h));
	h.abi_version = HMMV_ABI_VERSION;
	h.features = HMMV_FEAT_FAULT_ACCESSED | HMMV_FEAT_WRITE_LOG |
		     HMMV_FEAT_DAX;
	h.page_size = PAGE_SIZE;
	h.log_entries = HMMV_LOG_ENTRIES;
	h.max_threads = HMMV_MAX_THREADS;
	h.regions = hmmv_region_count();
	if (copy_to_user(arg, &h, sizeof(h)))
		return -EFAULT;
	if (caller != HMMV_ABI_VERSION) {
		pr_warn_ratelimited("hmmv: %s[%d] speaks ABI %u, this hmmv.ko speaks %u: install matching versions\n",
				    current->comm, task_pid_nr(current),
				    caller, HMMV_ABI_VERSION);
		return -EPROTONOSUPPORT;
	}
	ctl->hello = true;
	return 0;
}

/* Attaches @r (a reference the caller gives up) to the control file. */
static void hmmv_attach(struct hmmv_ctl *ctl, struct hmmv_region *r)
{
	if (ctl->region)
		hmmv_region_put(ctl->region);
	ctl->region = r;
}

static long hmmv_region_call(struct hmmv_region *r, unsigned int cmd,
			     void __user *arg)
{
	struct hmmv_region_info info;
	struct hmmv_page_bits bits;
	struct hmmv_migrate mig;
	struct hmmv_drain drain;
	long ret;

	if (!r) {
		switch (cmd) {
		case HMMV_IOC_REGION_INFO:
		case HMMV_IOC_READ_TIERS:
		case HMMV_IOC_ACCESSED:
		case HMMV_IOC_DIRTY:
		case HMMV_IOC_WP_ARM:
		case HMMV_IOC_DRAIN:
		case HMMV_IOC_MIGRATE:
			return -EBADFD;
		}
		return -ENOTTY;
	}
	switch (cmd) {
	case HMMV_IOC_REGION_INFO:
		hmmv_region_info(r, &info);
		return copy_to_user(arg, &info, sizeof(info)) ? -EFAULT : 0;
	case HMMV_IOC_READ_TIERS:
	case HMMV_IOC_ACCESSED:
	case HMMV_IOC_DIRTY:
	case HMMV_IOC_WP_ARM:
		if (copy_from_user(&bits, arg, sizeof(bits)))
			return -EFAULT;
		ret = hmmv_ioc_bits(r, cmd, &bits);
		if (!ret && copy_to_user(arg, &bits, sizeof(bits)))
			ret = -EFAULT;
		return ret;
	case HMMV_IOC_DRAIN:
		if (copy_from_user(&drain, arg, sizeof(drain)))
			return -EFAULT;
		mutex_lock(&r->ctl_mutex);
		ret = hmmv_ioc_drain(r, &drain);
		mutex_unlock(&r->ctl_mutex);
		if (!ret && copy_to_user(arg, &drain, sizeof(drain)))
			ret = -EFAULT;
		return ret;
	case HMMV_IOC_MIGRATE:
		if (copy_from_user(&mig, arg, sizeof(mig)))
			return -EFAULT;
		mutex_lock(&r->mig_mutex);
		ret = hmmv_ioc_migrate(r, &mig);
		mutex_unlock(&r->mig_mutex);
		if (!ret && copy_to_user(arg, &mig, sizeof(mig)))
			ret = -EFAULT;
		return ret;
	}
	return -ENOTTY;
}

/* Every call of this ABI: tells a caller built against another header. */
static const unsigned int hmmv_calls[] = {
	HMMV_IOC_HELLO, HMMV_IOC_SOURCES, HMMV_IOC_REGION_CREATE,
	HMMV_IOC_REGION_ATTACH, HMMV_IOC_REGION_DESTROY, HMMV_IOC_REGION_INFO,
	HMMV_IOC_READ_TIERS, HMMV_IOC_ACCESSED, HMMV_IOC_DIRTY,
	HMMV_IOC_WP_ARM, HMMV_IOC_DRAIN, HMMV_IOC_MIGRATE,
};

/*
 * 0 for a call of this ABI, else -ENOTTY with a log line naming what the
 * call should have been: a size or direction that differs from this
 * module's uapi/hmmv.h, or a number no ABI version has.
 */
static int hmmv_known_call(unsigned int cmd)
{
	static const char * const dirs[] = { "_IO", "_IOW", "_IOR", "_IOWR" };
	unsigned int i, want;

	for (i = 0; i < ARRAY_SIZE(hmmv_calls); i++) {
		want = hmmv_calls[i];
		if (cmd == want)
			return 0;
		if (_IOC_NR(cmd) != _IOC_NR(want))
			continue;
		pr_warn_ratelimited("hmmv: %s[%d] ioctl %#x: call 0x%02x is %s of %u bytes, not %s of %u: build against this module's uapi/hmmv.h (ABI %u)\n",
				    current->comm, task_pid_nr(current), cmd,
				    _IOC_NR(cmd), dirs[_IOC_DIR(want) & 3],
				    _IOC_SIZE(want), dirs[_IOC_DIR(cmd) & 3],
				    _IOC_SIZE(cmd), HMMV_ABI_VERSION);
		return -ENOTTY;
	}
	pr_warn_ratelimited("hmmv: %s[%d] ioctl %#x: no call 0x%02x in ABI %u\n",
			    current->comm, task_pid_nr(current), cmd,
			    _IOC_NR(cmd), HMMV_ABI_VERSION);
	return -ENOTTY;
}

static long hmmv_ctl_ioctl(struct file *file, unsigned int cmd,
			   unsigned long uarg)
{
	struct hmmv_ctl *ctl = file->private_data;
	void __user *arg = (void __user *)uarg;
	struct hmmv_region_create create;
	struct hmmv_region_name name;
	struct hmmv_sources sources;
	struct hmmv_region *r;
	long ret;

	if (_IOC_TYPE(cmd) != HMMV_IOC_MAGIC)
		return -ENOTTY;
	ret = hmmv_known_call(cmd);
	if (ret)
		return ret;
	mutex_lock(&ctl->lock);
	if (cmd == HMMV_IOC_HELLO) {
		ret = hmmv_hello(ctl, arg);
		goto out;
	}
	if (!ctl->hello) {
		pr_warn_ratelimited("hmmv: %s[%d] called ioctl %#x before HMMV_IOC_HELLO\n",
				    current->comm, task_pid_nr(current), cmd);
		ret = -EPROTO;
		goto out;
	}
	switch (cmd) {
	case HMMV_IOC_SOURCES:
		if (copy_from_user(&sources, arg, sizeof(sources))) {
			ret = -EFAULT;
			break;
		}
		ret = hmmv_sources_list(&sources);
		sources.regions = hmmv_region_count();
		if (!ret && copy_to_user(arg, &sources, sizeof(sources)))
			ret = -EFAULT;
		break;
	case HMMV_IOC_REGION_CREATE:
		if (copy_from_user(&create, arg, sizeof(create))) {
			ret = -EFAULT;
			break;
		}
		ret = hmmv_region_create(&create, &r);
		if (!ret)
			hmmv_attach(ctl, r);
		break;
	case HMMV_IOC_REGION_ATTACH:
	case HMMV_IOC_REGION_DESTROY:
		if (copy_from_user(&name, arg, sizeof(name))) {
			ret = -EFAULT;
			break;
		}
		if (hmmv_valid_name(name.name, sizeof(name.name))) {
			ret = -EINVAL;
			break;
		}
		if (cmd == HMMV_IOC_REGION_DESTROY) {
			ret = hmmv_region_destroy(name.name);
			break;
		}
		r = hmmv_region_find(name.name);
		ret = r ? 0 : -ENOENT;
		if (r)
			hmmv_attach(ctl, r);
		break;
	default:
		/* Region calls need HMMV_IOC_REGION_CREATE or _ATTACH first. */
		ret = ctl->region ? hmmv_region_call(ctl->region, cmd, arg) :
		      hmmv_region_call(NULL, cmd, NULL);
	}
out:
	mutex_unlock(&ctl->lock);
	return ret;
}

static const struct file_operations hmmv_ctl_fops = {
	.owner = THIS_MODULE,
	.open = hmmv_ctl_open,
	.release = hmmv_ctl_release,
	.unlocked_ioctl = hmmv_ctl_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice hmmv_ctl_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "hmmv",
	.nodename = "hmmv/control",
	.mode = 0600,
	.fops = &hmmv_ctl_fops,
};

static int __init hmmv_init(void)
{
	int ret = misc_register(&hmmv_ctl_dev);

	if (!ret)
		pr_info("hmmv: ABI %u, control device %s\n", HMMV_ABI_VERSION,
			HMMV_CONTROL_NODE);
	return ret;
}

static void __exit hmmv_exit(void)
{
	misc_deregister(&hmmv_ctl_dev);
}

module_init(hmmv_init);
module_exit(hmmv_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("hmmv developers");
MODULE_DESCRIPTION("hmmv tiered guest RAM: DRAM and devdax NVM, write logs, migration");
MODULE_VERSION("1.0");
