"""Small building blocks shared by every validator: paths, typed reads, common checks.

Objects arrive as plain JSON dicts, so nothing guarantees that ``spec.replicas`` is an
integer or that ``metadata.labels`` is a map. Upstream never has this problem: Go's JSON
decoder rejects a wrongly typed field before validation runs. Here every read goes through
``get_*`` helpers that return a value of the expected type (or an empty one) and, when the
client sent something of the wrong type, record a field error at the right path. That keeps
the validators themselves short and guarantees that bad input becomes a 422 with a field
path, never a traceback.

Paths are the strings upstream's ``field.Path`` prints: ``spec.containers[0].name`` for
children and list indexes, ``metadata.labels[app]`` for map keys (no quotes).
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeGuard

from minik.api.field import FieldError, invalid
from minik.api.validation import names

Obj = dict[str, Any]
Errors = list[FieldError]
NameRule = Callable[[str], list[str]]

NEGATIVE_MSG = "must be greater than or equal to 0"
IMMUTABLE_MSG = "field is immutable"
MAX_INT32 = 2**31 - 1

# --- paths -----------------------------------------------------------------------------


def child(path: str, *names_: str) -> str:
    """``child("spec", "template", "spec")`` → ``spec.template.spec``."""
    parts = [path, *names_] if path else list(names_)
    return ".".join(parts)


def index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def key(path: str, k: str) -> str:
    return f"{path}[{k}]"


# --- typed reads -------------------------------------------------------------------------


def is_int(value: Any) -> TypeGuard[int]:
    """JSON integers only: ``True`` is a bool, and ``3.0`` came from a float literal."""
    return isinstance(value, int) and not isinstance(value, bool)


def get_dict(obj: Obj, name: str, path: str, errs: Errors) -> Obj:
    value = obj.get(name)
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    errs.append(invalid(path, value, "must be an object"))
    return {}


def get_list(obj: Obj, name: str, path: str, errs: Errors) -> list[Any]:
    value = obj.get(name)
    if value is None:
        return []
    if isinstance(value, list):
        return value
    errs.append(invalid(path, value, "must be a list"))
    return []


def get_str(obj: Obj, name: str, path: str, errs: Errors) -> str:
    value = obj.get(name)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    errs.append(invalid(path, value, "must be a string"))
    return ""


def get_int(obj: Obj, name: str, path: str, errs: Errors) -> int | None:
    value = obj.get(name)
    if value is None:
        return None
    if is_int(value):
        return int(value)
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        return int(value)
    errs.append(invalid(path, value, "must be an integer"))
    return None


def get_bool(obj: Obj, name: str, path: str, errs: Errors) -> bool | None:
    value = obj.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    errs.append(invalid(path, value, "must be a boolean"))
    return None


def get_str_map(obj: Obj, name: str, path: str, errs: Errors) -> dict[str, str]:
    """A ``map[string]string`` such as labels, annotations, selectors or ConfigMap data."""
    value = obj.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        errs.append(invalid(path, value, "must be a map of string keys to string values"))
        return {}
    out: dict[str, str] = {}
    for k, v in value.items():
        if isinstance(v, str):
            out[k] = v
        else:
            errs.append(invalid(key(path, k), v, "must be a string"))
    return out


def get_str_list(obj: Obj, name: str, path: str, errs: Errors) -> list[str]:
    out: list[str] = []
    for i, item in enumerate(get_list(obj, name, path, errs)):
        if isinstance(item, str):
            out.append(item)
        else:
            errs.append(invalid(index(path, i), item, "must be a string"))
    return out


def dicts(items: Iterable[Any], path: str, errs: Errors) -> list[tuple[int, Obj]]:
    """The dict items of a list with their indexes; anything else is reported."""
    out: list[tuple[int, Obj]] = []
    for i, item in enumerate(items):
        if isinstance(item, dict):
            out.append((i, item))
        else:
            errs.append(invalid(index(path, i), item, "must be an object"))
    return out


# --- common checks -----------------------------------------------------------------------


def nonnegative(value: int | None, path: str) -> Errors:
    if value is not None and value < 0:
        return [invalid(path, value, NEGATIVE_MSG)]
    return []


def immutable(new: Any, old: Any, path: str) -> Errors:
    """Upstream's ValidateImmutableField: the new value, reported when it differs."""
    if new != old:
        return [invalid(path, new, IMMUTABLE_MSG)]
    return []


def check_name(rule: NameRule, value: str, path: str) -> Errors:
    return [invalid(path, value, msg) for msg in rule(value)]


def dns1123_label(value: str, path: str) -> Errors:
    return check_name(names.is_dns1123_label, value, path)


def dns1123_subdomain(value: str, path: str) -> Errors:
    return check_name(names.is_dns1123_subdomain, value, path)


def qualified_name(value: str, path: str) -> Errors:
    return check_name(names.is_qualified_name, value, path)


def port_num(value: Any, path: str) -> Errors:
    return [invalid(path, value, msg) for msg in names.is_valid_port_num(value)]


def port_num_or_name(value: Any, path: str) -> Errors:
    """An IntOrString port: a number 1-65535 or an IANA service name such as ``http``."""
    if isinstance(value, str):
        return [invalid(path, value, msg) for msg in names.is_valid_port_name(value)]
    return port_num(value, path)


_IP_MSG = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"


def parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def valid_ip(value: str, path: str) -> Errors:
    return [] if parse_ip(value) is not None else [invalid(path, value, _IP_MSG)]


