"""The InfluxDB sink's retry rules against a fake /write: outages are retried, refusals are not."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestServer

from streams.infra.settings import Settings
from streams.infra.sinks.influx.influx_client import InfluxClient
from streams.infra.sinks.influx.influx_sink import InfluxSink
from streams.infra.sinks.interface import Refused


async def fake_influx(answers: list[int], seen: list[list[str]]) -> TestServer:
    """/write answers from `answers` in turn (204 when used up); 413 for any batch with a `huge` line."""

    async def write(request: web.Request) -> web.Response:
        lines = (await request.text()).split("\n")
        seen.append(lines)
        if any("huge" in line for line in lines):
            return web.Response(status=413, text="Request Entity Too Large")
        return web.Response(status=answers.pop(0) if answers else 204)

    app = web.Application()
    app.router.add_post("/write", write)
    server = TestServer(app)
    await server.start_server()
    return server


async def test_an_outage_is_retried_until_influxdb_takes_the_batch(tmp_path: Path) -> None:
    seen: list[list[str]] = []
    server = await fake_influx([503, 500], seen)
    try:
        settings = Settings(state_dir=tmp_path, influx_url=str(server.make_url("")).rstrip("/"))
        async with InfluxClient(settings) as client:
            sink = InfluxSink(client, 30.0)
            report = await asyncio.wait_for(sink.write_report(["m,p=a v=1 1", "m,p=b v=2 2"]), timeout=30)
    finally:
        await server.close()
    assert (report.written, report.retries, report.rejected) == (2, 2, [])
    assert len(seen) == 3


async def test_a_line_over_the_body_limit_is_refused_alone_and_the_rest_written(tmp_path: Path) -> None:
    seen: list[list[str]] = []
    server = await fake_influx([], seen)
    try:
        settings = Settings(state_dir=tmp_path, influx_url=str(server.make_url("")).rstrip("/"))
        async with InfluxClient(settings) as client:
            lines = ["m,p=a v=1 1", "m,p=b huge=2 2", "m,p=c v=3 3", "m,p=d v=4 4"]
            sink = InfluxSink(client, 30.0)
            report = await asyncio.wait_for(sink.write_report(lines), timeout=30)  # a 413 once looped forever
    finally:
        await server.close()
    assert report.written == 3
    assert report.rejected == [("m,p=b huge=2 2", "too large (HTTP 413)")]
    assert report.retries == 0


async def test_the_sink_gives_back_only_the_lines_influxdb_refused(tmp_path: Path) -> None:
    seen: list[list[str]] = []
    server = await fake_influx([503], seen)
    try:
        settings = Settings(state_dir=tmp_path, influx_url=str(server.make_url("")).rstrip("/"))
        sink = InfluxSink(InfluxClient(settings), 30.0)
        try:
            refused = await asyncio.wait_for(sink.write(["m,p=a v=1 1", "m,p=b huge=2 2"]), timeout=30)
        finally:
            await sink.close()
    finally:
        await server.close()
    assert refused == [Refused("m,p=b huge=2 2", "too large (HTTP 413)")]
    assert seen[0] == ["m,p=a v=1 1", "m,p=b huge=2 2"]  # the outage's batch, retried whole
