"""``lmstudio-sdk chat``: a streamed chat with LM Studio, or with the embedded server.

``DESCRIPTION`` (what ``--help`` shows) says where it connects.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import threading
import time
from collections.abc import Iterator
from typing import IO, Any

import lmstudio_sdk as lms
from lmstudio_sdk._transport.common import DISCOVERY_PORTS
from lmstudio_sdk._transport.sync import find_local_server
from lmstudio_sdk.server import ServerThread
from lmstudio_sdk.server.engines import create_engine

from .arguments import existing_dir, non_empty_text

DEFAULT_EMBEDDED_MODEL = "smollm2-135m-instruct"

DESCRIPTION = """\
Stream a chat with LM Studio, or with the embedded server.

Where it connects, in order: --host; else an LM Studio running on this machine (found on its
discovery ports); else the embedded server, started in this process with the llama.cpp engine
on the models folder ('lmstudio-sdk models install smollm2' puts SmolLM2 there)."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "chat",
        help="stream a chat with a local LLM",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "prompt",
        nargs="?",
        type=non_empty_text,
        help="one message; without it, an interactive chat (Ctrl-C stops a reply, "
        "Ctrl-D or an empty line ends the chat)",
    )
    parser.add_argument(
        "--model",
        help="model key or identifier (default: any loaded LLM, or "
        f"{DEFAULT_EMBEDDED_MODEL} on the embedded server)",
    )
    parser.add_argument("--host", help="LM Studio address, 'host:port' or ws:// URL")
    parser.add_argument("--api-token", help="LM Studio API token (default: $LM_API_TOKEN)")
    parser.add_argument(
        "--embedded",
        action="store_true",
        help="always use the embedded server, even if LM Studio is running",
    )
    parser.add_argument(
        "--models-dir", type=existing_dir, help="models folder for the embedded server"
    )
    parser.add_argument("--threads", type=int, help="CPU threads for the embedded engine")
    parser.add_argument("--system", help="system prompt")
    parser.add_argument(
        "--max-tokens",
        type=int,
        default=256,
        help="most tokens per reply (default: %(default)s)",
    )
    parser.add_argument(
        "--temperature", type=float, help="sampling temperature (default: the model's)"
    )
    parser.set_defaults(func=run)


@contextlib.contextmanager
def _embedded_server(args: argparse.Namespace) -> Iterator[str]:
    print("No LM Studio found; starting the embedded server (llama.cpp)…", file=sys.stderr)
    with ServerThread(
        engine_factory=lambda: create_engine(
            "llama", models_dir=args.models_dir, n_threads=args.threads
        ),
        port=0,
    ) as handle:
        yield handle.url


def run(args: argparse.Namespace) -> int:
    with contextlib.ExitStack() as stack:
        # The SDK's warnings (a prompt cut to fit the context…) on their own line.
        handler = _ReplyAwareHandler(sys.stderr)
        logging.getLogger("lmstudio_sdk").addHandler(handler)
        stack.callback(logging.getLogger("lmstudio_sdk").removeHandler, handler)
        host = args.host
        embedded = False
        if host is None and not args.embedded:
            port = find_local_server(DISCOVERY_PORTS, 1.0)
            host = f"127.0.0.1:{port}" if port is not None else None
        if host is None:
            try:
                host = stack.enter_context(_embedded_server(args))
            except Exception as exc:  # missing engine or models: say how to get them
                print(f"error: could not start the embedded server: {exc}", file=sys.stderr)
                return 1
            embedded = True
        client = stack.enter_context(lms.Client(host, api_token=args.api_token, timeout=120))
        try:
            model = _pick_model(client, args.model, embedded)
        except lms.LMStudioError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"[{model.identifier} @ {client.base_url}]", file=sys.stderr)
        history: list[lms.ChatMessageDict] = []
        if args.system:
            history.append({"role": "system", "content": args.system})
        interactive = args.prompt is None
        prompts = _interactive_prompts() if interactive else [args.prompt]
        for prompt in prompts:
            history.append({"role": "user", "content": prompt})
            try:
                reply = _stream_reply(model, history, args, interruptible=interactive)
            except lms.LMStudioError as exc:
                print(f"\nerror: {exc}", file=sys.stderr)
                return 1
            history.append({"role": "assistant", "content": reply})
    return 0


def _pick_model(client: lms.Client, key: str | None, embedded: bool) -> lms.LLM:
    if key is not None:
        return client.llm.model(key, on_progress=_load_progress)
    if embedded:
        return client.llm.model(DEFAULT_EMBEDDED_MODEL, on_progress=_load_progress)
    loaded = client.llm.list_loaded()
    if loaded:
        return loaded[0]
    downloaded = client.system.list_downloaded_models("llm")
    if not downloaded:
        raise lms.ModelNotFoundError(lms.ErrorData(title="LM Studio has no LLM downloaded"))
    return client.llm.model(downloaded[0].model_key, on_progress=_load_progress)


