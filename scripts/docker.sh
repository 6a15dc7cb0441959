#!/usr/bin/env bash
# Make sure a Docker engine answers `docker info`, and that the host tools minik's local
# image builds need (a static busybox, gcc with a static libc) are present.
#
# Idempotent: when `docker info` already works and the tools are there it does nothing.
# Otherwise, as root: installs Debian's docker.io (running `apt-get update` only when the
# package lists do not know it yet) and starts `dockerd` in the background — these
# machines have no systemd; where systemd runs, `systemctl start docker` is used instead —
# then waits until the engine answers. Not root: prints what to install and exits 1.
#
# Environment:
#   MINIK_HOME            where dockerd's log goes when /var/log is not writable
#   MINIK_DOCKER_TIMEOUT  seconds to wait for the engine (default 60)
set -euo pipefail

timeout_s=${MINIK_DOCKER_TIMEOUT:-60}
need_pkgs=()

engine_up() { docker info >/dev/null 2>&1; }

if ! command -v docker >/dev/null 2>&1 || ! engine_up; then need_pkgs+=(docker.io); fi
if ! dpkg -s busybox-static >/dev/null 2>&1; then need_pkgs+=(busybox-static); fi
if ! command -v gcc >/dev/null 2>&1 || ! dpkg -s libc6-dev >/dev/null 2>&1; then need_pkgs+=(gcc libc6-dev); fi

if [ "${#need_pkgs[@]}" -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  cat >&2 <<EOF
minik needs a running Docker engine and a few build tools, and this script can only
install them as root. Run, as root (Debian/Ubuntu):

  apt-get update && apt-get install -y docker.io busybox-static gcc libc6-dev
  dockerd >/var/log/dockerd.log 2>&1 &     # or: systemctl start docker

then make sure your user may use Docker (e.g. add it to the 'docker' group) and that
\`docker info\` works. Missing now: ${need_pkgs[*]/docker.io/a Docker engine this user can reach (docker.io)}
EOF
  exit 1
fi

# Install only what is missing; refresh the package lists only if they do not know it.
to_install=()
for p in "${need_pkgs[@]}"; do
  if [ "$p" = docker.io ] && command -v dockerd >/dev/null 2>&1; then continue; fi
  dpkg -s "$p" >/dev/null 2>&1 || to_install+=("$p")
done
if [ "${#to_install[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  for p in "${to_install[@]}"; do
    # (capture first: with pipefail, `apt-cache | grep -q` fails when grep exits early)
    policy=$(apt-cache policy "$p" 2>/dev/null || true)
    if ! grep -q 'Candidate: [0-9]' <<<"$policy"; then
      echo "==> apt-get update" >&2
      apt-get update -qq
      break
    fi
  done
  echo "==> apt-get install ${to_install[*]}" >&2
  apt-get install -y -qq --no-install-recommends "${to_install[@]}" >/dev/null
fi

if engine_up; then
  exit 0
fi

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  echo "==> systemctl start docker" >&2
  systemctl start docker
else
  log_dir=/var/log
  if [ ! -w "$log_dir" ]; then
    log_dir=${MINIK_HOME:-$HOME/.minik}
    mkdir -p "$log_dir"
  fi
  log_file=$log_dir/dockerd.log
  # A dockerd may already be starting (a parallel run of this script): do not start a second.
  if ! pgrep -x dockerd >/dev/null 2>&1; then
    echo "==> starting dockerd in the background (log: $log_file)" >&2
    # setsid: dockerd must outlive this script and the terminal or CI step that ran it.
    setsid nohup dockerd >>"$log_file" 2>&1 </dev/null &
  fi
fi

for _ in $(seq 1 $((timeout_s * 10))); do
  if engine_up; then
    echo "==> docker engine ready: $(docker version --format '{{.Server.Version}}' 2>/dev/null)" >&2
    exit 0
  fi
  sleep 0.1
done
echo "the Docker engine did not answer within ${timeout_s}s; see ${log_file:-journalctl -u docker}" >&2
[ -n "${log_file:-}" ] && tail -n 20 "$log_file" >&2
exit 1
