"""``minikctl label`` and ``minikctl annotate``: change an object's labels/annotations.

``KEY=VALUE`` sets, ``KEY-`` removes. Each object gets one JSON merge patch on
``metadata.labels`` (or ``annotations``) where a removed key is ``null`` —
the RFC 7386 way to delete a key. Like kubectl, changing the value of a key
that already has one needs ``--overwrite``; the check is made against the
object read just before, and the patch carries that ``resourceVersion`` so a
concurrent change makes the command fail instead of silently overwriting.
"""

from __future__ import annotations

import argparse
from typing import Any

from minik.cli.errors import CLIError, not_found
from minik.cli.session import Session, kind_name
from minik.cli.targets import ns_for, parse_targets
from minik.client.errors import NotFoundError

FIELD_MANAGER = "minikctl"


def add_parser(sub: Any, parent: argparse.ArgumentParser) -> None:
    for verb, what in (("label", "labels"), ("annotate", "annotations")):
        p = sub.add_parser(verb, parents=[parent], help=f"add, change or remove {what}")
        p.add_argument("words", nargs="+", metavar="TYPE NAME KEY=VALUE... | TYPE/NAME KEY- ...")
        p.add_argument("--overwrite", action="store_true", help="allow changing an existing value")
        p.add_argument("-l", "--selector", help="every object of TYPE matching this label selector")
        p.add_argument("--all", action="store_true", help="every object of TYPE in the namespace")
        p.set_defaults(func=run, field=what, verb=verb)


def parse_changes(words: list[str], verb: str) -> dict[str, str | None]:
    changes: dict[str, str | None] = {}
    for word in words:
        if word.endswith("-") and "=" not in word:
            changes[word[:-1]] = None
        elif "=" in word:
            key, _, value = word.partition("=")
            if not key:
                raise CLIError(f"invalid {verb} {word!r}: the key is empty")
            changes[key] = value
        else:
            raise CLIError(f"invalid {verb} {word!r}", hint="use KEY=VALUE to set and KEY- to remove")
    if not changes:
        raise CLIError(
            f"at least one {verb} update is required", hint=f"e.g. minikctl {verb} pod/x key=value"
        )
    return changes


async def run(session: Session, args: argparse.Namespace) -> int:
    words = list(args.words)
    split = next((i for i, w in enumerate(words) if "=" in w or (w.endswith("-") and i > 0)), len(words))
    target_words, change_words = words[:split], words[split:]
    changes = parse_changes(change_words, "label" if args.field == "labels" else "annotation")
    done_word = "labeled" if args.verb == "label" else "annotated"
    for ref, names in await parse_targets(session, target_words, verb=args.verb):
        ns = ns_for(ref, session)
        if names:
            objs = []
            for name in names:
                try:
                    objs.append(await session.client.get(ref, name, namespace=ns))
                except NotFoundError:
                    raise not_found(ref.plural, name, ns) from None
        elif args.selector or args.all:
            objs = (await session.client.list(ref, namespace=ns, label_selector=args.selector)).get(
                "items"
            ) or []
        else:
            raise CLIError(f"name the {ref.plural} to {args.verb}", hint="TYPE NAME, -l SELECTOR or --all")
        for obj in objs:
            meta = obj["metadata"]
            current = meta.get(args.field) or {}
            for key, value in changes.items():
                if value is not None and key in current and current[key] != value and not args.overwrite:
                    raise CLIError(
                        f"'{key}' already has a value ({current[key]}), and --overwrite is false",
                        hint="add --overwrite to change it",
                    )
            if all(current.get(k) == v for k, v in changes.items() if v is not None) and all(
                k not in current for k, v in changes.items() if v is None
            ):
                session.console.out(f"{kind_name(ref)}/{meta['name']} not {done_word}", highlight=False)
                continue
            patch = {"metadata": {args.field: changes, "resourceVersion": meta.get("resourceVersion")}}
            await session.client.patch(
                ref, meta["name"], patch, namespace=meta.get("namespace"), field_manager=FIELD_MANAGER
            )
            session.console.out(f"{kind_name(ref)}/{meta['name']} {done_word}", highlight=False)
    return 0
