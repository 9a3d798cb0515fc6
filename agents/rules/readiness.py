"""The readiness check before a start (issue 15 part 4): the patient's answers, read against the
`[readiness]` rows, tell the patient whether to start, and raise `not_ready` for the nurse when an
answer says "do not start yet" (feeling unwell, a fever, no epinephrine at hand, ...).

A later readiness answer with nothing blocking resolves an open `not_ready` alert.
"""

from __future__ import annotations

from agents.rules.explain import evidence
from agents.rules.lifecycle import Finding, apply_finding, close, to_message
from agents.rules.outbox import post
from agents.rules.registry import RuleLine, register
from agents.rules.session import phase_at
from models.alerts import Alert, AlertStatus, Condition, RuleRef
from models.events import Readiness
from models.patient_messages import PatientMessage, PatientMessageKind
from models.rule_readiness import ReadinessRow
from models.ruleset import RuleSet
from models.state import PatientState, SessionState


def day_session(item: Readiness) -> str:
    """The session a readiness check without one belongs to: the patient's readiness of that day
    (the app does not know the id of the infusion about to start)."""
    return f"{item.patient_id}-readiness-{item.ts:%Y%m%d}"[:64]


def matching(item: Readiness, rules: RuleSet) -> list[ReadinessRow]:
    """The rows the answers meet, in file order."""
    fever = item.temperature_c is not None and item.temperature_c >= rules.readiness.fever_at_least
    rows = []
    for row in rules.readiness.answer:
        value = getattr(item, row.answer)
        if row.answer == "feverish" and fever:
            value = True
        if value is not None and value == row.when:
            rows.append(row)
    return rows


def answer(state: PatientState, session: SessionState, item: Readiness, rules: RuleSet) -> list[Alert]:
    """The patient's answer (into the outbox) and the nurse's alert when it blocks the start."""
    rule = rules.readiness
    rows = matching(item, rules)
    blocking = [row for row in rows if row.blocks]
    advice = " ".join(row.patient for row in rows)
    messages: list[Alert] = []
    phase = phase_at(session, item.ts, rules)
    current = session.alerts.get(Condition.NOT_READY.value)
    if blocking:
        reasons = "; ".join(row.nurse for row in blocking)
        finding = Finding(
            condition=Condition.NOT_READY,
            severity=rule.severity,
            rule_id=blocking[0].id,
            title=rule.title.format(reasons=reasons),
            action=rule.action.format(reasons=reasons),
            evidence=evidence(session, item.ts, phase, rules, f"Readiness check before the start: {reasons}"),
            ts=item.ts,
            from_vitals=False,
        )
        if message := apply_finding(session, finding, state.patient_id, rules):
            messages.append(message)
        text = rule.not_ready.format(reasons=advice)
    else:
        if current is not None:
            current.status = AlertStatus.RESOLVED
            close(session, Condition.NOT_READY.value, item.ts)
            note = "a later readiness check says ready"
            messages.append(to_message(current, state.patient_id, session.session_id, item.ts, note=note))
        text = f"{rule.ready} {advice}".strip()
    raised = session.alerts.get(Condition.NOT_READY.value) if blocking else None
    post(
        state,
        PatientMessage(
            message_id=f"{session.session_id}:readiness:{item.ts.strftime('%Y%m%dT%H%M%S%f')}",
            patient_id=state.patient_id,
            session_id=session.session_id,
            kind=PatientMessageKind.READINESS,
            ts=item.ts,
            text=text,
            start=not blocking,
            alert_id=raised.alert_id if raised is not None else None,
            rule=RuleRef(id=rule.id, version=rules.version),
        ),
    )
    return messages


def show(rules: RuleSet) -> list[RuleLine]:
    rule = rules.readiness
    return [
        RuleLine(
            row.id,
            Condition.NOT_READY.value,
            f"readiness answer {row.answer} = {str(row.when).lower()}"
            + (
                f" (or a temperature of {rule.fever_at_least:g} C or more)"
                if row.answer == "feverish"
                else ""
            ),
            rule.severity.value if row.blocks else "advice to the patient",
            "before the start",
            row.source,
        )
        for row in rule.answer
    ]


register("readiness", show_order=110, show=show)
