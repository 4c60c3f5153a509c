#!/usr/bin/env bash
# Downloads Debian's 6.12 cloud kernel (apt-get download, dpkg-deb -x) and
# builds the test bed's cached initramfs layers once (base; optane and libvirt
# for the emulated-Optane host), so the suites only add the freshly compiled
# app layer. Cache: .cache/testbed (gitignored).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash test/guest/build.sh . "${HMMV_TESTBED_CACHE:-.cache/testbed}" prebuild optane libvirt
