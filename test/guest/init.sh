#!/bin/busybox sh
# /init of the test-bed guest: mount the kernel file systems, run each layer's
# set-up step (/etc/hmmv/init.d/*.sh, in name order; each reads its options
# from the kernel command line), then the in-guest program named there
# (hmmv.program=..., default the linux-backend checks, with
# hmmv.scenario=...), power off.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin:/usr/local/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mkdir -p /dev/pts /dev/shm /run
mount -t devpts devpts /dev/pts
mount -t tmpfs shm /dev/shm
mount -t tmpfs run /run
echo "HMMV-BOOTED uptime=$(cut -d' ' -f1 /proc/uptime)"
for step in /etc/hmmv/init.d/*.sh; do
  [ -x "$step" ] && "$step"
done
scenario=$(sed -n 's/.*hmmv\.scenario=\([^ ]*\).*/\1/p' /proc/cmdline)
program=$(sed -n 's/.*hmmv\.program=\([^ ]*\).*/\1/p' /proc/cmdline)
echo "HMMV-SETUP-DONE uptime=$(cut -d' ' -f1 /proc/uptime)"
cd /hmmv && /bin/node "${program:-dist/test/guest/in-guest.js}" "$scenario"
echo "HMMV-EXIT $?"
poweroff -f
