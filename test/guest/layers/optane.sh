# Optane layer: what a host needs to turn an NVDIMM into memory. The kernel's
# NVDIMM and DAX modules (decompressed: busybox insmod cannot read .ko.xz),
# ndctl and daxctl, numactl and migratepages, and init.d/20-nvdimm.sh, which
# sets the NVDIMMs up as the kernel command line asks (hmmv.nvdimm=...).
OPTANE_MODULES="libnvdimm nfit nd_btt nd_pmem device_dax dax_pmem kmem"
OPTANE_TOOLS="/usr/bin/ndctl /usr/bin/daxctl /usr/bin/numactl /usr/bin/migratepages"
layer_need() {
  local t
  for t in $OPTANE_TOOLS; do
    [ -x "$t" ] || { echo "missing $t: apt-get install ndctl daxctl numactl" >&2; exit 3; }
  done
}
layer_inputs() {
  cat "$here/nvdimm-setup.sh"
  local m
  for m in $OPTANE_MODULES; do sha256sum <"$cache/modules/$m.ko"; done # content only: the key does not depend on where the cache is
  stat -L -c '%n %s %Y' $(with_libs $OPTANE_TOOLS)
}
layer_build() {
  local root=$1 m
  mkdir -p "$root/lib/modules/hmmv" "$root/etc/hmmv/init.d"
  for m in $OPTANE_MODULES; do cp "$cache/modules/$m.ko" "$root/lib/modules/hmmv/"; done
  copy_files "$root" $(with_libs $OPTANE_TOOLS)
  cp "$here/nvdimm-setup.sh" "$root/etc/hmmv/init.d/20-nvdimm.sh"
  chmod 755 "$root/etc/hmmv/init.d/20-nvdimm.sh"
}
