# libvirt layer: Debian's libvirtd, virtlogd and virsh with the QEMU driver,
# qemu-system-x86_64 with its TCG module and the firmware a direct-kernel-boot
# 'pc' guest needs, configuration as DESIGN.md measured, the libvirt-qemu
# user, and init.d/40-libvirtd.sh, which starts the daemons when the kernel
# command line says hmmv.libvirtd=1. About 100 MB (libicudata alone is 31 MB).
LIBVIRT_BINS="/usr/sbin/libvirtd /usr/sbin/virtlogd /usr/bin/virsh /usr/bin/qemu-system-x86_64
  /usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so
  /usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so"
LIBVIRT_DATA="/usr/share/seabios/bios-256k.bin /usr/share/qemu/kvmvapic.bin
  /usr/share/qemu/linuxboot_dma.bin /usr/share/qemu/multiboot_dma.bin"
layer_need() {
  local f
  for f in $LIBVIRT_BINS $LIBVIRT_DATA; do
    [ -e "$f" ] || { echo "missing $f: apt-get install libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86" >&2; exit 3; }
  done
}
layer_inputs() {
  cat "$here/libvirtd-setup.sh"
  stat -L -c '%n %s %Y' $(with_libs $LIBVIRT_BINS) $LIBVIRT_DATA /usr/share/libvirt/cpu_map/*
}
layer_build() {
  local root=$1
  copy_files "$root" $(with_libs $LIBVIRT_BINS) $LIBVIRT_DATA
  mkdir -p "$root/usr/share/libvirt" "$root/etc/libvirt/qemu" "$root/etc/hmmv/init.d"
  cp -r /usr/share/libvirt/cpu_map "$root/usr/share/libvirt/"
  # QEMU runs as root, unconfined, without cgroups or namespaces: the guest
  # has no systemd and no cgroup hierarchy set up (DESIGN.md, measured).
  cat >"$root/etc/libvirt/qemu.conf" <<'CONF'
user = "root"
group = "root"
dynamic_ownership = 0
security_driver = "none"
namespaces = [ ]
cgroup_controllers = [ ]
seccomp_sandbox = 0
CONF
  cat >"$root/etc/libvirt/libvirtd.conf" <<'CONF'
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
CONF
  : >"$root/etc/libvirt/virtlogd.conf"
  printf 'root:x:0:0:root:/root:/bin/sh\nlibvirt-qemu:x:64055:64055:Libvirt Qemu:/var/lib/libvirt:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nkvm:x:104:libvirt-qemu\nlibvirt-qemu:x:64055:libvirt-qemu\nlibvirt:x:105:\n' >"$root/etc/group"
  cp "$here/libvirtd-setup.sh" "$root/etc/hmmv/init.d/40-libvirtd.sh"
  chmod 755 "$root/etc/hmmv/init.d/40-libvirtd.sh"
}
