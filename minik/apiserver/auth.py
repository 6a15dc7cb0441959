"""Authentication by bearer token, from a token file in upstream's format.

Each line of the file is ``token,user,uid[,"group1,group2"]`` (upstream's
``--token-auth-file``). A request must carry ``Authorization: Bearer <token>``;
without one, or with an unknown token, it gets 401. What the user may then do is
the authorizer's question (``authz/``, ``--authorization-mode``).
"""

from __future__ import annotations

import csv
import hmac
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class User:
    name: str
    uid: str
    groups: tuple[str, ...]


class TokenAuthenticator:
    def __init__(self, tokens: dict[str, User]) -> None:
        self._tokens = tokens

    @classmethod
    def from_file(cls, path: str | Path) -> TokenAuthenticator:
        tokens: dict[str, User] = {}
        with open(path, newline="") as f:
            for row in csv.reader(f):
                if not row or row[0].startswith("#"):
                    continue
                if len(row) < 3:
                    raise ValueError(f"{path}: each line needs token,user,uid[,groups]")
                groups = tuple(g for g in (row[3].split(",") if len(row) > 3 else []) if g)
                tokens[row[0].strip()] = User(row[1].strip(), row[2].strip(), groups)
        return cls(tokens)

    def user_for(self, token: str) -> User | None:
        if not token:
            return None
        # compare_digest refuses str with non-ASCII characters (a TypeError, a 500 for
        # a header anyone can send); bytes compare whatever the header held.
        sent = token.encode("utf-8", "surrogateescape")
        for known, user in self._tokens.items():
            if hmac.compare_digest(known.encode("utf-8", "surrogateescape"), sent):
                return user
        return None
