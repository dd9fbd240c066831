"""Hostile knowledge: what each attack costs the loader, next to the real docs tree in the same run.

    python bench/hostile_knowledge.py [--shared ../shared] [--runs 3] [--search 300]

For each fixture (built in a temp folder: one hostile file or folder beside a good
page) it prints, as medians over `--runs` fresh processes:
- load time, and its ratio to loading the real vmst.io docs tree measured the same way;
- peak memory the load added (RSS high-water mark minus RSS before it);
- the longest the asyncio event loop went without running while the load ran in a
  thread, as `KnowledgeWatcher` reloads do (the old heading pattern froze it for 20 s);
- entries and errors the load produced.
Fixtures at the default limits (one file just under 1 MiB of YAML or Markdown, 4,000
files, 4 MiB in all) show what the limits allow. Then a random search over
adversarial Markdown and YAML (the property tests' pieces, one short run repeated to
64 KB or mixed at random) prints the slowest inputs found, per KB.
Machines here are noisy and shared: compare the columns of one run, not runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for the property tests' pieces

from faqbot.render import render_discord, render_matrix, render_plain  # noqa: E402
from faqbot.responder import Reply, ReplyKind  # noqa: E402
from faqbot.sources.limits import MIB, KnowledgeLimits  # noqa: E402
from faqbot.sources.loader import KnowledgeLoader  # noqa: E402
from faqbot.sources.markdown_source import parse_markdown_page  # noqa: E402
from faqbot.sources.yaml_source import parse_faq_file  # noqa: E402
from tests.unit.test_hostile_properties import MARKDOWN_PIECES, YAML_PIECES  # noqa: E402

DEFAULT_SHARED = ROOT.parent / "shared"
GOOD_PAGE = "# Guide\n\nHow to start.\n"
SECRET = "tok-bench-not-for-chat"


def alias_bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol"]']
    lines += [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]" for n in range(1, levels)]
    return "\n".join([*lines, f"title: *a{levels - 1}"])


def _write(folder: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def _links(folder: Path) -> Path:
    _write(folder.parent / "state", {"token.md": f"# Token\n\n{SECRET}\n"})
    _write(folder, {"guide.md": GOOD_PAGE})
    (folder / "environ.md").symlink_to("/proc/self/environ")
    (folder / "passwd.md").symlink_to("/etc/passwd")
    (folder / "state.md").symlink_to(folder.parent / "state" / "token.md")
    (folder / "linked").symlink_to(folder.parent / "state")
    return folder


def _special(folder: Path) -> Path:
    _write(folder, {"guide.md": GOOD_PAGE})
    os.mkfifo(folder / "pipe.md")
    (folder / "zero.md").symlink_to("/dev/zero")
    return folder


def _deep_folders(folder: Path) -> Path:
    _write(folder, {"guide.md": GOOD_PAGE})
    deep = folder
    for _ in range(1200):
        deep = deep / "d"
        deep.mkdir()
    (deep / "bottom.md").write_text(GOOD_PAGE)
    return folder


def _many_files(folder: Path, count: int) -> Path:
    return _write(folder, {f"p{n:05}.md": f"# Page {n}\n\nText about topic {n}.\n" for n in range(count)})


def _yaml_at_limit(file: int = 0) -> str:
    """Just under 1 MiB of FAQ entries, each with its own question (file `file` of several)."""
    entry = "- question: How do I set up thing {n} of part {file}?\n"
    entry += "  alternates: [thing {n} {file} setup, configure {n} in {file}]\n"
    entry += "  answer: To set up thing {n}, open the settings page and follow the steps. " + "More words. " * 20
    entry += "\n"
    count = (MIB - 1000) // len(entry.format(n=99999, file=file))
    return "".join(entry.format(n=n, file=file) for n in range(count))


def _markdown_at_limit() -> str:
    section = "## Section {n}\n\n" + "A sentence of ordinary prose about the community. " * 30 + "\n\n"
    count = (MIB - 1000) // len(section.format(n=99999))
    return "# Big page\n\n" + "".join(section.format(n=n) for n in range(count))


FIXTURES: dict[str, Callable[[Path], Path]] = {
    "links out: environ, passwd, state": _links,
    "FIFO and /dev/zero link": _special,
    "alias bomb, front matter title": lambda f: _write(f, {"bomb.md": f"---\n{alias_bomb()}\n---\n# B\n", "g.md": ""}),
    "alias bomb, _dir.yml title": lambda f: _write(f, {"g/_dir.yml": alias_bomb(), "g/page.md": GOOD_PAGE}),
    "aliases of a 100 KB answer": lambda f: _write(
        f, {"faq.yml": "- question: Q?\n  answer: &t " + "w " * 50_000 + "\n  alternates: [" + "*t, " * 500 + "*t]\n"}
    ),
    "[ x 5,000 in YAML": lambda f: _write(f, {"faq.yml": "[" * 5000, "guide.md": GOOD_PAGE}),
    "[ x 5,000 in front matter": lambda f: _write(f, {"deep.md": "---\nt: " + "[" * 5000 + "\n---\n# D\n"}),
    "heading + 3,000 spaces": lambda f: _write(f, {"h.md": "# a" + " " * 3000 + "b\n\n## x" + " " * 3000 + "y\n"}),
    "table indent 8,000 spaces x 100": lambda f: _write(f, {"t.md": "# T\n\n" + (" " * 8000 + "x\n") * 100}),
    "[ x 1,000,000 (one line)": lambda f: _write(f, {"b.md": "# B\n\n" + "[" * 1_000_000 + "\n"}),
    "[a]( x 200,000": lambda f: _write(f, {"l.md": "# L\n\n" + "[a](" * 200_000 + "\n"}),
    "<!-- x 200,000": lambda f: _write(f, {"c.md": "# C\n\n" + "<!--" * 200_000 + "\n"}),
    "<a href> x 80,000": lambda f: _write(f, {"a.md": "# A\n\n" + "<a href='x'>" * 80_000 + "\n"}),
    "a\\n x 400,000 (one paragraph)": lambda f: _write(f, {"p.md": "# P\n\n" + "a\n" * 400_000}),
    "FAQ list: 50,000 items to one page": lambda f: _write(
        f, {"p.md": GOOD_PAGE, "faq.md": "# F\n\n" + "".join(f"- [Q {n}?](/p)\n" for n in range(50_000))}
    ),
    "50 MB YAML (over the limit)": lambda f: _write(f, {"big.yml": "- question: q\n  answer: " + "x" * 50 * MIB}),
    "1,200 nested folders": _deep_folders,
    "at limit: 1 MiB YAML FAQ": lambda f: _write(f, {"faq.yml": _yaml_at_limit()}),
    "at limit: 1 MiB Markdown page": lambda f: _write(f, {"page.md": _markdown_at_limit()}),
    "at limit: 4,000 files": lambda f: _many_files(f, 4000),
    "at limit: 4 MiB in 4 YAML files": lambda f: _write(f, {f"faq{n}.yml": _yaml_at_limit(n) for n in range(4)}),
    "at limit: 4 MiB in 4 Markdown files": lambda f: _write(f, {f"p{n}.md": _markdown_at_limit() for n in range(4)}),
}


def _memory_kb(field: str) -> int:
    """VmRSS (now) or VmHWM (high-water mark since exec; ru_maxrss would carry the parent's over)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def measure(folder: Path) -> dict[str, float]:
    """One load of `folder` in a thread while the event loop ticks: time, memory added, longest stall."""
    loader = KnowledgeLoader([folder], base_url="https://docs.example.org", limits=KnowledgeLimits())
    before = _memory_kb("VmRSS")
    result: dict[str, float] = {}

    def load() -> None:
        start = time.perf_counter()
        knowledge = loader.load()
        result["seconds"] = time.perf_counter() - start
        result["entries"] = len(knowledge.entries)
        result["errors"] = len(knowledge.errors)

    async def tick_while_loading() -> float:
        thread = threading.Thread(target=load)
        longest, last = 0.0, time.perf_counter()
        thread.start()
        while thread.is_alive():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            longest, last = max(longest, now - last), now
        thread.join()
        return longest

    result["stall"] = asyncio.run(tick_while_loading())
    result["peak_mb"] = max(0, _memory_kb("VmHWM") - before) / 1024
    return result


def measured(folder: Path, runs: int) -> dict[str, float]:
    """Medians over fresh processes, so one run's memory high-water mark cannot hide another's."""
    samples = []
    for _ in range(runs):
        command = [sys.executable, __file__, "--measure", str(folder)]
        output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600).stdout
        samples.append(json.loads(output))
    return {key: statistics.median(s[key] for s in samples) for key in samples[0]}


