"""Run the official ``lmstudio`` 1.5.0 Python SDK's own live test suite against our server.

The suite is the ``tests/`` folder of the ``lmstudio==1.5.0`` sdist from PyPI (downloaded by
``scripts/bootstrap.sh --dev`` into ``build/official-suite/``, with a small venv there holding
pytest < 9 and the suite's pytest plugins). Its ``Client()`` finds a server only through the
greeting on LM Studio's discovery ports, 41343 first, so our server listens on 41343 and serves
our bundled models under the model keys the suite expects (``--alias``).

The outcome of every test is compared with ``expected_failures.txt``: strict semantics, a
listed test that passes is reported as much as an unlisted one that fails.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tarfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "build" / "official-suite"
VERSION = "1.5.0"
SDIST = CACHE / f"lmstudio-{VERSION}.tar.gz"
SUITE_DIR = CACHE / f"lmstudio-{VERSION}"  # the sdist unpacked
VENV_PYTHON = CACHE / "venv" / "bin" / "python"
EXPECTED_FAILURES = Path(__file__).with_name("expected_failures.txt")
PORT = 41343  # the first discovery port: the only way the suite's Client() finds a server

SETUP_HINT = "run `scripts/bootstrap.sh --dev` (it downloads the sdist and builds the venv)"

# The suite's model keys → our bundled models: (alias NAME as publisher/repo, our model key).
# The publisher/repo names are the suite's EXPECTED_* paths, so both its keys and its paths
# resolve. Its text LLMs must not see images (it checks that they refuse them), so SmolLM2
# is served without its vision projector, and the VLM from a copy with it (VISION_FOLDER).
VISION_FOLDER = ("lmstudio-sdk", "SmolLM2-135M-Instruct-Vision-GGUF")
VISION_KEY = "smollm2-135m-instruct-vision"
ALIASES = (
    ("hugging-quants/llama-3.2-1b-instruct", "smollm2-135m-instruct"),
    ("ZiangWu/MobileVLM_V2-1.7B-GGUF", VISION_KEY),
    ("lmstudio-community/Qwen2.5-7B-Instruct-1M-GGUF", "smollm2-135m-instruct"),
    ("nomic-ai/nomic-embed-text-v1.5", "text-embedding-all-minilm-l6-v2"),
)

# The official test that needs the plugin examples of the git repository (not in the sdist).
PLUGIN_EXAMPLES_MODULE = "tests/test_plugin_examples.py"


class SetupError(Exception):
    """The suite cannot run here; the message says why and how to fix it."""


# -- expected failures -------------------------------------------------------------------------


@dataclass(slots=True)
class ExpectedFailures:
    """``nodeid → reason``, read from the file's ``## reason`` groups."""

    reasons: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path = EXPECTED_FAILURES) -> ExpectedFailures:
        result = cls()
        reason: str | None = None
        for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            line = raw.strip()
            if not line or (line.startswith("#") and not line.startswith("## ")):
                continue
            if line.startswith("## "):
                reason = line[3:].strip()
                if not reason:
                    raise ValueError(f"{path.name}:{n}: a '## ' group needs a reason")
                continue
            if reason is None:
                raise ValueError(f"{path.name}:{n}: {line!r} comes before any '## reason'")
            if line in result.reasons:
                raise ValueError(f"{path.name}:{n}: {line!r} is listed twice")
            result.reasons[line] = reason
        return result


# -- outcomes ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Outcome:
    passed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # nodeid → first line of the error
    skipped: dict[str, str] = field(default_factory=dict)


def _nodeid(classname: str, name: str) -> str:
    """junit's ``classname``/``name`` back to a pytest node id (module path :: name)."""
    if not classname:  # a collection error: name is the dotted module
        return name.replace(".", "/") + ".py"
    parts = classname.split(".")
    # The module is the longest prefix that is a file of the suite; the rest is classes.
    for i in range(len(parts), 0, -1):
        candidate = SUITE_DIR / Path(*parts[:i]).with_suffix(".py")
        if candidate.is_file():
            rest = parts[i:]
            return "::".join(["/".join(parts[:i]) + ".py", *rest, name])
    return "/".join(parts) + ".py::" + name


def parse_junit(path: Path) -> Outcome:
    outcome = Outcome()
    for case in ET.parse(path).getroot().iter("testcase"):
        nodeid = _nodeid(case.get("classname", ""), case.get("name", ""))
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        skipped = case.find("skipped")
        if problem is not None:
            message = (problem.get("message") or problem.text or "").strip()
            outcome.failed[nodeid] = message.splitlines()[0][:200] if message else "failed"
        elif skipped is not None:
            outcome.skipped[nodeid] = (skipped.get("message") or "").strip()
        else:
            outcome.passed.append(nodeid)
    return outcome


# -- set-up ------------------------------------------------------------------------------------


def unpacked_suite() -> Path:
    """The sdist's folder (unpacked once from the downloaded sdist)."""
    if not SDIST.is_file():
        raise SetupError(f"the lmstudio {VERSION} sdist is not in {CACHE}: {SETUP_HINT}")
    if not VENV_PYTHON.is_file():
        raise SetupError(f"the suite's venv is not in {CACHE / 'venv'}: {SETUP_HINT}")
    target = SUITE_DIR
    if not (target / "tests" / "conftest.py").is_file():
        with tarfile.open(SDIST) as tar:
            tar.extractall(CACHE, filter="data")
    return target


