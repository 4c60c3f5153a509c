# kmod layer: hmmv.ko built for the test-bed kernel (kmod/build-for-testbed.sh:
# Debian's matching headers, the kernel's own compiler) in
# /lib/modules/hmmv/hmmv.ko, and the module's in-guest checker
# /bin/kmod-check (test/kmod/guest/kmod-check.c, static). Loading the module
# is the in-guest program's job (test/kmod/in-guest-kmod.ts): it checks
# insmod and rmmod too. Use with the optane layer (a devdax NVDIMM).
layer_need() {
  need gcc gcc
  need make make
  [ -e /usr/lib/x86_64-linux-gnu/libc.a ] || { echo "missing static libc: apt-get install libc6-dev" >&2; exit 3; }
}
layer_inputs() {
  cat "$repo"/kmod/Kbuild "$repo"/kmod/Makefile "$repo"/kmod/build-for-testbed.sh "$repo"/kmod/*.c "$repo"/kmod/*.h "$repo"/kmod/uapi/*.h
  cat "$repo"/test/kmod/guest/*.c "$cache/kernel-package"
}
layer_build() {
  local root=$1 ko
  ko=$(bash "$repo/kmod/build-for-testbed.sh" "$cache")
  mkdir -p "$root/lib/modules/hmmv" "$root/bin"
  cp "$ko" "$root/lib/modules/hmmv/hmmv.ko"
  gcc -O2 -static -pthread -Wall -I "$repo/kmod/uapi" -o "$root/bin/kmod-check" "$repo"/test/kmod/guest/kmod-check.c
}
