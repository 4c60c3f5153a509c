#!/usr/bin/env bash
# Downloads Debian's 6.12 cloud kernel (apt-get download, dpkg-deb -x) and
# builds the base initramfs of the linux-backend test bed once, so the mocha
# suite only adds the freshly compiled app. Cache: .cache/testbed (gitignored).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash test/guest/build.sh . "${HMMV_TESTBED_CACHE:-.cache/testbed}" base