def prepare_models(root: Path) -> Path:
    """Our bundled models, SmolLM2 without vision, plus SmolLM2 with its vision projector in a
    folder of its own (links to a second install); returns the models folder."""
    from lmstudio_sdk.server.local.model_install import install_models

    served, vision = root / "models", root / "vision"
    install_models(["all"], served, with_vision=False)
    install_models(["smollm2"], vision, with_vision=True)
    target = served.joinpath(*VISION_FOLDER)
    target.mkdir(parents=True, exist_ok=True)
    files = sorted(vision.rglob("*.gguf"))
    if not any(f.name.lower().startswith("mmproj") for f in files):
        raise SetupError(f"no vision projector was installed in {vision}")
    for file in files:
        (target / file.name).symlink_to(file)
    return served


def check_port_free(port: int = PORT) -> None:
    with socket.socket() as sock:
        # SO_REUSEADDR, as the server sets it: a port left in TIME_WAIT is free for it.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            raise SetupError(
                f"port {port} is taken ({exc.strerror}): the official suite's Client() finds a "
                f"server only on LM Studio's discovery ports, {port} first. Stop whatever "
                f"listens there (LM Studio itself, or another `lmstudio-sdk serve`) and rerun."
            ) from None


class Server:
    """``lmstudio-sdk serve --engine llama`` on port 41343 with the suite's model aliases."""

    def __init__(self, models_dir: Path, log: Path) -> None:
        self.models_dir = models_dir
        self.log = log
        self.process: subprocess.Popen[str] | None = None
        self._log_file: IO[str] | None = None

    def start(self) -> None:
        from lmstudio_sdk.server.local.catalog_files import write_manifest

        check_port_free()
        self._log_file = self.log.open("w")
        aliases = [arg for name, key in ALIASES for arg in ("--alias", f"{name}={key}")]
        # A catalogue with no files of its own: search finds the packaged models, and the
        # suite's download of SmolLM2 finds it installed and intact (no internet needed).
        catalog = self.log.parent / "catalog"
        catalog.mkdir(exist_ok=True)
        write_manifest(catalog)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lmstudio_sdk.cli",
                "serve",
                "--engine",
                "llama",
                "--models-dir",
                str(self.models_dir),
                "--port",
                str(PORT),
                "--faithful-errors",  # the suite expects LM Studio's warning-only answers
                "--catalog",
                str(catalog),
                *aliases,
            ],
            stdout=subprocess.PIPE,
            stderr=self._log_file,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if "listening on" not in line:
            self.stop()
            raise SetupError(f"the server did not start: {line!r}; see {self.log}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        if self._log_file is not None:
            self._log_file.close()


def run_suite(suite: Path, junit: Path, log: Path, *, timeout: float) -> float:
    """Prepare the instances as the suite's ``load_models.py`` does, then run its tests marked
    ``lmstudio``; returns the seconds the run took."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_ADDOPTS")}
    env["PYTHONUNBUFFERED"] = "1"
    started = time.monotonic()
    with log.open("w") as out:
        load = subprocess.run(
            [str(VENV_PYTHON), "-m", "tests.load_models"],
            cwd=suite,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=300,
            check=False,
        )
        if load.returncode != 0:
            raise SetupError(f"the suite's load_models.py failed; see {log}")
        out.flush()
        subprocess.run(
            [
                str(VENV_PYTHON),
                "-m",
                "pytest",
                "-p",
                "no:cacheprovider",
                "-m",
                "lmstudio",
                "-q",
                "-rfE",
                "--continue-on-collection-errors",  # the plugin examples are missing
                # Native tracebacks: pytest's own formatting calls ast.parse, which CPython
                # 3.11.7 can crash on while the sync SDK's thread runs ("AST constructor
                # recursion depth mismatch"), ending the session early.
                "--tb=native",
                "--timeout",
                "180",
                f"--junitxml={junit}",
                "tests",
            ],
            cwd=suite,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    return time.monotonic() - started


def verdict(outcome: Outcome, expected: ExpectedFailures) -> tuple[str, list[str]]:
    """The summary line, and every departure from the expected-failures file (strict)."""
    unexpected = {n: e for n, e in outcome.failed.items() if n not in expected.reasons}
    ran = set(outcome.passed) | set(outcome.failed) | set(outcome.skipped)
    # "flaky: …" groups: the stand-in model samples without a seed there, so either outcome
    # is accepted (a pass counts as passed); every other listed test must fail.
    flaky = {n for n, r in expected.reasons.items() if r.startswith("flaky:")}
    now_passing = sorted(n for n in outcome.passed if n in expected.reasons and n not in flaky)
    stale = sorted(n for n in expected.reasons if n not in ran)
    expected_failed = [n for n in outcome.failed if n in expected.reasons]
    line = summary(
        len(outcome.passed) - len(now_passing),
        len(expected_failed),
        len(unexpected) + len(now_passing) + len(stale),
    )
    problems = [f"FAILED (not expected): {n}: {clean(e)}" for n, e in sorted(unexpected.items())]
    problems += [f"PASSED but listed as an expected failure: {n}" for n in now_passing]
    problems += [f"listed but not run (renamed or gone?): {n}" for n in stale]
    return line, problems


def summary(passed: int, expected: int, failed: int) -> str:
    return (
        f"official lmstudio {VERSION} live suite: {passed} passed / {expected} expected "
        f"failures / {failed} failed"
    )


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def clean(text: str) -> str:
    return _ANSI.sub("", text)
