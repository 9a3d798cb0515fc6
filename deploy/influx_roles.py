"""Which InfluxDB logins each `ivigwatch` command may hold, and a child's environment cut down to them.

The writer user can delete (DELETE, DROP SERIES, DROP RETENTION POLICY: see SECURITY.md), so its
password goes only to the writer worker and `ivigwatch import`; read commands and the console get the
read-only user; the rules worker, the pager, the watchdog and the nurse commands get no InfluxDB login.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from streams.infra.settings import InfluxRole

CREDENTIALS: dict[InfluxRole, tuple[str, str]] = {
    "writer": ("IVIGWATCH_INFLUX_USERNAME", "IVIGWATCH_INFLUX_PASSWORD"),
    "reader": ("IVIGWATCH_INFLUX_READ_USERNAME", "IVIGWATCH_INFLUX_READ_PASSWORD"),
    "admin": ("IVIGWATCH_INFLUX_ADMIN_USERNAME", "IVIGWATCH_INFLUX_ADMIN_PASSWORD"),
}
"""The environment variables of each InfluxDB login (fields of streams/infra/settings.py)."""

ROLES_OF: dict[str, tuple[InfluxRole, ...]] = {
    "worker writer": ("writer", "reader"),  # the reader reads back minutes for the rollups
    "import": ("writer", "admin"),  # the admin rebuilds the period's rollups
    "influx": ("admin",),  # influx setup | backfill
    "console": ("reader",),
    "query": ("reader",),
    "report": ("reader",),
    "export": ("reader",),
}
"""Commands (first word, or `worker ROLE`) that use InfluxDB, and the logins each may hold; any other
command (`worker rules`, `worker pager`, `watchdog`, `alerts`, `ack`, `simulate`, ...) holds none."""


def roles_of(args: Sequence[str]) -> tuple[InfluxRole, ...]:
    """The InfluxDB logins the command `ivigwatch ARGS...` may hold."""
    words = [a for a in args if not a.startswith("-")]
    return ROLES_OF.get(" ".join(words[:2]), ROLES_OF.get(words[0] if words else "", ()))


def child_env(args: Sequence[str], env: Mapping[str, str]) -> dict[str, str]:
    """`env` without the InfluxDB logins that `ivigwatch ARGS...` must not hold."""
    allowed = roles_of(args)
    dropped = {name for role, names in CREDENTIALS.items() if role not in allowed for name in names}
    return {name: value for name, value in env.items() if name not in dropped}
