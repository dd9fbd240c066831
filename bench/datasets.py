"""Public labelled sets framed as faqbot knowledge: one entry per intent or FAQ,
training utterances as alternates; test utterances as labelled questions.

Data is read from `../shared/benchmarks` (or `--shared`) at run time; nothing is
copied into the repository.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

from faqbot.evaluation import LabelledQuestion, load_labelled_questions
from faqbot.matching.text import addressee
from faqbot.sources.loader import load_knowledge
from faqbot.sources.model import Entry, Phrasing

DEFAULT_SHARED = Path(__file__).resolve().parents[2] / "shared"
HINT3_SETS = ("sofmattress", "curekart", "powerplay11")
HINT3_OUT_OF_SCOPE = "NO_NODES_DETECTED"
CLINC_OUT_OF_SCOPE = "oos"
IRC_TEST_LINES = 3000
IRC_DEV_LINES = 3000
VMSTIO_BASE_URL = "https://docs.vmst.io"


@dataclass
class Benchmark:
    """Knowledge, questions to tune on, and questions to report on."""

    name: str
    entries: list[Entry]
    dev: list[LabelledQuestion]
    test: list[LabelledQuestion]


OFFTOPIC_SOURCE = "offtopic"  # the `path` of bench/offtopic lines, to tell them from IRC lines


def is_offtopic(question: LabelledQuestion) -> bool:
    """A line of bench/offtopic (a question about something else), not member chat from IRC."""
    return question.path.startswith(OFFTOPIC_SOURCE)


def intent_entries(examples: list[tuple[str, str]], source: str) -> list[Entry]:
    """One entry per intent; its training utterances become its phrasings."""
    by_intent: dict[str, list[str]] = defaultdict(list)
    for text, intent in examples:
        by_intent[intent].append(text)
    entries = []
    for number, (intent, texts) in enumerate(sorted(by_intent.items())):
        title = intent.replace("_", " ").lower()
        entries.append(
            Entry(
                id=intent,
                title=title,
                answer=f"({intent})",
                route=None,
                url=None,
                group=source,
                path=source,
                line=number + 1,
                phrasings=tuple(Phrasing(t, source, number + 1) for t in texts),
                body="",
            )
        )
    return entries


def _labelled(examples: list[tuple[str, str]], out_of_scope: str, source: str) -> list[LabelledQuestion]:
    return [
        LabelledQuestion(text, () if intent == out_of_scope else (intent,), source, number + 1)
        for number, (text, intent) in enumerate(examples)
    ]


def _read_csv(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [(row["sentence"], row["label"]) for row in csv.DictReader(handle)]


def hint3(shared: Path, name: str) -> Benchmark:
    """HINT3 v2. It has no validation split, so `dev` is a slice of train held out by tuning code."""
    root = shared / "benchmarks" / "hint3" / "v2"
    train = _read_csv(root / "train" / f"{name}_train.csv")
    test = _read_csv(root / "test" / f"{name}_test.csv")
    return Benchmark(
        f"HINT3 {name}",
        intent_entries(train, f"hint3/{name}_train.csv"),
        [],
        _labelled(test, HINT3_OUT_OF_SCOPE, f"hint3/{name}_test.csv"),
    )


def clinc150(shared: Path) -> Benchmark:
    data = json.loads((shared / "benchmarks" / "clinc150" / "data_small.json").read_text(encoding="utf-8"))
    return Benchmark(
        "CLINC150 data_small",
        intent_entries([tuple(x) for x in data["train"]], "clinc150/train"),
        _labelled([tuple(x) for x in data["val"] + data["oos_val"]], CLINC_OUT_OF_SCOPE, "clinc150/val"),
        _labelled([tuple(x) for x in data["test"] + data["oos_test"]], CLINC_OUT_OF_SCOPE, "clinc150/test"),
    )


def stackfaq(shared: Path) -> Benchmark:
    """Each FAQ thread is an entry: its question, and its answers as the text."""
    threads = json.loads((shared / "benchmarks" / "stackfaq" / "stackfaq.json").read_text(encoding="utf-8"))
    entries, questions = [], []
    for thread in threads:
        entry_id = f"q{thread['id']}"
        body = "\n\n".join(thread["answers"])
        entries.append(
            Entry(
                id=entry_id,
                title=thread["question"],
                answer=body[:500],
                route=None,
                url=None,
                group="StackFAQ",
                path="stackfaq.json",
                line=thread["id"],
                phrasings=(Phrasing(thread["question"], "stackfaq.json", thread["id"]),),
                body=body,
            )
        )
        questions += [LabelledQuestion(p, (entry_id,), "stackfaq.json", thread["id"]) for p in thread["paraphrases"]]
    return Benchmark("StackFAQ", entries, [], questions)


def irc_lines(shared: Path, split: str, count: int) -> list[LabelledQuestion]:
    """Real IRC chat lines that must get no answer, sampled evenly from one split's files.

    A line that opens with the nick of someone else in the same channel log ("alice: try
    this") is marked as said to someone else, as a platform would mark a reply or a
    mention of a room member."""
    path = shared / "benchmarks" / "irc" / "messages.tsv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [
            row
            for row in csv.DictReader(handle, delimiter="\t")
            if row["channel_file"].startswith(f"{split}/") and row["text"] and row["text"].strip()
        ]
    members: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        members[row["channel_file"]].add(row["speaker"].casefold())
    step = max(1, len(rows) // count)
    lines = []
    for n, row in enumerate(rows[::step][:count]):
        others = members[row["channel_file"]] - {row["speaker"].casefold()}
        to_someone_else = addressee(row["text"]) in others
        lines.append(LabelledQuestion(row["text"], (), f"irc/{split}", n, to_someone_else=to_someone_else))
    return lines


def offtopic_lines(split: str) -> list[LabelledQuestion]:
    """bench/offtopic: questions about something else that share words with the docs (must stay silent)."""
    path = Path(__file__).resolve().parent / "offtopic" / f"questions-{split}.yaml"
    lines, _ = load_labelled_questions(path)
    return [replace(q, path=f"{OFFTOPIC_SOURCE}/{split}") for q in lines]


def vmstio_knowledge(shared: Path) -> list[Entry]:
    return load_knowledge([shared / "corpora" / "vmstio-docs" / "content"], base_url=VMSTIO_BASE_URL).entries


def vmstio(shared: Path) -> Benchmark:
    """The vmst.io docs tree, our hand-written member questions, and as must-stay-silent: IRC chat
    and our questions about something else."""
    here = Path(__file__).resolve().parent / "vmstio"
    dev, _ = load_labelled_questions(here / "questions-dev.yaml")
    test, _ = load_labelled_questions(here / "questions-test.yaml")
    return Benchmark(
        "vmst.io docs + IRC",
        vmstio_knowledge(shared),
        dev + irc_lines(shared, "dev", IRC_DEV_LINES) + offtopic_lines("dev"),
        test + irc_lines(shared, "test", IRC_TEST_LINES) + offtopic_lines("test"),
    )
