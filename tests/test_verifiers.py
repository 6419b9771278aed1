"""Verifiers for rejection sampling: answer extraction and comparison, the Python sandbox, problem files."""

from __future__ import annotations

import builtins
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from generators.verifiers import (
    AnswerVerifier,
    Problem,
    PythonVerifier,
    Verdict,
    Verifier,
    extract_code,
    extract_final_answer,
    load_problems,
    network_namespace_available,
    parse_number,
    verifier_for,
)
from provenance.core.errors import InputError

GSM8K_SOLUTION = (
    "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n"
    "Natalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n"
    "#### 72"
)
ADD = Problem("add-1", "Write add(a, b).", None, ("assert add(2, 3) == 5", "assert add(-1, 1) == 0"))


def answer_problem(answer: str | None) -> Problem:
    return Problem("q1", "How many clips?", answer, ())


@pytest.fixture(scope="module")
def python() -> PythonVerifier:
    return PythonVerifier(timeout_s=5, memory_mb=256)


# ---------------------------------------------------------------------------------------------
# extract_final_answer


def test_extracts_the_gsm8k_final_answer() -> None:
    assert extract_final_answer(GSM8K_SOLUTION) == "72"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("First guess #### 5\nOn reflection, no.\n#### 7", "7"),  # the last marker wins
        ("So the total is 72.\n#### 72.", "72"),  # trailing period dropped
        ("#### $1,234\nThat is my answer.", "$1,234"),  # first line only
        ("####\n  18  \n", "18"),
        ("#### New York", "New York"),
    ],
)
def test_extract_final_answer_variants(text: str, expected: str) -> None:
    assert extract_final_answer(text) == expected


@pytest.mark.parametrize("text", ["The answer is 72.", "", "#### ", "####\n\n", "Answer: 72 ###"])
def test_extract_final_answer_is_strict(text: str) -> None:
    assert extract_final_answer(text) is None


# ---------------------------------------------------------------------------------------------
# numbers and AnswerVerifier


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("72", 72),
        ("72.00", 72),
        ("1,234", 1234),
        ("-1,234.5", -1234.5),
        ("$5", 5),
        ("-$5", -5),
        ("50%", 50),
        ("3/4", 0.75),
        ("1e3", 1000),
        ("1.5E-2", 0.015),
        (".5", 0.5),
    ],
)
def test_parse_number(text: str, value: float) -> None:
    from fractions import Fraction

    assert parse_number(text) == Fraction(str(value))


@pytest.mark.parametrize("text", ["", "seventy-two", "1,23", "1/0", "72 dollars", "1e999999", "--5", "1+1"])
def test_parse_number_rejects_non_numbers(text: str) -> None:
    assert parse_number(text) is None


@pytest.mark.parametrize(
    ("reference", "candidate"),
    [
        ("72", "... so she sold 72.0 clips.\n#### 72.0"),
        ("1234", "#### 1,234"),
        ("5", "#### $5"),
        ("0.75", "#### 3/4"),
        ("1000", "#### 1e3"),
        ("-3", "#### -3.00"),
        ("25", "#### 25%"),
        (GSM8K_SOLUTION, "48 + 24 = 72\n#### 72"),  # the reference is itself a GSM8K solution
    ],
)
def test_numeric_answers_match_exactly(reference: str, candidate: str) -> None:
    verdict = AnswerVerifier().verify(candidate, answer_problem(reference))
    assert verdict == Verdict(True, "match", verdict.details)
    assert verdict.details["compared"] == "number"


@pytest.mark.parametrize(
    ("reference", "candidate"),
    [
        ("72", "#### 73"),
        ("0.3", "#### 0.30000000000000004"),  # exact rationals, no float rounding
        ("1234", "#### 1,234.5"),
        ("0.75", "#### 3/5"),
        (GSM8K_SOLUTION, "#### 24"),
    ],
)
def test_numeric_mismatches(reference: str, candidate: str) -> None:
    verdict = AnswerVerifier().verify(candidate, answer_problem(reference))
    assert not verdict.ok
    assert verdict.reason == "mismatch"
    assert verdict.details["got"] == extract_final_answer(candidate)


