"""The gateway's reader of `ivig.patient.v1`: every partition, from `gateway_feed_hours` back (so
an app opened after a restart still sees today's messages), into the patient inbox."""

from __future__ import annotations

import asyncio
import logging

from pydantic import ValidationError

from models.patient_messages import PatientMessage
from streams.apps.gateway.patient_inbox import PatientInbox
from streams.infra.kafka.topic_reader import TopicReader
from streams.infra.kafka.topics import PATIENT_TOPIC
from streams.infra.settings import Settings

log = logging.getLogger(__name__)


class PatientFeed:
    """Reads the patient topic in the background (no consumer group: every gateway reads it all)."""

    def __init__(self, settings: Settings, inbox: PatientInbox) -> None:
        self.inbox = inbox
        self.reader = TopicReader(
            settings,
            (PATIENT_TOPIC,),
            self._take,
            name="patient-feed",
            since_hours=settings.gateway_feed_hours,
        )

    @property
    def ready(self) -> asyncio.Event:
        """Set once the history was read up to the end offsets at start."""
        return self.reader.caught_up

    async def start(self) -> None:
        await self.reader.start()

    async def stop(self) -> None:
        await self.reader.stop()

    def _take(self, _topic: str, raw: bytes) -> None:
        if not raw:
            return
        try:
            self.inbox.add(PatientMessage.model_validate_json(raw))
        except ValidationError:
            log.warning("a message on %s is not a patient message; skipped", PATIENT_TOPIC)