def valid_ipv4(value: str, path: str) -> Errors:
    ip = parse_ip(value)
    if isinstance(ip, ipaddress.IPv4Address):
        return []
    return [invalid(path, value, "must be a valid IPv4 address")]


def valid_cidr(value: str, path: str) -> Errors:
    if "/" in value:
        try:
            ipaddress.ip_network(value, strict=False)
            return []
        except ValueError:
            pass
    return [invalid(path, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")]


def non_special_ip(value: str, path: str) -> Errors:
    """Endpoint addresses must be routable: not 0.0.0.0, loopback or link-local.

    Upstream refuses these because kube-proxy would otherwise forward service traffic to
    the node itself (or nowhere), a classic way to hijack traffic.
    """
    ip = parse_ip(value)
    if ip is None:
        return [invalid(path, value, "must be a valid IP address")]
    errs: Errors = []
    if ip.is_unspecified:
        errs.append(invalid(path, value, f"may not be unspecified ({value})"))
    if ip.is_loopback:
        errs.append(invalid(path, value, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
    if ip.is_link_local:
        errs.append(invalid(path, value, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
    link_local_multicast = (isinstance(ip, ipaddress.IPv4Address) and ip in _V4_LL_MCAST) or (
        isinstance(ip, ipaddress.IPv6Address) and ip in _V6_LL_MCAST
    )
    if link_local_multicast:
        errs.append(
            invalid(path, value, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)")
        )
    return errs


_V4_LL_MCAST = ipaddress.ip_network("224.0.0.0/24")
_V6_LL_MCAST = ipaddress.ip_network("ff02::/16")

_PERCENT_RE = re.compile(r"^[0-9]+%$")
PERCENT_MSG = (
    "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  "
    "or '93%', regex used for validation is '[0-9]+%')"
)


def int_or_percent_value(value: Any) -> int | None:
    """The number in ``5`` or ``"25%"``; None when it is neither."""
    if is_int(value):
        return int(value)
    if isinstance(value, str) and _PERCENT_RE.match(value):
        return int(value[:-1])
    return None


def positive_int_or_percent(value: Any, path: str) -> Errors:
    """Upstream's ValidatePositiveIntOrPercent (which, despite the name, allows 0)."""
    if isinstance(value, str):
        return [] if _PERCENT_RE.match(value) else [invalid(path, value, PERCENT_MSG)]
    if is_int(value):
        return nonnegative(int(value), path)
    return [invalid(path, value, "must be an integer or percentage (e.g '5%')")]


def not_more_than_100_percent(value: Any, path: str) -> Errors:
    if isinstance(value, str) and _PERCENT_RE.match(value) and int(value[:-1]) > 100:
        return [invalid(path, value, "must not be greater than 100%")]
    return []


def api_group(obj: Obj) -> str:
    """``apps/v1`` → ``apps``; the core group (``v1``) is the empty string."""
    api_version = obj.get("apiVersion")
    if not isinstance(api_version, str) or "/" not in api_version:
        return ""
    return api_version.split("/", 1)[0]


@dataclass(frozen=True)
class KindRules:
    """How one kind is validated, beyond the metadata rules every kind shares.

    ``name`` checks ``metadata.name`` (most kinds: a DNS-1123 subdomain). ``validate``
    checks the body and runs on create and update; ``update`` adds the rules that
    compare with the stored object (immutable fields); ``status`` replaces both for
    writes to the status subresource.
    """

    name: NameRule = names.is_dns1123_subdomain
    validate: Callable[[Obj], Errors] | None = None
    update: Callable[[Obj, Obj], Errors] | None = None
    status: Callable[[Obj, Obj], Errors] | None = None


def nonnegative_fields(obj: Obj, path: str, fields: Iterable[str], errs: Errors) -> dict[str, int]:
    """Read integer fields that may not be negative; returns the ones present."""
    out: dict[str, int] = {}
    for name in fields:
        value = get_int(obj, name, child(path, name), errs)
        if value is not None:
            errs += nonnegative(value, child(path, name))
            out[name] = value
    return out


def replica_status(
    status: Obj,
    path: str,
    counts: Iterable[str],
    errs: Errors,
    *,
    available_over_ready: str = "cannot be greater than readyReplicas",
) -> None:
    """Workload status counters: none negative, none above ``replicas``, and no more
    available than ready replicas (availability is readiness held for minReadySeconds)."""
    counts = list(counts)
    values = nonnegative_fields(
        status, path, ["replicas", *counts, "observedGeneration", "collisionCount"], errs
    )
    replicas = values.get("replicas", 0)
    for name in counts:
        if name in values and values[name] > replicas:
            errs.append(invalid(child(path, name), values[name], "cannot be greater than status.replicas"))
    if (
        "readyReplicas" in counts
        and "availableReplicas" in values
        and values["availableReplicas"] > values.get("readyReplicas", 0)
    ):
        errs.append(
            invalid(child(path, "availableReplicas"), values["availableReplicas"], available_over_ready)
        )


def collision_count_not_decremented(status: Obj, old: Obj, errs: Errors) -> None:
    old_status = old.get("status")
    old_count = old_status.get("collisionCount") if isinstance(old_status, dict) else None
    new_count = status.get("collisionCount")
    if not is_int(old_count):
        return
    new_value = new_count if is_int(new_count) else 0
    if new_value < old_count:
        errs.append(invalid("status.collisionCount", new_value, "cannot be decremented"))