def test_text_answers_match_case_insensitively_with_collapsed_whitespace() -> None:
    verifier = AnswerVerifier()
    match = verifier.verify("The capital is...\n#### new   YORK", answer_problem("New York"))
    assert match.ok and match.reason == "match"
    assert match.details == {"expected": "New York", "got": "new   YORK", "compared": "text"}
    assert verifier.verify("#### Boston", answer_problem("New York")).reason == "mismatch"


def test_no_final_answer_is_no_answer() -> None:
    verdict = AnswerVerifier().verify("I think it is 72.", answer_problem("72"))
    assert verdict == Verdict(False, "no-answer", {"expected": "72", "got": None})


def test_exact_mode_compares_strings_only() -> None:
    verifier = AnswerVerifier(mode="exact")
    assert verifier.verify("#### 72", answer_problem("72")).ok
    assert verifier.verify("#### 72.0", answer_problem("72")).reason == "mismatch"
    assert verifier.verify("#### paris", answer_problem("Paris")).reason == "mismatch"


def test_number_mode_requires_numbers() -> None:
    verifier = AnswerVerifier(mode="number")
    assert verifier.verify("#### 72.0", answer_problem("72")).ok
    assert verifier.verify("#### seventy-two", answer_problem("72")).reason == "no-answer"
    text_reference = verifier.verify("#### 5", answer_problem("paris"))
    assert (text_reference.reason, text_reference.details["compared"]) == ("mismatch", "number")


def test_model_output_is_never_evaluated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("eval/exec called")

    monkeypatch.setattr(builtins, "eval", refuse)
    monkeypatch.setattr(builtins, "exec", refuse)
    marker = tmp_path / "evaluated"
    verifier = AnswerVerifier()
    pid = verifier.verify("#### __import__('os').getpid()", answer_problem(str(os.getpid())))
    assert (pid.ok, pid.reason, pid.details["compared"]) == (False, "mismatch", "text")
    arithmetic = verifier.verify("#### 1+1", answer_problem("2"))
    assert (arithmetic.ok, arithmetic.reason) == (False, "mismatch")
    touch = verifier.verify(f"#### __import__('pathlib').Path({str(marker)!r}).touch()", answer_problem("0"))
    assert touch.reason == "mismatch"
    assert not marker.exists()


def test_answer_verifier_needs_a_reference() -> None:
    with pytest.raises(InputError, match="no reference answer"):
        AnswerVerifier().verify("#### 1", Problem("p", "q", None, (), line=4))


def test_verdict_as_dict_is_json_and_a_copy() -> None:
    verdict = AnswerVerifier().verify("#### 72.0", answer_problem("72"))
    data = verdict.as_dict()
    assert json.loads(json.dumps(data)) == {
        "ok": True,
        "reason": "match",
        "details": {"expected": "72", "got": "72.0", "compared": "number"},
    }
    data["details"]["got"] = "changed"
    assert verdict.details["got"] == "72.0"


# ---------------------------------------------------------------------------------------------
# extract_code


@pytest.mark.parametrize(
    ("candidate", "code"),
    [
        (
            "Here is my solution:\n```python\ndef f():\n    return 1\n```\nIt returns 1.",
            "def f():\n    return 1",
        ),
        ("```py\nx = 1\n```", "x = 1"),
        ("Code:\n```\nx = 2\n```\n", "x = 2"),
        ("```text\nnot code\n```\n```python\nx = 3\n```\n```python\nx = 4\n```", "x = 3"),
        ("def f():\n    return 5\n", "def f():\n    return 5"),
        ("```python\nx = 6\n", "x = 6"),  # a reply cut off before its closing fence
    ],
)
def test_extract_code(candidate: str, code: str) -> None:
    assert extract_code(candidate) == code


# ---------------------------------------------------------------------------------------------
# PythonVerifier


def test_correct_solution_passes(python: PythonVerifier) -> None:
    verdict = python.verify("def add(a, b):\n    return a + b\n", ADD)
    assert verdict.ok and verdict.reason == "passed"
    assert verdict.details["returncode"] == 0
    assert 0 < verdict.details["seconds"] < 5
    json.dumps(verdict.as_dict())


def test_fenced_solution_with_prose_passes(python: PythonVerifier) -> None:
    candidate = "Sure! Here it is:\n\n```python\ndef add(a, b):\n    return a + b\n```\n\nThis adds a and b."
    assert python.verify(candidate, ADD).reason == "passed"