def _load_progress(progress: float) -> None:
    """A progress bar on a terminal; on a pipe, only the start and the end (no \r noise)."""
    if not sys.stderr.isatty():
        if progress >= 1.0:
            print("model loaded", file=sys.stderr)
        return
    width = 30
    filled = round(progress * width)
    end = "\n" if progress >= 1.0 else ""
    print(
        f"\rloading [{'#' * filled}{'.' * (width - filled)}] {progress:4.0%}",
        end=end,
        file=sys.stderr,
        flush=True,
    )


def _interactive_prompts() -> Iterator[str]:
    print(
        "Interactive chat; Ctrl-C stops a reply, an empty line or Ctrl-D ends the chat.",
        file=sys.stderr,
    )
    while True:
        try:
            line = input("> ")
        except EOFError:
            return
        if not line.strip():
            return
        yield line


def _stream_reply(
    model: lms.LLM,
    history: list[lms.ChatMessageDict],
    args: argparse.Namespace,
    *,
    interruptible: bool,
) -> str:
    """Print the reply as it comes. With ``interruptible``, Ctrl-C stops the reply (the stream
    cancels the prediction) and the chat goes on with what was said so far, as `ollama run`."""
    config: lms.LlmPredictionConfigDict = {"max_tokens": args.max_tokens}
    if args.temperature is not None:
        config["temperature"] = args.temperature
    started = time.monotonic()
    waiting = PromptWait(sys.stderr)
    stream = model.respond_stream(
        history, config=config, on_prompt_processing_progress=waiting.update
    )
    interrupted = False
    waiting.start()
    try:
        for fragment in stream:
            waiting.stop()
            _ReplyAwareHandler.line_open = True
            print(fragment.content, end="", flush=True)
    except KeyboardInterrupt:
        if not interruptible:
            raise
        interrupted = True
    finally:
        waiting.stop()
    result = stream.result()
    _end_reply_line()
    if interrupted:
        print("[interrupted]", file=sys.stderr)
    stats = result.stats
    parts = [f"stop: {stats.stop_reason}"]
    if stats.predicted_tokens_count is not None:
        parts.append(f"{stats.predicted_tokens_count} tokens")
    if stats.tokens_per_second is not None:
        parts.append(f"{stats.tokens_per_second:.1f} tok/s")
    if stats.time_to_first_token_sec is not None:
        parts.append(f"first token after {stats.time_to_first_token_sec * 1000:.0f} ms")
    parts.append(f"{time.monotonic() - started:.2f} s total")
    print("[" + ", ".join(parts) + "]", file=sys.stderr)
    return result.content


def _end_reply_line() -> None:
    if _ReplyAwareHandler.line_open:
        _ReplyAwareHandler.line_open = False
    print()


class _ReplyAwareHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Prints SDK warnings as ``[warning: …]``, ending an open reply line first so the two
    do not run together."""

    line_open = False  # a reply is being printed without its newline yet

    def __init__(self, stream: IO[str]) -> None:
        super().__init__(stream)
        self.setLevel(logging.WARNING)
        self.setFormatter(logging.Formatter("[%(levelname)s: %(message)s]"))

    def emit(self, record: logging.LogRecord) -> None:
        if type(self).line_open:
            type(self).line_open = False
            print(flush=True)
        super().emit(record)


class PromptWait:
    """A spinner, with the prompt-processing progress when the server reports it, from the
    request until the first token: a long prompt can take seconds on a CPU. Drawn on a terminal
    only (nothing on a pipe), on its own thread so it turns while the stream waits."""

    FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

    def __init__(self, stream: IO[str], *, delay: float = 0.25, interval: float = 0.1) -> None:
        self._stream = stream
        self._enabled = stream.isatty()
        self._delay = delay  # a quick first token shows no spinner at all
        self._interval = interval
        self._progress: float | None = None
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._drawn = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._enabled and self._thread is None and not self._stopped.is_set():
            self._thread = threading.Thread(target=self._run, name="prompt-wait", daemon=True)
            self._thread.start()

    def update(self, progress: float) -> None:
        """The on_prompt_processing_progress callback (0 to 1)."""
        self._progress = progress

    def stop(self) -> None:
        """Stop and clear the line (idempotent, cheap: called on every fragment)."""
        if self._stopped.is_set():
            return
        with self._lock:
            self._stopped.set()
            if self._drawn:
                self._stream.write("\r\x1b[K")
                self._stream.flush()
        if self._thread is not None:
            self._thread.join(timeout=1.0)

    def _run(self) -> None:
        started = time.monotonic()
        if self._stopped.wait(self._delay):
            return
        frame = 0
        while not self._stopped.is_set():
            progress = self._progress
            shown = f" {progress:4.0%}" if progress is not None else ""
            text = (
                f"{self.FRAMES[frame % len(self.FRAMES)]} processing the prompt{shown} "
                f"({time.monotonic() - started:.1f} s)"
            )
            with self._lock:
                if self._stopped.is_set():
                    return
                self._stream.write("\r" + text + "\x1b[K")
                self._stream.flush()
                self._drawn = True
            frame += 1
            self._stopped.wait(self._interval)
