#!/bin/busybox sh
# /init of the test-bed guest: mount the kernel file systems, run the in-guest
# test program named on the kernel command line (hmmv.scenario=...), power off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
scenario=$(sed -n 's/.*hmmv\.scenario=\([^ ]*\).*/\1/p' /proc/cmdline)
echo "HMMV-BOOTED uptime=$(cut -d' ' -f1 /proc/uptime)"
cd /hmmv && /bin/node dist/test/guest/in-guest.js "$scenario"
echo "HMMV-EXIT $?"
poweroff -f
