"""policies.rouge against rouge-score: tokenizer, ROUGE-L floats and Self-Instruct's diversity filter."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rouge_score import rouge_scorer
from rouge_score import tokenize as rs_tokenize

from bench.naive_rouge import SCORER, naive_diversity_filter
from policies.rouge import Collision, RougePool, diversity_filter, rouge_l, tokenize

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PROVENANCE_SHARED_DATA", ROOT.parent / "shared" / "data"))


def assert_same(fast: list[Collision | None], slow: list[Collision | None]) -> None:
    assert len(fast) == len(slow)
    for i, (a, b) in enumerate(zip(fast, slow, strict=True)):
        assert (a is None) == (b is None), (i, a, b)
        if a is not None:
            assert (a.index, a.score) == (b.index, b.score), (i, a, b)
            assert repr(a.score) == repr(float(b.score)), (i, a, b)


# -- tokenizer ---------------------------------------------------------------------------------

TRICKY = [
    "",
    "   \t\n ",
    "Hello, World!",
    "It's 3.14 o'clock -- don't panic!!!",
    "naïve café résumé Ünïcödé",
    "日本語のテキスト",
    "Привет, мир",
    "مرحبا بالعالم ٣٤٥",
    "emoji 😀 in the middle😀of words",
    "KELVIN \u212a sign and \u0130stanbul and \u00df stra\u00dfe",
    "fullwidth \uff21\uff22\uff23 \uff11\uff12\uff13 and \ufb01 ligature",
    "x² y³ ① ½ 10⁶",
    "under_score hyphen-ated slash/joined dot.joined",
    "tab\tnew\nline\r\ncarriage\x0bvertical\x0cform\x1cfs\u2028ls\u00a0nbsp",
    "ABC123def 0xFF 1e10 3,000,000",
    "\x00nul\x00bytes\x00",
    "a" * 1000,
    "!!!???...",
]


@pytest.mark.parametrize("text", TRICKY)
def test_tokenize_tricky(text):
    assert tokenize(text) == rs_tokenize.tokenize(text, None) == SCORER._tokenizer.tokenize(text)


def test_tokenize_one_megabyte():
    rng = random.Random(7)
    alphabet = "abcXYZ019 ,.;-_'\"\n\t\u00c4\u00e9\u00df\u0130\u212a\u65e5\U0001f600\ufb01\u0663"
    text = "".join(rng.choice(alphabet) for _ in range(1 << 20))
    assert len(text) == 1 << 20
    assert tokenize(text) == rs_tokenize.tokenize(text, None)


@given(st.text())
@settings(max_examples=300, deadline=None)
def test_tokenize_any_text(text):
    assert tokenize(text) == rs_tokenize.tokenize(text, None)


# -- rouge_l -----------------------------------------------------------------------------------

small_lists = st.lists(st.sampled_from("abcde"), max_size=30)


@given(small_lists, small_lists)
@settings(max_examples=500, deadline=None)
def test_rouge_l_matches_rouge_score(a, b):
    expected = rouge_scorer._score_lcs(a, b).fmeasure
    got = rouge_l(a, b)
    assert got == expected
    assert repr(got) == repr(float(expected))
    assert rouge_l(b, a) == got


@given(st.lists(st.text(min_size=0, max_size=12), max_size=12), st.lists(st.text(max_size=12), max_size=12))
@settings(max_examples=200, deadline=None)
def test_rouge_l_text_path(a_words, b_words):
    a, b = " ".join(a_words), " ".join(b_words)
    assert rouge_l(tokenize(a), tokenize(b)) == SCORER.score(a, b)["rougeL"].fmeasure


def test_rouge_l_long_lists():
    rng = random.Random(3)
    for size in (63, 64, 65, 200):
        a = [rng.choice("abcdefg") for _ in range(size)]
        b = [rng.choice("abcdefg") for _ in range(size + 7)]
        assert rouge_l(a, b) == rouge_scorer._score_lcs(a, b).fmeasure


def boundary_pair(k: int, m: int, rng: random.Random) -> tuple[list[str], list[str]]:
    """Token lists of lengths m and 20k - m whose LCS is 7k, so that 2 * LCS / (m + n) = 0.7 exactly."""
    n, lcs = 20 * k - m, 7 * k
    common = [f"w{i}" for i in range(lcs)]

    def spread(length: int, tag: str) -> list[str]:
        extra = [f"{tag}{i}" for i in range(length - lcs)]
        slots = sorted(rng.sample(range(length), lcs))
        out, ci, ei = [], 0, 0
        for pos in range(length):
            if ci < lcs and pos == slots[ci]:
                out.append(common[ci])
                ci += 1
            else:
                out.append(extra[ei])
                ei += 1
        return out

    return spread(m, "x"), spread(n, "y")


@given(st.integers(1, 8), st.data())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_rouge_l_exact_boundary(k, data):
    m = data.draw(st.integers(7 * k, 13 * k))
    shift = data.draw(st.integers(-1, 1))  # also one token off the boundary
    a, b = boundary_pair(k, m, random.Random(data.draw(st.integers(0, 10**6))))
    if shift < 0:
        b = b[1:] if b[0].startswith("y") else b[:-1] if b[-1].startswith("y") else b
    elif shift > 0:
        a = [*a, "extra"]
    expected = rouge_scorer._score_lcs(a, b).fmeasure
    assert rouge_l(a, b) == expected
    seeds, cands = [" ".join(a)], [" ".join(b), " ".join(a)]
    assert_same(diversity_filter(cands, seeds), naive_diversity_filter(cands, seeds))


@pytest.mark.parametrize(
    ("m", "n", "rejected"),
    [
        (10, 10, False),  # F == 0.7 exactly: kept
        (7, 13, True),  # F == 0.7000000000000001 in floats: rejected by rouge-score, so by us
        (9, 11, True),
        (23, 37, False),  # 0.6999999999999998: kept
        (20, 20, False),
    ],
)
def test_float_boundary_cases(m, n, rejected):
    k = (m + n) // 20
    a, b = boundary_pair(k, m, random.Random(m * 100 + n))
    expected = rouge_scorer._score_lcs(a, b).fmeasure
    assert (expected > 0.7) is rejected
    result = diversity_filter([" ".join(b)], [" ".join(a)])
    assert result == naive_diversity_filter([" ".join(b)], [" ".join(a)])
    assert (result[0] is not None) is rejected


# -- diversity filter: generated inputs ----------------------------------------------------------

word = st.sampled_from(["alpha", "Beta", "gamma", "delta", "eps", "7", "the", "a"])
sentence = st.lists(word, max_size=12).map(" ".join) | st.sampled_from(["", "!!", "日本"])


@given(st.lists(sentence, max_size=40), st.lists(sentence, max_size=5))
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_filter_matches_naive_small_vocab(candidates, seeds):
    assert_same(diversity_filter(candidates, seeds), naive_diversity_filter(candidates, seeds))


@given(
    st.lists(sentence, max_size=25),
    st.lists(sentence, max_size=4),
    st.sampled_from([0.0, 0.3, 0.5, 0.6999999999999999, 0.7, 0.7000000000000001, 0.9, 1.0, 1.5, -0.1]),
)
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_filter_matches_naive_any_threshold(candidates, seeds, threshold):
    assert_same(
        diversity_filter(candidates, seeds, threshold), naive_diversity_filter(candidates, seeds, threshold)
    )


@given(st.lists(st.lists(st.sampled_from("abc"), max_size=10), max_size=30), st.data())
@settings(max_examples=150, deadline=None)
def test_pool_against_brute_force(members, data):
    """RougePool on its own (arbitrary keys, with or without a partial corpus hint): best score above
    0.7, earliest of ties."""
    pool = RougePool(corpus=members[::2]) if data.draw(st.booleans()) else RougePool()
    added: list[tuple[int, list[str]]] = []
    for i, tokens in enumerate(members):
        key = data.draw(st.integers(-5, 5)) * 1000 + i
        query = data.draw(st.lists(st.sampled_from("abcd"), max_size=10))
        best = None
        for k, member in added:
            score = rouge_scorer._score_lcs(query, member).fmeasure
            if score > 0.7 and (best is None or score > best.score):
                best = Collision(k, score)
        assert pool.collision(query) == best
        pool.add(tokens, key)
        added.append((key, tokens))
        assert len(pool) == len(added)


def test_ties_go_to_the_earliest_member():
    seeds = ["write a poem about the sea", "write a poem about the sky"]
    candidates = ["write a poem about the sun", "write a poem about the sea", "Write a poem, about the sea!"]
    result = diversity_filter(candidates, seeds)
    assert result == naive_diversity_filter(candidates, seeds)
    assert result[0] == Collision(-1, rouge_l(tokenize(candidates[0]), tokenize(seeds[0])))
    assert result[1] == Collision(-1, 1.0)
    assert result[2] == Collision(-1, 1.0)


def test_api_edges():
    assert diversity_filter([]) == []
    assert diversity_filter(["", "", "x"]) == [None, None, None]
    assert diversity_filter(["same words", "same words"]) == [None, Collision(0, 1.0)]
    assert rouge_l([], ["a"]) == 0.0
    with pytest.raises(ValueError):
        RougePool(float("nan"))
    hit = Collision(3, 0.75)
    with pytest.raises(AttributeError):
        hit.index = 4  # type: ignore[misc]


def test_module_does_not_import_rouge_score():
    code = "import sys, policies.rouge; assert 'rouge_score' not in sys.modules; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


# -- diversity filter: real data -----------------------------------------------------------------


def perturb(text: str, rng: random.Random, vocab: list[str]) -> str:
    """Drop, swap or insert one word."""
    words = text.split()
    op = rng.randrange(3)
    if op == 0 and len(words) > 1:
        del words[rng.randrange(len(words))]
    elif op == 1 and len(words) > 1:
        i, j = rng.randrange(len(words)), rng.randrange(len(words))
        words[i], words[j] = words[j], words[i]
    else:
        words.insert(rng.randrange(len(words) + 1), rng.choice(vocab))
    return " ".join(words)


@pytest.fixture(scope="module")
def real_data() -> tuple[list[str], list[str]]:
    si, ca = SHARED / "self-instruct", SHARED / "code-alpaca"
    needed = [si / "seed_tasks.jsonl", si / "user_oriented_instructions.jsonl", ca / "new_codealpaca.json"]
    if not all(p.is_file() for p in needed):
        pytest.skip(f"real data not found under {SHARED}")
    seeds = [json.loads(line)["instruction"] for line in needed[0].open(encoding="utf-8") if line.strip()]
    pool = [json.loads(line)["instruction"] for line in needed[1].open(encoding="utf-8") if line.strip()]
    pool += [row["instruction"] for row in json.loads(needed[2].read_text(encoding="utf-8"))]
    rng = random.Random(20240601)
    real = rng.sample(list(dict.fromkeys(pool)), 380)
    vocab = [w for text in real for w in text.split()]
    candidates = list(real)
    for _ in range(220):  # perturbed copies of candidates and seeds, so that a realistic share collides
        base = rng.choice(real) if rng.random() < 0.8 else rng.choice(seeds)
        candidates.insert(rng.randrange(len(candidates) + 1), perturb(base, rng, vocab))
    return seeds, candidates


def test_filter_matches_naive_real_data(real_data):
    seeds, candidates = real_data
    assert len(seeds) == 175
    fast = diversity_filter(candidates, seeds)
    assert_same(fast, naive_diversity_filter(candidates, seeds))
    rejected = sum(hit is not None for hit in fast)
    assert 0.1 * len(candidates) < rejected < 0.6 * len(candidates)
    assert any(hit is not None and hit.index < 0 for hit in fast)  # some collide with seeds
