"""Pod volumes: what each volume type becomes on a Docker node.

Every pod gets a directory of its own, ``<root>/pods/<uid>/`` (see :func:`pod_dir`), and
each volume in ``spec.volumes`` becomes either a host directory under it (bind-mounted) or
a named Docker volume:

=======================  ==========================================================
emptyDir                 ``volumes/kubernetes.io~empty-dir/<name>`` (mode 0777), shared by
                         all containers of the pod, deleted with the pod
emptyDir medium=Memory   a Docker ``local`` volume of type tmpfs (``sizeLimit`` → size).
                         The sandbox mounts it too, so it stays mounted — and keeps its
                         content — while app containers restart
hostPath                 the host path itself (``type`` checked, ``…OrCreate`` created)
configMap, secret,       files the kubelet writes into ``volumes/kubernetes.io~<type>/<name>``
downwardAPI, projected   with :mod:`.atomicdir` (items, keys, modes), mounted read-only;
                         :func:`refresh_projected` rewrites them when the objects change
persistentVolumeClaim    a named Docker volume per claim, ``<prefix>pvc-<ns>-<claim>``, that
                         outlives the pod (a new pod with the same claim sees the data). The
                         prefix names the cluster, not the node: all nodes share this Docker
                         host, so the volume behaves like network storage and follows a pod
                         to whichever node it is scheduled on
=======================  ==========================================================

Bind mounts need host paths the Docker engine can see, so the kubelet's root directory
must be a host path (when the kubelet itself runs in a container, mount it at the same
path).
"""

from __future__ import annotations

import base64
import math
import shutil
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from minik.api.quantity import QuantityError, parse_quantity
from minik.kubelet.atomicdir import FileContent, write_atomic
from minik.kubelet.envvars import EnvError, field_value, resource_value
from minik.kubelet.runtime.base import LABEL_POD_UID, Mount, Runtime
from minik.kubelet.sources import ObjectSource

PROJECTED_TYPES = ("configMap", "secret", "downwardAPI", "projected")
SANDBOX_VOLUME_ROOT = "/.minik/volumes"  # where the pause container holds tmpfs volumes


class VolumeError(ValueError):
    """A volume cannot be set up; the message names the volume and the problem."""


@dataclass(frozen=True)
class PodVolume:
    """A prepared volume: a host path (``bind``) or a Docker volume name (``volume``)."""

    name: str
    kind: Literal["bind", "volume"]
    source: str
    read_only: bool = False
    keep_alive: bool = False  # the sandbox mounts it (tmpfs emptyDir)


def pod_dir(root: Path, uid: str) -> Path:
    return root / "pods" / uid


def _ns(pod: Mapping[str, Any]) -> str:
    return str((pod.get("metadata") or {}).get("namespace", "default"))


def _uid(pod: Mapping[str, Any]) -> str:
    return str((pod.get("metadata") or {}).get("uid", ""))


def pvc_volume_name(namespace: str, claim: str, prefix: str = "minik-") -> str:
    return f"{prefix}pvc-{namespace}-{claim}"


def memory_volume_name(pod_uid: str, volume: str, prefix: str = "minik-") -> str:
    return f"{prefix}{pod_uid}-{volume}"


# --- projected file sets ---------------------------------------------------------------------


