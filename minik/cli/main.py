"""``minikctl``: the command-line entry point for people.

So far it manages the local cluster (``minikctl cluster up|down|status``) and
prints versions; the kubectl-like verbs arrive with the CLI issue. Until then,
the real ``kubectl`` (installed into .venv by ``make test``) works against minik.
"""

from __future__ import annotations

import sys

from minik import KUBERNETES_VERSION, __version__
from minik.cluster import local


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["cluster"]:
        local.main(args[1:])
    elif args[:1] == ["version"]:
        print(f"minikctl {__version__} (speaks Kubernetes {KUBERNETES_VERSION})")
    else:
        print("usage: minikctl cluster up|down|status | minikctl version", file=sys.stderr)
        raise SystemExit(2)


if __name__ == "__main__":
    main()
