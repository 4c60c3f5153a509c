#!/usr/bin/env bash
# hmmv.ko for the test-bed kernel: fetches Debian's matching headers and
# checkpatch.pl (apt-get download + dpkg-deb -x, cached in the test-bed
# cache) and builds the module once, so the suites only reuse it.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash kmod/build-for-testbed.sh "${HMMV_TESTBED_CACHE:-.cache/testbed}" checkpatch >/dev/null
