"""Build the images minik needs locally — no registry required.

These machines reach no container registry, so minik builds its two images itself,
``FROM scratch``, from sources in the repository's ``images/`` folder:

``minik/pause:3.10`` (:data:`PAUSE_IMAGE`)
    ``images/pause/pause.c`` compiled on the host with ``gcc -Os -static``: the process
    that owns every pod's namespaces (about 0.7 MB).
``minik/workload:1.0`` (:data:`WORKLOAD_IMAGE`)
    Debian's ``busybox-static`` binary with every applet installed as a symlink, plus a
    tiny HTTP server on port 8080 that answers ``GET /`` with ``pod=<name> ip=<ip>`` and
    ``GET /healthz`` with ``ok`` (see ``images/workload/http-handler``).

Building is idempotent: each image carries the label :data:`HASH_LABEL` holding a hash
of everything that went into it (sources, Dockerfile, the host binaries copied in). When
an image with that tag and that hash exists, nothing is built. Host tools needed:
``gcc`` with a static libc and ``/bin/busybox`` from ``busybox-static`` —
``scripts/docker.sh`` installs them along with the Docker engine.

The sources are found next to the ``minik`` package (a source checkout or an editable
install) or in ``$MINIK_IMAGES_DIR``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

log = logging.getLogger(__name__)

PAUSE_IMAGE = "minik/pause:3.10"
WORKLOAD_IMAGE = "minik/workload:1.0"
HASH_LABEL = "io.minik.image.content-hash"
BUSYBOX = Path("/bin/busybox")


class ImageBuildError(RuntimeError):
    """An image could not be built; the message says what is missing and how to fix it."""


@dataclass(frozen=True)
class ImageRecipe:
    """How to assemble one image's build context from ``images/<folder>``."""

    tag: str
    folder: str
    prepare: Callable[[Path, Path], None]  # (source folder, build context) -> None
    host_inputs: tuple[Path, ...] = ()  # host files copied in; they count towards the hash


def images_dir() -> Path:
    """The folder holding the image sources (``images/`` of the checkout)."""
    override = os.environ.get("MINIK_IMAGES_DIR")
    path = Path(override) if override else Path(__file__).resolve().parents[2] / "images"
    if not (path / "pause" / "pause.c").is_file():
        raise ImageBuildError(
            f"image sources not found in {path}: run from a minik checkout or set MINIK_IMAGES_DIR"
        )
    return path


def _prepare_pause(src: Path, ctx: Path) -> None:
    gcc = shutil.which("gcc")
    if gcc is None:
        raise ImageBuildError(
            "building minik/pause needs gcc: run scripts/docker.sh or apt-get install gcc libc6-dev"
        )
    out = ctx / "pause"
    cmd = [gcc, "-Os", "-static", "-s", "-Wall", "-o", str(out), str(src / "pause.c")]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ImageBuildError(
            f"compiling pause.c failed (is libc6-dev installed for static linking?):\n{done.stderr}"
        )


def is_static_elf(path: Path) -> bool:
    """True when ``path`` is an ELF executable without a program interpreter (PT_INTERP)."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2:  # only 64-bit ELF is handled here
        return False
    order = "<" if data[5] == 1 else ">"
    (phoff,) = struct.unpack_from(order + "Q", data, 0x20)
    phentsize, phnum = struct.unpack_from(order + "HH", data, 0x36)
    for i in range(phnum):
        (p_type,) = struct.unpack_from(order + "I", data, phoff + i * phentsize)
        if p_type == 3:  # PT_INTERP: dynamically linked
            return False
    return True


def _prepare_workload(src: Path, ctx: Path) -> None:
    if not BUSYBOX.is_file() or not is_static_elf(BUSYBOX):
        raise ImageBuildError(
            f"building minik/workload needs a static {BUSYBOX}: "
            "run scripts/docker.sh or apt-get install busybox-static"
        )
    shutil.copy2(BUSYBOX, ctx / "busybox")
    # Empty folders cannot live in git: create them here.
    for folder, mode in (
        ("tmp", 0o1777),
        ("root", 0o700),
        ("bin", 0o755),
        ("sbin", 0o755),
        ("usr/bin", 0o755),
        ("usr/sbin", 0o755),
        ("var/www", 0o755),
    ):
        path = ctx / "rootfs" / folder
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(mode)


RECIPES: tuple[ImageRecipe, ...] = (
    ImageRecipe(PAUSE_IMAGE, "pause", _prepare_pause),
    ImageRecipe(WORKLOAD_IMAGE, "workload", _prepare_workload, host_inputs=(BUSYBOX,)),
)


def content_hash(recipe: ImageRecipe, source_root: Path) -> str:
    """A hash of every file the image is built from (paths, modes and bytes)."""
    digest = hashlib.sha256(recipe.tag.encode())
    folder = source_root / recipe.folder
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    for path in (*files, *recipe.host_inputs):
        name = str(path.relative_to(folder)) if path.is_relative_to(folder) else str(path)
        digest.update(f"\0{name}\0{path.stat().st_mode & 0o7777:o}\0".encode())
        digest.update(path.read_bytes() if path.exists() else b"<missing>")
    return digest.hexdigest()[:32]


def _existing(client: docker.DockerClient, tag: str) -> tuple[str, str | None] | None:
    """(image id, content hash label) of the image tagged ``tag``, if there is one."""
    try:
        attrs = client.api.inspect_image(tag)
    except docker.errors.ImageNotFound:
        return None
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    value = labels.get(HASH_LABEL)
    return str(attrs["Id"]), value if isinstance(value, str) else None


def build_image(client: docker.DockerClient, recipe: ImageRecipe, *, force: bool = False) -> bool:
    """Build one image unless it is up to date; returns True when it was built."""
    root = images_dir()
    wanted = content_hash(recipe, root)
    before = _existing(client, recipe.tag)
    if not force and before is not None and before[1] == wanted:
        return False
    with tempfile.TemporaryDirectory(prefix="minik-image-") as tmp:
        ctx = Path(tmp)
        shutil.copytree(root / recipe.folder, ctx, dirs_exist_ok=True)
        recipe.prepare(root / recipe.folder, ctx)
        log.info("building %s (content hash %s)", recipe.tag, wanted)
        try:
            client.images.build(
                path=str(ctx), tag=recipe.tag, labels={HASH_LABEL: wanted}, rm=True, forcerm=True
            )
        except docker.errors.BuildError as exc:
            lines = "".join(str(chunk.get("stream", chunk.get("error", ""))) for chunk in exc.build_log)
            raise ImageBuildError(f"docker build of {recipe.tag} failed: {exc.msg}\n{lines}") from exc
    if before is not None:
        # The replaced build is now untagged: drop it unless a container still uses it.
        with contextlib.suppress(docker.errors.APIError):
            client.api.remove_image(before[0], noprune=False)
    return True


def ensure_images(client: docker.DockerClient | None = None, *, force: bool = False) -> list[str]:
    """Make sure minik's local images exist and are current; returns the tags that were built."""
    own = client is None
    client = client or docker.from_env()
    try:
        return [r.tag for r in RECIPES if build_image(client, r, force=force)]
    finally:
        if own:
            client.close()


def main() -> None:
    """``python -m minik.kubelet.images``: build (or verify) the images and say so."""
    import argparse

    parser = argparse.ArgumentParser(description="Build minik's local images (idempotent).")
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        built = ensure_images(force=args.force)
    except ImageBuildError as exc:
        raise SystemExit(str(exc)) from exc
    for recipe in RECIPES:
        print(f"{recipe.tag}: {'built' if recipe.tag in built else 'up to date'}")


if __name__ == "__main__":
    main()
