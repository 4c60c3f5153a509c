#!/bin/sh
# init.d step of the test-bed guest (libvirt layer): with hmmv.libvirtd=1 on
# the kernel command line, starts virtlogd and libvirtd as daemons (no
# systemd) and waits, bounded, for the first answer on qemu:///system.
# Prints one line: HMMV-RESULT {"check":"libvirtd-setup","ok":...,...}
grep -q 'hmmv\.libvirtd=1' /proc/cmdline || exit 0
mkdir -p /run/libvirt /var/lib/libvirt/qemu /var/log/libvirt/qemu /var/cache/libvirt/qemu \
  /etc/libvirt/qemu /etc/libvirt/hooks/qemu.d /var/log/hmmv /run/hmmv
[ -e /var/run ] || ln -s /run /var/run # the clients look for /var/run/libvirt/libvirt-sock
t0=$(cut -d' ' -f1 /proc/uptime)
virtlogd -d && libvirtd -d || {
  echo "HMMV-RESULT {\"check\":\"libvirtd-setup\",\"ok\":false,\"error\":\"virtlogd or libvirtd did not start\"}"
  exit 0
}
t1=$(cut -d' ' -f1 /proc/uptime)
n=0
until version=$(virsh -c qemu:///system version 2>/tmp/virsh-version.err); do
  n=$((n + 1))
  if [ $n -ge 60 ]; then
    err=$( (cat /tmp/virsh-version.err; tail -c 1500 /var/log/libvirt/libvirtd.log) | tr '\n\t' '  ' | sed 's/\\/\\\\/g; s/"/\\"/g')
    echo "HMMV-RESULT {\"check\":\"libvirtd-setup\",\"ok\":false,\"error\":\"no answer on qemu:///system within 60 s: $err\"}"
    exit 0
  fi
  sleep 1
done
t2=$(cut -d' ' -f1 /proc/uptime)
hv=$(echo "$version" | sed -n 's/.*[Rr]unning hypervisor: *//p' | tr -d '"')
lv=$(echo "$version" | sed -n 's/.*[Rr]unning against daemon: *//p' | tr -d '"')
echo "HMMV-RESULT {\"check\":\"libvirtd-setup\",\"ok\":true,\"hypervisor\":\"$hv\",\"daemon\":\"$lv\",\"startSeconds\":$(echo "$t1 $t0" | awk '{print $1-$2}'),\"firstAnswerSeconds\":$(echo "$t2 $t1" | awk '{print $1-$2}')}"
