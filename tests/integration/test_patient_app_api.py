"""The patient app's reads at the gateway on the real broker: its messages of ivig.patient.v1 (a
long poll, only the credential's patient, repeats dropped, history after a restart), `/v1/me`,
and the app's files."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from models.alerts import RuleRef
from models.credentials import CredentialKind
from models.patient_messages import PatientMessage, PatientMessageKind
from streams.apps.gateway.gateway_app import running_gateway
from streams.infra.credential_store import CredentialStore
from streams.infra.kafka import kafka_clients
from streams.infra.kafka.topics import PATIENT_TOPIC
from tests.integration.conftest import Live, new_patient
from tests.integration.test_gateway import Gateway, post, reading

pytestmark = pytest.mark.integration


@pytest.fixture
async def gateway(live: Live, tmp_path: Path) -> AsyncIterator[Gateway]:
    store = CredentialStore(tmp_path / "gateway" / "credentials.json")
    async with running_gateway(live.settings, "127.0.0.1", 0, store=store) as url:
        yield Gateway(url, store, live.settings)


def message(
    patient: str, n: int, kind: PatientMessageKind = PatientMessageKind.MEASURE_AGAIN
) -> PatientMessage:
    return PatientMessage(
        message_id=f"{patient}-s1:hypotension:1:{kind.value}:{n}",
        patient_id=patient,
        session_id=f"{patient}-s1",
        kind=kind,
        ts=datetime.now(UTC),
        text="Please measure your blood pressure again now, after sitting quietly for a minute.",
        vitals=["systolic_bp"],
        alert_id=f"{patient}-s1:hypotension:1",
        rule=RuleRef(id="patient", version="test"),
    )


async def publish(live: Live, *messages: PatientMessage) -> None:
    producer = kafka_clients.producer(live.settings, acks="all")
    await producer.start()
    try:
        for m in messages:
            await producer.send_and_wait(
                PATIENT_TOPIC, m.model_dump_json().encode(), key=m.patient_id.encode()
            )
    finally:
        await producer.stop()


async def get(g: Gateway, token: str | None, path: str) -> tuple[int, Any, aiohttp.ClientResponse]:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http, http.get(f"{g.url}{path}", headers=headers) as r:
        body = await r.json(content_type=None) if "json" in r.content_type else await r.text()
        return r.status, body, r


def app_token(g: Gateway, patient: str) -> str:
    return g.store.issue(patient, CredentialKind.APP, "phone", datetime.now(UTC))[1]


async def test_the_app_long_polls_its_patients_messages_only_once_each(gateway: Gateway, live: Live) -> None:
    patient, other = new_patient(), new_patient()
    token = app_token(gateway, patient)
    waiting = asyncio.create_task(get(gateway, token, "/v1/messages?after=0&wait=20"))
    await publish(live, message(other, 1), message(patient, 1))
    status, body, _ = await waiting
    assert status == 200
    assert [m["message"]["message_id"] for m in body["messages"]] == [message(patient, 1).message_id]
    cursor = body["next"]
    later = asyncio.create_task(
        get(gateway, token, f"/v1/messages?after={cursor}&epoch={body['epoch']}&wait=20")
    )
    await publish(live, message(patient, 1), message(patient, 2))  # a repeat, then a new one
    status, body, _ = await later
    assert [m["message"]["message_id"] for m in body["messages"]] == [message(patient, 2).message_id]
    status, body, _ = await get(gateway, token, "/v1/messages?after=0&wait=0")
    assert len(body["messages"]) == 2  # the repeat was dropped


async def test_a_gateway_started_later_still_has_todays_messages(live: Live, tmp_path: Path) -> None:
    patient = new_patient()
    await publish(live, message(patient, 1, PatientMessageKind.VITALS_DUE))
    store = CredentialStore(tmp_path / "later" / "credentials.json")
    async with running_gateway(live.settings, "127.0.0.1", 0, store=store) as url:
        g = Gateway(url, store, live.settings)
        token = app_token(g, patient)
        status, body, _ = await get(g, token, "/v1/messages?after=0&epoch=before-a-restart&wait=20")
    assert status == 200 and [m["message"]["kind"] for m in body["messages"]] == ["vitals_due"]


async def test_only_an_app_credential_reads_messages_and_me(gateway: Gateway) -> None:
    patient = new_patient()
    device = gateway.store.issue(patient, CredentialKind.DEVICE, "cuff", datetime.now(UTC))[1]
    assert (await get(gateway, None, "/v1/messages"))[0] == 401
    assert (await get(gateway, device, "/v1/messages"))[0] == 403
    assert (await get(gateway, device, "/v1/me"))[0] == 403
    assert (await get(gateway, "ivg_000000000000_wrong", "/v1/me"))[0] == 401


async def test_me_shows_the_pump_and_the_last_readings_sent_through_the_gateway(gateway: Gateway) -> None:
    patient = new_patient()
    token = app_token(gateway, patient)
    pump = gateway.store.issue(patient, CredentialKind.PUMP, "pump", datetime.now(UTC))[1]
    start = {**reading(0), "type": "infusion", "action": "start", "rate_ml_per_h": 60, "event_id": "pump-1"}
    del start["systolic_bp"]
    start["session_id"] = f"{patient}-s1"
    assert (await post(gateway, pump, [start]))[0] == 200
    assert (await post(gateway, token, [reading(1), reading(2)]))[0] == 200  # the session is filled in
    status, me, _ = await get(gateway, token, "/v1/me")
    assert status == 200 and me["patient_id"] == patient and me["session_id"] == f"{patient}-s1"
    assert me["pump"]["action"] == "start" and me["pump"]["rate"] == 60
    assert [r["values"]["systolic_bp"] for r in me["readings"]] == [120, 119]  # newest first
    assert me["emergency_number"] == gateway.settings.emergency_number


async def test_the_app_is_served_with_a_strict_content_security_policy(gateway: Gateway) -> None:
    status, html, response = await get(gateway, None, "/app/")
    assert status == 200 and 'src="/app/app.js"' in html
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    for name in ("app.js", "app.css"):
        assert (await get(gateway, None, f"/app/{name}"))[0] == 200
    assert (await get(gateway, None, "/app/../gateway_app.py"))[0] == 404
