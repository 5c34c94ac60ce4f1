#!/usr/bin/env bash
# Build (once) a minimal Debian root for the roles' chroot test and keep it as a tarball, so later
# runs only unpack it. Usage: build_root.sh <suite> <tarball>. Needs root and debootstrap.
# python3 and python3-apt are included because Ansible's modules (apt among them) run inside the
# root; policy-rc.d forbids daemons from starting inside it, as there is no init there.
set -euo pipefail
suite="${1:-bookworm}"
tarball="${2:-/var/cache/misp-planner-chroot/${suite}.tar}"
mirror="${MISP_PLANNER_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if [ -s "$tarball" ]; then
  echo "reusing $tarball"
  exit 0
fi
mkdir -p "$(dirname "$tarball")"
work="$(mktemp -d "$(dirname "$tarball")/build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
debootstrap --variant=minbase --include=python3,python3-apt,ca-certificates "$suite" "$work/root" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }
printf '#!/bin/sh\n# no init in this chroot: packages must not start daemons\nexit 101\n' >"$work/root/usr/sbin/policy-rc.d"
chmod 0755 "$work/root/usr/sbin/policy-rc.d"
rm -rf "$work/root/var/cache/apt/archives/"*.deb
tar -C "$work/root" -cf "$work/root.tar" .
mv "$work/root.tar" "$tarball"
echo "built $tarball"
