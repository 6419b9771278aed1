"""Exact, fast ROUGE-L for Self-Instruct's diversity filter.

Self-Instruct and Alpaca keep a new instruction only when its ROUGE-L F-measure (``rouge_score``'s
``rougeL`` without stemming) against every seed and every earlier kept instruction is at most 0.7.
Scoring every pair is quadratic (about 11 to 16 hours for 52,000 instructions). This module gives
the same answers, float for float, without depending on ``rouge_score``:

* :func:`tokenize` is rouge-score's default tokenizer (lowercase, runs of ``[a-z0-9]``).
* :func:`rouge_l` is its ``_score_lcs`` F-measure, computed with the same float expression.
* :class:`RougePool` finds the pool members that could score above the threshold with an inverted
  index over *prefixes* (prefix filtering: the k-th occurrence of a token is a distinct element, so
  a token list becomes a set; elements are sorted rarest first; two lists whose LCS is at least
  ``a`` share at least ``a`` elements, so their first ``len - a + 1`` elements intersect), prunes
  with numpy by length, by a bound on the overlap from the prefixes, then by the exact multiset
  overlap (each an upper bound on the LCS), and scores the few survivors with a bit-parallel LCS
  (Allison-Dix / Hyyrö, Python ints as bit vectors).

Pruning is exact. rouge-score's float F is within a few ulps of ``2 * lcs / (m + n)``, so F > t
implies ``lcs > t * (m + n) / 2 * (1 - 1e-12)``: that relative slack, far above float error and far
below one token, keeps every pair whose float F could exceed the threshold, however close to it.
Survivors are then decided by the exact float F of rouge-score's own expression, which matters:
lengths 7 and 13 with an LCS of 7 give 0.7000000000000001 (rejected at 0.7), lengths 10 and 10
with an LCS of 7 give 0.7 (kept).
"""

from __future__ import annotations

import math
import re
from array import array
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Collision", "RougePool", "diversity_filter", "rouge_l", "tokenize"]

_TOKEN_RE = re.compile(r"[a-z0-9]+")
_NEVER = 1 << 62  # an LCS lower bound no pair can reach
_SLACK = 1 - 1e-12  # relative slack on LCS bounds, far above float error, far below one token


def tokenize(text: str) -> list[str]:
    """Tokens of ``text`` exactly as rouge-score's default tokenizer makes them (no stemming).

    rouge-score lowercases, replaces every run of ``[^a-z0-9]`` with a space, splits on whitespace
    and keeps the tokens matching ``^[a-z0-9]+$``: that is the runs of ``[a-z0-9]`` of the
    lowercased text (``str.lower`` may turn non-ASCII letters such as the Kelvin sign into ASCII).
    """
    return _TOKEN_RE.findall(text.lower())


def _fmeasure(lcs: int, target_len: int, prediction_len: int) -> float:
    """rouge-score's ``_score_lcs`` F-measure for an LCS length, with its exact float expression."""
    precision = lcs / prediction_len
    recall = lcs / target_len
    if precision + recall > 0:
        return 2 * precision * recall / (precision + recall)
    return 0.0


def _need_bound(t: float, m: int, n: int) -> int:
    """Least integer LCS a pair of lengths ``m``, ``n`` could need for an F above ``t`` (≥ 0), less slack.

    rouge-score's float F is within a few ulps of ``2 * lcs / (m + n)``, so F > t implies
    ``lcs > t * (m + n) / 2 * (1 - 1e-12)``; the bound is the least integer above that. The final
    decision always uses the exact float F. Values above ``min(m, n)`` mean no LCS can do it.
    """
    x = t * (m + n) / 2 * _SLACK
    if not x < min(m, n):
        return _NEVER
    return math.floor(x) + 1


