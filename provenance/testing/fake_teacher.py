"""A scripted teacher for :class:`provenance.testing.fake_openai.FakeOpenAI`: answers Self-Instruct,
Alpaca and rejection-sampling prompts in the formats the papers' teachers used, deterministically from the
prompt, with a known share of replies that the filters must reject.

Bootstrap replies continue the numbered list with seven instructions built from a topic list; some
are made to fail a filter on purpose (a blacklisted word, "Write a program", too short, a copy of a
prompt instruction). Classification prompts get "Yes" when the task mentions a label set.
Rejection-sampling prompts are answered correctly for problems whose answer is even.
"""

from __future__ import annotations

import hashlib
import re

from provenance.testing.fake_openai import Received, Reply, completion

TOPICS = [
    "volcanoes", "tax returns", "sourdough bread", "jazz history", "solar panels", "chess openings",
    "rainforests", "password security", "Roman roads", "coral reefs", "marathon training",
    "quantum computing", "urban gardening", "the printing press", "electric cars", "honey bees",
    "medieval castles", "remote work", "glaciers", "board games", "vaccines", "the stock market",
    "origami", "black holes", "recycling", "the Silk Road", "sleep hygiene", "wind turbines",
    "ancient Egypt", "photosynthesis", "credit scores", "hiking boots", "the human heart", "tea",
    "earthquakes", "renaissance art", "submarines", "bird migration", "compost", "typography",
]  # fmt: skip
VERBS = [
    "Explain to a ten-year-old how {t} work in everyday life.",
    "List five surprising facts about {t} that most people do not know.",
    "Write a persuasive paragraph arguing that schools should teach more about {t}.",
    "Suggest three questions a journalist could ask an expert on {t}.",
    "Classify the following statement about {t} as true or false.",
    "Compose a short poem celebrating {t} in exactly four lines.",
    "Describe the main risks associated with {t} and how to reduce them.",
    "Summarize the history of {t} in three sentences for a museum placard.",
]
WORDS = tuple(
    [
        "quickly",
        "carefully",
        "honest",
        "brief",
        "formal",
        "playful",
        "detailed",
        "simple",
        "modern",
        "ancient",
        "local",
        "global",
        "rural",
        "urban",
        "young",
        "elderly",
        "busy",
        "curious",
        "nervous",
        "patient",
        "clever",
        "gentle",
        "bold",
        "quiet",
        "loud",
        "bright",
        "dark",
        "warm",
        "cold",
        "early",
        "late",
        "daily",
        "weekly",
        "yearly",
        "cheap",
        "expensive",
        "rare",
        "common",
        "hidden",
        "famous",
        "strange",
        "useful",
        "fragile",
        "sturdy",
        "neighbor",
        "teacher",
        "doctor",
        "farmer",
        "pilot",
        "chef",
        "student",
        "manager",
        "artist",
        "sailor",
        "nurse",
        "coach",
        "judge",
        "baker",
        "letter",
        "email",
        "speech",
        "recipe",
        "checklist",
        "riddle",
        "story",
        "review",
        "slogan",
        "headline",
        "tweet",
        "dialogue",
        "memo",
        "plan",
        "budget",
        "schedule",
        "itinerary",
        "menu",
        "lesson",
        "quiz",
        "report",
        "guide",
        "toast",
        "apology",
        "invitation",
        "complaint",
        "pitch",
    ]
)
BAD = [
    "Draw a map showing where {t} can be found.",  # blacklisted word
    "Write a program that simulates {t}.",  # Write a program
    "Hi {t}",  # too short
]


def _h(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16)


def _prompt(request: Received) -> str:
    body = request.body if isinstance(request.body, dict) else {}
    if body.get("messages"):
        return str(body["messages"][-1]["content"])
    return str(body.get("prompt", ""))


