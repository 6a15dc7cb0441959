#!/usr/bin/env bash
# Everything `docker-compose up` needs on a machine that reaches no container registry:
#
#   1. a Docker engine that answers (this script never starts one: scripts/docker.sh does)
#      and docker-compose (installed with apt when missing and run as root);
#   2. the Python base image (scripts/build-base-image.sh, debootstrap) unless it exists;
#   3. build/wheels: every dependency of minik as a wheel for the base image's Python, so
#      that the Dockerfile installs with --no-index (refreshed when pyproject.toml changes);
#   4. the pods' images minik/pause and minik/workload (python -m minik.kubelet.images).
#
#   scripts/compose-prepare.sh [BASE_IMAGE]     (default: $MINIK_BASE_IMAGE, else
#                                                minik/python-base:bookworm)
#
# Idempotent and quick when everything is there. Afterwards:
#   MINIK_BASE_IMAGE=minik/python-base:bookworm docker-compose up -d --build
set -euo pipefail
cd "$(dirname "$0")/.."

base=${1:-${MINIK_BASE_IMAGE:-minik/python-base:bookworm}}
py=.venv/bin/python
[ -x "$py" ] || py=python3

if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
  echo "no Docker engine answers 'docker info': run scripts/docker.sh (as root) or start dockerd" >&2
  exit 1
fi

if ! command -v docker-compose >/dev/null 2>&1 && ! docker compose version >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "neither docker-compose (v1) nor 'docker compose' (v2) is installed: apt-get install docker-compose" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  policy=$(apt-cache policy docker-compose 2>/dev/null || true)
  if ! grep -q 'Candidate: [0-9]' <<<"$policy"; then
    echo "==> apt-get update" >&2
    apt-get update -qq
  fi
  echo "==> apt-get install docker-compose" >&2
  apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
fi

# 2. The base image: built locally only when it is one of ours and missing (a public
# image such as python:3.11-slim-bookworm is pulled by the build itself).
if ! docker image inspect "$base" >/dev/null 2>&1; then
  case "$base" in
    minik/*) scripts/build-base-image.sh "$base" ;;
    *) echo "==> base image $base is not here: the build will pull it" >&2 ;;
  esac
fi

# 3. The wheelhouse, for the base image's Python (its X.Y may differ from the host's).
wheels=build/wheels
stamp=$wheels/.stamp
if docker image inspect "$base" >/dev/null 2>&1; then
  target=$(docker run --rm --entrypoint python3 "$base" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
else
  target=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ "$(cat "$stamp")" != "$target" ]; then
  mkdir -p "$wheels"
  req=$(mktemp)
  trap 'rm -f "$req"' EXIT
  "$py" - "$req" <<'EOF'
import sys, tomllib
deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
open(sys.argv[1], "w").write("\n".join([*deps, "pip", "setuptools>=68", "wheel"]) + "\n")
EOF
  host=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  extra=()
  if [ "$host" != "$target" ]; then extra=(--python-version "$target" --only-binary=:all:); fi
  echo "==> pip download: minik's dependencies for Python $target into $wheels" >&2
  # (this machine's pip.conf may name extra indexes that do not exist: not worth a warning)
  "$py" -m pip download -q --disable-pip-version-check -d "$wheels" "${extra[@]}" -r "$req" \
    2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
  echo "$target" >"$stamp"
fi

# 4. The pods' images (built from images/ with the host's gcc and busybox-static).
"$py" -m minik.kubelet.images >/dev/null
echo "==> ready: MINIK_BASE_IMAGE=$base docker-compose up -d --build" >&2
