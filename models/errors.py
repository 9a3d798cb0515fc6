"""Validation errors as text that names the field and the rule, never the offending value."""

from __future__ import annotations

from pydantic import ValidationError
from pydantic_core import ErrorDetails

# Error types whose pydantic message quotes the input; we replace the message.
_QUOTING_TYPES = {
    "union_tag_invalid": (
        "unknown type (expected vitals, symptom, infusion, profile, checkin, readiness, message_seen, "
        "or a nurse action)"
    ),
    "union_tag_not_found": "missing the type field",
    "json_invalid": "not valid JSON",
    "json_type": "not a JSON object",
    "model_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "enum": "not one of the allowed words",
    "literal_error": "not one of the allowed words",
    "datetime_from_date_parsing": "not an RFC 3339 time",
    "datetime_parsing": "not an RFC 3339 time",
    "datetime_type": "not an RFC 3339 time",
}


def _field(loc: tuple[int | str, ...]) -> str:
    # Discriminated unions put the tag ('vitals') first in loc; drop it.
    parts = [str(p) for p in loc]
    if parts and parts[0] in {
        "vitals",
        "symptom",
        "infusion",
        "profile",
        "checkin",
        "readiness",
        "message_seen",
        "ack",
        "resolve",
        "note",
        "handover",
    }:
        parts = parts[1:]
    return ".".join(parts) or "(message)"


def _describe(err: ErrorDetails) -> str:
    kind = err["type"]
    if kind.startswith("union_tag"):
        return f"type: {_QUOTING_TYPES[kind]} [{kind}]"
    message = _QUOTING_TYPES.get(kind)
    if message is None:
        message = err["msg"]
        if message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
    return f"{_field(err['loc'])}: {message} [{kind}]"


def safe_errors(exc: ValidationError) -> list[str]:
    """One line per problem: `field: rule [error type]`, with no input values in it."""
    return [
        _describe(err) for err in exc.errors(include_url=False, include_input=False, include_context=False)
    ]