def bootstrap_text(prompt: str) -> str:
    """Seven new instructions, numbered from 9 (the prompt ends with "9.")."""
    start = int(re.findall(r"(\d+)\.$", prompt.strip())[0])
    seed = _h(prompt)
    lines = []
    for k in range(7):
        r = (seed >> (k * 5)) ^ (seed * (k + 7))
        topic = TOPICS[r % len(TOPICS)]
        if k == 6 and r % 3 == 0:
            text = BAD[(r // 3) % len(BAD)].format(t=topic)
        elif k == 5 and r % 4 == 0:  # repeat an instruction of the prompt: too similar
            text = re.findall(r"\n1\. (.*)\n", prompt)[0]
        else:
            words = [WORDS[(r >> (3 * j)) % len(WORDS)] for j in range(5)]
            text = VERBS[(r // 7) % len(VERBS)].format(t=f"{topic} ({' '.join(words)})")
        lines.append(text)
    out = f" {lines[0]}"
    for i, text in enumerate(lines[1:], start=start + 1):
        out += f"\n{i}. {text}"
    return out


def classification_text(prompt: str) -> str:
    task = prompt.rsplit("Task:", 1)[1]
    return " Yes" if ("true or false" in task or "Classify" in task) else " No"


def instances_text(prompt: str) -> str:
    task = prompt.rsplit("Task:", 1)[1].strip()
    if prompt.startswith("Given the classification task"):
        return (
            "Class label: True\nStatement: It is widely documented.\n"
            "Class label: False\nStatement: It was invented last week."
        )
    seed = _h(task)
    n = 1 + seed % 3
    parts = []
    for i in range(1, n + 1):
        parts.append(f"Example {i}\nInput: case {i} of {task[:30]}\nOutput: answer {i} for {task[:40]}")
    if seed % 5 == 0:  # an instance whose output ends with a colon: dropped by the clean-up
        parts.append(f"Example {n + 1}\nInput: tricky\nOutput: the answer is:")
    return "\n".join(parts)


def alpaca_text(prompt: str) -> str:
    """Tasks numbered from 4 (3 demonstrations), instruction / input / output, ``###``-separated."""
    seed = _h(prompt)
    pieces = []
    for k, number in enumerate(range(4, 12)):
        r = (seed >> (k * 4)) ^ (seed * (k + 3))
        topic = TOPICS[r % len(TOPICS)]
        words = " ".join(WORDS[(r >> (3 * j)) % len(WORDS)] for j in range(5))
        inst = (
            VERBS[(r // 11) % len(VERBS)].format(t=f"{topic} ({words})") if k != 7 else BAD[0].format(t=topic)
        )
        given = "<noinput>" if k % 2 else f"A note about {topic}."
        head = f" {inst}" if k == 0 else f"{number}. Instruction: {inst}"
        pieces.append(
            f"{head}\n{number}. Input:\n{given}\n{number}. Output:\nSomething useful about {topic}."
        )
    return "\n###\n".join(pieces)


def solve_text(prompt: str, sample: int) -> str:
    numbers = [int(x) for x in re.findall(r"\d+", prompt.split("Problem:", 1)[1])]
    total = sum(numbers)
    answer = total if (total % 2 == 0 or sample % 2 == 0) else total + 1
    return f"Adding the numbers gives {total}.\n#### {answer}"


class ScriptedTeacher:
    """FakeOpenAI handler: a well-formed completion with the scripted text. Repeats of one
    rejection-sampling prompt (the k attempts) get different answers, as a sampling teacher would."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def text_for(self, request: Received) -> str:
        """The reply text for a request of any of the generators."""
        prompt = _prompt(request)
        if prompt.startswith("Come up with a series of"):
            return bootstrap_text(prompt)
        if prompt.rstrip().endswith("Is it classification?"):
            return classification_text(prompt)
        if prompt.startswith(("Come up with examples", "Given the classification task")):
            return instances_text(prompt)
        if prompt.startswith("You are asked to come up with a set of 20"):
            return alpaca_text(prompt)
        if prompt.startswith("Solve the following problem"):
            self.seen[prompt] = self.seen.get(prompt, 0) + 1
            return solve_text(prompt, self.seen[prompt])
        if prompt.startswith("Write a Python solution"):
            return "```python\ndef add(a, b):\n    return a + b\n```"
        return "I do not understand."

    def __call__(self, request: Received) -> Reply:
        return Reply(200, completion(request, [self.text_for(request)]))
