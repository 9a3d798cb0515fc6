"""How each injected serious event unfolds in a session: onset, vitals, reports, readings, pump.

Numbers follow the clinical reference (Part B 2.4, 3, 5); each kind's are printed with its source.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from models.events import SymptomName, SymptomSeverity
from streams.apps.cohort.care_schedule import PumpPlan
from streams.apps.cohort.parameters import Parameter
from streams.apps.cohort.physiology import Course
from streams.apps.cohort.population import Patient
from streams.apps.cohort.serious_events import Criterion, Injected, Kind, Report, Sign
from streams.apps.scenarios import Abs, Device, Effect

S = SymptomName
MILD, MODERATE, SEVERE = SymptomSeverity.MILD, SymptomSeverity.MODERATE, SymptomSeverity.SEVERE
Readings = tuple[tuple[float, Device], ...]

DAY = 1440.0
SPONTANEOUS_MENINGITIS_SHARE = 0.3
SPONTANEOUS_HEMOLYSIS_SHARE = 0.25


PARAMETERS: tuple[Parameter, ...] = (
    Parameter("serious kinds", "equal shares of " + ", ".join(k.value for k in Kind), "issue 14 (Prove it)"),
    Parameter(
        Kind.ANAPHYLAXIS.value,
        "2-20 min after the start or the 1st/2nd rate step; a skin sign reported 0.5-3 min after onset "
        "(first evidence), a breathing sign 0.5-2 min later, 50 % a third sign; systolic 72-86, SpO2 "
        "87-92, pulse +25-40 by 12 min; cuff and oximeter 1-4 min after the first report, then "
        "+5/+10/+20 min; pump stopped 2-8 min after the first report; recovery over an hour",
        "clinical reference 3 (NIAID/FAAN, WAO; IV onset within minutes), 5",
    ),
    Parameter(
        Kind.HYPOTENSION.value,
        "3-20 min after the start or one of the first 3 rate steps, systolic 70-84 by 6 min for 30-90 "
        "min; 80 % report dizziness 4-8 min after onset (15 % of them then fainting) and take cuff and "
        "oximeter 1-4 min later and +5 min; first evidence the report or a cuff reading while the "
        "true systolic is below 90 or 30 % under usual",
        "clinical reference 2.4, 5 (NHSN hypotensive reaction), 3 (adult hypotension)",
    ),
    Parameter(
        Kind.FEBRILE.value,
        "5-25 min after a rate step; temperature up 1.3-2.3 C (at least to 38.2) in 20-35 min, held 30 "
        "min; 85 % report chills 0-10 min after onset, take the temperature 2-6 min later and every 15 "
        "min x3 (and the cuff), and the rate goes back a step 5-15 min after the chills; first "
        "evidence a temperature reading while truly >= 38.0 C and >= 1.0 C over usual",
        "clinical reference 2.4 (NHSN/ISBT febrile reaction), 4.2 (reactions after rate steps)",
    ),
    Parameter(
        Kind.THROMBOSIS.value,
        "40 % arterial, 1-24 h (60 %) or 1-3 days after the stop, a chest-pain, weakness, speech or "
        "vision sign reported 2-15 min after onset; 60 % venous, 1-7 days after: limb swelling "
        "reported 1-12 h after onset, or (25 %) pulmonary, breathlessness then chest pain 10-60 min "
        "after onset; 50 % then take cuff and oximeter; first evidence the first report",
        "clinical reference 5 (PMID 15970713: arterial early, venous mostly after 24 h)",
    ),
    Parameter(
        Kind.BREATHING.value,
        "50 % TRALI-like 0.5-6 h after the stop, 50 % TACO-like 1-12 h after (systolic +15-30); SpO2 "
        "86-92 over 15-30 min, held an hour; breathlessness reported 2-15 min after onset (myasthenia: "
        "50 % also a weak cough or swallowing); oximeter and cuff 1-5 min after the report, +10, +20 "
        "min; first evidence the report or an oximeter reading while the true SpO2 is <= 92",
        "clinical reference 5 (ISBT: TRALI within 6 h, TACO 12 h), 5.1 (myasthenia)",
    ),
    Parameter(
        Kind.MENINGITIS.value,
        "6-48 h after the stop, a severe headache (8/10) with a stiff neck or light sensitivity for 2-4 "
        f"days; {SPONTANEOUS_MENINGITIS_SHARE:.0%} report it on their own 1-8 h after onset, the rest only "
        "when a check-in asks; first evidence that report or answer",
        "clinical reference 5 (aseptic meningitis: several hours to 2 days after)",
    ),
    Parameter(
        Kind.HEMOLYSIS.value,
        "12 h to 4 days after the stop, dark urine for 2-5 days, pulse +10; "
        f"{SPONTANEOUS_HEMOLYSIS_SHARE:.0%} report it on their own 2-12 h after onset, the rest only when "
        "a check-in asks; first evidence that report or answer",
        "clinical reference 5 (hemolysis: 12 h to 10 days; dark urine)",
    ),
)


def plateau(onset: float, vital: str, value: float | Abs, reach: float, until: float, back: float) -> Course:
    """A vital that moves to `value` over `reach` minutes after onset, stays there until `until`,
    and returns to its usual level over `back` minutes (whole, increasing minutes)."""
    points: list[tuple[int, float | Abs]] = [(0, 0.0)]
    for minute, level in ((reach, value), (until, value), (until + back, 0.0)):
        points.append((max(round(minute), points[-1][0] + 1), level))
    return Course(onset, Effect(vital, tuple(points)))


def sets(first: float, gaps: Sequence[float], devices: Sequence[Device]) -> Readings:
    """The readings the patient takes: every device at `first` plus each gap (minutes)."""
    return tuple((first + gap, device) for gap in gaps for device in devices)


def anaphylaxis(pump: PumpPlan, rng: random.Random) -> Injected:
    anchor = rng.choice([0.0, *pump.steps[:2]])
    onset = max(1.0, min(anchor + rng.uniform(2, 20), pump.stop - 10))
    first = onset + rng.uniform(0.5, 3)
    second = first + rng.uniform(0.5, 2)
    skin = rng.choice([S.FLUSHING, S.HIVES, S.ITCHING])
    breathing = rng.choice([S.WHEEZING, S.THROAT_TIGHTNESS, S.SHORTNESS_OF_BREATH])
    reports = [Report(first, skin, MODERATE), Report(second, breathing, rng.choice([MODERATE, SEVERE]))]
    if rng.random() < 0.5:
        third = rng.choice([S.LIP_OR_TONGUE_SWELLING, S.DIZZINESS, S.VOMITING, S.ABDOMINAL_PAIN])
        reports.append(Report(second + rng.uniform(0.5, 3), third, MODERATE))
    stop = first + rng.uniform(2, 8)
    low_sbp, low_spo2, hr_up = rng.uniform(72, 86), rng.uniform(87, 92), rng.uniform(25, 40)
    hold = max(13.0, stop - onset + 5)
    courses = (
        plateau(onset, "systolic_bp", Abs(low_sbp), 12, hold, 60),
        plateau(onset, "diastolic_bp", Abs(low_sbp * 0.6), 12, hold, 60),
        plateau(onset, "spo2", Abs(low_spo2), 12, hold, 60),
        plateau(onset, "heart_rate", hr_up, 12, hold, 60),
    )
    readings = sets(first + rng.uniform(1, 4), (0, 5, 10, 20), ("cuff", "oximeter"))
    detail = "after the start" if anchor == 0 else "after a rate step"
    criteria = frozenset({Criterion.LOW_SYSTOLIC})
    return Injected(
        Kind.ANAPHYLAXIS, detail, onset, courses, tuple(reports), readings, criteria, stop_at=stop
    )


def hypotension(pump: PumpPlan, rng: random.Random) -> Injected:
    anchor = rng.choice([0.0, *pump.steps[:3]])
    onset = max(1.0, min(anchor + rng.uniform(3, 20), pump.stop - 5))
    low, hold, hr_up = rng.uniform(70, 84), rng.uniform(30, 90), rng.uniform(5, 20)
    courses = (
        plateau(onset, "systolic_bp", Abs(low), 6, 6 + hold, 15),
        plateau(onset, "diastolic_bp", Abs(low * 0.62), 6, 6 + hold, 15),
        plateau(onset, "heart_rate", hr_up, 6, 6 + hold, 15),
    )
    symptomatic, fainting = rng.random() < 0.8, rng.random() < 0.15
    dizzy, faint_gap, measure_gap = onset + rng.uniform(4, 8), rng.uniform(1, 5), rng.uniform(1, 4)
    reports: list[Report] = []
    readings: Readings = ()
    if symptomatic:
        reports.append(Report(dizzy, S.DIZZINESS, MODERATE))
        if fainting:
            reports.append(Report(dizzy + faint_gap, S.FAINTING, SEVERE))
        readings = sets(dizzy + measure_gap, (0, 5), ("cuff", "oximeter"))
    detail = ("fainting" if fainting else "dizzy") if symptomatic else "silent"
    criteria = frozenset({Criterion.LOW_SYSTOLIC})
    return Injected(Kind.HYPOTENSION, detail, onset, courses, tuple(reports), readings, criteria)


def febrile(patient: Patient, pump: PumpPlan, rng: random.Random) -> Injected:
    step = rng.choice(pump.steps) if pump.steps else 30.0
    onset = max(1.0, min(step + rng.uniform(5, 25), pump.stop - 10))
    rise = max(rng.uniform(1.3, 2.3), 38.2 - patient.usual["temperature_c"] + rng.uniform(0, 0.4))
    peak, hr_up = rng.uniform(20, 35), rng.uniform(10, 20)
    courses = (
        plateau(onset, "temperature_c", rise, peak, peak + 30, 120),
        plateau(onset, "heart_rate", hr_up, peak, peak + 30, 90),
    )
    chills, aches = rng.random() < 0.85, rng.random() < 0.4
    at = onset + rng.uniform(0, 10)
    aches_at, first, revert = at + rng.uniform(2, 10), at + rng.uniform(2, 6), at + rng.uniform(5, 15)
    if not chills:
        criteria = frozenset({Criterion.FEBRILE})
        return Injected(
            Kind.FEBRILE, "no chills", onset, courses, (), (), criteria, reports_are_evidence=False
        )
    reports = [
        Report(at, S.CHILLS, MODERATE),
        *([Report(aches_at, S.MUSCLE_PAIN, MILD, 3.0)] if aches else []),
    ]
    readings = (*sets(first, (0, 15, 30, 45), ("thermometer",)), (first, "cuff"))
    return Injected(
        Kind.FEBRILE,
        "chills",
        onset,
        courses,
        tuple(reports),
        readings,
        frozenset({Criterion.FEBRILE}),
        reports_are_evidence=False,
        revert_at=min(revert, pump.stop - 1),
    )


def thrombosis(pump: PumpPlan, rng: random.Random) -> Injected:
    arterial, early, pulmonary, measures = (rng.random() < share for share in (0.4, 0.6, 0.25, 0.5))
    arterial_after = rng.uniform(60, 1440) if early else rng.uniform(1440, 4320)
    venous_after = rng.uniform(1440, 10080)
    courses: tuple[Course, ...] = ()
    if arterial:
        onset = pump.stop + arterial_after
        sign = rng.choice([S.CHEST_PAIN, S.ONE_SIDED_WEAKNESS, S.SPEECH_DIFFICULTY, S.VISION_CHANGE])
        reports = [Report(onset + rng.uniform(2, 15), sign, SEVERE)]
        courses = (plateau(onset, "heart_rate", 12.0, 10, 120, 120),)
        detail = "arterial"
    elif pulmonary:
        onset = pump.stop + venous_after
        at = onset + rng.uniform(10, 60)
        reports = [
            Report(at, S.SHORTNESS_OF_BREATH, MODERATE),
            Report(at + rng.uniform(1, 10), S.CHEST_PAIN, MODERATE),
        ]
        courses = (
            plateau(onset, "spo2", -4.0, 30, 600, 300),
            plateau(onset, "heart_rate", 20.0, 30, 600, 300),
        )
        detail = "pulmonary"
    else:
        onset = pump.stop + venous_after
        reports = [Report(onset + rng.uniform(60, 720), S.LIMB_SWELLING, MODERATE)]
        detail = "venous"
    readings = sets(reports[0].minute + rng.uniform(2, 10), (0,), ("cuff", "oximeter")) if measures else ()
    return Injected(Kind.THROMBOSIS, detail, onset, courses, tuple(reports), readings)


def breathing(patient: Patient, pump: PumpPlan, rng: random.Random) -> Injected:
    trali = rng.random() < 0.5
    onset = pump.stop + (rng.uniform(30, 360) if trali else rng.uniform(60, 720))
    low, fall, hr_up, bp_up = (
        rng.uniform(86, 92),
        rng.uniform(15, 30),
        rng.uniform(15, 25),
        rng.uniform(15, 30),
    )
    courses = [
        plateau(onset, "spo2", Abs(low), fall, fall + 60, 120),
        plateau(onset, "heart_rate", hr_up, fall, fall + 60, 120),
    ]
    if not trali:
        courses.append(plateau(onset, "systolic_bp", bp_up, fall, fall + 60, 120))
    at = onset + rng.uniform(2, 15)
    reports = [Report(at, S.SHORTNESS_OF_BREATH, rng.choice([MODERATE, SEVERE]))]
    bulbar, bulbar_sign, bulbar_gap = (
        rng.random() < 0.5,
        rng.choice([S.WEAK_COUGH, S.SWALLOWING_DIFFICULTY]),
        rng.uniform(0, 5),
    )
    if patient.diagnosis == "myasthenia_gravis" and bulbar:
        reports.append(Report(at + bulbar_gap, bulbar_sign, MODERATE))
    readings = sets(at + rng.uniform(1, 5), (0, 10, 20), ("oximeter", "cuff"))
    detail = "TRALI-like" if trali else "TACO-like"
    criteria = frozenset({Criterion.LOW_SPO2})
    return Injected(Kind.BREATHING, detail, onset, tuple(courses), tuple(reports), readings, criteria)


def meningitis(pump: PumpPlan, rng: random.Random) -> Injected:
    onset = pump.stop + rng.uniform(360, 2 * DAY)
    stiff = rng.choice([S.NECK_STIFFNESS, S.PHOTOPHOBIA])
    lasts = onset + rng.uniform(2, 4) * DAY
    signs = (Sign(onset, lasts, S.HEADACHE, SEVERE, 8.0), Sign(onset, lasts, stiff, MODERATE))
    reports: tuple[Report, ...] = ()
    if rng.random() < SPONTANEOUS_MENINGITIS_SHARE:
        at = onset + rng.uniform(60, 480)
        reports = (Report(at, S.HEADACHE, SEVERE, 8.0), Report(at + rng.uniform(0.5, 5), stiff, MODERATE))
    detail = "reported on its own" if reports else "named at a check-in"
    return Injected(Kind.MENINGITIS, detail, onset, (), reports, (), signs=signs)


def hemolysis(pump: PumpPlan, rng: random.Random) -> Injected:
    onset = pump.stop + rng.uniform(720, 4 * DAY)
    signs = (Sign(onset, onset + rng.uniform(2, 5) * DAY, S.DARK_URINE, MODERATE),)
    courses = (plateau(onset, "heart_rate", 10.0, 360, 2 * DAY, DAY),)
    reports: tuple[Report, ...] = ()
    if rng.random() < SPONTANEOUS_HEMOLYSIS_SHARE:
        reports = (Report(onset + rng.uniform(120, 720), S.DARK_URINE, MODERATE),)
    detail = "reported on its own" if reports else "named at a check-in"
    return Injected(Kind.HEMOLYSIS, detail, onset, courses, reports, (), signs=signs)


def draw_injected(patient: Patient, pump: PumpPlan, rng: random.Random) -> Injected:
    """One serious event of a kind chosen with equal shares, fitted to this patient's infusion."""
    kind = rng.choice(list(Kind))
    if kind is Kind.ANAPHYLAXIS:
        return anaphylaxis(pump, rng)
    if kind is Kind.HYPOTENSION:
        return hypotension(pump, rng)
    if kind is Kind.FEBRILE:
        return febrile(patient, pump, rng)
    if kind is Kind.THROMBOSIS:
        return thrombosis(pump, rng)
    if kind is Kind.MENINGITIS:
        return meningitis(pump, rng)
    if kind is Kind.HEMOLYSIS:
        return hemolysis(pump, rng)
    return breathing(patient, pump, rng)