def _masks(tokens: Sequence[str]) -> dict[str, int]:
    """Bit ``i`` of ``masks[t]`` is set when ``tokens[i] == t``."""
    masks: dict[str, int] = {}
    get = masks.get
    for i, tok in enumerate(tokens):
        masks[tok] = get(tok, 0) | (1 << i)
    return masks


def _lcs(masks: dict[str, int], length: int, other: Sequence[str]) -> int:
    """LCS length of the list behind ``masks`` (``length`` tokens) and ``other``, bit-parallel."""
    v = full = (1 << length) - 1
    get = masks.get
    for tok in other:
        mb = get(tok)
        if mb:
            u = v & mb
            v = (v + u) | (v - u)
    return length - (v & full).bit_count()


def rouge_l(a: Sequence[str], b: Sequence[str]) -> float:
    """rouge-score's ROUGE-L F-measure of target tokens ``a`` and prediction tokens ``b``, bit for bit.

    0.0 when either is empty. The value is symmetric in ``a`` and ``b``.
    """
    if not a or not b:
        return 0.0
    lcs = _lcs(_masks(a), len(a), b) if len(a) < len(b) else _lcs(_masks(b), len(b), a)
    return _fmeasure(lcs, len(a), len(b))


@dataclass(frozen=True)
class Collision:
    """The pool member a candidate scores highest against, among those above the threshold."""

    index: int
    score: float


class _Record:
    """A token list prepared for the pool, with the ranks of its elements in ascending order."""

    __slots__ = ("length", "ranks", "tokens")

    def __init__(self, tokens: tuple[str, ...], ranks: list[int]) -> None:
        self.tokens = tokens
        self.length = len(tokens)
        ranks.sort()
        self.ranks = ranks


def _elements(tokens: Sequence[str]) -> list[Hashable]:
    """The token list as a set: the k-th occurrence (k ≥ 1) of ``t`` is ``(t, k)``; the first is ``t``."""
    seen: dict[str, int] = {}
    out: list[Hashable] = []
    for tok in tokens:
        k = seen.get(tok, 0)
        seen[tok] = k + 1
        out.append((tok, k) if k else tok)
    return out