def _decoded(obj: Mapping[str, Any], *, secret: bool) -> dict[str, bytes]:
    if secret:
        return {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
    out = {k: str(v).encode() for k, v in (obj.get("data") or {}).items()}
    out.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
    return out


def _object_files(
    vol_name: str,
    ref: Mapping[str, Any],
    obj_name: str,
    obj: Mapping[str, Any] | None,
    *,
    secret: bool,
    default_mode: int,
) -> dict[str, FileContent]:
    kind = "secret" if secret else "configmap"
    if obj is None:
        if ref.get("optional"):
            return {}
        raise VolumeError(f'volume "{vol_name}": {kind} "{obj_name}" not found')
    data = _decoded(obj, secret=secret)
    items = ref.get("items")
    if not items:
        return {key: FileContent(value, default_mode) for key, value in data.items()}
    files = {}
    for item in items:
        key = str(item["key"])
        if key not in data:
            if ref.get("optional"):
                continue
            raise VolumeError(f'volume "{vol_name}": key "{key}" not found in {kind} "{obj_name}"')
        files[str(item.get("path") or key)] = FileContent(data[key], int(item.get("mode", default_mode)))
    return files


def _downward_files(
    pod: Mapping[str, Any], vol_name: str, items: Sequence[Mapping[str, Any]], default_mode: int
) -> dict[str, FileContent]:
    files = {}
    for item in items:
        try:
            if "fieldRef" in item:
                value = field_value(pod, str(item["fieldRef"]["fieldPath"]))
            else:
                ref = item["resourceFieldRef"]
                value = resource_value(
                    pod, str(ref.get("containerName", "")), str(ref["resource"]), ref.get("divisor")
                )
        except (EnvError, KeyError) as exc:
            raise VolumeError(f'volume "{vol_name}": {exc}') from exc
        files[str(item["path"])] = FileContent(value.encode(), int(item.get("mode", default_mode)))
    return files


def projected_files(
    pod: Mapping[str, Any], volume: Mapping[str, Any], source: ObjectSource
) -> dict[str, FileContent]:
    """The files a configMap/secret/downwardAPI/projected volume should contain right now."""
    name = str(volume["name"])
    ns = _ns(pod)
    if "configMap" in volume:
        ref = volume["configMap"]
        mode = int(ref.get("defaultMode", 0o644))
        return _object_files(
            name,
            ref,
            str(ref.get("name", "")),
            source.config_map(ns, str(ref.get("name", ""))),
            secret=False,
            default_mode=mode,
        )
    if "secret" in volume:
        ref = volume["secret"]
        mode = int(ref.get("defaultMode", 0o644))
        secret_name = str(ref.get("secretName", ""))
        return _object_files(
            name, ref, secret_name, source.secret(ns, secret_name), secret=True, default_mode=mode
        )
    if "downwardAPI" in volume:
        ref = volume["downwardAPI"]
        return _downward_files(pod, name, ref.get("items") or [], int(ref.get("defaultMode", 0o644)))
    projected = volume["projected"]
    mode = int(projected.get("defaultMode", 0o644))
    files: dict[str, FileContent] = {}
    for src in projected.get("sources") or []:
        if "configMap" in src:
            ref = src["configMap"]
            files.update(
                _object_files(
                    name,
                    ref,
                    str(ref.get("name", "")),
                    source.config_map(ns, str(ref.get("name", ""))),
                    secret=False,
                    default_mode=mode,
                )
            )
        elif "secret" in src:
            ref = src["secret"]
            files.update(
                _object_files(
                    name,
                    ref,
                    str(ref.get("name", "")),
                    source.secret(ns, str(ref.get("name", ""))),
                    secret=True,
                    default_mode=mode,
                )
            )
        elif "downwardAPI" in src:
            files.update(_downward_files(pod, name, src["downwardAPI"].get("items") or [], mode))
        elif "serviceAccountToken" in src:
            ref = src["serviceAccountToken"]
            account = str((pod.get("spec") or {}).get("serviceAccountName") or "default")
            token = source.service_account_token(
                ns,
                account,
                audience=ref.get("audience"),
                expiration_seconds=int(ref.get("expirationSeconds", 3600)),
            )
            if token is None:
                raise VolumeError(f'volume "{name}": no token for service account "{account}"')
            files[str(ref["path"])] = FileContent(token.encode(), mode)
    return files


def _projected_dir(root: Path, volume: Mapping[str, Any]) -> Path:
    kind = next(t for t in PROJECTED_TYPES if t in volume)
    return root / "volumes" / f"kubernetes.io~{kind.lower()}" / str(volume["name"])


# --- setup and teardown ----------------------------------------------------------------------


def _host_path(name: str, spec: Mapping[str, Any]) -> str:
    path = Path(str(spec["path"]))
    kind = str(spec.get("type") or "")
    checks = {
        "Directory": stat.S_ISDIR,
        "File": stat.S_ISREG,
        "Socket": stat.S_ISSOCK,
        "CharDevice": stat.S_ISCHR,
        "BlockDevice": stat.S_ISBLK,
    }
    if kind == "DirectoryOrCreate":
        path.mkdir(mode=0o755, parents=True, exist_ok=True)
    elif kind == "FileOrCreate":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o644, exist_ok=True)
    elif kind in checks:
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            raise VolumeError(f'volume "{name}": hostPath {path} does not exist (type {kind})') from None
        if not checks[kind](mode):
            raise VolumeError(f'volume "{name}": hostPath {path} is not a {kind}')
    elif kind:
        raise VolumeError(f'volume "{name}": unsupported hostPath type {kind!r}')
    return str(path)


