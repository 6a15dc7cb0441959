"""Field errors: one problem with one field of an object, named by its path.

The API server turns a list of these into a 422 ``Invalid`` Status whose
``details.causes`` carry one entry per error, exactly as upstream's
``field.ErrorList`` does (``spec.containers[0].name: Required value``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from typing import Any


class ErrorType(Enum):
    """The kinds of field error upstream knows, with their Status cause reason."""

    REQUIRED = "FieldValueRequired"
    INVALID = "FieldValueInvalid"
    NOT_SUPPORTED = "FieldValueNotSupported"
    DUPLICATE = "FieldValueDuplicate"
    FORBIDDEN = "FieldValueForbidden"
    TOO_LONG = "FieldValueTooLong"
    TOO_MANY = "FieldValueTooMany"
    NOT_FOUND = "FieldValueNotFound"


_OMIT = object()


@dataclass(frozen=True)
class FieldError:
    """One validation failure: what kind, where, the offending value and why."""

    type: ErrorType
    field: str
    bad_value: Any = _OMIT
    detail: str = ""

    @property
    def reason(self) -> str:
        return self.type.value

    def message(self) -> str:
        """The message part of the cause, worded like upstream's."""
        value = "" if self.bad_value is _OMIT else _render(self.bad_value)
        detail = self.detail
        match self.type:
            case ErrorType.REQUIRED:
                text = "Required value"
            case ErrorType.FORBIDDEN:
                text = "Forbidden"
            case ErrorType.NOT_FOUND:
                text = f"Not found: {value}"
                return f"{text}: {detail}" if detail else text
            case ErrorType.DUPLICATE:
                text = f"Duplicate value: {value}"
                return f"{text}: {detail}" if detail else text
            case ErrorType.NOT_SUPPORTED:
                text = f"Unsupported value: {value}"
                return f"{text}: {detail}" if detail else text
            case ErrorType.TOO_LONG:
                text = "Too long"
            case ErrorType.TOO_MANY:
                text = "Too many"
            case _:
                text = f"Invalid value: {value}" if value else "Invalid value"
        return f"{text}: {detail}" if detail else text

    def __str__(self) -> str:
        return f"{self.field}: {self.message()}"

    def to_cause(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.message(), "field": self.field}


def _render(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


# Constructors named like upstream's field.Required(), field.Invalid(), ...


def required(path: str, detail: str = "") -> FieldError:
    return FieldError(ErrorType.REQUIRED, path, detail=detail)


def invalid(path: str, value: Any, detail: str = "") -> FieldError:
    return FieldError(ErrorType.INVALID, path, value, detail)


def not_supported(path: str, value: Any, supported: list[str]) -> FieldError:
    detail = "supported values: " + ", ".join(json.dumps(s) for s in supported)
    return FieldError(ErrorType.NOT_SUPPORTED, path, value, detail)


def duplicate(path: str, value: Any) -> FieldError:
    return FieldError(ErrorType.DUPLICATE, path, value)


def forbidden(path: str, detail: str) -> FieldError:
    return FieldError(ErrorType.FORBIDDEN, path, detail=detail)


def too_long(path: str, max_length: int) -> FieldError:
    return FieldError(ErrorType.TOO_LONG, path, detail=f"may not be more than {max_length} bytes")


def too_many(path: str, actual: int, maximum: int) -> FieldError:
    detail = f"must have at most {maximum} items"
    return FieldError(ErrorType.TOO_MANY, path, actual, detail)


def not_found(path: str, value: Any) -> FieldError:
    return FieldError(ErrorType.NOT_FOUND, path, value)


def immutable(path: str, value: Any) -> FieldError:
    return invalid(path, value, "field is immutable")
