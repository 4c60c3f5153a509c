#!/usr/bin/env bash
# Builds the TCG test-bed guest: Debian's 6.12 cloud kernel and an
# uncompressed initramfs made of layers, each its own cpio, cached by content
# in CACHE_DIR (the kernel unpacks concatenated cpio archives in order, a
# later file replacing an earlier one):
#   $CACHE/vmlinuz, config-*, modules/   the kernel package (apt-get download +
#                                        dpkg-deb -x), its NVDIMM/DAX modules
#   $CACHE/base-KEY.cpio                 layers/base.sh: busybox, node, /init, the workload
#   $CACHE/optane-KEY.cpio               layers/optane.sh: NVDIMM -> devdax -> system-ram
#   $CACHE/libvirt-KEY.cpio              layers/libvirt.sh: libvirtd, virtlogd, virsh, QEMU
#   $CACHE/app.cpio                      dist/, production node_modules, the tiny
#                                        nested guest (rebuilt every run: small)
#   $CACHE/initrd-LAYERS.cpio            the layers asked for + app, concatenated
# A layer's KEY hashes its script, lib.sh and its inputs (sources, the host
# files it copies, by path/size/mtime), so only a changed layer is rebuilt.
# Usage: build.sh REPO_DIR CACHE_DIR [LAYER...]      prints the initrd path
#        build.sh REPO_DIR CACHE_DIR prebuild [LAYER...]
#                  kernel, base and the layers only, no app (CI set-up step)
# LAYER: optane, libvirt (base is always included).
set -euo pipefail
repo=$(cd "$1" && pwd)
mkdir -p "$2"
cache=$(cd "$2" && pwd)
shift 2
here="$repo/test/guest"
prebuild=0
if [ "${1:-}" = prebuild ]; then prebuild=1; shift; fi
[ "${1:-}" = base ] && shift # the old "base" argument: prebuild of the base layer only
layers=(base "$@")

need() { command -v "$1" >/dev/null || { echo "missing $1: apt-get install $2" >&2; exit 3; }; }
need cpio cpio
need dpkg-deb dpkg
need xz xz-utils
node_bin=$(readlink -f "$(command -v node)")
# shellcheck source=layers/lib.sh
. "$here/layers/lib.sh"

# --- kernel -------------------------------------------------------------
KERNEL_MODULES="drivers/nvdimm/libnvdimm drivers/acpi/nfit/nfit drivers/nvdimm/nd_btt drivers/nvdimm/nd_pmem
  drivers/dax/device_dax drivers/dax/dax_pmem drivers/dax/kmem"
if [ ! -s "$cache/vmlinuz" ] || [ ! -s "$cache/modules/kmem.ko" ]; then
  pkg=$(apt-cache search --names-only '^linux-image-6\.12\.[0-9.]+\+deb[0-9]+-cloud-amd64-unsigned$' | awk '{print $1}' | sort -V | tail -1)
  if [ -z "$pkg" ]; then
    echo "no linux-image-6.12.*-cloud-amd64-unsigned in the apt sources (run apt-get update; Debian 12 needs bookworm-updates/security)" >&2
    exit 3
  fi
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download "$pkg" >/dev/null 2>&1) || { echo "apt-get download $pkg failed" >&2; rm -rf "$tmp"; exit 3; }
  dpkg-deb -x "$tmp"/*.deb "$tmp/x"
  rm -rf "$cache/modules" "$cache"/config-*
  mkdir -p "$cache/modules.new"
  for m in $KERNEL_MODULES; do
    xz -dc "$tmp"/x/lib/modules/*/kernel/"$m".ko.xz >"$cache/modules.new/${m##*/}.ko"
  done
  mv "$cache/modules.new" "$cache/modules"
  cp "$tmp"/x/boot/vmlinuz-* "$cache/vmlinuz.new"
  cp "$tmp"/x/boot/config-* "$cache/"
  echo "$pkg" >"$cache/kernel-package"
  mv "$cache/vmlinuz.new" "$cache/vmlinuz"
  rm -rf "$tmp"
fi

# --- layers -------------------------------------------------------------
# Builds layer $1 if its key changed; prints the cpio's path.
build_layer() {
  local name=$1 script="$here/layers/$1.sh" key root
  [ -f "$script" ] || { echo "unknown test-bed layer '$name' (no $script)" >&2; exit 2; }
  (
    # shellcheck disable=SC1090
    . "$script"
    layer_need
    key=$( (cat "$script" "$here/layers/lib.sh"; layer_inputs) | sha256sum | cut -c1-16)
    if [ ! -s "$cache/$name-$key.cpio" ]; then
      root=$(mktemp -d)
      layer_build "$root"
      (cd "$root" && find . | cpio -o -H newc --quiet -R 0:0) >"$cache/$name-$key.cpio.new"
      mv "$cache/$name-$key.cpio.new" "$cache/$name-$key.cpio"
      rm -rf "$root"
      find "$cache" -maxdepth 1 -name "$name-*.cpio" ! -name "$name-$key.cpio" -delete
    fi
    echo "$cache/$name-$key.cpio"
  )
}

cpios=()
for l in "${layers[@]}"; do cpios+=("$(build_layer "$l")"); done
[ $prebuild = 1 ] && exit 0

# --- app: dist/, production dependencies, the tiny nested guest ----------
app=$(mktemp -d)
trap 'rm -rf "$app"' EXIT
mkdir -p "$app/hmmv/node_modules"
cp "$repo/package.json" "$app/hmmv/"
cp -r "$repo/schemas" "$app/hmmv/schemas"
mkdir -p "$app/hmmv/plugin/pool" && cp -r "$repo/plugin/pool/dashboard" "$app/hmmv/plugin/pool/"
cp -r "$repo/dist" "$app/hmmv/dist"
# the production dependencies only (koffi with its prebuilt binary, commander, ...)
(cd "$repo" && npm ls --omit=dev --all --parseable 2>/dev/null | tail -n +2) | while read -r dir; do
  rel=${dir#"$repo"/}
  [ -e "$app/hmmv/$rel" ] && continue
  mkdir -p "$app/hmmv/$(dirname "$rel")"
  cp -r "$dir" "$app/hmmv/$rel"
done
[ -e "$app/hmmv/node_modules/koffi" ] || { echo "koffi is not installed (npm ci)" >&2; exit 3; }
if [[ " ${layers[*]} " == *" libvirt "* ]]; then
  bash "$repo/test/e2e-host/tiny-guest/build.sh" "$app/hmmv/tiny-guest.elf"
fi
(cd "$app" && find . | cpio -o -H newc --quiet -R 0:0) >"$cache/app.cpio"
name=$(IFS=+; echo "${layers[*]}")
cat "${cpios[@]}" "$cache/app.cpio" >"$cache/initrd-$name.cpio.new"
mv "$cache/initrd-$name.cpio.new" "$cache/initrd-$name.cpio"
echo "$cache/initrd-$name.cpio"
