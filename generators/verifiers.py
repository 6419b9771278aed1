"""Verifiers for STaR-style rejection sampling: does a teacher's candidate answer the problem?

Two verifiers, chosen by name with :func:`verifier_for`:

- ``answer`` (:class:`AnswerVerifier`) compares the final answer (GSM8K style, after the last
  ``####``) with the reference: exactly as rational numbers when both are numbers, else as text.
  Model output is parsed, never evaluated: nothing here calls ``eval`` or ``exec`` on it.
- ``python`` (:class:`PythonVerifier`) runs the candidate's code followed by the problem's tests in
  a child Python process: isolated mode, a fresh temporary working directory, a minimal
  environment, resource limits (address space, CPU, file size, open files, no core), a wall-clock
  timeout that kills the whole process group, and bounded output capture. Network access is cut
  by a network namespace (``unshare --user --map-root-user --net``) where the machine allows one,
  and always by an audit hook that the child's fixed bootstrap installs before the candidate's
  code runs; the hook also refuses new processes and writes outside the working directory. The
  audit hook is a guard against accidents, not a security boundary against hostile code.

Each verifier returns a :class:`Verdict` whose ``reason`` is a short kebab-case word and whose
``details`` are JSON-serialisable, and reports its configuration with ``params()`` for provenance.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import os
import re
import resource
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from provenance.core.errors import InputError, ProvenanceError

ANSWER_MODES: tuple[str, ...] = ("auto", "number", "exact")
ISOLATION_MODES: tuple[str, ...] = ("auto", "namespace", "audit-hook")
QUESTION_FIELDS: tuple[str, ...] = ("question", "problem", "prompt")

_ANSWER_MARK = "####"
_STDERR_TAIL_CHARS = 2000
_FILE_SIZE_LIMIT = 1024 * 1024  # RLIMIT_FSIZE: the most one file the candidate writes may hold
_OPEN_FILES_LIMIT = 64  # RLIMIT_NOFILE
_FLOOD_FACTOR = 16  # output past this many times max_output_bytes kills the child
_MAX_NUMBER_CHARS = 200  # longer strings are not parsed as numbers
_MAX_EXPONENT = 400  # |exponent| beyond this is not parsed as a number (keeps Fractions small)

_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_GROUPED = re.compile(r"([+-]?)(\d{1,3}(?:,\d{3})+)(\.\d+)?")
_FRACTION = re.compile(r"([+-]?\d+)\s*/\s*([+-]?\d+)")
# An opening fence with its language word, the body, then a closing fence or the end of the text.
_FENCE = re.compile(
    r"```[ \t]*(?P<lang>[^\s`]*)[^\n]*\n(?P<body>.*?)(?:^[ \t]*```|\Z)", re.DOTALL | re.MULTILINE
)
_PYTHON_FENCES = frozenset({"python", "python3", "py", ""})


class SandboxUnavailableError(ProvenanceError):
    """The isolation the verifier was configured to require is not available on this machine."""


@dataclass(frozen=True)
class Verdict:
    """A verifier's decision on one candidate: accepted or not, why, and the evidence."""

    ok: bool
    reason: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The verdict as a plain JSON-serialisable dict (a copy)."""
        return {"ok": self.ok, "reason": self.reason, "details": copy.deepcopy(self.details)}


@dataclass(frozen=True)
class Problem:
    """One problem to verify candidates against, as read by :func:`load_problems`."""

    problem_id: str
    prompt: str
    answer: str | None
    tests: tuple[str, ...]
    entry_point: str | None = None
    line: int | None = None


@runtime_checkable
class Verifier(Protocol):
    """Decides whether a candidate solves a problem."""

    name: str

    def params(self) -> dict[str, Any]:
        """The verifier's configuration, JSON-serialisable."""
        ...

    def verify(self, candidate: str, problem: Problem) -> Verdict:
        """Judge one candidate."""
        ...


