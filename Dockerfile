# One image for every minik component (etcd, apiserver, controller-manager, scheduler,
# kubelet, kube-proxy, dns): docker-compose.yml picks the component by its command.
#
#   docker build -t minik/minik:dev .                                   # from PyPI
#   docker build --build-arg BASE_IMAGE=minik/python-base:bookworm -t minik/minik:dev .
#
# BASE_IMAGE: any Debian-bookworm-based image with Python >= 3.11. Where no registry is
# reachable, scripts/build-base-image.sh builds an equivalent one with debootstrap.
# Offline installs: put wheels in build/wheels first (scripts/compose-prepare.sh does:
# `pip download -d build/wheels . setuptools wheel`); when that folder holds wheels, pip
# installs from it with --no-index, so the build needs no network at all.
#
# Layers, cheapest to rebuild last: system tools → a venv with minik's *dependencies*
# (rebuilt only when pyproject.toml or the wheels change) → minik's own source (a few
# seconds). The wheels live only in the first stage, so they do not weigh on the image.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LANG=C.UTF-8
# kube-proxy and the kubelet drive the kernel through these tools (the debootstrap base
# already has them; the official python image does not).
RUN set -e; \
    if ! command -v iptables-restore >/dev/null || ! command -v ip >/dev/null \
       || ! command -v nft >/dev/null || ! command -v sysctl >/dev/null; then \
      apt-get update; \
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        iptables iproute2 nftables procps ca-certificates; \
      rm -rf /var/lib/apt/lists/*; \
    fi

# -- stage 1: the dependencies, in a venv ------------------------------------------------------
FROM base AS deps
# The wheelhouse may be absent: pyproject.toml makes the COPY valid either way.
COPY pyproject.toml build/wheel[s] /wheels/
RUN set -e; \
    python3 -m venv /opt/minik; \
    python3 -c 'import tomllib; print("\n".join(tomllib.load(open("/wheels/pyproject.toml", "rb"))["project"]["dependencies"]))' \
      > /tmp/requirements.txt; \
    if ls /wheels/*.whl >/dev/null 2>&1; then \
      set -- --no-index --find-links /wheels; \
    fi; \
    /opt/minik/bin/pip install -q --disable-pip-version-check "$@" --upgrade pip setuptools wheel; \
    /opt/minik/bin/pip install -q --disable-pip-version-check "$@" -r /tmp/requirements.txt; \
    rm -rf /root/.cache

# -- stage 2: the image ------------------------------------------------------------------------
FROM base
COPY --from=deps /opt/minik /opt/minik
ENV PATH=/opt/minik/bin:$PATH
COPY pyproject.toml README.md /src/
COPY images /src/images
COPY examples /src/examples
COPY minik /src/minik
# --no-deps --no-build-isolation: everything it needs is already in the venv (no network).
RUN set -e; \
    pip install -q --disable-pip-version-check --no-deps --no-build-isolation /src; \
    rm -rf /src/build /src/*.egg-info /root/.cache; \
    ln -sf "$(python -c 'from minik.cluster.etcd_process import etcd_binary; print(etcd_binary())')" /usr/local/bin/etcd; \
    etcd --version | head -n1; \
    python -c 'import minik.apiserver.main, minik.controllers.manager, minik.scheduler.main, minik.kubelet.main, minik.proxy.main, minik.dns.main'

# The kubelet finds images/ through this (it only builds them with --build-images).
ENV MINIK_IMAGES_DIR=/src/images
WORKDIR /src
CMD ["python", "-m", "minik.cluster.compose", "--help"]
