#!/usr/bin/env bash
# hmmv.ko for the test-bed kernel: fetches Debian's matching headers and
# checkpatch.pl (apt-get download + dpkg-deb -x, cached in the test-bed
# cache), builds the module once and the test bed's kmod layer (the module
# and its static in-guest checker), so the suites only reuse them.
# Runs after 30-guest-kernel.sh (the kernel it builds for).
set -euo pipefail
cd "$(dirname "$0")/../.."
cache=${HMMV_TESTBED_CACHE:-.cache/testbed}
bash kmod/build-for-testbed.sh "$cache" checkpatch >/dev/null
bash test/guest/build.sh . "$cache" prebuild optane kmod
