"""What the bot answered and missed, feedback, learned phrasings and room settings.

One interface (`Store`), two engines sharing their SQL: SQLite in the state folder
by default, PostgreSQL when `FAQBOT_DATABASE_URL` is a `postgresql://` URL. Chat
adapters write through `BackgroundRecorder`, which never delays an answer; reports
(`faqbot.gaps`, `faqbot.answer_stats`) and moderators' commands read the store.
What is kept, for how long, and how to delete it: docs/what-faqbot-stores.md.
"""

from faqbot.store.database_url import DatabaseUrl
from faqbot.store.identity import Identity
from faqbot.store.interface import DEFAULT_RETENTION_DAYS, Store, StoreError, StoreMissing, StoreUnavailable
from faqbot.store.recorder import BackgroundRecorder
from faqbot.store.records import (
    AnswerRecord,
    EntryCounts,
    GapReason,
    GapRecord,
    Interaction,
    LearnedPhrasing,
    OutcomeCounts,
    RecordOutcome,
    interaction_for,
    outcome_to_record,
)
from faqbot.store.settings import StoreSettings, open_store

__all__ = [
    "DEFAULT_RETENTION_DAYS",
    "AnswerRecord",
    "BackgroundRecorder",
    "DatabaseUrl",
    "EntryCounts",
    "GapReason",
    "GapRecord",
    "Identity",
    "Interaction",
    "LearnedPhrasing",
    "OutcomeCounts",
    "RecordOutcome",
    "Store",
    "StoreError",
    "StoreMissing",
    "StoreSettings",
    "StoreUnavailable",
    "interaction_for",
    "open_store",
    "outcome_to_record",
]
