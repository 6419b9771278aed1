"""The papers' parsing and filters, one rule at a time (generators.parsing)."""

from __future__ import annotations

import pytest

from generators.parsing import (
    ALPACA_BLACKLIST,
    clean_instruction,
    conflicting_inputs,
    instance_filter,
    instruction_filter,
    parse_classification_instances,
    parse_generation_instances,
    parse_input_output,
    parse_yes_no,
    split_alpaca,
    split_self_instruct,
)


@pytest.mark.parametrize(
    ("instruction", "reason"),
    [
        ("Give me three tips", None),
        ("Give three tips", "too-short"),  # 3 words: dropped (≤ 3)
        ("word " * 151, "too-long"),
        ("word " * 150, None),
        ("Describe the image of a cat in detail", "blacklisted-word"),
        ("Describe the IMAGES of cats in detail", "blacklisted-word"),  # whole word, any case
        ("Describe the imagery of a poem in detail", None),  # not a whole word
        ("Tell me how to go to the station quickly", "blacklisted-word"),
        ("Write a program that sorts a list of numbers", "write-a-program"),
        ("Write a poem that sorts a list of feelings", None),
        ('"Quote" the following sentence back to me', "starts-with-punctuation"),
        ("Élaborez une liste de trois fruits rouges", "starts-non-ascii"),
        ("", "empty"),
    ],
)
def test_instruction_filter(instruction: str, reason: str | None) -> None:
    assert instruction_filter(instruction.strip() if instruction.strip() else instruction) == reason


def test_alpaca_blacklist_adds_media_words() -> None:
    text = "Compose some music for a birthday party"
    assert instruction_filter(text) is None
    assert instruction_filter(text, blacklist=ALPACA_BLACKLIST) == "blacklisted-word"


def test_split_self_instruct_numbers_whitespace_and_capitalize() -> None:
    text = " List three   colours.\n10. name the capital of FRANCE\n11.   \n12 . Explain tides to a child"
    assert split_self_instruct(text) == [
        "List three colours.",
        "Name the capital of france",  # the published code's str.capitalize lower-cases the rest
        "Explain tides to a child",
    ]
    assert split_self_instruct(text, capitalize=False)[1] == "name the capital of FRANCE"


def test_clean_instruction() -> None:
    assert clean_instruction("  Sort these\n numbers:  ") == "Sort these numbers"


def test_split_alpaca() -> None:
    reply = (
        " Name a fruit that is red.\n4. Input:\n<noinput>\n4. Output:\nA strawberry.\n###\n"
        "5. Instruction: Translate to French.\n5. Input:\nHello\n5. Output:\nBonjour\n###\n"
        "6. Instruction: Broken task without fields\n###\n"
        "7. Instruction: Cut off here.\n7. Input:\nx\n7. Output:\nhal"
    )
    tasks = split_alpaca(reply, 3, "length")
    assert (tasks[0].instruction, tasks[0].input, tasks[0].output) == (
        "Name a fruit that is red.",
        "",
        "A strawberry.",
    )
    assert (tasks[1].instruction, tasks[1].input, tasks[1].output) == (
        "Translate to French.",
        "Hello",
        "Bonjour",
    )
    assert tasks[2].error == "unparseable" and tasks[3].error == "cut-off"
    assert split_alpaca(reply, 3, "stop")[3].error is None


def test_instances_input_first() -> None:
    text = "Example 1\nInput: 2 + 2\nOutput: 4\nExample 2\nInput: 3 + 3\nOutput: 6\nExample 3\nInput: 4 +"
    # a last example cut before its output parses to nothing (then the clean-up drops it as empty)
    assert parse_generation_instances(text, "stop") == [("2 + 2", "4"), ("3 + 3", "6"), ("", "")]
    assert parse_generation_instances(text, "length") == [("2 + 2", "4"), ("3 + 3", "6")]
    assert parse_generation_instances("Output: a haiku about rain", "stop") == [("", "a haiku about rain")]
    assert parse_generation_instances("just some words", "stop") == []
    assert parse_input_output("Input: a\nOutput: b\nInput: c\nOutput: d") == ("a", "b")


def test_instances_output_first() -> None:
    text = "Class label: Positive\nSentence: Great food.\nClass label: Negative\nSentence: Cold soup."
    assert parse_classification_instances(text, "stop") == [
        ("Sentence: Great food.", "Positive"),
        ("Sentence: Cold soup.", "Negative"),
    ]
    assert parse_classification_instances(text, "length") == [("Sentence: Great food.", "Positive")]
    assert parse_classification_instances("no labels here", "stop") == []


@pytest.mark.parametrize(
    ("given", "output", "reason"),
    [
        ("x", "x", "input-equals-output"),
        ("x", "", "empty-output"),
        ("Name:", "Bob", "ends-with-colon"),
        ("Bob", "The answer is:", "ends-with-colon"),
        ("", "A fine answer", None),
    ],
)
def test_instance_filter(given: str, output: str, reason: str | None) -> None:
    assert instance_filter(given, output) == reason


def test_conflicting_inputs() -> None:
    assert conflicting_inputs([("a", "1"), ("a", "2")])
    assert not conflicting_inputs([("a", "1"), ("a", "1"), ("b", "2")])
    assert not conflicting_inputs([("", "1"), ("", "2")])  # empty inputs never conflict


@pytest.mark.parametrize(("text", "answer"), [(" Yes", True), ("no.", False), (" Maybe", None), ("", None)])
def test_parse_yes_no(text: str, answer: bool | None) -> None:
    assert parse_yes_no(text) is answer
