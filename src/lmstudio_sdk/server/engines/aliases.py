"""Model aliases: serve a model the engine has under other names as well.

``lmstudio-sdk serve --alias NAME=TARGET`` lists the model whose key is ``TARGET`` a second
time, as a downloaded model of its own, and loads that model's file when the alias is loaded.
``NAME`` is either

- ``publisher/repo`` (e.g. ``hugging-quants/llama-3.2-1b-instruct``): the alias gets the path
  ``publisher/repo/<target's file name>`` and the model key LM Studio would give a folder of
  that name (repo lower-cased, without ``-GGUF``, ``text-embedding-`` before embedding
  models), exactly as if the file had been copied there; or
- a plain model key (e.g. ``my-llm``): the path is ``lmstudio-sdk-alias/<key>/<file name>``.

Test suites written against real LM Studio models (the official SDKs' own) run this way on
small models. An alias is a separate downloaded model: it loads as its own instance with its
own identifier, and listing shows both names.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import msgspec

from ..._protocol.packets.shared import EmbeddingModelInfo, KVConfig, LLMInfo
from ..errors import ServerError
from ..local.models_dir import model_key_for_folder
from .base import Engine, LoadedModel

__all__ = ["AliasedEngine", "ModelAlias", "parse_alias"]

_log = logging.getLogger(__name__)

ALIAS_PUBLISHER = "lmstudio-sdk-alias"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")


@dataclass(frozen=True, slots=True)
class ModelAlias:
    """``name`` (a model key or ``publisher/repo``) served as the model keyed ``target``."""

    name: str
    target: str

    @property
    def publisher(self) -> str:
        return self.name.split("/", 1)[0] if "/" in self.name else ALIAS_PUBLISHER

    @property
    def repo(self) -> str:
        return self.name.split("/", 1)[1] if "/" in self.name else self.name

    def key(self, domain: str) -> str:
        if "/" in self.name:
            return model_key_for_folder(self.repo, domain)
        return self.name


def parse_alias(spec: str) -> ModelAlias:
    """``NAME=TARGET`` → :class:`ModelAlias`; ValueError naming the problem otherwise."""
    name, sep, target = spec.partition("=")
    name, target = name.strip(), target.strip()
    if not sep or not name or not target:
        raise ValueError(
            f"alias {spec!r} is not NAME=TARGET (e.g. "
            "hugging-quants/llama-3.2-1b-instruct=smollm2-135m-instruct)"
        )
    if not _NAME.match(name):
        raise ValueError(
            f"alias name {name!r} must be a model key or publisher/repo (letters, digits, "
            "'.', '_', '-')"
        )
    return ModelAlias(name=name, target=target)


class AliasedEngine:
    """Wraps an engine: its models, plus each alias as a copy of its target's model info."""

    def __init__(self, inner: Engine, aliases: Sequence[ModelAlias]) -> None:
        self.inner = inner
        self.name = inner.name
        self.aliases = tuple(aliases)
        self._targets: dict[str, str] = {}  # alias path → target model key

    def missing_targets(self) -> list[str]:
        """The alias targets the engine does not have (the CLI refuses to start with them)."""
        keys = {m.model_key for m in self.inner.list_models()}
        return [a.target for a in self.aliases if a.target not in keys]

    def list_models(self) -> list[LLMInfo | EmbeddingModelInfo]:
        models = self.inner.list_models()
        by_key = {m.model_key: m for m in models}
        result = list(models)
        targets: dict[str, str] = {}
        for alias in self.aliases:
            target = by_key.get(alias.target)
            if target is None:
                _log.warning("alias %s: no model with key %r", alias.name, alias.target)
                continue
            domain = "embedding" if isinstance(target, EmbeddingModelInfo) else "llm"
            file_name = target.path.rsplit("/", 1)[-1]
            path = f"{alias.publisher}/{alias.repo}/{file_name}"
            result.append(
                msgspec.structs.replace(
                    target,
                    model_key=alias.key(domain),
                    path=path,
                    indexed_model_identifier=path,
                    publisher=alias.publisher,
                    display_name=alias.repo,
                    variants=None,
                    selected_variant=None,
                )
            )
            targets[path] = alias.target
        self._targets = targets
        return result

    async def load(
        self,
        info: LLMInfo | EmbeddingModelInfo,
        config: KVConfig,
        on_progress: Callable[[float], None],
    ) -> LoadedModel:
        target_key = self._targets.get(info.path)
        if target_key is None:
            return await self.inner.load(info, config, on_progress)
        target = next((m for m in self.inner.list_models() if m.model_key == target_key), None)
        if target is None:
            raise ServerError(
                f"Model alias {info.model_key!r} names {target_key!r}, which is gone",
                cause=f"no model with key {target_key!r} is in the models folder any more",
            )
        return await self.inner.load(target, config, on_progress)
