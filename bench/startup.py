"""Start-up: process start to first answer, cold (nothing cached) and warm (a restart).

    python bench/startup.py [--shared ../shared] [--warm 5] [--cold 2]

Runs `faqbot ask` as a new process, as an operator restarting the bot would, with a
state folder of its own, and times from starting the process to the first answer on
its standard output. *Cold*: an empty state folder (every phrasing and sentence is
encoded). *Warm*: the same state folder again (the knowledge's vectors come from
`vectors/` in it). Two knowledges: the vmst.io docs tree, and CLINC150 `data_small`'s
150 intents with their 7,500 training utterances as phrasings (written as one YAML
file). The lexical matcher's start-up is measured in the same run as the baseline.
Prints medians (machines here are noisy: compare within one run).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from datasets import DEFAULT_SHARED, VMSTIO_BASE_URL

QUESTION = "how do i pay for this?"


def clinc_knowledge(shared: Path, folder: Path) -> Path:
    """CLINC150's training utterances as one YAML knowledge file: one entry per intent."""
    data = json.loads((shared / "benchmarks" / "clinc150" / "data_small.json").read_text(encoding="utf-8"))
    by_intent: dict[str, list[str]] = {}
    for text, intent in data["train"]:
        by_intent.setdefault(intent, []).append(text)
    entries = [
        {"id": intent, "question": intent.replace("_", " "), "alternates": texts, "answer": f"({intent})"}
        for intent, texts in sorted(by_intent.items())
    ]
    path = folder / "clinc150.yml"
    path.write_text(yaml.safe_dump(entries, sort_keys=False), encoding="utf-8")
    return path


def first_answer(knowledge: Path, matcher: str, state: Path, base_url: str | None = None) -> float:
    """Seconds from starting `faqbot ask` to its first line of output."""
    command = [sys.executable, "-m", "faqbot.cli", "ask", "--knowledge", str(knowledge), "--matcher", matcher]
    if base_url:
        command += ["--base-url", base_url]
    environment = {**os.environ, "FAQBOT_STATE_DIR": str(state)}
    started = time.perf_counter()
    with subprocess.Popen(
        [*command, QUESTION], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=environment, text=True
    ) as process:
        assert process.stdout is not None
        line = process.stdout.readline()
        took = time.perf_counter() - started
        process.communicate()
    if not line or process.returncode:
        raise RuntimeError(f"faqbot ask failed ({process.returncode}): {' '.join(command)}")
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--warm", type=int, default=5, help="warm starts per knowledge (median reported)")
    parser.add_argument("--cold", type=int, default=2, help="cold starts per knowledge (median reported)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        knowledges = {
            "vmst.io docs tree": (args.shared / "corpora" / "vmstio-docs" / "content", VMSTIO_BASE_URL),
            "CLINC150 (7,500 phrasings)": (clinc_knowledge(args.shared, root), None),
        }
        for name, (knowledge, base_url) in knowledges.items():
            lexical = [first_answer(knowledge, "lexical", root / "lexical", base_url) for _ in range(args.warm)]
            cold = []
            for attempt in range(args.cold):
                cold.append(first_answer(knowledge, "encoder", root / f"cold{name}{attempt}", base_url))
            state = root / f"cold{name}0"
            warm = [first_answer(knowledge, "encoder", state, base_url) for _ in range(args.warm)]
            print(
                f"{name}: encoder cold {statistics.median(cold):.2f} s, warm {statistics.median(warm):.2f} s "
                f"(median of {len(warm)}; {min(warm):.2f}-{max(warm):.2f}); "
                f"lexical {statistics.median(lexical):.2f} s; "
                f"warm / lexical {statistics.median(warm) / statistics.median(lexical):.2f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
