#!/usr/bin/env bash
# Build a Python base image for minik's Dockerfile locally, with debootstrap, for
# machines that reach no container registry (it stands in for python:3.11-slim-bookworm).
#
#   scripts/build-base-image.sh [TAG]        (default minik/python-base:bookworm)
#
# Idempotent: does nothing when the tag already exists (MINIK_REBUILD_BASE=1 forces a
# rebuild). As root it installs debootstrap via apt when missing.
#
# Environment:
#   MINIK_DEBIAN_MIRROR   Debian mirror (default: the first deb.debian.org-style URI of
#                         this host's apt sources, else http://deb.debian.org/debian)
#   MINIK_REBUILD_BASE=1  rebuild even when the image exists
set -euo pipefail

tag=${1:-minik/python-base:bookworm}
suite=bookworm

if [ "${MINIK_REBUILD_BASE:-0}" != 1 ] && docker image inspect "$tag" >/dev/null 2>&1; then
  echo "==> base image $tag already exists" >&2
  exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "debootstrap is missing: run as root, or apt-get install debootstrap" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  policy=$(apt-cache policy debootstrap 2>/dev/null || true)
  if ! grep -q 'Candidate: [0-9]' <<<"$policy"; then
    echo "==> apt-get update" >&2
    apt-get update -qq
  fi
  echo "==> apt-get install debootstrap" >&2
  apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "debootstrap needs root" >&2
  exit 1
fi

mirror=${MINIK_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(grep -rhoE '(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
    | grep -oE 'https?://[^ ]+' | head -n1 || true)
  mirror=${mirror:-http://deb.debian.org/debian}
fi

dir=$(mktemp -d /var/tmp/minik-base.XXXXXX)
cleanup() {
  # debootstrap mounts proc/sys in the target while it configures packages: never let
  # rm cross into a mount (an interrupted run may leave one behind).
  for m in $(grep -o " $dir/[^ ]*" /proc/mounts | sort -r); do umount -l "$m" 2>/dev/null || true; done
  rm -rf --one-file-system "$dir" "$dir.log"
}
trap cleanup EXIT
start=$(date +%s)
echo "==> debootstrap --variant=minbase $suite from $mirror (about a minute)" >&2
debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates,iproute2,iptables,nftables,procps \
  "$suite" "$dir" "$mirror" >"$dir.log" 2>&1 || { tail -n 30 "$dir.log" >&2; exit 1; }
# Slim it down like the official images: no apt lists, caches, docs or man pages.
rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb \
  "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/locale/*
echo "==> docker import $tag" >&2
tar -C "$dir" -c . | docker import \
  -c 'ENV LANG=C.UTF-8' \
  -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'CMD ["python3"]' \
  - "$tag" >/dev/null
echo "==> built $tag in $(( $(date +%s) - start ))s" >&2
