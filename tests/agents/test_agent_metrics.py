"""What the rule and pager agents count for /metrics: events by type, dead letters, alerts, pages,
deliveries, retries, skips; never a patient or session id in a label. (The pager's fixtures are
those of test_pager_agent.)"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import faust
from prometheus_client import REGISTRY

from tests.agents.test_pager_agent import Webhook, message, pager_agent
from tests.agents.test_pager_agent import pager_app as pager_app
from tests.agents.test_pager_agent import webhook as webhook

PATIENT, SESSION = "pt-metrics-7f3", "sess-metrics-7f3"


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def alerts_counted() -> Counter[tuple[str, str, str]]:
    return Counter(
        {
            (s.labels["condition"], s.labels["severity"], s.labels["status"]): int(s.value)
            for family in REGISTRY.collect()
            for s in family.samples
            if s.name == "ivigwatch_alerts_sent_total"
        }
    )


def event(minutes: float, **fields: object) -> bytes:
    ts = datetime.now(UTC) + timedelta(minutes=minutes)
    return json.dumps({"patient_id": PATIENT, "session_id": SESSION, "ts": ts.isoformat(), **fields}).encode()


def agent(app: faust.App, name: str) -> faust.types.AgentT:
    return next(a for a in app.agents.values() if a.name.endswith(name))


async def test_the_rules_count_events_dead_letters_alerts_and_pages_without_ids(rules_app: faust.App) -> None:
    before = {
        "vitals": value("ivigwatch_events_processed_total", type="vitals"),
        "dead": value("ivigwatch_dead_letters_total", stage="validate"),
        "pages": value("ivigwatch_pages_sent_total", severity="urgent"),
    }
    alerts_before = alerts_counted()
    async with agent(rules_app, "watch_events").test_context() as ctx:
        await ctx.put(event(0, type="vitals", heart_rate=72), key=PATIENT.encode())
        await ctx.put(b"{not json", key=PATIENT.encode())
        await ctx.put(event(1, type="vitals", spo2=88), key=PATIENT.encode())
        await ctx.put(event(2, type="vitals", spo2=88), key=PATIENT.encode())  # the repeat confirms: a page
    sent = [json.loads(v) for _, v in rules_app.runtime.alerts_topic.sent]  # type: ignore[attr-defined]
    hypoxemia = [a for a in sent if a["condition"] == "hypoxemia"]
    assert hypoxemia, sent
    pages = [a for a in sent if a["page"] and a["severity"] == "urgent"]
    assert pages, "the urgent finding pages (on its alert or its incident)"
    assert value("ivigwatch_events_processed_total", type="vitals") == before["vitals"] + 3
    assert value("ivigwatch_dead_letters_total", stage="validate") == before["dead"] + 1
    assert hypoxemia[0]["severity"] == "urgent"
    assert alerts_counted() - alerts_before == Counter(
        (a["condition"], a["severity"], a["status"]) for a in sent
    )
    assert value("ivigwatch_pages_sent_total", severity="urgent") == before["pages"] + len(pages)
    for family in REGISTRY.collect():
        for sample in family.samples:
            for label in sample.labels.values():
                assert PATIENT not in label and SESSION not in label, (sample.name, sample.labels)


def pager_value(name: str, **labels: str) -> float:
    return value(f"ivigwatch_pager_{name}_total", **labels)


async def test_the_pager_counts_deliveries_failures_retries_and_skips(
    pager_app: faust.App, webhook: Webhook
) -> None:
    webhook.answers = {"pt-1-s1:fever:1": [503], "pt-2-s1:fever:1": [400]}
    before = {
        "delivered": pager_value("deliveries", severity="urgent", outcome="delivered"),
        "failed": pager_value("deliveries", severity="urgent", outcome="failed"),
        "retries": pager_value("retries"),
        "below": pager_value("skipped", reason="below_urgent"),
        "dead": value("ivigwatch_dead_letters_total", stage="page"),
        "latency": value("ivigwatch_page_latency_seconds_count", severity="urgent"),
    }
    async with pager_agent(pager_app).test_context() as ctx:
        await ctx.put(message("pt-1-s1:fever:1"), key=b"pt-1")  # a 503, then delivered
        await ctx.put(message("pt-2-s1:fever:1"), key=b"pt-2")  # refused for good: dead-lettered
        await ctx.put(message("pt-3-s1:hypotension:1", severity="warning"), key=b"pt-3")
    assert pager_value("deliveries", severity="urgent", outcome="delivered") == before["delivered"] + 1
    assert pager_value("deliveries", severity="urgent", outcome="failed") == before["failed"] + 1
    assert pager_value("retries") == before["retries"] + 1
    assert pager_value("skipped", reason="below_urgent") == before["below"] + 1
    assert value("ivigwatch_dead_letters_total", stage="page") == before["dead"] + 1
    # test_context stamps no record time: no arrival, no latency observed (never a made-up one)
    assert value("ivigwatch_page_latency_seconds_count", severity="urgent") in {
        before["latency"],
        before["latency"] + 1,
    }
