"""A small roster for the pager's agent and integration tests: two nurses round the clock (rn-a
primary, rn-b backup), a supervisor slot nobody holds (a gap: urgent level 2), a broken-channel
nurse that `notify` can name, and the desk as the fallback contact."""

from __future__ import annotations

from pathlib import Path

ALL_WEEK = '["mon", "tue", "wed", "thu", "fri", "sat", "sun"]'
TWO_NURSES = f"""
[roster]
id = "test-two-nurses"
version = "1"
source = "tests"
time_zone = "Europe/Paris"

[[people]]
id = "rn-a"
name = "Nurse A"
role = "primary_nurse"
time_zone = "Europe/Paris"
channels = [{{ kind = "webhook", url_secret = "rn-a-url" }}]

[[people]]
id = "rn-b"
name = "Nurse B"
role = "backup_nurse"
time_zone = "Europe/Paris"
channels = [{{ kind = "ntfy", url_secret = "rn-b-url" }}]

[[people]]
id = "rn-broken"
name = "Nurse with a broken phone"
role = "backup_nurse"
time_zone = "Europe/Paris"
channels = [{{ kind = "webhook", url_secret = "rn-broken-url" }}]

[[shifts]]
slot = "primary"
person = "rn-a"
days = {ALL_WEEK}
start = "00:00"
end = "00:00"

[[shifts]]
slot = "backup"
person = "rn-b"
days = {ALL_WEEK}
start = "00:00"
end = "00:00"

[escalation]
critical = ["primary", "backup"]
urgent = ["primary", "backup", "supervisor"]

[fallback]
id = "desk"
name = "On-call desk"
channels = [{{ kind = "webhook", url_secret = "desk-url" }}]
"""
PEOPLE = ("rn-a", "rn-b", "rn-broken", "desk")


def write_roster(directory: Path) -> Path:
    path = directory / "roster.toml"
    path.write_text(TWO_NURSES)
    return path


def secrets_for(base_url: str) -> dict[str, str]:
    """Each person's channel URL: `{base_url}/{person}`."""
    return {f"{person}-url": f"{base_url}/{person}" for person in PEOPLE}
