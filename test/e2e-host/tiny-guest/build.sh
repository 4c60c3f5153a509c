#!/usr/bin/env bash
# Builds the tiny nested guest: build.sh OUT.elf (gcc -m32 -ffreestanding, ld -m elf_i386).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
flags=(-m32 -ffreestanding -fno-pic -fno-stack-protector -fno-asynchronous-unwind-tables -nostdlib -O2 -Wall -Wextra -Werror)
gcc "${flags[@]}" -c "$here/entry.S" -o "$tmp/entry.o"
gcc "${flags[@]}" -c "$here/tiny.c" -o "$tmp/tiny.o"
ld -m elf_i386 -z max-page-size=0x1000 -z noexecstack --no-warn-rwx-segments -T "$here/tiny.ld" -o "$out" "$tmp/entry.o" "$tmp/tiny.o"
