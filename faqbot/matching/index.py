"""The match index: which entries a question is about, each with a score in [0, 1].

Evidence of three kinds, kept apart on purpose:
- *phrasings* (titles, questions, alternates, FAQ-list links) are what moderators
  vouch for as ways of asking; a question is compared to each with an IDF-weighted
  cosine, so rare, distinctive words ("threads", "bluesky") decide and common ones
  ("block", "vmst.io") barely count. An entry's phrasing score blends its best
  single phrasing with its *centroid* (the mean of all its phrasings), so an entry
  that many phrasings agree on beats one that a single phrasing happens to echo;
- *text* (the page or section body) is supporting evidence, scored as the share of
  the question's distinctive words it contains, with BM25-style saturation. The
  entry's *word score* leans on phrasings: text alone lifts it to at most `TEXT_WEIGHT`;
- *coverage*: the share of the question's distinctive words (IDF mass) the entry holds
  in any of its texts. It can only lower a score: a heading that echoes one word of a
  question ("Brand Accounts" under moderation) wins a phrasing score, but an entry that
  holds few of the question's words is doubtful, while holding them all proves nothing
  (see `COVERAGE_WEIGHT`).
A phrasing typed verbatim gives its entry a score of 1.
Typos are repaired against the index's own vocabulary with rapidfuzz.

With a semantic source (the sentence encoder, `matchers.load_matcher`) a semantic
similarity is blended in, so paraphrases that share no word still match.

Each candidate also carries a *confidence*: the calibrated probability that it is the
right answer, from its score, its lead over the runner-up, how much of the question's
distinctive vocabulary it covers and how much of that vocabulary the knowledge knows
at all (see `calibration.py`). Decisions are taken on confidence, not on raw scores.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from rapidfuzz import fuzz, process

from faqbot.matching.background import WordContrast, bundled_word_counts
from faqbot.matching.calibration import LEXICAL, Calibration, Thresholds
from faqbot.matching.text import CACHED_WORD_LENGTH, QUESTION_WORDS, STOP_WORDS, stem, words
from faqbot.sources.model import Entry

if TYPE_CHECKING:
    from faqbot.matching.vectors import SemanticScores, SemanticSource

QUESTION_WORD_WEIGHT = 0.35
TEXT_WEIGHT = 0.6
TEXT_SATURATION = 0.5  # one mention of a word counts 2/3, more mentions approach 1 (BM25-style)
MIN_TYPO_LENGTH = 4
# Unknown words repaired per question: each costs a fuzzy search of the vocabulary (about 0.2 ms);
# member questions carry one to three typos, pasted chat and noise carry dozens.
MAX_TYPO_REPAIRS = 6
CENTROID_WEIGHT = 0.5  # an entry's phrasing score: this much its centroid, the rest its best phrasing
EXACT = 0.999  # a phrasing matched this well was typed verbatim: its entry's phrasing score is 1
SEMANTIC_ONLY_FLOOR = 0.3  # an entry found by meaning alone must be at least this close to count as a match
# An entry's semantic score blends (weights, normalised): the closer of its phrasings' centroid and its
# closest text sentence ("mix"); its single closest text, phrasing or sentence ("nearest"); and for a
# section, its page's mix ("page": what the whole page is about, so a heading echoing a word of the
# question does not win alone). Chosen on dev top-1 (bench/FINDINGS.md).
SEMANTIC_MIX = 1.0
SEMANTIC_NEAREST = 1.0
SEMANTIC_PAGE = 0.0
# An entry's score is the weighted mean of its word score (weight 1) and its semantic score (the source's
# `semantic_weight`); when its coverage is lower than that, the coverage joins the mean with this weight.
# Not for an entry without a body (an intent known only by its phrasings, a page whose text is all in its
# sections): the union of many phrasings' words says little, each phrasing being scored on its own
# already (with it, CLINC150 val top-1 fell). Chosen on vmst.io dev top-1 (bench/FINDINGS.md, issue 12).
COVERAGE_WEIGHT = 3.0


@dataclass(frozen=True)
class Candidate:
    entry: Entry
    score: float
    phrasing_score: float
    text_score: float
    matched_phrasing: str
    coverage: float = 0.0  # share of the question's distinctive words (IDF mass) the entry contains
    known: float = 0.0  # share of the question's distinctive words the whole knowledge contains
    semantic_score: float = 0.0  # meaning-based similarity, when the index has a semantic source
    confidence: float = 0.0  # calibrated probability that this candidate is the right answer
    # Of the question, not the candidate (see `background.py`): how much better the knowledge explains
    # it than everyday chat does, by its words (mean log-likelihood ratio) and by meaning (cosine gap).
    word_contrast: float = 0.0
    contrast: float = 0.0
    best_coverage: float = 0.0  # of the question: the highest `coverage` any entry of the knowledge reaches


@dataclass(frozen=True)
class WordEvidence:
    """What a question's words alone say about it, before any model runs (`MatchIndex.evidence_by_words`)."""

    question: str
    word_contrast: float  # as `Candidate.word_contrast`
    best_coverage: float  # as `Candidate.best_coverage`
    best_phrasing: float  # the highest phrasing score (by words) of any entry


