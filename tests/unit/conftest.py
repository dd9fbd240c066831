"""Shared helpers for core unit tests: knowledge written to a temp folder, no network."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from faqbot.sources.loader import load_knowledge
from faqbot.sources.model import Knowledge

DOCS_TREE = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "vmstio-docs" / "content"

SMALL_FAQ = """\
- id: threads
  question: Do you block Threads?
  alternates: [are we federated with threads, can I follow people on threads]
  answer: No. vmst.io federates with Threads; you can block it yourself.
  link: /about/threads
- id: bluesky
  question: Do you block Bluesky?
  alternates: [can I follow bluesky people]
  answer: Yes, the known Bluesky bridge is blocked.
  link: /about/bridges#bluesky
- id: funding
  question: Who pays for this server?
  alternates: [how is vmst.io funded, can I donate]
  answer: Members do, through Ko-Fi, Patreon and Stripe.
  link: /funding
- id: emoji
  question: Will you add my favorite custom emoji?
  answer: Ask the admins and they may add it.
"""


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


@pytest.fixture
def small_knowledge(tmp_path: Path) -> Knowledge:
    write_tree(tmp_path, {"faq.yml": SMALL_FAQ})
    return load_knowledge([tmp_path], base_url="https://docs.example.org")


@pytest.fixture
def docs_tree() -> Path:
    if not DOCS_TREE.is_dir():
        pytest.skip("the shared vmst.io docs tree is not present")
    return DOCS_TREE


@pytest.fixture(autouse=True)
def state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI keeps the encoder's vectors in the state folder: never the checkout's own."""
    folder = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("FAQBOT_STATE_DIR", str(folder))
    return folder
