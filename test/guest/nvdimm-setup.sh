#!/bin/sh
# init.d step of the test-bed guest (optane layer): sets up the emulated
# NVDIMMs the way an Optane host is set up, in the order QEMU was given them,
# as the kernel command line asks: hmmv.nvdimm=MODE[,MODE...]
#   system-ram  ndctl create-namespace -m devdax, then daxctl
#               reconfigure-device --mode=system-ram: the memory joins a NUMA
#               node without CPUs (the slow tier, placed by the ACPI HMAT)
#   devdax      ndctl create-namespace -m devdax, left as /dev/daxN.0 (not
#               onlined: reserved for VMs, e.g. hmmv.ko)
# Prints one line: HMMV-RESULT {"check":"nvdimm-setup","ok":...,...}
modes=$(sed -n 's/.*hmmv\.nvdimm=\([^ ]*\).*/\1/p' /proc/cmdline)
[ -n "$modes" ] || exit 0
t0=$(cut -d' ' -f1 /proc/uptime)
log=/tmp/nvdimm-setup.log
: >"$log"

fail() {
  msg=$(printf '%s: %s' "$1" "$(tail -c 1500 "$log")" | tr '\n\t' '  ' | sed 's/\\/\\\\/g; s/"/\\"/g')
  echo "HMMV-RESULT {\"check\":\"nvdimm-setup\",\"ok\":false,\"error\":\"$msg\"}"
  exit 0
}

for m in libnvdimm nfit nd_btt nd_pmem device_dax dax_pmem kmem; do
  insmod "/lib/modules/hmmv/$m.ko" >>"$log" 2>&1 || fail "insmod $m"
done
t_modules=$(cut -d' ' -f1 /proc/uptime)
# The kernel would online new memory blocks itself; daxctl wants to do it.
echo offline >/sys/devices/system/memory/auto_online_blocks

devices=""
i=0
for mode in $(echo "$modes" | tr ',' ' '); do
  ns=namespace$i.0
  n=0
  while [ ! -e "/sys/bus/nd/devices/$ns" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
  out=$(ndctl create-namespace -f -e "$ns" -m devdax 2>>"$log") || fail "ndctl create-namespace -e $ns -m devdax"
  echo "$out" >>"$log"
  dax=$(echo "$out" | sed -n 's/.*"chardev":"\(dax[0-9.]*\)".*/\1/p' | head -1)
  [ -n "$dax" ] || fail "no dax device for $ns"
  node=$(cat "/sys/bus/dax/devices/$dax/target_node")
  size=$(cat "/sys/bus/dax/devices/$dax/size")
  case $mode in
    system-ram)
      daxctl reconfigure-device --mode=system-ram "$dax" >>"$log" 2>&1 || fail "daxctl reconfigure-device --mode=system-ram $dax"
      online=$(sed -n 's/.*MemTotal: *\([0-9]*\) kB/\1/p' "/sys/devices/system/node/node$node/meminfo")
      devices="$devices{\"index\":$i,\"mode\":\"system-ram\",\"namespace\":\"$ns\",\"dax\":\"$dax\",\"node\":$node,\"deviceBytes\":$size,\"nodeMemTotalKiB\":$online},"
      ;;
    devdax)
      devices="$devices{\"index\":$i,\"mode\":\"devdax\",\"namespace\":\"$ns\",\"dax\":\"$dax\",\"path\":\"/dev/$dax\",\"node\":$node,\"deviceBytes\":$size},"
      ;;
    *) fail "unknown NVDIMM mode '$mode' (system-ram or devdax)" ;;
  esac
  i=$((i + 1))
done
t1=$(cut -d' ' -f1 /proc/uptime)
echo "HMMV-RESULT {\"check\":\"nvdimm-setup\",\"ok\":true,\"devices\":[${devices%,}],\"modulesSeconds\":$(echo "$t_modules $t0" | awk '{print $1-$2}'),\"seconds\":$(echo "$t1 $t0" | awk '{print $1-$2}')}"
