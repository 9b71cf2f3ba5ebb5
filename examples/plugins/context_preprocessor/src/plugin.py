"""A prompt preprocessor: prepends the notes of a folder that share the most words with the
user's message (a tiny retrieval step), and shows its progress as status lines.

Run it:  lmstudio-sdk plugin dev examples/plugins/context_preprocessor
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from lmstudio_sdk.plugin import HookError, Numeric, PreprocessorController, Slider, Text


@dataclass
class Config:
    folder: Annotated[str, Text(label="Notes folder", hint="Folder of .txt/.md notes")] = ""
    top_k: Annotated[int, Numeric(label="Notes to add", min=1, max=5, slider=Slider(1, 5, 1))] = 1
    enabled: bool = True


WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> set[str]:
    return set(WORD.findall(text.lower()))


def preprocess_prompt(ctl: PreprocessorController[Config, None], text: str) -> str | None:
    config = ctl.config
    if not config.enabled or not config.folder:
        return None  # unchanged
    folder = Path(config.folder)
    if not folder.is_dir():
        raise HookError(
            f"the notes folder {folder} does not exist", suggestion="Set 'folder' in the config."
        )
    status = ctl.status("Searching notes…")
    asked = words(text)
    scored = []
    for path in sorted(folder.glob("*")):
        if path.suffix in (".txt", ".md"):
            note = path.read_text(encoding="utf-8")
            scored.append((len(asked & words(note)), path.name, note.strip()))
    best = [s for s in sorted(scored, key=lambda s: (-s[0], s[1])) if s[0] > 0][: config.top_k]
    status.update(f"Added {len(best)} note(s)", "done")
    if not best:
        return None
    context = "\n".join(f"[{name}] {note}" for _, name, note in best)
    return f"Context:\n{context}\n\nQuestion: {text}"