# ---------------------------------------------------------------------------------------------
# Answers


def extract_final_answer(text: str) -> str | None:
    """The GSM8K final answer: the first line after the last ``####``, stripped, without a final period.

    Returns None when the text has no ``####`` or nothing follows it.
    """
    if _ANSWER_MARK not in text:
        return None
    tail = text.rsplit(_ANSWER_MARK, 1)[1].strip()
    if not tail:
        return None
    answer = tail.splitlines()[0].strip()
    answer = answer.removesuffix(".").strip()
    return answer or None


def parse_number(text: str) -> Fraction | None:
    """The exact value of a number written as text, or None when it is not one.

    Accepts a sign, thousands separators (``1,234``), a leading ``$``, a trailing ``%`` (dropped,
    not divided by 100), decimals, scientific notation and fractions (``3/4``). Never evaluates.
    """
    s = text.strip()
    if not s or len(s) > _MAX_NUMBER_CHARS:
        return None
    sign = ""
    if s[0] in "+-":
        sign, s = s[0], s[1:].lstrip()
    if s.startswith("$"):
        s = s[1:].lstrip()
    if s.endswith("%"):
        s = s[:-1].rstrip()
    if s[:1] in "+-" and sign:
        return None
    s = sign + s
    grouped = _GROUPED.fullmatch(s)
    if grouped:
        s = grouped.group(1) + grouped.group(2).replace(",", "") + (grouped.group(3) or "")
    if _DECIMAL.fullmatch(s):
        try:
            value = Decimal(s)
        except InvalidOperation:
            return None
        exponent = value.as_tuple().exponent
        if not isinstance(exponent, int) or abs(exponent) > _MAX_EXPONENT:
            return None
        return Fraction(value)
    fraction = _FRACTION.fullmatch(s)
    if fraction:
        numerator, denominator = int(fraction.group(1)), int(fraction.group(2))
        if denominator == 0:
            return None
        return Fraction(numerator, denominator)
    return None


def _normalise_text(text: str) -> str:
    return " ".join(text.split()).casefold()


def _reference_answer(answer: str) -> str:
    if _ANSWER_MARK in answer:
        return extract_final_answer(answer) or ""
    return answer.strip().removesuffix(".").strip()


class AnswerVerifier:
    """Compares the candidate's final answer (after ``####``) with the problem's reference answer.

    ``mode``: ``auto`` compares as numbers when both parse as numbers, else as text (case-insensitive,
    whitespace collapsed); ``number`` requires numbers; ``exact`` compares the stripped strings.
    """

    name = "answer"

    def __init__(self, mode: str = "auto") -> None:
        if mode not in ANSWER_MODES:
            raise InputError(f"unknown answer mode {mode!r}; known: {', '.join(ANSWER_MODES)}")
        self.mode = mode

    def params(self) -> dict[str, Any]:
        """The verifier's configuration."""
        return {"mode": self.mode}

    def verify(self, candidate: str, problem: Problem) -> Verdict:
        """Judge the candidate's final answer against the reference."""
        if problem.answer is None:
            raise InputError(f"problem {problem.problem_id!r} has no reference answer", line=problem.line)
        expected = _reference_answer(problem.answer)
        got = extract_final_answer(candidate)
        if got is None:
            return Verdict(False, "no-answer", {"expected": expected, "got": None})
        if self.mode == "exact":
            return self._decide(expected == got, expected, got, "exact")
        want_number, got_number = parse_number(expected), parse_number(got)
        if want_number is not None and got_number is not None:
            return self._decide(want_number == got_number, expected, got, "number")
        if self.mode == "number":
            if got_number is None:
                return Verdict(False, "no-answer", {"expected": expected, "got": got, "compared": "number"})
            details = {"expected": expected, "got": got, "compared": "number"}
            return Verdict(False, "mismatch", {**details, "error": "the reference answer is not a number"})
        return self._decide(_normalise_text(expected) == _normalise_text(got), expected, got, "text")

    @staticmethod
    def _decide(same: bool, expected: str, got: str, compared: str) -> Verdict:
        details = {"expected": expected, "got": got, "compared": compared}
        return Verdict(True, "match", details) if same else Verdict(False, "mismatch", details)


