"""What a verb's positional arguments name: ``TYPE [NAME...]`` or ``TYPE/NAME ...``.

kubectl accepts ``get pods a b``, ``get pods,svc``, ``get pod/a svc/b`` and
``delete deploy/web``; :func:`parse_targets` reads all of them into a list of
(resource, names) pairs, names empty meaning "the whole collection".
"""

from __future__ import annotations

from minik.cli.errors import CLIError
from minik.cli.session import Session
from minik.client.kinds import ResourceRef

Target = tuple[ResourceRef, list[str]]


async def parse_targets(session: Session, words: list[str], *, verb: str) -> list[Target]:
    if not words:
        raise CLIError(
            f"you must specify the type of resource to {verb}",
            hint=f"e.g. minikctl {verb} pods (minikctl api-resources lists the types)",
        )
    if all("/" in w for w in words):
        out: list[Target] = []
        for word in words:
            type_name, _, name = word.partition("/")
            if not name:
                raise CLIError(f"{word!r}: expected TYPE/NAME")
            ref = await session.resolve(type_name)
            for existing, names in out:
                if existing == ref:
                    names.append(name)
                    break
            else:
                out.append((ref, [name]))
        return out
    if any("/" in w for w in words):
        raise CLIError(
            "there is no need to specify a resource type as a separate argument when passing "
            "arguments in TYPE/NAME form",
            hint=f"e.g. minikctl {verb} pod/a pod/b",
        )
    first, names = words[0], words[1:]
    refs: list[ResourceRef] = []
    for type_name in filter(None, first.split(",")):
        refs.extend(r for r in await session.resolve_many(type_name) if r not in refs)
    if names and len(refs) > 1:
        raise CLIError(
            "names can only be given with a single resource type",
            hint=f"use TYPE/NAME form: minikctl {verb} pod/a svc/b",
        )
    return [(ref, list(names)) for ref in refs]


async def one_target(session: Session, words: list[str], *, verb: str) -> tuple[ResourceRef, str]:
    """Exactly one object: ``TYPE NAME`` or ``TYPE/NAME``."""
    targets = await parse_targets(session, words, verb=verb)
    if len(targets) != 1 or len(targets[0][1]) != 1:
        raise CLIError(f"{verb} needs exactly one object", hint=f"e.g. minikctl {verb} deployment/web")
    return targets[0][0], targets[0][1][0]


def ns_for(ref: ResourceRef, session: Session, all_namespaces: bool = False) -> str | None:
    """The namespace a request on ``ref`` goes to (None: cluster-scoped or all namespaces)."""
    if not ref.namespaced or all_namespaces:
        return None
    return session.namespace
