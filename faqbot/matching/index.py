"""The match index: which entries a question is about, each with a score in [0, 1].

Two kinds of evidence, kept apart on purpose:
- *phrasings* (titles, questions, alternates, FAQ-list links) are what moderators
  vouch for as ways of asking; a question is compared to each with an IDF-weighted
  cosine, so rare, distinctive words ("threads", "bluesky") decide and common ones
  ("block", "vmst.io") barely count;
- *text* (the page or section body) is supporting evidence, scored as the share of
  the question's distinctive words it contains, with BM25-style saturation.
A score leans on phrasings: text alone can lift an entry to at most `TEXT_ONLY_CEILING`,
which keeps passive answers (see `decision.py`) to questions a moderator anticipated.
Typos are repaired against the index's own vocabulary with rapidfuzz.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from faqbot.matching.text import QUESTION_WORDS, STOP_WORDS, stem, words
from faqbot.sources.model import Entry

QUESTION_WORD_WEIGHT = 0.35
TEXT_WEIGHT = 0.6
TEXT_ONLY_CEILING = TEXT_WEIGHT
TEXT_SATURATION = 0.5  # one mention of a word counts 2/3, more mentions approach 1 (BM25-style)
MIN_TYPO_LENGTH = 4


@dataclass(frozen=True)
class Candidate:
    entry: Entry
    score: float
    phrasing_score: float
    text_score: float
    matched_phrasing: str


@dataclass(frozen=True)
class _Term:
    term: str
    weight_factor: float  # < 1 for question words and typo repairs


def _term_factors(text: str) -> dict[str, float]:
    """Stemmed terms of a text with their weight factor; stop words are dropped."""
    factors: dict[str, float] = {}
    for word in words(text):
        if word in QUESTION_WORDS:
            factors[word] = QUESTION_WORD_WEIGHT
        elif word not in STOP_WORDS:
            factors[stem(word)] = 1.0
    return factors


class MatchIndex:
    """An immutable index over entries; build a new one when knowledge changes."""

    def __init__(self, entries: Sequence[Entry]) -> None:
        self.entries = list(entries)
        self._phrasing_entry: list[int] = []
        self._phrasing_text: list[str] = []
        self._phrasing_norm: list[float] = []
        self._phrasing_postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self._text_postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self._surface_words: dict[str, str] = {}
        self._typo_cache: dict[str, tuple[str, float] | None] = {}
        self._build()

    # -- building ------------------------------------------------------------

    def _build(self) -> None:
        entry_terms: list[dict[str, int]] = []
        document_frequency: dict[str, int] = defaultdict(int)
        for entry in self.entries:
            counts: dict[str, int] = defaultdict(int)
            for text in (entry.title, *entry.questions, entry.body or entry.answer, " ".join(entry.tags)):
                for word in words(text):
                    if word in STOP_WORDS:
                        continue
                    term = word if word in QUESTION_WORDS else stem(word)
                    counts[term] += 1
                    self._surface_words.setdefault(word, term)
            entry_terms.append(counts)
            for term in counts:
                document_frequency[term] += 1
        n = max(1, len(self.entries))
        self._idf = {t: math.log(1 + (n - df + 0.5) / (df + 0.5)) for t, df in document_frequency.items()}
        self._unseen_idf = math.log(1 + (n + 0.5) / 0.5)
        lengths = [sum(c.values()) for c in entry_terms]
        average_length = max(1.0, sum(lengths) / len(lengths)) if lengths else 1.0
        for entry_number, (entry, counts) in enumerate(zip(self.entries, entry_terms, strict=True)):
            for phrasing in self._phrasings_of(entry):
                self._add_phrasing(entry_number, phrasing)
            length_norm = 0.25 + 0.75 * lengths[entry_number] / average_length
            for term, count in counts.items():
                self._text_postings[term].append((entry_number, count / (count + TEXT_SATURATION * length_norm)))
        self._vocabulary = list(self._surface_words)

    @staticmethod
    def _phrasings_of(entry: Entry) -> Iterable[str]:
        seen: set[str] = set()
        for text in (entry.title, *entry.questions):
            key = text.casefold().strip()
            if key and key not in seen:
                seen.add(key)
                yield text

    def _add_phrasing(self, entry_number: int, text: str) -> None:
        factors = _term_factors(text)
        if not factors:
            return
        number = len(self._phrasing_entry)
        weights = {t: self._idf.get(t, self._unseen_idf) * f for t, f in factors.items()}
        self._phrasing_entry.append(entry_number)
        self._phrasing_text.append(text)
        self._phrasing_norm.append(math.sqrt(sum(w * w for w in weights.values())))
        for term, weight in weights.items():
            self._phrasing_postings[term].append((number, weight))

    # -- querying ------------------------------------------------------------

    def _query_terms(self, question: str) -> list[_Term]:
        terms: dict[str, float] = {}
        for word in words(question):
            if word in QUESTION_WORDS:
                terms[word] = max(terms.get(word, 0.0), QUESTION_WORD_WEIGHT)
                continue
            if word in STOP_WORDS:
                continue
            term, factor = stem(word), 1.0
            if term not in self._idf:
                repaired = self._repair_typo(word)
                if repaired is not None:
                    term, factor = repaired
            terms[term] = max(terms.get(term, 0.0), factor)
        return [_Term(t, f) for t, f in terms.items()]

    def _repair_typo(self, word: str) -> tuple[str, float] | None:
        """The indexed term a misspelt word most likely meant, and how sure we are."""
        if len(word) < MIN_TYPO_LENGTH or word.isdigit():
            return None
        if word in self._typo_cache:
            return self._typo_cache[word]
        cutoff = 80 if len(word) >= 6 else 85
        found = process.extractOne(word, self._vocabulary, scorer=fuzz.ratio, score_cutoff=cutoff)
        result = None
        if found is not None:
            surface, similarity, _ = found
            result = (self._surface_words[surface], (similarity / 100) ** 2)
        if len(self._typo_cache) > 50_000:
            self._typo_cache.clear()
        self._typo_cache[word] = result
        return result

    def rank(self, question: str, limit: int = 10) -> list[Candidate]:
        """Entries ordered by score, best first; only those with some evidence."""
        terms = self._query_terms(question)
        if not terms:
            return []
        query_weights = {t.term: self._idf.get(t.term, self._unseen_idf) * t.weight_factor for t in terms}
        query_norm = math.sqrt(sum(w * w for w in query_weights.values()))
        content_mass = sum(w for t, w in query_weights.items() if t not in QUESTION_WORDS) or sum(
            query_weights.values()
        )

        dots: dict[int, float] = defaultdict(float)
        for term, query_weight in query_weights.items():
            for phrasing_number, weight in self._phrasing_postings.get(term, ()):
                dots[phrasing_number] += query_weight * weight
        best_phrasing: dict[int, tuple[float, int]] = {}
        for phrasing_number, dot in dots.items():
            cosine = dot / (query_norm * self._phrasing_norm[phrasing_number])
            entry_number = self._phrasing_entry[phrasing_number]
            if cosine > best_phrasing.get(entry_number, (0.0, -1))[0]:
                best_phrasing[entry_number] = (cosine, phrasing_number)

        text_scores: dict[int, float] = defaultdict(float)
        for term, query_weight in query_weights.items():
            if term in QUESTION_WORDS:
                continue
            for entry_number, share in self._text_postings.get(term, ()):
                text_scores[entry_number] += query_weight * share
        candidates = []
        for entry_number in set(best_phrasing) | set(text_scores):
            phrasing_score, phrasing_number = best_phrasing.get(entry_number, (0.0, -1))
            text_score = min(1.0, text_scores.get(entry_number, 0.0) / content_mass) if content_mass else 0.0
            score = max(phrasing_score, (1 - TEXT_WEIGHT) * phrasing_score + TEXT_WEIGHT * text_score)
            if score <= 0:
                continue
            matched = self._phrasing_text[phrasing_number] if phrasing_number >= 0 else ""
            candidates.append(
                Candidate(self.entries[entry_number], min(1.0, score), phrasing_score, text_score, matched)
            )
        candidates.sort(key=lambda c: (-c.score, -c.phrasing_score, c.entry.id))
        return candidates[:limit]
