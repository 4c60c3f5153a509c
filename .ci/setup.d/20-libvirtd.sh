#!/usr/bin/env bash
# Starts a system libvirtd (QEMU driver) without systemd, as DESIGN.md measured:
# the libvirt-qemu user, its directories, QEMU running as root, then virtlogd
# and libvirtd as daemons. Idempotent: safe to run again on a machine where
# libvirtd already runs (it is left alone).
set -euo pipefail

getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
getent passwd libvirt-qemu >/dev/null ||
  useradd --system --gid libvirt-qemu --home-dir /var/lib/libvirt --shell /usr/sbin/nologin libvirt-qemu
getent group kvm >/dev/null || groupadd --system kvm

mkdir -p /var/log/libvirt/qemu /var/lib/libvirt/qemu /var/cache/libvirt/qemu /run/libvirt \
  /etc/libvirt/hooks/qemu.d /var/log/hmmv /run/hmmv

conf=/etc/libvirt/qemu.conf
touch "$conf"
# QEMU runs as root so it can open the manager's QMP socket under /run/hmmv.
grep -qE '^user *=' "$conf" || echo 'user = "root"' >>"$conf"
grep -qE '^group *=' "$conf" || echo 'group = "root"' >>"$conf"

# The optional libvirt bindings (@unraid/libvirt) build with node-gyp, which
# would download Node's headers; point it at the installed ones instead.
if [ -f /usr/include/node/node.h ] && [ -z "$(npm config get nodedir 2>/dev/null | grep -v '^undefined$' || true)" ]; then
  npm config set nodedir /usr
fi

pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

pid_alive /run/virtlogd.pid || virtlogd -d
pid_alive /run/libvirtd.pid || libvirtd -d

# The first connection takes a few seconds (the QEMU driver probes capabilities).
for _ in $(seq 1 60); do
  if virsh -c qemu:///system version >/dev/null 2>&1; then
    echo "libvirtd is up: $(virsh -c qemu:///system version | grep -i 'running hypervisor' || true)"
    exit 0
  fi
  sleep 1
done
echo "libvirtd did not answer on qemu:///system within 60 s" >&2
exit 1
