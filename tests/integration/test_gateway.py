"""The device and app gateway on the real broker: credentials, a batch and its resend stored once,
refusals as problem details, the rate limit, and an answer only after Kafka stored the events."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from models.credentials import CredentialKind
from streams.apps.gateway.gateway_app import running_gateway
from streams.infra.credential_store import CredentialStore
from streams.infra.kafka import kafka_clients
from streams.infra.kafka.topics import EVENTS_TOPIC
from streams.infra.settings import Settings
from tests.integration.conftest import Live, new_patient

pytestmark = pytest.mark.integration


@dataclass
class Gateway:
    url: str
    store: CredentialStore
    settings: Settings


@pytest.fixture
async def gateway(live: Live, tmp_path: Path) -> AsyncIterator[Gateway]:
    # a production gateway (the test stack's simulated clock would lift its arrival bound)
    update = {"gateway_burst": 5, "gateway_requests_per_second": 0.5, "simulated_clock": False}
    settings = live.settings.model_copy(update=update)
    store = CredentialStore(tmp_path / "gateway" / "credentials.json")
    async with running_gateway(settings, "127.0.0.1", 0, store=store) as url:
        yield Gateway(url, store, settings)


def reading(n: int, patient: str | None = None, minutes: float = -1.0, **extra: Any) -> dict[str, Any]:
    ts = (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")
    item: dict[str, Any] = {"type": "vitals", "event_id": f"cuff-{n}", "ts": ts, "systolic_bp": 118 + n}
    if patient is not None:
        item.update(patient_id=patient, session_id=f"{patient}-s1")
    return item


async def post(
    g: Gateway, token: str | None, body: object
) -> tuple[int, dict[str, Any], aiohttp.ClientResponse]:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{g.url}/v1/events", json=body, headers=headers) as r,
    ):
        return r.status, await r.json(content_type=None), r


async def stored(
    settings: Settings, patient: str, expected: int, timeout: float = 30.0
) -> list[dict[str, Any]]:
    """The records of `patient` on ivig.events.v1 (read from the start), once `expected` are there
    and a little longer for any extra one."""
    consumer = kafka_clients.consumer(settings, EVENTS_TOPIC, group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + timeout
        settle: float | None = None
        while time.monotonic() < deadline and (settle is None or time.monotonic() < settle):
            batch = await consumer.getmany(timeout_ms=250)
            for records in batch.values():
                found.extend(json.loads(r.value) for r in records if r.key == patient.encode())
            if len(found) >= expected and settle is None:
                settle = time.monotonic() + 2.0
    finally:
        await consumer.stop()
    return found


async def test_a_batch_and_its_resend_are_stored_once_for_the_credentials_patient(gateway: Gateway) -> None:
    patient = new_patient()
    _, token = gateway.store.issue(patient, CredentialKind.APP, "phone", datetime.now(UTC))
    symptom = {
        "type": "symptom",
        "event_id": "app-1",
        "session_id": f"{patient}-s1",
        "symptom": "headache",
        "severity": "mild",
    }
    symptom["ts"] = datetime.now(UTC).isoformat()
    batch = [
        {**reading(1), "session_id": f"{patient}-s1"},
        {**reading(2), "session_id": f"{patient}-s1"},
        symptom,
    ]
    status, body, _ = await post(gateway, token, batch)
    assert (status, body) == (200, {"accepted": 3, "duplicates": 0})
    status, body, _ = await post(gateway, token, batch)  # the device did not hear the answer: it resends
    assert (status, body) == (200, {"accepted": 0, "duplicates": 3})
    records = await stored(gateway.settings, patient, 3)
    assert sorted(r["event_id"] for r in records) == ["app-1", "cuff-1", "cuff-2"]
    assert {r["patient_id"] for r in records} == {patient}


async def test_missing_wrong_revoked_and_out_of_scope_credentials_are_refused(gateway: Gateway) -> None:
    patient, other = new_patient(), new_patient()
    credential, token = gateway.store.issue(patient, CredentialKind.DEVICE, "cuff", datetime.now(UTC))
    status, body, response = await post(gateway, None, reading(1, patient))
    assert status == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert (await post(gateway, token + "x", reading(1, patient)))[0] == 401
    status, body, _ = await post(gateway, token, reading(1, other))
    assert status == 403 and body["errors"] == [
        {"pointer": "/patient_id", "detail": "another patient than the credential's"}
    ]
    symptom = {
        "type": "symptom",
        "event_id": "s-1",
        "session_id": "x",
        "symptom": "rash",
        "ts": "2026-12-07T10:00:00Z",
    }
    assert (await post(gateway, token, symptom))[0] == 403  # a cuff sends vitals only
    gateway.store.revoke(credential.credential_id, datetime.now(UTC))
    assert (await post(gateway, token, reading(2, patient)))[0] == 401
    assert await stored(gateway.settings, patient, 0, timeout=3.0) == []
    assert await stored(gateway.settings, other, 0, timeout=1.0) == []


async def test_a_future_dated_batch_is_refused_whole_and_a_late_one_taken(gateway: Gateway) -> None:
    patient = new_patient()
    _, token = gateway.store.issue(patient, CredentialKind.DEVICE, "cuff", datetime.now(UTC))
    ahead = [reading(1, patient), reading(2, patient, minutes=gateway.settings.max_clock_skew_minutes + 2)]
    status, body, _ = await post(gateway, token, ahead)
    assert status == 422 and body["errors"][0]["pointer"] == "/1/ts"
    assert "ts_ahead_of_arrival" in body["errors"][0]["detail"] and str(patient) not in json.dumps(body)
    late = [reading(3, patient, minutes=-3 * 24 * 60)]  # an offline upload three days late
    assert (await post(gateway, token, late))[:2] == (200, {"accepted": 1, "duplicates": 0})
    assert [r["event_id"] for r in await stored(gateway.settings, patient, 1)] == ["cuff-3"]


async def test_a_credential_past_its_rate_waits_and_others_do_not(gateway: Gateway) -> None:
    patient = new_patient()
    _, busy = gateway.store.issue(patient, CredentialKind.DEVICE, "oximeter", datetime.now(UTC))
    _, calm = gateway.store.issue(patient, CredentialKind.DEVICE, "cuff", datetime.now(UTC))
    answers = [
        await post(gateway, busy, reading(n, patient)) for n in range(gateway.settings.gateway_burst + 1)
    ]
    assert [a[0] for a in answers[:-1]] == [200] * gateway.settings.gateway_burst
    status, body, response = answers[-1]
    assert (
        status == 429 and int(response.headers["Retry-After"]) >= 1 and body["type"].endswith("/rate-limited")
    )
    assert (await post(gateway, calm, reading(99, patient)))[0] == 200


async def test_the_apps_report_without_a_session_takes_the_session_the_pump_started(gateway: Gateway) -> None:
    patient = new_patient()
    now = datetime.now(UTC)
    _, pump = gateway.store.issue(patient, CredentialKind.PUMP, "pump", now)
    _, phone = gateway.store.issue(patient, CredentialKind.APP, "phone", now)
    report = {"type": "symptom", "event_id": "app-7", "symptom": "chills", "severity": "mild"}
    report["ts"] = now.isoformat()
    status, problem, _ = await post(gateway, phone, report)  # no infusion known yet
    assert status == 422 and problem["errors"][0]["pointer"] == "/session_id"
    start = {"type": "infusion", "event_id": "pump-1", "session_id": f"{patient}-d3", "action": "start"}
    start.update(rate_ml_per_h=60, ts=(now - timedelta(minutes=30)).isoformat())
    assert (await post(gateway, pump, start))[0] == 200
    assert (await post(gateway, phone, report))[:2] == (200, {"accepted": 1, "duplicates": 0})
    records = {r["event_id"]: r for r in await stored(gateway.settings, patient, 2)}
    assert records["app-7"]["session_id"] == f"{patient}-d3"


async def test_fhir_observations_from_a_hub_are_stored_as_contract_vitals_once(gateway: Gateway) -> None:
    patient = new_patient()
    now = datetime.now(UTC)
    _, pump = gateway.store.issue(patient, CredentialKind.PUMP, "pump", now)
    _, hub = gateway.store.issue(patient, CredentialKind.DEVICE, "health app export", now)
    start = {"type": "infusion", "event_id": "pump-1", "session_id": f"{patient}-d1", "action": "start"}
    start.update(rate_ml_per_h=60, ts=(now - timedelta(minutes=20)).isoformat())
    assert (await post(gateway, pump, start))[0] == 200
    when = (now - timedelta(minutes=2)).isoformat()
    loinc, ucum = "http://loinc.org", "http://unitsofmeasure.org"
    pulse = {
        "resourceType": "Observation",
        "id": "hr-1",
        "status": "final",
        "code": {"coding": [{"system": loinc, "code": "8867-4"}]},
        "effectiveDateTime": when,
        "valueQuantity": {"value": 81, "system": ucum, "code": "/min"},
    }
    fever = {**pulse, "id": "t-1", "code": {"coding": [{"system": loinc, "code": "8310-5"}]}}
    fever["valueQuantity"] = {"value": 101.3, "system": ucum, "code": "[degF]"}
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": pulse}, {"resource": fever}],
    }
    async with aiohttp.ClientSession() as http:
        for expected in ({"accepted": 2, "duplicates": 0}, {"accepted": 0, "duplicates": 2}):
            async with http.post(
                f"{gateway.url}/v1/fhir", json=bundle, headers={"Authorization": f"Bearer {hub}"}
            ) as response:
                assert (response.status, await response.json()) == (200, expected)
    vitals = [r for r in await stored(gateway.settings, patient, 3) if r["type"] == "vitals"]
    assert len(vitals) == 2 and {r["session_id"] for r in vitals} == {f"{patient}-d1"}
    assert sorted(v for r in vitals for k, v in r.items() if k in ("heart_rate", "temperature_c")) == [
        38.5,
        81,
    ]