@dataclass(frozen=True)
class _Lexical(WordEvidence):
    """The word-based scores of every entry that shares a term with the question, kept for its ranking."""

    has_terms: bool
    known: float
    phrasing_match: dict[int, tuple[float, int]]  # entry -> (best phrasing's dot product, that phrasing)
    phrasing_scores: dict[int, float]
    text_shares: dict[int, float]
    lexical: dict[int, float]
    coverages: dict[int, float]  # entry -> its `Candidate.coverage`


@dataclass(frozen=True)
class _Term:
    term: str
    weight_factor: float  # < 1 for question words and typo repairs


def _term_factors(text_words: Iterable[str], term_of: Callable[[str], str | None]) -> dict[str, float]:
    """Terms of a text's words (`term_of`: stemmed, None for a stop word) with their weight factor."""
    factors: dict[str, float] = {}
    for word in text_words:
        if word in QUESTION_WORDS:
            factors[word] = QUESTION_WORD_WEIGHT
        else:
            term = term_of(word)
            if term is not None:
                factors[term] = 1.0
    return factors


class MatchIndex:
    """An immutable index over entries; build a new one when knowledge changes.

    `vectors` (optional) is a semantic source, e.g. `matchers.load_matcher("encoder")`;
    `calibration` replaces the fitted one (for tuning and ablations)."""

    def __init__(
        self, entries: Sequence[Entry], vectors: SemanticSource | None = None, calibration: Calibration | None = None
    ) -> None:
        self.entries = list(entries)
        self._vectors = vectors
        self._calibration = calibration or (vectors.calibration if vectors is not None else LEXICAL)
        self._phrasing_entry: list[int] = []
        self._phrasing_text: list[str] = []
        self._phrasing_postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self._question_word_postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self._phrasing_question_words: list[dict[str, float]] = []
        self._centroid_postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self._text_postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self._has_body: list[bool] = []
        self._surface_words: dict[str, str] = {}
        self._typo_cache: dict[str, tuple[str, float] | None] = {}
        self._last_lexical: _Lexical | None = None
        self._semantic = None
        self._page_of: list[int] = []
        self._words_of: dict[str, list[str]] = {}  # while building: each text is tokenised once
        self._terms_of: dict[str, str | None] = {}  # while building: each distinct word's term
        self._build()
        del self._words_of, self._terms_of

    @property
    def thresholds(self) -> Thresholds:
        """The decision bars fitted with this index's calibration (pass them to `decide`)."""
        return self._calibration.thresholds

    # -- building ------------------------------------------------------------

    def _build(self) -> None:
        entry_terms: list[dict[str, int]] = []
        document_frequency: dict[str, int] = defaultdict(int)
        for entry in self.entries:
            counts: dict[str, int] = defaultdict(int)
            for text in (entry.title, *entry.questions, entry.body or entry.answer, " ".join(entry.tags)):
                text_words = self._words_of.get(text)
                if text_words is None:
                    text_words = self._words_of[text] = words(text)
                for word in text_words:
                    term = self._term_of(word)
                    if term is None:
                        continue
                    counts[term] += 1
                    self._surface_words.setdefault(word, term)
            entry_terms.append(counts)
            self._has_body.append(bool(entry.body.strip()))
            for term in counts:
                document_frequency[term] += 1
        n = max(1, len(self.entries))
        self._idf = {t: math.log(1 + (n - df + 0.5) / (df + 0.5)) for t, df in document_frequency.items()}
        self._unseen_idf = math.log(1 + (n + 0.5) / 0.5)
        lengths = [sum(c.values()) for c in entry_terms]
        average_length = max(1.0, sum(lengths) / len(lengths)) if lengths else 1.0
        for entry_number, (entry, counts) in enumerate(zip(self.entries, entry_terms, strict=True)):
            centroid: dict[str, float] = defaultdict(float)
            for phrasing in self._phrasings_of(entry):
                self._add_phrasing(entry_number, phrasing, centroid)
            centroid_norm = math.sqrt(sum(w * w for w in centroid.values()))
            for term, weight in centroid.items():
                self._centroid_postings[term].append((entry_number, weight / centroid_norm))
            length_norm = 0.25 + 0.75 * lengths[entry_number] / average_length
            for term, count in counts.items():
                self._text_postings[term].append((entry_number, count / (count + TEXT_SATURATION * length_norm)))
        self._vocabulary = list(self._surface_words)
        knowledge_counts: dict[str, int] = defaultdict(int)
        for counts in entry_terms:
            for term, count in counts.items():
                if term not in QUESTION_WORDS:
                    knowledge_counts[term] += count
        self._words = WordContrast(bundled_word_counts(), knowledge_counts)
        pages = {entry.route: n for n, entry in enumerate(self.entries) if entry.kind == "page"}
        self._page_of = [
            pages.get((entry.route or "").split("#")[0], n) if entry.kind == "section" else n
            for n, entry in enumerate(self.entries)
        ]
        if self._vectors is not None:
            self._semantic = self._vectors.entry_index(
                [list(self._phrasings_of(entry)) for entry in self.entries],
                [entry.body for entry in self.entries],
            )

    @staticmethod
    def _phrasings_of(entry: Entry) -> Iterable[str]:
        seen: set[str] = set()
        for text in (entry.title, *entry.questions):
            key = text.casefold().strip()
            if key and key not in seen:
                seen.add(key)
                yield text

    def _term_of(self, word: str) -> str | None:
        """A knowledge word's term (None for a stop word), each distinct word stemmed once per build."""
        terms_of = self._terms_of
        if word in terms_of:
            return terms_of[word]
        term = terms_of[word] = None if word in STOP_WORDS else word if word in QUESTION_WORDS else stem(word)
        return term

    def _add_phrasing(self, entry_number: int, text: str, centroid: dict[str, float]) -> None:
        factors = _term_factors(self._words_of.get(text) or words(text), self._term_of)
        if not factors:
            return
        number = len(self._phrasing_entry)
        weights = {t: self._idf.get(t, self._unseen_idf) * f for t, f in factors.items()}
        norm = math.sqrt(sum(w * w for w in weights.values()))
        self._phrasing_entry.append(entry_number)
        self._phrasing_text.append(text)
        question_words: dict[str, float] = {}
        for term, weight in weights.items():
            if term in QUESTION_WORDS:
                question_words[term] = weight / norm
                self._question_word_postings[term].append((number, weight / norm))
            else:
                self._phrasing_postings[term].append((number, weight / norm))
            centroid[term] += weight / norm
        self._phrasing_question_words.append(question_words)

    # -- querying ------------------------------------------------------------

    def _query_terms(self, question: str) -> list[_Term]:
        terms: dict[str, float] = {}
        repairs = 0
        for word in words(question):
            if word in QUESTION_WORDS:
                terms[word] = max(terms.get(word, 0.0), QUESTION_WORD_WEIGHT)
                continue
            if word in STOP_WORDS:
                continue
            term, factor = stem(word), 1.0
            if term not in self._idf and repairs < MAX_TYPO_REPAIRS:
                repairs += 1
                repaired = self._repair_typo(word)
                if repaired is not None:
                    term, factor = repaired
            terms[term] = max(terms.get(term, 0.0), factor)
        return [_Term(t, f) for t, f in terms.items()]

    def _repair_typo(self, word: str) -> tuple[str, float] | None:
        """The indexed term a misspelt word most likely meant, and how sure we are."""
        if not MIN_TYPO_LENGTH <= len(word) <= CACHED_WORD_LENGTH or word.isdigit():
            return None  # too short to repair safely; too long to be a misspelt word (and not cached)
        if word in self._typo_cache:
            return self._typo_cache[word]
        cutoff = 80 if len(word) >= 6 else 85
        result = None
        if self._vocabulary:
            # One row of `cdist` finds what `extractOne` finds (the first of the best, 0 under the
            # cutoff) in four fifths of the time: most words it is asked about are no typo at all.
            similarities = process.cdist(
                [word], self._vocabulary, scorer=fuzz.ratio, score_cutoff=cutoff, dtype=np.float32
            )[0]
            best = int(similarities.argmax())
            if similarities[best] > 0:
                result = (self._surface_words[self._vocabulary[best]], (float(similarities[best]) / 100) ** 2)
        if len(self._typo_cache) > 50_000:
            self._typo_cache.clear()
        self._typo_cache[word] = result
        return result

    def _semantic_blend(self, found: SemanticScores) -> np.ndarray:
        """Each entry's semantic score in [-1, 1] (see `SEMANTIC_MIX`, `SEMANTIC_NEAREST`, `SEMANTIC_PAGE`)."""
        mix = np.maximum(found.centroid, found.text)
        nearest = np.maximum(found.phrasing, found.text)
        page = mix[self._page_of]
        total = SEMANTIC_MIX + SEMANTIC_NEAREST + SEMANTIC_PAGE
        return (SEMANTIC_MIX * mix + SEMANTIC_NEAREST * nearest + SEMANTIC_PAGE * page) / total

    def word_contrast(self, question: str) -> float:
        """How much better the knowledge's words explain the question than everyday chat's do
        (mean log-likelihood ratio of its distinctive words; see `background.py`). Costs no model."""
        return self.evidence_by_words(question).word_contrast

    def evidence_by_words(self, question: str) -> WordEvidence:
        """What the question's words alone say (no model runs): enough to settle most chat before
        ranking. The last question's is kept, since a passive question is read before its ranking."""
        last = self._last_lexical
        if last is not None and last.question == question:
            return last
        lexical = self._lexical(question)
        self._last_lexical = lexical
        return lexical

    def _lexical(self, question: str) -> _Lexical:
        terms = self._query_terms(question)
        query_weights = {t.term: self._idf.get(t.term, self._unseen_idf) * t.weight_factor for t in terms}
        query_norm = math.sqrt(sum(w * w for w in query_weights.values())) or 1.0
        content = {t: w for t, w in query_weights.items() if t not in QUESTION_WORDS}
        content_mass = sum(content.values())
        text_mass = content_mass or sum(query_weights.values())

        # Best phrasing per entry (cosine), then blended with the entry's centroid.
        best_phrasing: dict[int, tuple[float, int]] = {}
        # Content words find the phrasings; question words ("how", "who") only add to phrasings
        # found that way (they are in thousands of phrasings of a large knowledge).
        dots: dict[int, float] = defaultdict(float)
        for term, query_weight in content.items():
            for phrasing_number, weight in self._phrasing_postings.get(term, ()):
                dots[phrasing_number] += query_weight * weight
        asked_question_words = [(t, w) for t, w in query_weights.items() if t in QUESTION_WORDS]
        if asked_question_words and dots:
            question_words_of = self._phrasing_question_words
            for phrasing_number in dots:
                its_question_words = question_words_of[phrasing_number]
                if its_question_words:
                    dots[phrasing_number] += sum(w * its_question_words.get(t, 0.0) for t, w in asked_question_words)
        elif asked_question_words:
            for term, query_weight in asked_question_words:
                for phrasing_number, weight in self._question_word_postings.get(term, ()):
                    dots[phrasing_number] += query_weight * weight
        phrasing_entry = self._phrasing_entry
        for phrasing_number, dot in dots.items():
            entry_number = phrasing_entry[phrasing_number]
            if dot > best_phrasing.get(entry_number, (0.0, -1))[0]:
                best_phrasing[entry_number] = (dot, phrasing_number)
        centroid_dots: dict[int, float] = defaultdict(float)
        for term, query_weight in query_weights.items():
            for entry_number, weight in self._centroid_postings.get(term, ()):
                centroid_dots[entry_number] += query_weight * weight
        phrasing_scores = {}
        for entry_number, (dot, _) in best_phrasing.items():
            best = dot / query_norm
            centroid = centroid_dots.get(entry_number, 0.0) / query_norm
            phrasing_scores[entry_number] = (
                1.0 if best >= EXACT else (1 - CENTROID_WEIGHT) * best + CENTROID_WEIGHT * centroid
            )

        text_scores: dict[int, float] = defaultdict(float)
        held: dict[int, float] = defaultdict(float)  # the question's distinctive IDF mass each entry holds
        for term, query_weight in content.items():
            for entry_number, saturation in self._text_postings.get(term, ()):
                text_scores[entry_number] += query_weight * saturation
                held[entry_number] += query_weight
        text_shares = {e: min(1.0, score / text_mass) for e, score in text_scores.items()} if text_mass else {}
        coverages = {e: h / content_mass for e, h in held.items()} if content_mass else {}

        lexical: dict[int, float] = {}
        for entry_number in set(phrasing_scores) | set(text_scores):
            phrasing_score = phrasing_scores.get(entry_number, 0.0)
            text_score = text_shares.get(entry_number, 0.0)
            lexical[entry_number] = max(phrasing_score, (1 - TEXT_WEIGHT) * phrasing_score + TEXT_WEIGHT * text_score)
        known = sum(w for t, w in content.items() if t in self._idf) / content_mass if content_mass else 0.0
        return _Lexical(
            question,
            word_contrast=self._words.mean(t for t in content),
            best_coverage=max(coverages.values(), default=0.0),
            best_phrasing=min(1.0, max(phrasing_scores.values(), default=0.0)),
            has_terms=bool(terms),
            known=known,
            phrasing_match=best_phrasing,
            phrasing_scores=phrasing_scores,
            text_shares=text_shares,
            lexical=lexical,
            coverages=coverages,
        )

    def rank(self, question: str, limit: int = 10, contrast_from: float = 0.0) -> list[Candidate]:
        """Entries ordered by score, best first; only those with some evidence.

        The background contrast (`Candidate.contrast`) costs a comparison with every background
        question; it is computed only when the best candidate's confidence reaches `contrast_from`
        (a caller whose bar no lower confidence could clear passes it), else left at -inf."""
        words_say = self.evidence_by_words(question)
        if not words_say.has_terms:  # only stop words: nothing to go on
            return []
        found = self._semantic.scores(question) if self._semantic is not None else None
        semantic = self._semantic_blend(found) if found is not None else None
        phrasing_scores, text_shares, lexical = words_say.phrasing_scores, words_say.text_shares, words_say.lexical
        best_phrasing = words_say.phrasing_match
        coverages, has_body = words_say.coverages, self._has_body
        found_by_meaning: list[int] = []
        weight = 0.0  # of the semantic score, beside the word score's 1
        if semantic is not None:
            weight = self._vectors.semantic_weight
            # Entries without lexical evidence can only rank by semantics: the leaders suffice.
            top = max(limit, 2)
            leaders = np.argpartition(-semantic, top)[:top] if top < len(semantic) else range(len(semantic))
            found_by_meaning = [int(e) for e in leaders if semantic[e] >= SEMANTIC_ONLY_FLOOR]
        combined = {}
        for e in (*lexical, *found_by_meaning):
            meaning = weight * max(0.0, float(semantic[e])) if semantic is not None else 0.0
            score = (lexical.get(e, 0.0) + meaning) / (1 + weight)
            coverage = coverages.get(e, 0.0)
            if has_body[e] and coverage < score:  # it holds few of the question's words: doubtful
                score = ((1 + weight) * score + COVERAGE_WEIGHT * coverage) / (1 + weight + COVERAGE_WEIGHT)
            combined[e] = score
        for e, phrasing_score in phrasing_scores.items():
            if phrasing_score >= 1.0:  # a phrasing typed verbatim: nothing is closer to a moderator's words
                combined[e] = 1.0
        key = combined.__getitem__
        order = heapq.nsmallest(
            max(limit, 2), (e for e, s in combined.items() if s > 0), key=lambda e: (-key(e), self.entries[e].id)
        )
        known, word_contrast, best_coverage = words_say.known, words_say.word_contrast, words_say.best_coverage
        scored: list[tuple[tuple, float]] = []  # each candidate's evidence, and its confidence
        for position, entry_number in enumerate(order):
            _, phrasing_number = best_phrasing.get(entry_number, (0.0, -1))
            score = min(1.0, combined[entry_number])
            if position == 0:
                rival = min(1.0, combined[order[1]]) if len(order) > 1 else 0.0
            else:
                rival = min(1.0, combined[order[0]])
            coverage = coverages.get(entry_number, 0.0)
            evidence = (
                self.entries[entry_number],
                score,
                min(1.0, phrasing_scores.get(entry_number, 0.0)),
                text_shares.get(entry_number, 0.0),
                self._phrasing_text[phrasing_number] if phrasing_number >= 0 else "",
                coverage,
                known,
                float(semantic[entry_number]) if semantic is not None else 0.0,
            )
            scored.append((evidence, self._calibration.confidence(Candidate(*evidence), rival)))
        contrast = 0.0
        if found is not None and scored:
            assert self._semantic is not None
            wanted = scored[0][1] >= contrast_from
            contrast = self._semantic.contrast(found) if wanted else -math.inf
        return [
            Candidate(
                *evidence,
                confidence=confidence,
                word_contrast=word_contrast,
                contrast=contrast,
                best_coverage=best_coverage,
            )
            for evidence, confidence in scored[:limit]
        ]
