"""A request body at the gateway: the patient from the credential, scopes, event ids, the skew, batches."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from models.credentials import Credential, CredentialKind
from streams.apps.gateway.intake import Accepted, Problem, intake

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
SKEW = timedelta(minutes=5)


def credential(kind: CredentialKind = CredentialKind.DEVICE) -> Credential:
    return Credential(
        credential_id="0123456789ab",
        patient_id="pt-7",
        kind=kind,
        secret_sha256="0" * 64,
        issued_at=NOW,
    )


def vitals(n: int, minutes: float = -1, **extra: object) -> dict[str, object]:
    ts = (NOW + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")
    return {
        "type": "vitals",
        "event_id": f"cuff-{n}",
        "session_id": "pt-7-s1",
        "ts": ts,
        "systolic_bp": 120,
        **extra,
    }


def take(body: object, kind: CredentialKind = CredentialKind.DEVICE, batch: int = 10) -> Accepted | Problem:
    return intake(json.dumps(body).encode(), credential(kind), NOW, SKEW, batch)


def test_one_event_or_a_batch_gets_the_credentials_patient() -> None:
    one = take(vitals(1))
    assert isinstance(one, Accepted) and [e.patient_id for e, _ in one.events] == ["pt-7"]
    batch = take([vitals(1), vitals(2, patient_id="pt-7")])
    assert isinstance(batch, Accepted) and len(batch.events) == 2
    assert all(json.loads(raw)["patient_id"] == "pt-7" for _, raw in batch.events)


def test_another_patient_or_an_event_type_out_of_scope_is_forbidden_for_the_whole_batch() -> None:
    other = take([vitals(1), vitals(2, patient_id="pt-8")])
    assert isinstance(other, Problem) and other.status == 403
    assert other.errors == ({"pointer": "/1/patient_id", "detail": "another patient than the credential's"},)
    pump = {
        "type": "infusion",
        "event_id": "p-1",
        "ts": NOW.isoformat(),
        "action": "start",
        "rate_ml_per_h": 60,
        "session_id": "pt-7-s1",
    }
    assert isinstance(refused := take(pump), Problem) and refused.status == 403
    assert isinstance(take(pump, CredentialKind.PUMP), Accepted)
    profile = {"type": "profile", "event_id": "x", "ts": NOW.isoformat()}
    assert isinstance(p := take(profile, CredentialKind.APP), Problem) and p.status == 403  # care team only


def test_an_event_needs_an_id_and_bad_fields_are_named_without_their_values() -> None:
    missing = take([vitals(1), {**vitals(2), "event_id": None}])
    assert isinstance(missing, Problem) and missing.status == 422
    assert missing.errors[0]["pointer"] == "/1/event_id"
    bad = take(vitals(1, systolic_bp=999))
    assert isinstance(bad, Problem) and bad.status == 422
    assert "systolic_bp" in bad.errors[0]["detail"] and "999" not in json.dumps(bad.body())
    assert bad.body()["type"].endswith("/invalid-event")


def test_a_future_time_past_the_skew_is_refused_and_a_late_one_taken() -> None:
    ahead = take(vitals(1, minutes=6))
    assert isinstance(ahead, Problem) and ahead.errors[0]["pointer"] == "/ts"
    assert isinstance(take(vitals(1, minutes=-60 * 24 * 3)), Accepted)  # an offline upload, days late


def test_a_simulated_clock_has_no_arrival_bound() -> None:
    accelerated = intake(json.dumps(vitals(1, minutes=600)).encode(), credential(), NOW, None, 10)
    assert isinstance(accelerated, Accepted)


def test_malformed_empty_and_oversized_bodies() -> None:
    assert isinstance(m := intake(b"{", credential(), NOW, SKEW, 10), Problem) and m.status == 400
    assert isinstance(e := take([]), Problem) and e.status == 422
    assert isinstance(big := take([vitals(n) for n in range(11)]), Problem) and big.status == 413
    assert isinstance(s := take(["x"]), Problem) and s.errors[0]["pointer"] == "/0"


def test_a_reading_without_a_session_takes_the_patients_most_recent_one_or_is_refused() -> None:
    item = {k: v for k, v in vitals(1).items() if k != "session_id"}
    filled = intake(json.dumps(item).encode(), credential(), NOW, SKEW, 10, session="pt-7-s9")
    assert isinstance(filled, Accepted) and json.loads(filled.events[0][1])["session_id"] == "pt-7-s9"
    named = intake(json.dumps(vitals(2)).encode(), credential(), NOW, SKEW, 10, session="pt-7-s9")
    assert isinstance(named, Accepted) and json.loads(named.events[0][1])["session_id"] == "pt-7-s1"
    unknown = take(item)
    assert isinstance(unknown, Problem) and unknown.errors[0]["pointer"] == "/session_id"
