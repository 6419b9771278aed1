"""The licence judgement: every registry family for research, commercial and same-family students."""

from __future__ import annotations

import pytest

from policies.judge import Judge, LicencePolicy
from policies.registry import load_registry
from provenance.core.models import TermsStatus as V

REGISTRY = load_registry()
MISTRAL = "mistralai/Mistral-7B-v0.3"  # an Apache-2.0 student outside every teacher's family


def judge(use: str = "commercial", student: str = MISTRAL, **policy: object) -> Judge:
    return Judge(REGISTRY, LicencePolicy(use=use, student=student, **policy))


# teacher id → (research, commercial with an outside student, same-family student, its verdict)
FAMILY_VERDICTS = [
    ("gpt-4o-mini-2024-07-18", V.NON_COMPETING_ONLY, V.PROHIBITED, None, None),
    ("openai/gpt-oss-20b", V.ALLOWED, V.ALLOWED, None, None),
    ("claude-3-5-sonnet-20241022", V.NON_COMPETING_ONLY, V.PROHIBITED, None, None),
    ("gemini-1.5-pro-002", V.NON_COMPETING_ONLY, V.PROHIBITED, None, None),
    ("google/gemma-2-9b-it", V.ALLOWED_WITH_CONDITIONS, V.ALLOWED_WITH_CONDITIONS, None, None),
    ("gemma4", V.ALLOWED, V.ALLOWED, None, None),
    ("huggyllama/llama-7b", V.RESEARCH_ONLY, V.PROHIBITED, None, None),
    ("meta-llama/Llama-2-70b-chat-hf", V.PROHIBITED, V.PROHIBITED, "meta-llama/Llama-2-7b-hf", V.ALLOWED_WITH_CONDITIONS),  # noqa: E501
    ("meta-llama/Meta-Llama-3-70B-Instruct", V.PROHIBITED, V.PROHIBITED, "meta-llama/Meta-Llama-3-8B", V.ALLOWED_WITH_CONDITIONS),  # noqa: E501
    ("meta-llama/Llama-3.1-405B-Instruct", V.ALLOWED_WITH_CONDITIONS, V.ALLOWED_WITH_CONDITIONS, None, None),
    ("meta-llama/Llama-3.2-3B-Instruct", V.ALLOWED_WITH_CONDITIONS, V.ALLOWED_WITH_CONDITIONS, None, None),
    ("meta-llama/Llama-3.3-70B-Instruct", V.ALLOWED_WITH_CONDITIONS, V.ALLOWED_WITH_CONDITIONS, None, None),
    ("meta-llama/Llama-4-Scout-17B-16E-Instruct", V.ALLOWED_WITH_CONDITIONS, V.ALLOWED_WITH_CONDITIONS, None, None),  # noqa: E501
    ("mistralai/Mixtral-8x7B-Instruct-v0.1", V.ALLOWED, V.ALLOWED, None, None),
    ("mistralai/Mistral-Large-Instruct-2407", V.RESEARCH_ONLY, V.PROHIBITED, None, None),
    ("mistralai/Codestral-22B-v0.1", V.RESEARCH_ONLY, V.PROHIBITED, None, None),
    ("mistral-large-latest", V.UNKNOWN, V.UNKNOWN, None, None),
    ("Qwen/Qwen2.5-14B-Instruct", V.ALLOWED, V.ALLOWED, None, None),
    ("Qwen/Qwen2.5-72B-Instruct", V.ALLOWED_WITH_CONDITIONS, V.ALLOWED_WITH_CONDITIONS, None, None),
    ("Qwen/Qwen2-72B-Instruct", V.ALLOWED_WITH_CONDITIONS, V.ALLOWED_WITH_CONDITIONS, None, None),
    ("Qwen/Qwen2.5-3B-Instruct", V.RESEARCH_ONLY, V.PROHIBITED, None, None),
    ("deepseek-ai/DeepSeek-R1", V.ALLOWED, V.ALLOWED, None, None),
    ("deepseek-ai/DeepSeek-R1-Distill-Llama-8B", V.ALLOWED_WITH_CONDITIONS, V.ALLOWED_WITH_CONDITIONS, None, None),  # noqa: E501
    ("deepseek-ai/DeepSeek-V3", V.ALLOWED_WITH_CONDITIONS, V.ALLOWED_WITH_CONDITIONS, None, None),
    ("deepseek-ai/DeepSeek-V3-0324", V.ALLOWED, V.ALLOWED, None, None),
    ("microsoft/phi-4", V.ALLOWED, V.ALLOWED, None, None),
    ("tiiuae/falcon-40b", V.ALLOWED, V.ALLOWED, None, None),
    ("tiiuae/falcon-180B-chat", V.UNKNOWN, V.UNKNOWN, None, None),
    ("CohereForAI/c4ai-command-r-v01", V.RESEARCH_ONLY, V.PROHIBITED, None, None),
    ("allenai/OLMo-2-1124-7B-Instruct", V.ALLOWED, V.ALLOWED, None, None),
    ("grok-3", V.NON_COMPETING_ONLY, V.PROHIBITED, None, None),
    ("xai-org/grok-1", V.ALLOWED, V.ALLOWED, None, None),
    ("xai-org/grok-2", V.PROHIBITED, V.PROHIBITED, None, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("teacher", "research", "commercial", "family_student", "family_verdict"),
    FAMILY_VERDICTS,
    ids=[t for t, *_ in FAMILY_VERDICTS],
)
def test_every_family_for_research_commercial_and_same_family_students(
    teacher: str, research: V, commercial: V, family_student: str | None, family_verdict: V | None
) -> None:
    got = judge("research").judge(teacher=teacher, origin="machine", method="teacher")
    assert got.verdict is research, got.reasons
    got = judge("commercial").judge(teacher=teacher, origin="machine", method="teacher")
    assert got.verdict is commercial, got.reasons
    assert got.permitted is (commercial not in (V.PROHIBITED, V.UNKNOWN))
    if family_student:
        got = judge("commercial", family_student).judge(teacher=teacher, origin="machine", method="teacher")
        assert got.verdict is family_verdict and "same family" in " ".join(got.reasons), got.reasons


def test_llama_2_output_may_train_a_llama_2_student_but_not_a_mistral_one() -> None:
    llama = judge(student="meta-llama/Llama-2-13b-hf").judge(teacher="llama2:70b", method="teacher")
    mistral = judge(student=MISTRAL).judge(teacher="llama2:70b", method="teacher")
    assert llama.permitted and not mistral.permitted
    assert "exception only for llama-2 students" in mistral.reasons[0]


def test_obligations_travel_and_depend_on_distribution() -> None:
    kept = judge(distribute=True).judge(teacher="meta-llama/Llama-3.1-70B-Instruct", method="teacher")
    by_kind = {o["kind"]: o for o in kept.obligations}
    assert by_kind["name_prefix"]["value"] == "Llama"
    assert "Built with Llama" in by_kind["attribution"]["text"]
    assert by_kind["user_threshold"]["value"] == 700_000_000 and "notice_file" in by_kind
    private = judge(distribute=False).judge(teacher="meta-llama/Llama-3.1-70B-Instruct", method="teacher")
    assert {o["kind"] for o in private.obligations} == {"user_threshold"}
    qwen = judge(distribute=True).judge(teacher="Qwen/Qwen2.5-72B-Instruct", method="teacher")
    assert any("Built with Qwen" in o["text"] for o in qwen.obligations)
    gemma = judge(distribute=True).judge(teacher="google/gemma-3-27b-it", method="teacher")
    assert {"pass_through", "notice_file", "notice"} <= {o["kind"] for o in gemma.obligations}
    research = judge("research").judge(teacher="gpt-4o", method="teacher")
    assert [o["kind"] for o in research.obligations] == ["no_competing_use"]
    denied = judge().judge(teacher="gpt-4o", method="teacher")
    assert denied.obligations == ()


def test_non_competing_commercial_students_may_use_api_output() -> None:
    got = judge(competing=False).judge(teacher="gpt-4o", method="teacher")
    assert got.verdict is V.NON_COMPETING_ONLY and got.permitted
    assert judge("research", competing=True).judge(teacher="gpt-4o", method="teacher").verdict is V.PROHIBITED


def test_and_keeps_the_most_restrictive_licence() -> None:
    got = judge("research").judge(licence="Apache-2.0 AND CC-BY-NC-4.0", method="imported")
    assert got.verdict is V.RESEARCH_ONLY
    got = judge().judge(licence="MIT AND CC-BY-SA-4.0", method="imported", origin="human")
    assert got.verdict is V.ALLOWED_WITH_CONDITIONS
    alpaca = "CC-BY-NC-4.0 AND LicenseRef-scancode-openai-tou-20230314"
    assert judge("research").judge(licence=alpaca, method="imported").verdict is V.RESEARCH_ONLY
    assert judge().judge(licence=alpaca, method="imported").verdict is V.PROHIBITED


def test_or_takes_the_most_permissive_branch_the_policy_allows_and_says_so() -> None:
    got = judge().judge(licence="CC-BY-NC-4.0 OR MIT", method="imported")
    assert got.verdict is V.ALLOWED
    assert any("took MIT" in n for n in got.notes)
    # commercial: neither branch is allowed; research: the NC branch is
    either = "CC-BY-NC-4.0 OR LicenseRef-scancode-llama-2-license-2023"
    assert judge().judge(licence=either, method="imported").verdict is V.PROHIBITED
    assert judge("research").judge(licence=either, method="imported").verdict is V.RESEARCH_ONLY
    # a Llama 2 student can take the Llama 2 branch
    llama = judge(student="meta-llama/Llama-2-7b-hf").judge(licence=either, method="imported")
    assert llama.verdict is V.ALLOWED_WITH_CONDITIONS
    assert any("took LicenseRef-scancode-llama-2-license-2023" in n for n in llama.notes)
    nested = judge().judge(licence="(CC-BY-NC-4.0 OR Apache-2.0) AND CC-BY-SA-3.0", method="imported")
    assert nested.verdict is V.ALLOWED_WITH_CONDITIONS


@pytest.mark.parametrize(
    ("declared", "reason"),
    [
        ({"teacher": "acme/secret-model", "method": "teacher"}, "matches no registry entry"),
        ({"licence": "LicenseRef-acme-eula", "method": "imported"}, "not in the registry"),
        ({"licence": "LicenseRef-scancode-bsl-1.1", "method": "imported"}, "category"),
        ({"origin": "human", "method": "seed"}, "no licence was declared"),
        ({"origin": "machine", "licence": "MIT", "method": "imported"}, "teacher was not declared"),
        ({"terms_id": "acme-terms", "licence": "MIT", "method": "imported"}, "not in the registry"),
        (
            {"terms_id": "gemma-terms-of-use", "terms_version": "1999-01-01", "licence": "MIT"},
            "not one the registry knows",
        ),
        ({"method": "imported"}, "no licence"),
        ({"licence": "CC-BY-ND-4.0", "method": "imported"}, "NoDerivatives"),
    ],
)
def test_unknown_fails_closed(declared: dict, reason: str) -> None:
    for use in ("research", "commercial"):
        got = judge(use).judge(**declared)
        assert got.verdict is V.UNKNOWN and not got.permitted, got.reasons
        assert any(reason in r for r in got.reasons), got.reasons
        assert got.obligations == ()


def test_a_declared_status_can_only_tighten() -> None:
    looser = judge().judge(teacher="gpt-4o", terms_status="allowed", method="teacher")
    assert looser.verdict is V.PROHIBITED
    tighter = judge().judge(teacher="microsoft/phi-4", terms_status="research_only", method="teacher")
    assert tighter.verdict is V.PROHIBITED


def test_earlier_terms_versions_are_recognised_and_said() -> None:
    got = judge("research").judge(
        teacher="text-davinci-003",
        licence="Apache-2.0 AND LicenseRef-scancode-openai-tou-20230314",
        terms_id="openai-terms-of-use",
        terms_version="2023-03-14",
        method="imported",
        origin="machine",
    )
    assert got.verdict is V.NON_COMPETING_ONLY
    assert any("declared under openai-terms-of-use@2023-03-14" in n for n in got.notes)
    assert got.terms == (("openai-api", "openai-terms-of-use", "2024-12-11"),)


def test_datasets_known_to_the_registry_add_their_terms_and_conflicts() -> None:
    got = judge("research").judge(
        teacher="text-davinci-003", licence="Apache-2.0", source="tatsu-lab/alpaca", method="imported"
    )
    assert got.verdict is V.RESEARCH_ONLY
    conflicts = [n for n in got.notes if n.startswith("declaration conflict")]
    assert any("ODC-By-1.0" in n for n in conflicts) and any("declares Apache-2.0" in n for n in conflicts)
    human = judge().judge(
        origin="human", licence="Apache-2.0", source="yizhongw/self_instruct", method="seed"
    )
    assert human.verdict is V.ALLOWED  # a machine-written dataset's terms do not reach human seeds


def test_the_student_itself() -> None:
    assert judge(student="tiny").student_finding().verdict is V.ALLOWED
    assert judge(student="huggyllama/llama-7b").student_finding().verdict is V.PROHIBITED
    assert judge("research", student="huggyllama/llama-7b").student_finding().verdict is V.RESEARCH_ONLY
    assert judge(student="acme/own-base").student_finding().verdict is V.UNKNOWN
    declared = judge(student="acme/own-base", student_licence="Apache-2.0").student_finding()
    assert declared.verdict is V.ALLOWED
    llama = judge(student="meta-llama/Llama-3.1-8B", distribute=True).student_finding()
    assert any(o["kind"] == "name_prefix" for o in llama.obligations)


def test_config_hash_tracks_the_policy() -> None:
    assert judge().config_hash == judge().config_hash
    assert judge().config_hash != judge(distribute=True).config_hash
    assert judge().config_hash != judge("research").config_hash