# ---------------------------------------------------------------------------------------------
# Code

# The child's fixed bootstrap. It runs in the child only: it reads the candidate's source, opens
# the report file, installs the audit hook, then compiles and runs the source as __main__.
# argv: [-c, source path, report path]. Report: one JSON object (status, kind, type, line, text).
_BOOTSTRAP = r"""
import errno, json, linecache, os, sys, threading, traceback, types

def _bootstrap():
    source_path, report_path = sys.argv[1], sys.argv[2]
    token = sys.stdin.readline().strip()  # a secret of this run: the candidate cannot read it
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    with open(source_path, encoding="utf-8") as f:
        source = f.read()
    report = open(report_path, "w", encoding="utf-8")
    workdir = os.path.realpath(os.getcwd())
    filename = "candidate.py"
    lines = source.splitlines(True)
    linecache.cache[filename] = (len(source), None, lines, filename)
    import _posixsubprocess

    def refuse(*args, **kwargs):
        raise PermissionError("sandbox: starting processes is not allowed")

    _posixsubprocess.fork_exec = refuse
    blocked = frozenset((
        "socket.__new__", "socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg",
        "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr", "socket.getnameinfo",
        "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.fork", "os.forkpty",
        "os.kill", "os.killpg", "signal.pthread_kill", "resource.setrlimit",
        "resource.prlimit", "gc.get_objects", "gc.get_referrers", "gc.get_referents",
        "sys._current_frames", "sys.settrace", "sys.setprofile",
    ))
    armed = [True]
    guarded = frozenset((
        "open", "os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.symlink", "os.link",
        "os.chmod", "os.chown", "os.truncate", "os.utime", "shutil.rmtree", "shutil.copyfile",
        "shutil.copymode", "shutil.copystat", "shutil.move",
    ))
    writes = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
    prefix = workdir.rstrip(os.sep) + os.sep
    fspath, fsdecode, abspath = os.fspath, os.fsdecode, os.path.abspath

    def inside(path):
        if isinstance(path, int) or path is None:
            return True
        full = abspath(fsdecode(fspath(path)))
        return full == workdir or full.startswith(prefix) or full == os.devnull

    def hook(event, args):
        if not armed[0]:
            return
        if event in blocked:
            raise PermissionError("sandbox: " + event + " is not allowed")
        if event == "import" and args[0] == "_posixsubprocess":
            raise PermissionError("sandbox: importing _posixsubprocess is not allowed")
        if event not in guarded:
            return
        if event == "open":
            path, mode, flags = args
            writing = (flags & writes) if isinstance(flags, int) else any(c in (mode or "") for c in "wax+")
            if writing and not inside(path):
                raise PermissionError("sandbox: writing outside the working directory is not allowed")
            return
        for arg in args:
            if isinstance(arg, (str, bytes, os.PathLike)) and not inside(arg):
                raise PermissionError("sandbox: " + event + " outside the working directory is not allowed")

    sys.addaudithook(hook)
    module = types.ModuleType("__main__")
    module.__file__ = filename
    sys.modules["__main__"] = module
    result = {"status": "ok"}
    code = 0
    # The candidate runs in a thread of its own: walking up its frames never reaches this one,
    # which holds the run's token (other threads' frames are refused by the hook).
    caught = []

    def run():
        try:
            exec(compile(source, filename, "exec"), module.__dict__)
        except BaseException as e:
            caught.append(e)

    threading.stack_size(64 * 1024 * 1024)
    worker = threading.Thread(target=run, name="candidate", daemon=True)
    worker.start()
    worker.join()
    armed[0] = False
    try:
        if caught:
            raise caught[0]
    except SystemExit as e:
        result = {"status": "error", "kind": "exit", "type": "SystemExit", "message": repr(e.code)[:200]}
        code = 1
    except BaseException as e:
        code = 1
        tb = e.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != filename:
            tb = tb.tb_next
        frames = [fr for fr in traceback.extract_tb(tb) if fr.filename == filename]
        line = frames[-1].lineno if frames else None
        if isinstance(e, SyntaxError):
            kind = "syntax"
            line = e.lineno if e.filename == filename else line
        elif isinstance(e, AssertionError):
            kind = "assertion"
        elif isinstance(e, MemoryError) or (isinstance(e, OSError) and e.errno == errno.ENOMEM):
            kind = "memory"
        else:
            kind = "error"
        text = lines[line - 1].strip() if line and 0 < line <= len(lines) else None
        result = {"status": "error", "kind": kind, "type": type(e).__name__, "message": str(e)[:500],
                  "line": line, "text": text}
        try:
            traceback.print_exception(type(e), e, tb)
        except BaseException:
            pass
    result["token"] = token
    report.write(json.dumps(result))
    report.close()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    os._exit(code)

_bootstrap()
"""


