"""The on-call roster as data (a TOML file, checked like the rule file): the people and their own
channels, weekly shifts in a time zone, dated overrides and swaps, which roster slot each escalation
level of each severity reaches, and the fallback contact. Secrets (webhook URLs, tokens, phone
numbers) are never in the file: a channel names them, and the pager reads them from its settings."""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from models.alerts import Severity

PAGED = (Severity.URGENT, Severity.CRITICAL)
"""The severities the pager bridge sends: the roster must map each of them."""


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name, e.g. Europe/Paris)") from None
    return name


ZoneName = Annotated[str, AfterValidator(_zone)]
PersonId = Annotated[str, Field(pattern=r"^[A-Za-z0-9._@-]{1,64}$")]
"""A console login name (it is also the `by` of the person's nurse actions, and `notify`)."""
SecretName = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
"""The name of a secret in the pager's settings (IVIGWATCH_PAGER_SECRETS), never the secret."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Role(StrEnum):
    PRIMARY_NURSE = "primary_nurse"
    BACKUP_NURSE = "backup_nurse"
    SUPERVISOR = "supervisor"
    PRESCRIBER = "prescriber"


class Slot(StrEnum):
    """A place in the on-call rota that an escalation level reaches."""

    PRIMARY = "primary"
    BACKUP = "backup"
    SUPERVISOR = "supervisor"
    PRESCRIBER = "prescriber"


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"

    @property
    def number(self) -> int:
        """Monday 0 ... Sunday 6, as `date.weekday()`."""
        return list(Weekday).index(self)


class WebhookChannel(_Frozen):
    """A generic JSON webhook: the page as the single-webhook bridge posts it, plus its recipient."""

    kind: Literal["webhook"]
    url_secret: SecretName
    token_secret: SecretName | None = None
    """Sent as `Authorization: Bearer <token>` when set."""


class NtfyChannel(_Frozen):
    """ntfy (ntfy.sh or a self-hosted server): the topic's URL is the secret."""

    kind: Literal["ntfy"]
    url_secret: SecretName
    """The topic URL, e.g. https://ntfy.sh/<a long random topic name>."""
    token_secret: SecretName | None = None
    """An access token of a protected topic (`Authorization: Bearer`)."""


class PushoverChannel(_Frozen):
    """Pushover: the application's API token and the person's user key."""

    kind: Literal["pushover"]
    app_token_secret: SecretName
    user_key_secret: SecretName
    url_secret: SecretName | None = None
    """Where to post instead of Pushover's API (a relay); unset: the public API."""


class TwilioSmsChannel(_Frozen):
    """An SMS through Twilio's Messages API: account SID and auth token, sender and the person's number."""

    kind: Literal["twilio_sms"]
    account_sid_secret: SecretName
    auth_token_secret: SecretName
    from_secret: SecretName
    to_secret: SecretName
    url_secret: SecretName | None = None
    """The API base instead of https://api.twilio.com/2010-04-01 (a relay); unset: the public API."""


Channel = Annotated[
    WebhookChannel | NtfyChannel | PushoverChannel | TwilioSmsChannel, Field(discriminator="kind")
]


def channel_secrets(channel: Channel) -> list[str]:
    """The names of the secrets a channel needs (set ones only)."""
    names = [v for k, v in channel.model_dump().items() if k.endswith("_secret") and v is not None]
    return [str(n) for n in names]


class Person(_Frozen):
    id: PersonId
    name: str = Field(min_length=1, max_length=120)
    role: Role
    time_zone: ZoneName
    channels: list[Channel] = Field(min_length=1)


class Contact(_Frozen):
    """The fallback contact: paged when nobody is on call or a person's page fails for good."""

    id: PersonId = "fallback"
    name: str = Field(min_length=1, max_length=120)
    channels: list[Channel] = Field(min_length=1)


class Shift(_Frozen):
    """A weekly shift: `person` holds `slot` on `days` from `start` to `end` local time (an `end` at
    or before `start` ends the next day) in `time_zone` (unset: the roster's)."""

    slot: Slot
    person: PersonId
    days: list[Weekday] = Field(min_length=1)
    start: time
    end: time
    time_zone: ZoneName | None = None

    @model_validator(mode="after")
    def _naive_times(self) -> Self:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("start and end are local times (HH:MM) without an offset; set time_zone")
        return self


class Override(_Frozen):
    """From `start` to `end` (with offsets), `person` holds `slot`, whatever the shifts say."""

    slot: Slot
    person: PersonId
    start: AwareDatetime
    end: AwareDatetime
    reason: str = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _order(self) -> Self:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class Swap(_Frozen):
    """On `date` (the local date a shift begins), `person` and `with` exchange their shifts."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    date: date
    person: PersonId
    with_: PersonId = Field(alias="with")
    slot: Slot | None = None
    """Only the shifts of this slot; unset: all of the two people's shifts that day."""
    reason: str = Field(min_length=1, max_length=200)


class RosterInfo(_Frozen):
    id: str = Field(min_length=1, max_length=80)
    version: str = Field(min_length=1, max_length=40)
    source: str = Field(min_length=1, max_length=200, description="Who approved this roster, and when")
    time_zone: ZoneName


class Roster(_Frozen):
    """A whole roster file."""

    roster: RosterInfo
    people: list[Person] = Field(min_length=1)
    shifts: list[Shift] = Field(default_factory=list)
    overrides: list[Override] = Field(default_factory=list)
    swaps: list[Swap] = Field(default_factory=list)
    escalation: dict[Severity, list[Slot]]
    """Which slot each escalation level reaches (level 0 first); a level past the list reaches its
    last slot."""
    fallback: Contact

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        ids = [p.id for p in self.people]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"people: {', '.join(twice)} given twice")
        if self.fallback.id in ids:
            raise ValueError(f"fallback.id {self.fallback.id!r} is also a person's id")
        missing = [s.value for s in PAGED if not self.escalation.get(s)]
        if missing:
            raise ValueError(f"escalation: needs a list of slots for {' and '.join(missing)}")
        return self

    @cached_property
    def by_id(self) -> dict[str, Person]:
        return {p.id: p for p in self.people}

    def slot_for(self, severity: Severity, level: int) -> Slot | None:
        """The slot an escalation level of a severity reaches (None: the severity is not mapped)."""
        slots = self.escalation.get(severity)
        if not slots:
            return None
        return slots[min(max(level, 0), len(slots) - 1)]

    def referenced_people(self) -> list[tuple[str, str]]:
        """(where, person id) of every person the shifts, overrides and swaps name."""
        found = [(f"shifts[{i}].person", s.person) for i, s in enumerate(self.shifts)]
        found += [(f"overrides[{i}].person", o.person) for i, o in enumerate(self.overrides)]
        for i, w in enumerate(self.swaps):
            found += [(f"swaps[{i}].person", w.person), (f"swaps[{i}].with", w.with_)]
        return found

    def secret_names(self) -> list[str]:
        """Every secret the roster's channels name, sorted, once each."""
        channels = [c for p in self.people for c in p.channels] + list(self.fallback.channels)
        return sorted({n for c in channels for n in channel_secrets(c)})


def at_is_aware(at: datetime) -> datetime:
    """`at` itself; ValueError for a naive time (the roster's times are all in a zone)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("a roster is resolved at an aware time (with an offset)")
    return at
