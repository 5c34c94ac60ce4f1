#!/usr/bin/env bash
# Build (once) a minimal Debian root for the roles' chroot test and keep it as a tarball, so later
# runs only unpack it. Usage: build_root.sh <suite> <tarball> [package...]. Needs root and debootstrap.
# python3 and python3-apt are included because Ansible's modules (apt among them) run inside the
# root; policy-rc.d keeps package scripts from starting daemons (the roles start them).
#
# With packages: the tarball also holds a local Debian repository (/var/local/debs) with those
# packages and everything they depend on, and it is the root's only apt source. The test then
# runs the roles without network access, as on an air-gapped host with a local Debian mirror.
# The bare root is cached beside the tarball (<suite>-base.tar) and reused for other package lists.
set -euo pipefail
suite="${1:-bookworm}"
tarball="${2:-/var/cache/misp-planner-chroot/${suite}.tar}"
shift 2 || true
mirror="${MISP_PLANNER_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if [ -s "$tarball" ]; then
  echo "reusing $tarball"
  exit 0
fi
cache="$(dirname "$tarball")"
base="$cache/${suite}-base.tar"
mkdir -p "$cache"
work="$(mktemp -d "$cache/build.XXXXXX")"
trap 'umount -l "$work/root/proc" 2>/dev/null || true; rm -rf "$work"' EXIT
if [ -s "$base" ]; then
  mkdir "$work/root"
  tar -C "$work/root" -xf "$base"
else
  debootstrap --variant=minbase --include=python3,python3-apt,ca-certificates "$suite" "$work/root" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }
  printf '#!/bin/sh\n# package scripts must not start daemons: the roles start them\nexit 101\n' >"$work/root/usr/sbin/policy-rc.d"
  chmod 0755 "$work/root/usr/sbin/policy-rc.d"
  rm -rf "$work/root/var/cache/apt/archives/"*.deb
  if [ $# -gt 0 ]; then
    tar -C "$work/root" -cf "$work/base.tar" . && mv "$work/base.tar" "$base"
  fi
fi

if [ $# -gt 0 ]; then
  root="$work/root"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  mount -t proc proc "$root/proc"
  chroot "$root" apt-get update -qq
  chroot "$root" apt-get install -y -qq --no-install-recommends --download-only "$@" >/dev/null
  umount "$root/proc"
  repo="$root/var/local/debs"
  mkdir -p "$repo"
  mv "$root/var/cache/apt/archives/"*.deb "$repo/"
  # A flat repository: one Packages index made with dpkg-deb, which every Debian root has.
  chroot "$root" sh -c 'cd /var/local/debs && for deb in *.deb; do
      dpkg-deb -f "$deb"
      echo "Filename: ./$deb"
      echo "Size: $(stat -c %s "$deb")"
      echo "SHA256: $(sha256sum "$deb" | cut -d" " -f1)"
      echo
    done > Packages'
  # The test's installs go faster without fsync and without documentation (as in container images).
  printf 'force-unsafe-io\n' >"$root/etc/dpkg/dpkg.cfg.d/misp-planner-test-unsafe-io"
  printf 'path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\npath-exclude /usr/share/locale/*\n' \
    >"$root/etc/dpkg/dpkg.cfg.d/misp-planner-test-nodoc"
  # A host has name resolution for localhost (PyMySQL connects to "localhost" over TCP).
  printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
  rm -f "$root/etc/apt/sources.list" "$root/etc/apt/sources.list.d/"*
  echo "deb [trusted=yes] file:/var/local/debs ./" >"$root/etc/apt/sources.list"
  rm -rf "$root/var/lib/apt/lists/"*
  chroot "$root" apt-get update -qq
  : >"$root/etc/resolv.conf"
fi
tar -C "$work/root" -cf "$work/root.tar" .
mv "$work/root.tar" "$tarball"
echo "built $tarball"