async def prepare_volumes(
    pod: Mapping[str, Any],
    *,
    root: Path,
    source: ObjectSource,
    runtime: Runtime,
    volume_prefix: str = "minik-",
    labels: Mapping[str, str] | None = None,
) -> dict[str, PodVolume]:
    """Create every volume of ``pod`` on this node; returns name → :class:`PodVolume`."""
    base = pod_dir(root, _uid(pod))
    ns = _ns(pod)
    out: dict[str, PodVolume] = {}
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        name = str(volume["name"])
        if "emptyDir" in volume:
            spec = volume["emptyDir"] or {}
            if spec.get("medium") == "Memory":
                limit = spec.get("sizeLimit")
                docker_name = memory_volume_name(_uid(pod), name, volume_prefix)
                size = _size_limit(name, limit)
                await runtime.ensure_volume(
                    docker_name,
                    tmpfs=True,
                    size_bytes=size,
                    labels={**(labels or {}), LABEL_POD_UID: _uid(pod)},
                )
                out[name] = PodVolume(name, "volume", docker_name, keep_alive=True)
            else:
                path = base / "volumes" / "kubernetes.io~empty-dir" / name
                path.mkdir(parents=True, exist_ok=True)
                path.chmod(0o777)
                out[name] = PodVolume(name, "bind", str(path))
        elif "hostPath" in volume:
            out[name] = PodVolume(name, "bind", _host_path(name, volume["hostPath"]))
        elif any(t in volume for t in PROJECTED_TYPES):
            target = _projected_dir(base, volume)
            write_atomic(target, projected_files(pod, volume, source))
            target.chmod(0o755)
            out[name] = PodVolume(name, "bind", str(target), read_only=True)
        elif "persistentVolumeClaim" in volume:
            claim = volume["persistentVolumeClaim"]
            docker_name = pvc_volume_name(ns, str(claim["claimName"]), volume_prefix)
            await runtime.ensure_volume(
                docker_name, labels={**(labels or {}), "io.minik.pvc": f"{ns}/{claim['claimName']}"}
            )
            out[name] = PodVolume(name, "volume", docker_name, read_only=bool(claim.get("readOnly")))
        else:
            kinds = sorted(k for k in volume if k != "name")
            raise VolumeError(f'volume "{name}": unsupported volume type {kinds}')
    return out


def refresh_projected(pod: Mapping[str, Any], *, root: Path, source: ObjectSource) -> list[str]:
    """Rewrite configMap/secret/downwardAPI/projected volumes; returns the names that changed."""
    changed = []
    base = pod_dir(root, _uid(pod))
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        if any(t in volume for t in PROJECTED_TYPES) and write_atomic(
            _projected_dir(base, volume), projected_files(pod, volume, source)
        ):
            changed.append(str(volume["name"]))
    return changed


def container_mounts(container: Mapping[str, Any], volumes: Mapping[str, PodVolume]) -> tuple[Mount, ...]:
    """The container's ``volumeMounts`` as runtime mounts (subPath resolved for host paths)."""
    mounts = []
    for vm in container.get("volumeMounts") or []:
        volume = volumes.get(str(vm["name"]))
        if volume is None:
            raise VolumeError(
                f'volumeMount "{vm["name"]}" of container "{container.get("name")}" names no volume'
            )
        source = volume.source
        sub = str(vm.get("subPath") or "")
        if sub:
            if volume.kind != "bind":
                raise VolumeError(
                    f'volumeMount "{vm["name"]}": subPath on a Docker volume is not supported by this engine'
                )
            if sub.startswith("/") or ".." in Path(sub).parts:
                raise VolumeError(
                    f'volumeMount "{vm["name"]}": subPath {sub!r} must be relative, without ".."'
                )
            path = Path(source) / sub
            if not path.exists():
                path.mkdir(parents=True, mode=0o777)
            source = str(path)
        mounts.append(
            Mount(
                target=str(vm["mountPath"]),
                source=source,
                kind=volume.kind,
                read_only=bool(vm.get("readOnly")) or volume.read_only,
            )
        )
    return tuple(mounts)


def sandbox_mounts(volumes: Mapping[str, PodVolume]) -> tuple[Mount, ...]:
    """Mounts the sandbox holds for the pod's lifetime (tmpfs emptyDirs)."""
    return tuple(
        Mount(target=f"{SANDBOX_VOLUME_ROOT}/{v.name}", source=v.source, kind="volume")
        for v in volumes.values()
        if v.keep_alive
    )


async def teardown_volumes(pod_uid: str, *, root: Path, runtime: Runtime) -> None:
    """Remove what :func:`prepare_volumes` made for the pod — except PVC volumes, which outlive it."""
    await runtime.remove_pod_volumes(pod_uid)
    shutil.rmtree(pod_dir(root, pod_uid), ignore_errors=True)


def _size_limit(volume: str, limit: Any) -> int | None:
    """An emptyDir's ``sizeLimit`` in bytes; a valid quantity too large for the runtime is a VolumeError."""
    if not limit:
        return None
    try:
        size = math.ceil(parse_quantity(limit))
    except (QuantityError, TypeError) as exc:
        raise VolumeError(f"volume {volume!r}: sizeLimit {limit!r}: {exc}") from None
    if size > (1 << 63) - 1:
        raise VolumeError(
            f"volume {volume!r}: sizeLimit {limit!r} is larger than the container runtime can hold"
        )
    return size
