# Base layer: busybox, node and its libraries, the kernel config (for the
# probe), the linux-backend workload, /init and the init.d folder.
layer_need() {
  need node "node 20 (the project's runtime)"
  need strip binutils
  need busybox busybox-static
  need gcc gcc
  [ -e /usr/lib/x86_64-linux-gnu/libc.a ] || { echo "missing static libc: apt-get install libc6-dev" >&2; exit 3; }
}
layer_inputs() {
  cat "$here/init.sh" "$here/workload.c" "$cache/kernel-package"
  "$node_bin" --version
  sha256sum /bin/busybox "$node_bin"
}
layer_build() {
  local root=$1
  mkdir -p "$root"/{bin,boot,dev,proc,sys,tmp,run,etc/hmmv/init.d,lib64,lib/x86_64-linux-gnu}
  cp "$cache"/config-* "$root/boot/"
  cp /bin/busybox "$root/bin/busybox"
  strip -o "$root/bin/node" "$node_bin"
  copy_files "$root" $(with_libs "$node_bin" | grep -v "^$node_bin\$")
  gcc -O2 -static -Wall -o "$root/bin/workload" "$here/workload.c"
  cp "$here/init.sh" "$root/init"
  chmod 755 "$root/init"
  mkdir -p "$root/usr/bin" && ln -s /bin/busybox "$root/usr/bin/env" # for #!/usr/bin/env node
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
  printf 'root:x:0:\n' >"$root/etc/group"
}