def test_wrong_solution_names_the_failing_assert(python: PythonVerifier) -> None:
    verdict = python.verify("def add(a, b):\n    return a + b + (a < 0)\n", ADD)
    assert (verdict.ok, verdict.reason) == (False, "tests-failed")
    assert verdict.details["failed"] == "assert add(-1, 1) == 0"
    assert verdict.details["exception"] == "AssertionError"
    assert "AssertionError" in verdict.details["stderr_tail"]
    assert len(verdict.details["stderr_tail"]) <= 2000


def test_failing_assert_inside_a_check_function(python: PythonVerifier) -> None:
    tests = (
        "def check(candidate):\n    assert candidate(1) == 2\n    assert candidate(2) == 4",
        "check(double)",
    )
    problem = Problem("dbl", "Write double(x).", None, tests, entry_point="double")
    verdict = python.verify("def double(x):\n    return x * x\n", problem)
    assert verdict.reason == "tests-failed"
    assert verdict.details["failed"] == "assert candidate(1) == 2"


def test_infinite_loop_times_out() -> None:
    started = time.monotonic()
    verdict = PythonVerifier(timeout_s=1).verify("def add(a, b):\n    while True:\n        pass\n", ADD)
    assert (verdict.ok, verdict.reason) == (False, "timeout")
    assert time.monotonic() - started < 4


def test_memory_hog_hits_the_memory_limit(python: PythonVerifier) -> None:
    verdict = python.verify("x = bytearray(2 * 1024**3)\ndef add(a, b):\n    return a + b\n", ADD)
    assert (verdict.ok, verdict.reason) == (False, "memory-limit")
    assert verdict.details["exception"] == "MemoryError"


def test_syntax_error(python: PythonVerifier) -> None:
    verdict = python.verify("def add(a, b)\n    return a + b\n", ADD)
    assert (verdict.ok, verdict.reason) == (False, "syntax-error")
    assert verdict.details["line"] == 1
    assert verdict.details["failed"] == "def add(a, b)"


def test_other_exceptions_crash(python: PythonVerifier) -> None:
    verdict = python.verify("def add(a, b):\n    raise ValueError('boom')\n", ADD)
    assert (verdict.ok, verdict.reason) == (False, "crashed")
    assert verdict.details["exception"] == "ValueError"
    assert verdict.details["failed"] == "raise ValueError('boom')"


@pytest.mark.parametrize("candidate", ["", "\n\n", "```python\n```"])
def test_empty_candidate_is_no_code(python: PythonVerifier, candidate: str) -> None:
    assert python.verify(candidate, ADD) == Verdict(False, "no-code", {})


@pytest.mark.parametrize("exit_call", ["import sys; sys.exit(0)", "import os; os._exit(0)"])
def test_exiting_before_the_tests_does_not_pass(python: PythonVerifier, exit_call: str) -> None:
    verdict = python.verify(f"def add(a, b):\n    return 0\n{exit_call}\n", ADD)
    assert not verdict.ok
    assert verdict.reason == "crashed"