class RougePool:
    """Instructions seen so far; answers 'does this one score above the threshold against any of them'.

    ``corpus`` (optional) is the token lists the pool will see, used only to order elements rarest
    first, which makes the prefix index selective; results never depend on it. Elements it lacks are
    ranked on first sight, before all others.
    """

    def __init__(self, threshold: float = 0.7, *, corpus: Iterable[Sequence[str]] | None = None) -> None:
        threshold = float(threshold)
        if math.isnan(threshold):
            raise ValueError("threshold must be a number, not NaN")
        self.threshold = threshold
        self._rank: dict[Hashable, int] = {}
        self._next_new = -1
        if corpus is not None:
            df: dict[Hashable, int] = {}
            for tokens in corpus:
                for el in _elements(tokens):
                    df[el] = df.get(el, 0) + 1
            # dicts keep first-seen order and sorted() is stable: ties go to the element seen first
            for rank, el in enumerate(sorted(df, key=df.__getitem__)):
                self._rank[el] = rank
        self._index: dict[int, array[int]] = {}
        self._records: list[_Record] = []
        self._keys: list[int] = []
        self._own: dict[int, int] = {}
        # per member (by insertion order): length, rank of the last indexed element, unindexed count
        self._lens = np.zeros(64, dtype=np.int64)
        self._last = np.zeros(64, dtype=np.int64)
        self._rest = np.zeros(64, dtype=np.int64)
        # every indexed member's sorted ranks, back to back, member i from _start[i]
        self._start = np.zeros(64, dtype=np.int64)
        self._flat = np.zeros(1024, dtype=np.int64)
        self._used = 0

    def __len__(self) -> int:
        """Number of members added."""
        return len(self._keys)

    # -- bounds -------------------------------------------------------------------------------

    def _need(self, m: int, n: int) -> int:
        """A lower bound on the LCS two lists of lengths ``m``, ``n`` need to score above the threshold.

        _NEVER when no LCS up to ``min(m, n)`` can. See :func:`_need_bound`.
        """
        need = _need_bound(self.threshold, m, n)
        return need if need <= min(m, n) else _NEVER

    def _own_need(self, m: int) -> int:
        """Least LCS bound a list of length ``m`` has against any partner (_NEVER: it never collides)."""
        need = self._own.get(m)
        if need is None:
            need = _NEVER
            if m > 0:
                t = self.threshold
                # a partner of length n needs LCS ≤ n, so n > t*m/(2-t) (less float slack); the
                # bound grows with n, so the shortest feasible partner gives the least bound
                lo = m
                if t < 2:
                    lo = max(1, min(m, math.floor(t * m / (2 - t)) - 2))
                for n in range(lo, m + 1):
                    need_n = self._need(m, n)
                    if need_n != _NEVER:
                        need = need_n
                        break
            self._own[m] = need
        return need

    # -- records ------------------------------------------------------------------------------

    def _prepare(self, tokens: Sequence[str], persist: bool) -> _Record:
        """Rank the elements of ``tokens``; unknown ones rank first (and keep that rank if ``persist``)."""
        rank = self._rank
        ranks: list[int] = []
        nxt = self._next_new
        for el in _elements(tokens):
            r = rank.get(el)
            if r is None:
                r = nxt
                nxt -= 1
                if persist:
                    rank[el] = r
            ranks.append(r)
        if persist:
            self._next_new = nxt
        return _Record(tuple(tokens), ranks)

    def _add_record(self, record: _Record, key: int) -> None:
        seq = len(self._keys)
        self._keys.append(key)
        self._records.append(record)
        if self.threshold < 0:
            return
        m = record.length
        need = self._own_need(m)
        if need == _NEVER:
            return
        if seq >= len(self._lens):
            size = 2 * len(self._lens)
            self._lens = np.resize(self._lens, size)
            self._last = np.resize(self._last, size)
            self._rest = np.resize(self._rest, size)
            self._start = np.resize(self._start, size)
        used = self._used
        if used + m > len(self._flat):
            self._flat = np.resize(self._flat, max(2 * len(self._flat), used + m))
        self._flat[used : used + m] = record.ranks
        self._start[seq] = used
        self._used = used + m
        prefix = record.ranks[: m - need + 1]
        self._lens[seq] = m
        self._last[seq] = prefix[-1]
        self._rest[seq] = need - 1
        index = self._index
        for r in prefix:
            posting = index.get(r)
            if posting is None:
                index[r] = array("q", (seq,))
            else:
                posting.append(seq)

    def _survivors(self, record: _Record) -> tuple[list[int], list[int]]:
        """Members that could score above the threshold against ``record``, in insertion order, with
        a lower bound on the LCS each would need.

        Probes the index with the record's prefix and counts, per member, ``c`` = the shared elements
        of both prefixes. With ``rx``/``ry`` the last prefix ranks, the shared elements ranked above
        ``min(rx, ry)`` lie in the suffix of the list whose prefix ends first, so the overlap (which
        bounds the LCS) is at most ``c`` plus that suffix's length. Lengths must also allow the LCS.
        """
        n = record.length
        own = self._own_need(n)
        if own == _NEVER:
            return [], []
        prefix = record.ranks[: n - own + 1]
        index = self._index
        postings = [index[r] for r in prefix if r in index]
        if not postings:
            return [], []
        if len(postings) == 1:
            hits = np.array(postings[0], dtype=np.int64)
        else:
            hits = np.concatenate([np.frombuffer(p, dtype=np.int64) for p in postings])
        seqs, shared = np.unique(hits, return_counts=True)
        lens = self._lens[seqs]
        need = np.floor(self.threshold * (lens + n) / 2 * _SLACK) + 1
        rest = np.where(self._last[seqs] >= prefix[-1], own - 1, self._rest[seqs])
        ok = (need <= np.minimum(lens, n)) & (shared + rest >= need)
        seqs = seqs[ok]
        if not len(seqs):
            return [], []
        need = need[ok]
        lens = lens[ok]
        # exact multiset overlap with each survivor (an upper bound on the LCS): look each of its
        # elements up among the record's sorted ones and add up per survivor
        ends = np.cumsum(lens)
        firsts = ends - lens
        where = np.repeat(self._start[seqs] - firsts, lens) + np.arange(ends[-1])
        theirs = self._flat[where]
        mine = np.array(record.ranks, dtype=np.int64)
        found = mine[np.minimum(np.searchsorted(mine, theirs), n - 1)] == theirs
        overlap = np.add.reduceat(found, firsts)
        ok = overlap >= need
        return seqs[ok].tolist(), need[ok].astype(np.int64).tolist()

    def _collision_record(self, record: _Record) -> Collision | None:
        if self.threshold < 0:
            return self._brute(record)
        seqs, needs = self._survivors(record)
        if not seqs:
            return None
        records = self._records
        tokens = record.tokens
        n = record.length
        t = self.threshold
        masks = _masks(tokens)
        best_seq = -1
        best = 0.0
        for seq, need in zip(seqs, needs, strict=True):
            other = records[seq]
            lcs = _lcs(masks, n, other.tokens)
            if lcs < need:
                continue
            score = _fmeasure(lcs, n, other.length)
            # seqs ascend, so a strict > keeps the earliest of equal scores
            if score > t and score > best:
                best, best_seq = score, seq
        if best_seq < 0:
            return None
        return Collision(self._keys[best_seq], best)

    def _brute(self, record: _Record) -> Collision | None:
        """Every member, scored (thresholds below 0, where even unrelated pairs collide)."""
        best_seq = -1
        best = 0.0
        for seq, other in enumerate(self._records):
            score = rouge_l(record.tokens, other.tokens)
            if score > self.threshold and (best_seq < 0 or score > best):
                best, best_seq = score, seq
        if best_seq < 0:
            return None
        return Collision(self._keys[best_seq], best)

    # -- public -------------------------------------------------------------------------------

    def add(self, tokens: Sequence[str], key: int) -> None:
        """Add a member; ``key`` is what a :class:`Collision` with it reports."""
        self._add_record(self._prepare(tokens, persist=True), key)

    def collision(self, tokens: Sequence[str]) -> Collision | None:
        """The member scoring highest above the threshold against ``tokens`` (ties: earliest added), or None.

        The score is rouge-score's ``_score_lcs(tokens, member).fmeasure``, exactly.
        """
        return self._collision_record(self._prepare(tokens, persist=False))


def diversity_filter(
    candidates: Sequence[str], seeds: Sequence[str] = (), threshold: float = 0.7
) -> list[Collision | None]:
    """Self-Instruct's rule, in order: one result per candidate, a Collision when rejected, else None.

    Seeds are the initial pool (seed ``i`` has key ``-(i + 1)``: -1, -2, …). Candidate ``i`` is rejected
    when it scores > ``threshold`` against any seed or earlier *kept* candidate (key ``i``); its
    Collision names the highest-scoring such member (ties: the earliest, seeds first) and that score.
    Otherwise it is kept and joins the pool.
    """
    seed_tokens = [tokenize(s) for s in seeds]
    cand_tokens = [tokenize(c) for c in candidates]
    pool = RougePool(threshold, corpus=seed_tokens + cand_tokens)
    for i, tokens in enumerate(seed_tokens):
        pool.add(tokens, -(i + 1))
    out: list[Collision | None] = []
    for i, tokens in enumerate(cand_tokens):
        record = pool._prepare(tokens, persist=True)
        hit = pool._collision_record(record)
        if hit is None:
            pool._add_record(record, i)
        out.append(hit)
    return out
