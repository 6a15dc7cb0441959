#!/usr/bin/env bash
# Make sure the host tools minik drives are installed: iptables and nft (kube-proxy),
# iproute2 (network namespaces, bridges, routes), and a running Docker engine (kubelet).
# As root it installs what is missing with apt; otherwise it says exactly what to install.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v iptables-restore >/dev/null 2>&1 || need+=(iptables)
command -v nft >/dev/null 2>&1 || need+=(nftables)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v conntrack >/dev/null 2>&1 || need+=(conntrack)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "minik needs these Debian packages: ${need[*]}" >&2
    echo "install them with: sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  echo "==> installing ${need[*]} (apt)"
  if ! apt-get install -y -q "${need[@]}" >/dev/null 2>&1; then
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
  fi
fi
exec scripts/docker.sh
