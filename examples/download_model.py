"""Search the model catalogue and download the best match, with a progress bar.

python examples/download_model.py [HOST] [SEARCH_TERM]

HOST is LM Studio, or the embedded server started with a catalogue:
    lmstudio-sdk catalog init ./my-catalogue          # once: describe its GGUF files
    lmstudio-sdk serve --catalog ./my-catalogue --models-dir ./models
Without HOST, LM Studio is found on this machine. Ctrl-C cancels the download cleanly.
"""

from __future__ import annotations

import sys

import lmstudio_sdk as lms


def bar(update: lms.DownloadProgressUpdate, width: int = 30) -> str:
    fraction = update.downloaded_bytes / update.total_bytes if update.total_bytes else 0.0
    filled = int(fraction * width)
    return (
        f"\r[{'#' * filled}{'.' * (width - filled)}] {fraction:4.0%} "
        f"{update.downloaded_bytes / 1e6:.1f}/{update.total_bytes / 1e6:.1f} MB "
        f"at {update.speed_bytes_per_second / 1e6:.1f} MB/s"
    )


def main(host: str | None, term: str) -> None:
    with lms.Client(host) as client:
        results = client.repository.search_models(term, limit=5)
        if not results:
            sys.exit(f"nothing matches {term!r}")
        best = results[0]
        options = best.get_download_options()
        option = next((o for o in options if o.recommended), options[0])
        print(f"{best.name}: {option.name} ({option.size_bytes / 1e6:.1f} MB)")
        key = option.download(
            on_progress=lambda update: print(bar(update), end="", flush=True),
            on_start_finalizing=lambda: print("\nchecking and installing..."),
        )
        print(f"downloaded: load it with client.llm.model({key!r})")


if __name__ == "__main__":
    main(
        sys.argv[1] if len(sys.argv) > 1 else None,
        sys.argv[2] if len(sys.argv) > 2 else "smollm2",
    )
