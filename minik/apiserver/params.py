"""Query parameters shared by several verbs: flags and the list/watch options."""

from __future__ import annotations

from minik.apiserver.rest import ListOptions, parse_int64


def flag(value: str | None) -> bool:
    """A boolean query parameter: ``true`` or ``1`` (any case) is set, anything else is not."""
    return value is not None and value.lower() in ("true", "1")


def _int(query: dict[str, str], key: str) -> int | None:
    value = query.get(key)
    if value in (None, ""):
        return None
    return parse_int64(value, key)


def list_options(query: dict[str, str]) -> ListOptions:
    """The options of a list, watch or deletecollection, as upstream's ``ListOptions``."""
    return ListOptions(
        label_selector=query.get("labelSelector", ""),
        field_selector=query.get("fieldSelector", ""),
        limit=_int(query, "limit") or 0,
        continue_token=query.get("continue", ""),
        resource_version=query.get("resourceVersion"),
        resource_version_match=query.get("resourceVersionMatch", ""),
        send_initial_events=flag(query.get("sendInitialEvents")),
        allow_bookmarks=flag(query.get("allowWatchBookmarks")),
        timeout_seconds=_int(query, "timeoutSeconds"),
    )
