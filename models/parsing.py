"""Bytes to validated contract objects, with errors that are safe to log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from models.errors import safe_errors
from models.events import Event, EventTime, NurseAction, ReplayLine

MAX_MESSAGE_BYTES = 64 * 1024
"""Larger messages are rejected before parsing; no real reading comes near this."""

_EVENT = TypeAdapter[Any](Event)
_ACTION = TypeAdapter(NurseAction)
_LINE = TypeAdapter[Any](ReplayLine)

DEFAULT_MAX_SKEW_MINUTES = 5.0
"""How far ahead of its arrival a message may be timed, unless configured otherwise."""


class _Received(BaseModel):
    """A recorded line's arrival: when the pipeline received it (the Kafka record time)."""

    model_config = ConfigDict(extra="ignore")
    received_ts: EventTime | None = None


_RECEIVED = TypeAdapter(_Received)


class InvalidMessage(ValueError):
    """A message that breaks the contract. `errors` name fields and rules, never values."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("; ".join(errors))


def _parse(adapter: TypeAdapter[Any], raw: bytes | str) -> Any:
    if isinstance(raw, str):
        try:
            raw = raw.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: text that no UTF-8 message can carry
            raise InvalidMessage(["(message): not valid UTF-8 [utf8_invalid]"]) from None
    if len(raw) > MAX_MESSAGE_BYTES:
        raise InvalidMessage(
            [f"(message): {len(raw)} bytes, over the {MAX_MESSAGE_BYTES}-byte limit [too_large]"]
        )
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidMessage(["(message): not valid UTF-8 [utf8_invalid]"]) from None
    try:
        return adapter.validate_json(raw)
    except ValidationError as exc:
        raise InvalidMessage(safe_errors(exc)) from None
    except (ValueError, RecursionError):
        raise InvalidMessage(["(message): not valid JSON [json_invalid]"]) from None
    except Exception as exc:  # noqa: BLE001 - a validator bug must refuse one message, not stop the agent
        reason = f"(message): {type(exc).__name__} while validating [validator_error]"
        raise InvalidMessage([reason]) from None


def parse_event(raw: bytes | str) -> Event:
    """Validate one `ivig.events.v1` message."""
    result: Event = _parse(_EVENT, raw)
    return result


def parse_action(raw: bytes | str) -> NurseAction:
    """Validate one `ivig.actions.v1` message."""
    result: NurseAction = _parse(_ACTION, raw)
    return result


def parse_replay_line(raw: bytes | str) -> Event | NurseAction:
    """Validate one line of a replay file (an event or a nurse action)."""
    result: Event | NurseAction = _parse(_LINE, raw)
    return result


def parse_recorded_line(raw: bytes | str) -> tuple[Event | NurseAction, datetime | None]:
    """A replay file's line and, when the recording kept it, its `received_ts`."""
    item = parse_replay_line(raw)
    received: _Received = _parse(_RECEIVED, raw)
    return item, received.received_ts


def key_problem(key: bytes | None, patient_id: str) -> list[str]:
    """The contract keys every message by its patient_id; anything else would split patient state."""
    if key is None or key != patient_id.encode():
        return ["(key): message key must be the event's patient_id [key_mismatch]"]
    return []


def arrival_time(record_timestamp: float | None, now: datetime) -> datetime:
    """When a message arrived: its Kafka record timestamp (seconds), never later than `now` (a
    producer may stamp the record from a wrong clock too; the broker's LogAppendTime is never ahead)."""
    if not record_timestamp:
        return now
    return min(datetime.fromtimestamp(record_timestamp, UTC), now)


def time_problem(ts: datetime, arrival: datetime, max_skew: timedelta) -> list[str]:
    """The contract refuses a message timed more than `max_skew` ahead of its arrival (a wrong device
    clock); a late one is never refused for being late."""
    if ts - arrival > max_skew:
        minutes = max_skew.total_seconds() / 60
        return [f"(ts): timed more than {minutes:g} min ahead of its arrival [ts_ahead_of_arrival]"]
    return []