def _render_all(entries: list) -> None:
    for entry in entries:
        reply = Reply(ReplyKind.ANSWER, entry=entry)
        render_plain(reply), render_matrix(reply), render_discord(reply)


def search(examples: int, seed: int) -> list[tuple[float, str, str]]:
    """(ms per KB, kind, description) of the slowest random adversarial inputs, slowest first."""
    chooser = random.Random(seed)
    found = []
    for number in range(examples):
        kind, pieces = ("markdown", MARKDOWN_PIECES) if number % 2 == 0 else ("yaml", YAML_PIECES)
        if chooser.random() < 0.7:
            run = "".join(chooser.choices(pieces, k=chooser.randint(1, 4)))
            text, described = run * (64 * 1024 // len(run) + 1), f"{run!r} repeated to 64 KB"
        else:
            text = "".join(chooser.choices(pieces, k=20_000))
            described = f"random mix of {len(text):,} characters (seed {seed}, example {number})"
        start = time.perf_counter()
        if kind == "markdown":
            entries = parse_markdown_page(text, "page.md", "/page", None, "https://docs.example.org").entries
        else:
            entries = parse_faq_file(text, "faq.yml", "https://docs.example.org").entries
        _render_all(entries)
        elapsed = time.perf_counter() - start
        found.append((1000 * elapsed / (len(text.encode("utf-8", "surrogatepass")) / 1024), kind, described))
    return sorted(found, reverse=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--search", type=int, default=300, help="random adversarial inputs to try")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return 0

    docs = args.shared / "corpora" / "vmstio-docs" / "content"
    if not docs.is_dir():
        print(f"the real docs tree is missing: {docs}", file=sys.stderr)
        return 1
    header = f"{'fixture':36} {'load ms':>9} {'x docs':>7} {'peak MB':>8} {'stall ms':>9} {'entries':>8} {'errors':>7}"
    print(f"Load of each fixture, median of {args.runs} fresh processes; 'x docs' is load time / docs tree load time")
    print("(stall: the longest the asyncio event loop did not run while the load ran in a thread)")
    print(header)
    print("-" * len(header))
    docs_row = measured(docs, args.runs)
    baseline = docs_row["seconds"]

    def show(name: str, row: dict[str, float]) -> None:
        print(
            f"{name:36} {1000 * row['seconds']:9.1f} {row['seconds'] / baseline:7.1f} {row['peak_mb']:8.1f} "
            f"{1000 * row['stall']:9.1f} {row['entries']:8.0f} {row['errors']:7.0f}",
            flush=True,
        )

    show("real docs tree (vmst.io, 40 files)", docs_row)
    with tempfile.TemporaryDirectory() as scratch:
        for number, (name, build) in enumerate(FIXTURES.items()):
            folder = Path(scratch) / f"fixture{number}" / "kb"
            folder.mkdir(parents=True)
            show(name, measured(build(folder), args.runs))
        _remove_deep_folders(Path(scratch))

    print(f"\nRandom adversarial inputs ({args.search}, seed {args.seed}), parsed and rendered; slowest per KB:")
    for per_kb, kind, described in search(args.search, args.seed)[:5]:
        print(f"  {per_kb:8.3f} ms/KB  {kind:8}  {described[:100]}")
    return 0


def _remove_deep_folders(scratch: Path) -> None:
    """shutil.rmtree recurses: take the 1,200 nested folders apart from the bottom first."""
    for top in scratch.glob("*/kb/d"):
        deepest = top
        while (deepest / "d").is_dir():
            deepest = deepest / "d"
        for leftover in deepest.iterdir():
            leftover.unlink()
        while deepest != top.parent:
            deepest.rmdir()
            deepest = deepest.parent


if __name__ == "__main__":
    sys.exit(main())