@pytest.mark.parametrize("isolation", ["auto", "audit-hook"])
def test_network_connection_is_refused(isolation: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        candidate = (
            "import socket\n"
            f"socket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'leak')\n"
            "def add(a, b):\n    return a + b\n"
        )
        verdict = PythonVerifier(timeout_s=5, isolation=isolation).verify(candidate, ADD)
        listener.settimeout(0.3)
        with pytest.raises(TimeoutError):
            listener.accept()
    assert not verdict.ok
    assert verdict.reason == "crashed"
    expected = "namespace" if isolation == "auto" and network_namespace_available() else "audit-hook"
    assert verdict.details["network_isolation"] == expected


def test_namespace_alone_blocks_the_network() -> None:
    if not network_namespace_available():
        pytest.skip("unshare network namespaces are not available here")
    # The audit hook does not cover if_nameindex: only the namespace leaves loopback alone.
    tests = (
        "import socket",
        "assert [name for _, name in socket.if_nameindex()] == ['lo'], socket.if_nameindex()",
    )
    verdict = PythonVerifier(isolation="namespace").verify("pass", Problem("net", "p", None, tests))
    assert verdict.reason == "passed", verdict.details["stderr_tail"]
    assert verdict.details["network_isolation"] == "namespace"


@pytest.mark.parametrize(
    "launch",
    [
        "import os\nos.system('touch {marker}')",
        "import subprocess\nsubprocess.run(['touch', '{marker}'])",
        "import os\nos.execv('/usr/bin/touch', ['touch', '{marker}'])",
        "import os\nif os.fork() == 0:\n    open('{marker}', 'w').close()",
    ],
)
def test_starting_processes_is_refused(python: PythonVerifier, tmp_path: Path, launch: str) -> None:
    marker = tmp_path / "launched"
    candidate = launch.format(marker=marker) + "\ndef add(a, b):\n    return a + b\n"
    verdict = python.verify(candidate, ADD)
    assert (verdict.ok, verdict.reason) == (False, "crashed")
    assert verdict.details["exception"] == "PermissionError"
    assert "is not allowed" in verdict.details["stderr_tail"]
    assert not marker.exists()


def test_files_are_written_in_a_private_directory_that_is_removed(
    python: PythonVerifier, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    candidate = (
        "import os\nopen('out.txt', 'w').write('hello')\nassert open('out.txt').read() == 'hello'\n"
        "print(os.getcwd())\ndef add(a, b):\n    return a + b\n"
    )
    verdict = python.verify(candidate, ADD)
    assert verdict.reason == "passed"
    assert not (tmp_path / "out.txt").exists()
    child_cwd = Path(verdict.details["stdout_tail"].strip())
    assert child_cwd != tmp_path
    assert not child_cwd.exists()


def test_writes_outside_the_working_directory_are_refused(python: PythonVerifier, tmp_path: Path) -> None:
    target = tmp_path / "escaped.txt"
    verdict = python.verify(f"open({str(target)!r}, 'w').write('x')\n", ADD)
    assert verdict.details["exception"] == "PermissionError"
    assert not target.exists()


def test_environment_is_not_inherited(python: PythonVerifier, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROVENANCE_TEST_SECRET", "hunter2")
    candidate = "import os\nassert set(os.environ) <= {'PATH', 'LANG', 'LC_CTYPE'}, sorted(os.environ)\n"
    assert python.verify(candidate, Problem("env", "p", None, ("assert True",))).reason == "passed"


def test_output_is_bounded() -> None:
    verifier = PythonVerifier(timeout_s=5, max_output_bytes=4096)
    chatty = verifier.verify("print('x' * 20000)\ndef add(a, b):\n    return a + b\n", ADD)
    assert chatty.reason == "passed"  # too much output is truncated, not a failure by itself
    assert chatty.details["output_truncated"]
    assert len(chatty.details["stdout_tail"]) <= 2000
    flood = verifier.verify("while True:\n    print('x' * 10000)\n", ADD)
    assert (flood.ok, flood.reason) == (False, "output-limit")
    assert flood.details["seconds"] < 4


def test_python_verifier_needs_tests(python: PythonVerifier) -> None:
    with pytest.raises(InputError, match="no tests"):
        python.verify("x = 1", Problem("p", "q", "1", (), line=3))


def test_python_verifier_params() -> None:
    assert PythonVerifier().params() == {
        "timeout_s": 10.0,
        "memory_mb": 512,
        "max_output_bytes": 65536,
        "isolation": "auto",
    }


# ---------------------------------------------------------------------------------------------
# load_problems


def test_load_problems_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "problems.jsonl"
    records = [
        {"id": "gsm-1", "question": "How many clips?", "answer": GSM8K_SOLUTION},
        {"problem": "What is 6*12?", "answer": 72},
        {"id": 7, "prompt": "Write add.", "tests": ["assert add(1, 2) == 3"], "entry_point": "add"},
        {"prompt": "Write neg.", "tests": "assert neg(1) == -1"},
    ]
    lines = [
        json.dumps(records[0]),
        "",
        json.dumps(records[1]),
        json.dumps(records[2]),
        json.dumps(records[3]),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    problems = load_problems(path)
    assert problems == [
        Problem("gsm-1", "How many clips?", GSM8K_SOLUTION, (), None, 1),
        Problem("3", "What is 6*12?", "72", (), None, 3),
        Problem("7", "Write add.", None, ("assert add(1, 2) == 3",), "add", 4),
        Problem("5", "Write neg.", None, ("assert neg(1) == -1",), None, 5),
    ]
    assert AnswerVerifier().verify("#### 72", problems[0]).ok


def test_load_problems_json_list_keeps_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "problems.json"
    path.write_text(
        '[\n  {"question": "a?", "answer": "1"},\n\n  {"question": "b?",\n   "answer": 2.5}\n]\n',
        encoding="utf-8",
    )
    problems = load_problems(path)
    assert [(p.problem_id, p.line, p.answer) for p in problems] == [("2", 2, "1"), ("4", 4, "2.5")]


@pytest.mark.parametrize(
    ("content", "line", "fragment"),
    [
        ('{"question": "a"}\n{"question": "b"\n', 2, "not JSON"),
        ('{"question": "a"}\n{"answer": "1"}\n', 2, "missing question"),
        ('{"question": "a"}\n\n["not", "an", "object"]\n', 3, "must be a JSON object"),
        ('{"question": "a", "tests": ["assert 1", 2]}\n', 1, "tests must be a string or a list of strings"),
        ('{"question": "   "}\n', 1, "question must be a non-empty string"),
        ('{"question": "a", "answer": true}\n', 1, "answer must be a string or a number"),
        (
            '{"id": "x", "question": "a"}\n{"question": "b"}\n{"id": "x", "question": "c"}\n',
            3,
            "duplicate id 'x'",
        ),
        ("", 1, "empty file"),
        ("  \n\n", 1, "empty file"),
        ('[\n  {"question": "a"},\n  {"question": "b"}\n  {"question": "c"}\n]', 4, "expected ','"),
        ('[\n  {"question": "a"},\n  42\n]', 3, "must be a JSON object"),
    ],
)
def test_load_problems_errors_name_file_and_line(
    tmp_path: Path, content: str, line: int, fragment: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_problems(path)
    assert caught.value.path == str(path)
    assert caught.value.line == line
    assert str(caught.value).startswith(f"{path}:{line}: ")
    assert fragment in str(caught.value)


def test_load_problems_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_problems(tmp_path / "absent.jsonl")


# ---------------------------------------------------------------------------------------------
# verifier_for


def test_verifier_for_builds_configured_verifiers() -> None:
    answer = verifier_for("answer", mode="number")
    python = verifier_for("python", timeout_s=3, memory_mb=128)
    assert isinstance(answer, AnswerVerifier) and isinstance(answer, Verifier)
    assert (answer.name, answer.params()) == ("answer", {"mode": "number"})
    assert isinstance(python, PythonVerifier) and isinstance(python, Verifier)
    assert python.name == "python"
    assert python.params()["timeout_s"] == 3.0 and python.params()["memory_mb"] == 128


@pytest.mark.parametrize(
    ("name", "settings", "fragment"),
    [
        ("lean", {}, "known: answer, python"),
        ("answer", {"mode": "fuzzy"}, "unknown answer mode"),
        ("answer", {"timeout_s": 3}, "bad settings"),
        ("python", {"timeout_s": 0}, "timeout_s must be positive"),
        ("python", {"isolation": "none"}, "unknown isolation"),
    ],
)
def test_verifier_for_rejects_bad_names_and_settings(
    name: str, settings: dict[str, object], fragment: str
) -> None:
    with pytest.raises(InputError, match=fragment):
        verifier_for(name, **settings)


def test_verifier_module_imports_nothing_heavy() -> None:
    heavy = "{'torch', 'transformers', 'numpy'}"
    code = f"import sys, generators.verifiers; print(sorted({heavy} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "forge",
    [
        # walk up the frames to the verifier's report file and write a pass into it
        "import sys, os\nf = sys._getframe(0)\nwhile f is not None and 'report' not in f.f_locals:\n"
        "    f = f.f_back\nif f is not None:\n    f.f_locals['report'].write('{\"status\": \"ok\"}')\n"
        "    f.f_locals['report'].close()\nos._exit(0)",
        # write a pass report through every open file descriptor
        'import os\nfor fd in range(3, 64):\n    try:\n        os.write(fd, b\'{"status": "ok"}\')\n'
        "    except OSError:\n        pass\nos._exit(0)",
        # look at every thread's frames
        "import sys, os\nsys._current_frames()\nos._exit(0)",
    ],
)
def test_a_candidate_cannot_forge_a_pass(python: PythonVerifier, forge: str) -> None:
    verdict = python.verify(f"```python\n{forge}\n```", ADD)
    assert not verdict.ok and verdict.reason == "crashed"
