"""DNS names as minik-dns spells them, and the ways an IP address becomes a name.

**One spelling per name.** DNS compares names case-insensitively (RFC 4343), so
the record index keys every name in one canonical text form: lower case, labels
joined by ``.``, *without* the trailing dot of the root (``web.default.svc.cluster.local``;
the root itself is ``""``). The wire layer lower-cases a query's name once and
then every lookup is a plain ``dict`` hit. The answer still echoes the caller's
own spelling, because the owner names in an answer point back at the question
(see :mod:`minik.dns.wire`).

**Addresses as names.** Kubernetes DNS turns IP addresses into names in three
ways, and all three live here:

* reverse lookups: ``10.96.0.10`` → ``10.0.96.10.in-addr.arpa`` (IPv6 uses the
  nibble form under ``ip6.arpa``), for the PTR records of ClusterIPs and
  headless endpoints;
* the *dashed* form ``10-244-1-5`` used as a label: for pod records
  (``10-244-1-5.default.pod.cluster.local``) and as the "system-assigned
  identifier" the specification asks for when a headless endpoint has no
  ``hostname`` of its own (IPv6 ``fd00::5`` → ``fd00--5``);
* :func:`parse_dashed`, the way back, for answering pod-record queries for any
  address without storing one record per possible IP.
"""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: The longest name DNS can carry: 255 octets on the wire, so 253 characters as text.
MAX_NAME_LENGTH = 253
MAX_LABEL_LENGTH = 63

REVERSE_V4 = "in-addr.arpa"
REVERSE_V6 = "ip6.arpa"


def normalize(name: str) -> str:
    """The canonical spelling: lower case, no trailing dot (``"Web.Default."`` → ``"web.default"``)."""
    return name.rstrip(".").lower()


def is_valid(name: str) -> bool:
    """Whether ``name`` (canonical spelling) fits DNS's length limits: labels ≤ 63, name ≤ 253."""
    if len(name) > MAX_NAME_LENGTH:
        return False
    return all(0 < len(label) <= MAX_LABEL_LENGTH for label in name.split(".")) if name else True


def is_subdomain(name: str, zone: str) -> bool:
    """Whether ``name`` is ``zone`` or lies below it (both canonical)."""
    if not zone:
        return True
    return name == zone or name.endswith("." + zone)


def parent(name: str) -> str:
    """The name one label up (``a.b.c`` → ``b.c``; a single label → the root ``""``)."""
    _, _, rest = name.partition(".")
    return rest


def ancestors(name: str, zone: str) -> list[str]:
    """``name`` and every name between it and ``zone``, inclusive (``name`` must be in ``zone``)."""
    out = [name]
    while name != zone and name:
        name = parent(name)
        out.append(name)
    return out


def parse_ip(text: str) -> IPAddress | None:
    """An IP address from an API object's field, or ``None`` if it is not one."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def reverse_name(ip: IPAddress) -> str:
    """The PTR owner name: ``10.96.0.1`` → ``1.0.96.10.in-addr.arpa``."""
    return ip.reverse_pointer


def reverse_zone(ip: IPAddress) -> str:
    return REVERSE_V4 if ip.version == 4 else REVERSE_V6


def dashed(ip: IPAddress) -> str:
    """The address as one DNS label: ``10.244.1.5`` → ``10-244-1-5``, ``fd00::5`` → ``fd00--5``.

    A label may not start or end with ``-`` in a hostname, so an IPv6 address
    that is compressed at either end gets a ``0`` there (``::1`` → ``0--1``).
    """
    if ip.version == 4:
        return str(ip).replace(".", "-")
    label = ip.compressed.replace(":", "-")
    if label.startswith("-"):
        label = "0" + label
    if label.endswith("-"):
        label += "0"
    return label


def parse_dashed(label: str) -> IPAddress | None:
    """The way back from :func:`dashed`; ``None`` if ``label`` is not an address.

    IPv4 needs exactly four decimal parts 0 to 255 (``ipaddress`` rejects leading
    zeros such as ``010``, which would otherwise be ambiguous).
    """
    if label.count("-") == 3:
        try:
            return ipaddress.IPv4Address(label.replace("-", "."))
        except ValueError:
            return None
    if "--" in label or label.count("-") == 7:
        try:
            return ipaddress.IPv6Address(label.replace("-", ":"))
        except ValueError:
            return None
    return None
