#!/usr/bin/env bash
# Builds hmmv.ko for the test bed's kernel without touching the system:
# Debian's headers for that kernel (linux-headers-VERSION, its -common and
# linux-kbuild-BASE) are fetched with apt-get download and unpacked with
# dpkg-deb -x under CACHE/kmod/headers-VERSION (once), the one-line Makefile's
# absolute include pointed at the unpacked tree, and the module built there
# with the compiler that built the kernel (x86_64-linux-gnu-gcc-12).
# With "checkpatch", also unpacks scripts/checkpatch.pl (and its data files)
# from Debian's linux-source package into CACHE/kmod/checkpatch/ (once).
# Usage: build-for-testbed.sh CACHE_DIR [checkpatch]   prints the .ko path
# The kernel is the one named in CACHE_DIR/kernel-package (test/guest/build.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1/kmod"
cache=$(cd "$1" && pwd)
kcache="$cache/kmod"

[ -s "$cache/kernel-package" ] || { echo "no $cache/kernel-package: build the test bed first (test/guest/build.sh)" >&2; exit 3; }
image=$(cat "$cache/kernel-package")             # linux-image-6.12.117+deb12-cloud-amd64-unsigned
version=${image#linux-image-}
version=${version%-unsigned}                       # 6.12.117+deb12-cloud-amd64
flavour=${version##*+deb[0-9][0-9]-}               # cloud-amd64
base=${version%-"$flavour"}                        # 6.12.117+deb12
cc=x86_64-linux-gnu-gcc-12
command -v "$cc" >/dev/null || { echo "missing $cc (the compiler of Debian's 6.12 kernel): apt-get install gcc-12" >&2; exit 3; }
command -v make >/dev/null || { echo "missing make: apt-get install make" >&2; exit 3; }

fetch() { # fetch DIR PACKAGE... : apt-get download + dpkg-deb -x into DIR (once)
  local dir=$1 tmp
  shift
  [ -e "$dir/.done" ] && return 0
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download "$@" >/dev/null 2>&1) || { echo "apt-get download $* failed (apt-get update?)" >&2; rm -rf "$tmp"; exit 3; }
  rm -rf "$dir"
  mkdir -p "$dir"
  for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$dir"; done
  rm -rf "$tmp"
  touch "$dir/.done"
}

headers="$kcache/headers-$version"
fetch "$headers" "linux-headers-$version" "linux-headers-$base-common" "linux-kbuild-$base"
kdir="$headers/usr/src/linux-headers-$version"
sed -i "s|^include /usr/src/|include $headers/usr/src/|" "$kdir/Makefile"

if [ "${2:-}" = checkpatch ] && [ ! -s "$kcache/checkpatch/checkpatch.pl" ]; then
  src=$(echo "$base" | cut -d. -f1,2)               # 6.12
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download "linux-source-$src" >/dev/null 2>&1) || { echo "apt-get download linux-source-$src failed" >&2; rm -rf "$tmp"; exit 3; }
  dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -x -C "$tmp" --wildcards './usr/src/linux-source-*.tar.xz'
  tar -xJf "$tmp"/usr/src/linux-source-*.tar.xz -C "$tmp" --wildcards '*/scripts/checkpatch.pl' '*/scripts/spelling.txt' '*/scripts/const_structs.checkpatch'
  mkdir -p "$kcache/checkpatch"
  cp "$tmp"/linux-source-*/scripts/{checkpatch.pl,spelling.txt,const_structs.checkpatch} "$kcache/checkpatch/"
  rm -rf "$tmp"
fi

# Build in a copy keyed by the sources, so the tree stays clean.
key=$( (cd "$here" && cat Kbuild Makefile ./*.c ./*.h uapi/*.h; echo "$version") | sha256sum | cut -c1-16)
out="$kcache/build-$key"
if [ ! -s "$out/hmmv.ko" ]; then
  rm -rf "$out.tmp"
  mkdir -p "$out.tmp/uapi"
  cp "$here"/Kbuild "$here"/Makefile "$here"/*.c "$here"/*.h "$out.tmp/"
  cp "$here"/uapi/*.h "$out.tmp/uapi/"
  # No pahole here: skip the BTF of the module (it loads the same without).
  make -s -C "$kdir" M="$out.tmp" CC="$cc" CONFIG_DEBUG_INFO_BTF_MODULES= W=1 modules >"$out.tmp/build.log" 2>&1 ||
    { cat "$out.tmp/build.log" >&2; exit 1; }
  rm -rf "$out"
  mv "$out.tmp" "$out"
  find "$kcache" -maxdepth 1 -name 'build-*' ! -name "build-$key" -exec rm -rf {} +
fi
echo "$out/hmmv.ko"