@functools.cache
def network_namespace_available() -> bool:
    """Whether ``unshare --user --map-root-user --net`` can start Python here (probed once)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    command = [unshare, "--user", "--map-root-user", "--net", sys.executable, "-I", "-c", "import socket"]
    try:
        done = subprocess.run(command, capture_output=True, timeout=10, env=_child_env(), check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _child_env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", os.defpath), "LANG": os.environ.get("LANG", "C.UTF-8")}


def extract_code(candidate: str) -> str:
    """The code in a candidate: its first ```python, ```py or bare ``` fenced block, else the whole text.

    A block whose closing fence is missing (a cut-off reply) runs to the end of the text.
    """
    for fence in _FENCE.finditer(candidate):
        if fence.group("lang").lower() in _PYTHON_FENCES:
            return fence.group("body").strip("\n")
    return candidate.strip("\n")


def _rlimits(memory_bytes: int, cpu_seconds: int) -> Callable[[], None]:
    limits = (
        (resource.RLIMIT_AS, memory_bytes, memory_bytes),
        (resource.RLIMIT_CPU, cpu_seconds, cpu_seconds + 1),
        (resource.RLIMIT_FSIZE, _FILE_SIZE_LIMIT, _FILE_SIZE_LIMIT),
        (resource.RLIMIT_NOFILE, _OPEN_FILES_LIMIT, _OPEN_FILES_LIMIT),
        (resource.RLIMIT_CORE, 0, 0),
    )

    def apply() -> None:
        for kind, soft, hard in limits:
            _, current_hard = resource.getrlimit(kind)
            if current_hard != resource.RLIM_INFINITY:
                soft, hard = min(soft, current_hard), min(hard, current_hard)
            resource.setrlimit(kind, (soft, hard))

    return apply


@dataclass
class _Run:
    returncode: int | None
    stdout: bytes
    stderr: bytes
    output_bytes: int
    timed_out: bool
    flooded: bool
    seconds: float


class PythonVerifier:
    """Runs the candidate's code and then the problem's tests in a sandboxed child Python.

    ``timeout_s`` is the wall-clock limit, ``memory_mb`` the address-space limit, ``max_output_bytes``
    how much of stdout and of stderr is kept. ``isolation``: ``auto`` uses a network namespace when
    one is available, ``namespace`` requires one, ``audit-hook`` uses the audit hook only (the hook is
    installed in every mode).
    """

    name = "python"

    def __init__(
        self,
        timeout_s: float = 10.0,
        memory_mb: int = 512,
        max_output_bytes: int = 64 * 1024,
        isolation: str = "auto",
    ) -> None:
        if not timeout_s > 0:
            raise InputError(f"timeout_s must be positive, not {timeout_s!r}")
        if memory_mb < 64:
            raise InputError(f"memory_mb must be at least 64, not {memory_mb!r}")
        if max_output_bytes < 1024:
            raise InputError(f"max_output_bytes must be at least 1024, not {max_output_bytes!r}")
        if isolation not in ISOLATION_MODES:
            raise InputError(f"unknown isolation {isolation!r}; known: {', '.join(ISOLATION_MODES)}")
        self.timeout_s = float(timeout_s)
        self.memory_mb = int(memory_mb)
        self.max_output_bytes = int(max_output_bytes)
        self.isolation = isolation

    def params(self) -> dict[str, Any]:
        """The verifier's configuration."""
        return {
            "timeout_s": self.timeout_s,
            "memory_mb": self.memory_mb,
            "max_output_bytes": self.max_output_bytes,
            "isolation": self.isolation,
        }

    def uses_namespace(self) -> bool:
        """Whether runs go into a network namespace; raises when ``namespace`` is required but missing."""
        if self.isolation == "audit-hook":
            return False
        available = network_namespace_available()
        if self.isolation == "namespace" and not available:
            raise SandboxUnavailableError("isolation 'namespace' is required but unshare does not work here")
        return available

    def verify(self, candidate: str, problem: Problem) -> Verdict:
        """Run the candidate's code followed by the problem's tests and judge the outcome."""
        if not problem.tests:
            raise InputError(f"problem {problem.problem_id!r} has no tests", line=problem.line)
        code = extract_code(candidate)
        if not code.strip():
            return Verdict(False, "no-code", {})
        namespace = self.uses_namespace()
        source = code + "\n\n" + "\n".join(problem.tests) + "\n"
        with tempfile.TemporaryDirectory(prefix="provenance-verify-") as tmp:
            root = Path(tmp)
            workdir = root / "work"
            workdir.mkdir()
            source_path, report_path = root / "candidate.py", root / "report.json"
            source_path.write_text(source, encoding="utf-8")
            command = [sys.executable, "-I", "-B", "-c", _BOOTSTRAP, str(source_path), str(report_path)]
            if namespace:
                unshare = shutil.which("unshare") or "unshare"
                command = [unshare, "--user", "--map-root-user", "--net", *command]
            token = secrets.token_hex(16)
            run = self._run(command, workdir, token)
            try:
                report = json.loads(report_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                report = None
            if not isinstance(report, dict) or report.get("token") != token:
                report = None  # not written by the bootstrap (or forged by the candidate)
        return self._judge(run, report if isinstance(report, dict) else None, namespace, len(code))

    def _run(self, command: list[str], workdir: Path, token: str) -> _Run:
        cpu_seconds = int(self.timeout_s) + 1
        started = time.monotonic()
        deadline = started + self.timeout_s
        proc = subprocess.Popen(
            command,
            cwd=workdir,
            env=_child_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_rlimits(self.memory_mb * 1024 * 1024, cpu_seconds),
        )
        assert proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.write(f"{token}\n".encode())
        proc.stdin.close()
        out, err = bytearray(), bytearray()
        total, timed_out, flooded = 0, False, False
        keep, flood = self.max_output_bytes, self.max_output_bytes * _FLOOD_FACTOR
        try:
            with selectors.DefaultSelector() as selector:
                assert proc.stdout is not None and proc.stderr is not None
                selector.register(proc.stdout, selectors.EVENT_READ, out)
                selector.register(proc.stderr, selectors.EVENT_READ, err)
                while selector.get_map() and not flooded:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        timed_out = True
                        break
                    for key, _ in selector.select(remaining):
                        chunk = os.read(key.fd, 65536)
                        if not chunk:
                            selector.unregister(key.fileobj)
                            continue
                        total += len(chunk)
                        buffer: bytearray = key.data
                        buffer += chunk
                        if len(buffer) > keep:
                            del buffer[: len(buffer) - keep]
                        if total > flood:
                            flooded = True
            if not timed_out and not flooded:
                try:
                    proc.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    timed_out = True
        finally:
            # A process group outlives its leader's pid while any member lives, so this is safe
            # after the leader was reaped too.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        seconds = round(time.monotonic() - started, 3)
        returncode = None if timed_out or flooded else proc.returncode
        return _Run(returncode, bytes(out), bytes(err), total, timed_out, flooded, seconds)

    def _judge(self, run: _Run, report: dict[str, Any] | None, namespace: bool, code_chars: int) -> Verdict:
        stderr = run.stderr.decode("utf-8", errors="replace")
        stdout = run.stdout.decode("utf-8", errors="replace")
        details: dict[str, Any] = {
            "returncode": run.returncode,
            "seconds": run.seconds,
            "stderr_tail": stderr[-_STDERR_TAIL_CHARS:],
            "stdout_tail": stdout[-_STDERR_TAIL_CHARS:],
            "output_truncated": run.output_bytes > len(run.stdout) + len(run.stderr),
            "network_isolation": "namespace" if namespace else "audit-hook",
            "code_chars": code_chars,
        }
        if run.timed_out:
            return Verdict(False, "timeout", {**details, "timeout_s": self.timeout_s})
        if run.flooded:
            return Verdict(False, "output-limit", {**details, "output_bytes": run.output_bytes})
        status = report.get("status") if report else None
        if status == "ok" and run.returncode == 0:
            return Verdict(True, "passed", details)
        if report and status == "error":
            details.update(exception=report.get("type"), message=report.get("message"))
            details["line"] = report.get("line")
            kind = report.get("kind")
            if kind == "syntax":
                return Verdict(False, "syntax-error", {**details, "failed": report.get("text")})
            if kind == "assertion":
                return Verdict(False, "tests-failed", {**details, "failed": report.get("text")})
            if kind == "memory":
                return Verdict(False, "memory-limit", {**details, "memory_mb": self.memory_mb})
            return Verdict(False, "crashed", {**details, "failed": report.get("text")})
        # No usable report: the child was killed by a signal or left without finishing.
        returncode = run.returncode
        if returncode is not None and returncode < 0:
            signum = -returncode
            details["signal"] = signal.Signals(signum).name if signum in signal.valid_signals() else signum
            if signum == signal.SIGXCPU:
                return Verdict(False, "timeout", {**details, "timeout_s": self.timeout_s, "cpu_limit": True})
        if "MemoryError" in stderr or "Cannot allocate memory" in stderr:
            return Verdict(False, "memory-limit", {**details, "memory_mb": self.memory_mb})
        details["exception"] = None
        details["message"] = "the process ended before the tests finished"
        return Verdict(False, "crashed", details)


# ---------------------------------------------------------------------------------------------
# Problems


def load_problems(path: Path) -> list[Problem]:
    """Read problems from a JSON-lines file or a JSON list of records.

    Fields: ``id`` (default: the line number), ``question``/``problem``/``prompt`` (required),
    ``answer`` (string or number), ``tests`` (a string or a list of strings), ``entry_point``.
    Raises :class:`InputError` naming the file and line of anything wrong.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError("no such file", path=path) from None
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8 text ({e.reason} at byte {e.start})", path=path) from None
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", path=path) from None
    stripped = text.lstrip()
    if not stripped:
        raise InputError("empty file: no problems", path=path, line=1)
    records = _json_list(text, path) if stripped.startswith("[") else _json_lines(text, path)
    if not records:
        raise InputError("no problems in the file", path=path, line=1)
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for line, record in records:
        problem = _problem(record, path, line)
        if problem.problem_id in seen:
            raise InputError(
                f"duplicate id {problem.problem_id!r} (first on line {seen[problem.problem_id]})",
                path=path,
                line=line,
            )
        seen[problem.problem_id] = line
        problems.append(problem)
    return problems


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def _json_lines(text: str, path: Path) -> list[tuple[int, Any]]:
    records: list[tuple[int, Any]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            records.append((number, json.loads(raw)))
        except json.JSONDecodeError as e:
            raise InputError(f"not JSON: {e.msg} (column {e.colno})", path=path, line=number) from None
    return records


def _skip_space(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index


def _json_list(text: str, path: Path) -> list[tuple[int, Any]]:
    decoder = json.JSONDecoder()
    records: list[tuple[int, Any]] = []
    index = _skip_space(text, 0) + 1  # past "["
    expect_value = True
    while True:
        index = _skip_space(text, index)
        if index >= len(text):
            raise InputError("not JSON: the list is not closed", path=path, line=_line_of(text, index))
        if text[index] == "]" and (not records or not expect_value):
            index += 1
            break
        if not expect_value:
            if text[index] != ",":
                raise InputError("not JSON: expected ',' or ']'", path=path, line=_line_of(text, index))
            index += 1
            expect_value = True
            continue
        try:
            value, end = decoder.raw_decode(text, index)
        except json.JSONDecodeError as e:
            raise InputError(f"not JSON: {e.msg}", path=path, line=e.lineno) from None
        records.append((_line_of(text, index), value))
        index, expect_value = end, False
    if text[index:].strip():
        raise InputError("not JSON: text after the list", path=path, line=_line_of(text, index))
    return records


def _problem(record: Any, path: Path, line: int) -> Problem:
    if not isinstance(record, dict):
        raise InputError(f"a record must be a JSON object, not {type(record).__name__}", path=path, line=line)
    raw_id = record.get("id")
    if raw_id is None:
        problem_id = str(line)
    elif isinstance(raw_id, str | int) and not isinstance(raw_id, bool) and str(raw_id).strip():
        problem_id = str(raw_id)
    else:
        raise InputError(f"id must be a non-empty string or an integer, not {raw_id!r}", path=path, line=line)
    key = next((k for k in QUESTION_FIELDS if k in record), None)
    if key is None:
        fields = ", ".join(QUESTION_FIELDS)
        raise InputError(f"missing question: one of {fields} is required", path=path, line=line)
    prompt = record[key]
    if not isinstance(prompt, str) or not prompt.strip():
        raise InputError(f"{key} must be a non-empty string", path=path, line=line)
    answer = record.get("answer")
    if answer is not None:
        if isinstance(answer, bool) or not isinstance(answer, str | int | float):
            kind = type(answer).__name__
            raise InputError(f"answer must be a string or a number, not {kind}", path=path, line=line)
        answer = str(answer)
    tests = record.get("tests")
    if tests is None:
        test_tuple: tuple[str, ...] = ()
    elif isinstance(tests, str):
        test_tuple = (tests,)
    elif isinstance(tests, list) and all(isinstance(t, str) for t in tests):
        test_tuple = tuple(tests)
    else:
        raise InputError("tests must be a string or a list of strings", path=path, line=line)
    entry_point = record.get("entry_point")
    if entry_point is not None and not isinstance(entry_point, str):
        raise InputError("entry_point must be a string", path=path, line=line)
    return Problem(problem_id, prompt, answer, test_tuple, entry_point, line)


# ---------------------------------------------------------------------------------------------
# Registry

_VERIFIERS: dict[str, Callable[..., Verifier]] = {"answer": AnswerVerifier, "python": PythonVerifier}


def verifier_for(name: str, **settings: Any) -> Verifier:
    """The verifier called ``name``, configured with ``settings``."""
    factory = _VERIFIERS.get(name)
    if factory is None:
        raise InputError(f"unknown verifier {name!r}; known: {', '.join(sorted(_VERIFIERS))}")
    try:
        return factory(**settings)
    except TypeError as e:
        raise InputError(f"bad settings for verifier {name!r}: {e}") from None
