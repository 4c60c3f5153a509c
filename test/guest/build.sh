#!/usr/bin/env bash
# Builds the two-node TCG test bed for the linux host backend:
#   $CACHE/vmlinuz         Debian's 6.12 cloud kernel (apt-get download + dpkg-deb -x)
#   $CACHE/base.cpio       busybox-static, node and its shared libraries, the workload, /init
#   $CACHE/app.cpio        the project's dist/ and koffi (rebuilt every run: small)
#   $CACHE/initrd.cpio     base + app concatenated (the kernel unpacks both)
# Usage: build.sh REPO_DIR CACHE_DIR [base]. Everything but app.cpio is cached by
# content; with "base" only the kernel and base.cpio are built (CI set-up step).
set -euo pipefail
repo=$(cd "$1" && pwd)
mkdir -p "$2"
cache=$(cd "$2" && pwd)
here="$repo/test/guest"

need() { command -v "$1" >/dev/null || { echo "missing $1: apt-get install $2" >&2; exit 3; }; }
need node "node 20 (the project's runtime)"
need strip binutils
need busybox busybox-static
need cpio cpio
need gcc gcc
need dpkg-deb dpkg
[ -e /usr/lib/x86_64-linux-gnu/libc.a ] || { echo "missing static libc: apt-get install libc6-dev" >&2; exit 3; }

# --- kernel -------------------------------------------------------------
if [ ! -s "$cache/vmlinuz" ]; then
  pkg=$(apt-cache search --names-only '^linux-image-6\.12\.[0-9.]+\+deb[0-9]+-cloud-amd64-unsigned$' | awk '{print $1}' | sort -V | tail -1)
  if [ -z "$pkg" ]; then
    echo "no linux-image-6.12.*-cloud-amd64-unsigned in the apt sources (run apt-get update; Debian 12 needs bookworm-updates/security)" >&2
    exit 3
  fi
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download "$pkg" >/dev/null 2>&1) || { echo "apt-get download $pkg failed" >&2; rm -rf "$tmp"; exit 3; }
  dpkg-deb -x "$tmp"/*.deb "$tmp/x"
  cp "$tmp"/x/boot/vmlinuz-* "$cache/vmlinuz.new"
  rm -f "$cache"/config-*
  cp "$tmp"/x/boot/config-* "$cache/"
  echo "$pkg" > "$cache/kernel-package"
  mv "$cache/vmlinuz.new" "$cache/vmlinuz"
  rm -rf "$tmp"
fi

# --- base initramfs -----------------------------------------------------
node_bin=$(readlink -f "$(command -v node)")
key=$( (cat "$here/build.sh" "$here/init.sh" "$here/workload.c"; "$node_bin" --version; sha256sum /bin/busybox; cat "$cache/kernel-package") | sha256sum | cut -c1-16)
if [ ! -s "$cache/base-$key.cpio" ]; then
  root=$(mktemp -d)
  mkdir -p "$root"/{bin,boot,dev,proc,sys,tmp,etc,lib64,lib/x86_64-linux-gnu}
  cp "$cache"/config-* "$root/boot/"   # so the probe can name kernel options
  cp /bin/busybox "$root/bin/busybox"
  strip -o "$root/bin/node" "$node_bin"
  for lib in $(ldd "$node_bin" | awk '/=>/ {print $3} $1 ~ /^\/lib64\// {print $1}'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  gcc -O2 -static -Wall -o "$root/bin/workload" "$here/workload.c"
  cp "$here/init.sh" "$root/init"
  chmod 755 "$root/init"
  (cd "$root" && find . | cpio -o -H newc --quiet -R 0:0) > "$cache/base-$key.cpio.new"
  mv "$cache/base-$key.cpio.new" "$cache/base-$key.cpio"
  rm -rf "$root"
  find "$cache" -name 'base-*.cpio' ! -name "base-$key.cpio" -delete
fi

[ "${3:-}" = base ] && exit 0

# --- app: dist/ and koffi ----------------------------------------------
app=$(mktemp -d)
mkdir -p "$app/hmmv/node_modules"
cp "$repo/package.json" "$app/hmmv/"
cp -r "$repo/dist" "$app/hmmv/dist"
# the production dependencies only (koffi with its prebuilt binary, commander, ...)
(cd "$repo" && npm ls --omit=dev --all --parseable 2>/dev/null | tail -n +2) | while read -r dir; do
  rel=${dir#"$repo"/}
  [ -e "$app/hmmv/$rel" ] && continue
  mkdir -p "$app/hmmv/$(dirname "$rel")"
  cp -r "$dir" "$app/hmmv/$rel"
done
[ -e "$app/hmmv/node_modules/koffi" ] || { echo "koffi is not installed (npm ci)" >&2; exit 3; }
(cd "$app" && find . | cpio -o -H newc --quiet -R 0:0) > "$cache/app.cpio"
rm -rf "$app"
cat "$cache/base-$key.cpio" "$cache/app.cpio" > "$cache/initrd.cpio"
echo "$cache/initrd.cpio"
