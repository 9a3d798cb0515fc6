"""InfluxDB over the v1 HTTP API (`/write` line protocol, `/query` InfluxQL), served by 1.x, 2.x and 3.

One attempt per call: the writer's retry policy is the sink's (`influx_sink.InfluxSink`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from streams.infra.settings import InfluxLogin, InfluxRole, LocalSecretsMissing, Settings

log = logging.getLogger(__name__)


class InfluxUnavailable(RuntimeError):
    """InfluxDB did not answer, or answered with a server-side error: worth retrying."""


@dataclass
class WriteReport:
    written: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    """(line, reason) for lines InfluxDB refused as bad data (HTTP 400) or too large (413): retrying
    cannot help (a 413 batch is split first, so a 413 would otherwise be retried forever)."""
    retries: int = 0


class InfluxClient:
    """A small async client logged in as one role's user; one aiohttp session per instance.

    `writer` (the default: the writer agent, `ivigwatch import`) may write points; `reader` (query,
    report, export, the console) may only read; `admin` sets up the database, retention policies
    and rollups. `role=None` with no `login` sends no credentials; `login` overrides the role's user.
    """

    def __init__(
        self,
        settings: Settings,
        timeout: float = 10.0,
        *,
        role: InfluxRole | None = "writer",
        login: InfluxLogin | None = None,
    ) -> None:
        self.base_url = settings.influx_base_url
        self.db = settings.influx_db
        self.role = role
        self._settings = settings
        self._login = login
        self.username: str | None = login.username if login else None
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> InfluxClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            login = self._login
            if login is None and self.role is not None:
                try:  # looked up on first use: a client is built before the local stack has started
                    login = self._settings.influx_login(self.role)
                except LocalSecretsMissing as exc:
                    raise InfluxUnavailable(str(exc)) from None
            self.username = login.username if login else None
            headers = None
            if login is not None:
                secret = login.password.get_secret_value()
                headers = {"Authorization": aiohttp.encode_basic_auth(login.username, secret)}
            self._session = aiohttp.ClientSession(headers=headers, timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _post_lines(self, lines: Sequence[str], rp: str | None) -> tuple[int, str]:
        body = "\n".join(lines).encode()
        params = {"db": self.db, "precision": "ms"}
        if rp is not None:
            params["rp"] = rp
        try:
            async with self._http().post(f"{self.base_url}/write", params=params, data=body) as resp:
                return resp.status, (await resp.text())[:300]
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise InfluxUnavailable(
                f"InfluxDB unreachable at {self.base_url}: {type(exc).__name__}"
            ) from None

    async def write_once(self, lines: Sequence[str], *, rp: str | None = None) -> WriteReport:
        """Write a batch once, into retention policy `rp` (None: the database's default); bad lines
        (400) are isolated by bisection. Raises InfluxUnavailable."""
        report = WriteReport()
        if not lines:
            return report
        status, text = await self._post_lines(lines, rp)
        if status == 204:
            report.written = len(lines)
        elif status == 404 and "database not found" in text:
            try:
                await self.ensure_database()
            except RuntimeError as exc:  # no admin right: an operator must create it
                raise InfluxUnavailable(
                    f"database {self.db} does not exist and cannot be created: {exc}"
                ) from None
            raise InfluxUnavailable(f"database {self.db} was missing; created it")
        elif status in (400, 413):  # bad data, or a body over InfluxDB's max-body-size
            if len(lines) == 1:
                report.rejected.append((lines[0], _reason(text) if status == 400 else "too large (HTTP 413)"))
            else:
                mid = len(lines) // 2
                for half in (lines[:mid], lines[mid:]):
                    sub = await self.write_once(half, rp=rp)
                    report.written += sub.written
                    report.rejected.extend(sub.rejected)
        elif status in (401, 403):
            raise InfluxUnavailable(
                f"InfluxDB refused user {self.username or '(none)'} writing to {self.db} (HTTP {status})"
            )
        else:
            raise InfluxUnavailable(f"InfluxDB answered HTTP {status} on /write")
        return report

    async def query(self, influxql: str, *, write: bool = False) -> list[dict[str, Any]]:
        """Run InfluxQL; returns the `series` of the first statement (raises on an error answer)."""
        params = {"db": self.db, "q": influxql, "epoch": "ms"}
        url = f"{self.base_url}/query"
        try:
            # POST sends the statement in the body (it may carry a password: never in a URL).
            request = self._http().post(url, data=params) if write else self._http().get(url, params=params)
            async with request as resp:
                payload = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise InfluxUnavailable(
                f"InfluxDB unreachable at {self.base_url}: {type(exc).__name__}"
            ) from None
        results = payload.get("results") or [{}]
        if "error" in payload or "error" in results[0]:
            raise RuntimeError(f"InfluxQL error: {payload.get('error') or results[0]['error']}")
        series: list[dict[str, Any]] = results[0].get("series", [])
        return series

    async def ensure_database(self) -> None:
        await self.query(f'CREATE DATABASE "{self.db}"', write=True)
        await self.grant_local_roles()

    async def grant_local_roles(self) -> None:
        """As the secured local InfluxDB's admin: WRITE on this database to the writer user, READ to
        the reader user (an external server's rights are its operator's)."""
        settings = self._settings
        if self.role != "admin" or not (settings.local_secure and settings.uses_local_influx):
            return
        grants: tuple[tuple[InfluxRole, str], ...] = (("writer", "WRITE"), ("reader", "READ"))
        for role, right in grants:
            login = settings.influx_login(role)
            if login is not None:
                user = login.username.replace('"', '\\"')
                await self.query(f'GRANT {right} ON "{self.db}" TO "{user}"', write=True)

    async def count(self, measurement: str, field_name: str, where: str = "") -> int:
        # Identifiers are double-quoted; `where` is built by our own callers, never from input.
        series = await self.query(f'SELECT COUNT("{field_name}") FROM "{measurement}" {where}')  # noqa: S608
        return int(series[0]["values"][0][1]) if series else 0


def _reason(text: str) -> str:
    """InfluxDB's error text names fields and types; cut the echoed line out of it."""
    for marker in ("field type conflict", "unable to parse", "partial write", "invalid"):
        if marker in text:
            return marker
    return "rejected by InfluxDB (HTTP 400)"
