"""The console's limits and snoozes (issue 16) with aiohttp's test client and the fakes of test_app:
reason and expiry required, refused before sending when the rule file does not allow it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.unit.streams.apps.console.test_app import CSRF, HASH, NURSE, Setup, console_settings, serving


@pytest.fixture
async def nurse(tmp_path: Path) -> AsyncIterator[Setup]:
    """The test nurse's account as a charge nurse (limits and snoozes are theirs to set)."""
    async with serving(console_settings(tmp_path, console_users=f"{NURSE}:{HASH}:charge_nurse")) as ready:
        await ready.login()
        yield ready


async def test_a_nurse_without_the_charge_role_cannot_set_a_limit_or_snooze(tmp_path: Path) -> None:
    async with serving(console_settings(tmp_path)) as plain:
        await plain.login()
        body = {"vital": "spo2", "side": "low", "value": "91", "hours": "8", "reason": "usual SpO2 91"}
        for kind in ("limit", "snooze"):
            response = await plain.client.post(f"/api/patients/pt-a/{kind}", json=body, headers=CSRF)
            assert response.status == 403, kind
            assert "nurse role may not" in (await response.json())["error"]
        assert plain.actions.sent == []


async def test_a_limit_within_bounds_is_sent_and_then_shown_in_force(nurse: Setup) -> None:
    body = {"vital": "spo2", "side": "low", "value": "91", "hours": "8", "reason": "usual SpO2 91 (COPD)"}
    response = await nurse.client.post("/api/patients/pt-a/limit", json=body, headers=CSRF)
    assert response.status == 202, await response.text()
    (action,) = nurse.actions.sent
    assert (action.type, action.by, action.alert_id) == ("limit", "rn-ana", "pt-a:limit:spo2:low")
    nurse.hub.on_action(action)  # as read back from ivig.actions.v1
    shown = await (await nurse.client.get("/api/patients/pt-a/settings")).json()
    assert [s["text"][:28] for s in shown["limits"]] == ["patient limit SpO2 < 91 set "]
    assert shown["options"]["max_snooze_hours"] == 12
    assert any(not t["snoozable"] for t in shown["options"]["snooze_targets"])
    page = await (await nurse.client.get("/patients/pt-a/limits")).text()
    assert 'id="limit-form"' in page and "limits.js" in page and "<script>" not in page


@pytest.mark.parametrize(
    ("kind", "body", "status", "words"),
    [
        ("snooze", {"condition": "hypotension", "rule": "hypotension.absolute", "hours": 2, "reason": "x"},
         422, "critical rows are never snoozed"),
        ("snooze", {"condition": "anaphylaxis", "hours": 2, "reason": "x"}, 422, "[not_snoozable]"),
        ("snooze", {"condition": "hypoxemia", "hours": 2}, 400, "reason"),
        ("snooze", {"condition": "hypoxemia", "reason": "x"}, 400, "until"),
        ("snooze", {"condition": "hypoxemia", "hours": 13, "reason": "x"}, 422, "[snooze_too_long]"),
        ("limit", {"vital": "spo2", "side": "low", "value": 80, "hours": 2, "reason": "x"}, 422, "88-92"),
    ],
)  # fmt: skip
async def test_a_setting_the_rules_do_not_allow_is_refused_before_sending(
    nurse: Setup, kind: str, body: dict[str, object], status: int, words: str
) -> None:
    response = await nurse.client.post(f"/api/patients/pt-a/{kind}", json=body, headers=CSRF)
    assert response.status == status and words in (await response.json())["error"]
    assert nurse.actions.sent == []


async def test_anonymous_requests_are_refused(tmp_path: Path) -> None:
    async with serving(console_settings(tmp_path)) as anonymous:
        response = await anonymous.client.post("/api/patients/pt-a/snooze", json={}, headers=CSRF)
        assert response.status == 401 and anonymous.actions.sent == []
        assert (await anonymous.client.get("/api/patients/pt-a/settings")).status == 401
