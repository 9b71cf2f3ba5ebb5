"""The llama.cpp engine, one module per job.

``engine`` lists and loads models (``load_config`` translates LM Studio's load keys,
``runtime`` wraps llama-cpp-python itself); ``model`` is one loaded instance; a prediction runs
``prediction`` → ``prompting`` (``templates``, ``tools``) → ``generation`` (``sampling``
settings), with ``vision`` for images. llama_cpp is imported on first use only.
"""

from __future__ import annotations

from .engine import LlamaEngine
from .model import LlamaLoadedModel
from .runtime import default_thread_count

__all__ = ["LlamaEngine", "LlamaLoadedModel", "default_thread_count"]
