"""Downloaded models and loaded instances, independent of the engine.

The manager owns what LM Studio owns: instance identifiers (``modelKey``, ``modelKey:2``, …),
opaque instance references, TTL idle-unload timers, just-in-time loading, and the resolution of
model keys, paths and queries, with LM Studio's ``displayData`` errors when nothing matches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

import msgspec
from msgspec import UnsetType

from ..._protocol.kv_config import collapse
from ..._protocol.packets.shared import (
    EmbeddingModelInfo,
    EmbeddingModelInstanceInfo,
    InstanceReferenceSpecifier,
    KVConfig,
    KVConfigStack,
    LLMInfo,
    LLMInstanceInfo,
    ModelQuery,
    ModelSpecifier,
)
from ..engines.base import CancelToken, Engine, LoadedModel, parallel_slots
from ..errors import (
    ServerError,
    device_not_found,
    domain_mismatch,
    impossible_query,
    no_model_matching_query,
    path_not_found,
    specific_model_unloaded,
)
from ..local.machine import device_identifier as machine_device_identifier

__all__ = ["Domain", "Instance", "ModelManager", "domain_of"]

logger = logging.getLogger("lmstudio_sdk.server")

Domain = Literal["llm", "embedding"]
ProcessingStatus = Literal["idle", "processingPrompt", "generating", "computingEmbedding"]

# How long an unload waits for a running prediction to notice its cancellation.
UNLOAD_GRACE_SECONDS = 10.0


def domain_of(info: LLMInfo | EmbeddingModelInfo) -> Domain:
    return "llm" if isinstance(info, LLMInfo) else "embedding"


def _now_ms() -> int:
    return int(time.time() * 1000)


class Instance:
    """One loaded model instance."""

    def __init__(
        self,
        *,
        identifier: str,
        info: LLMInfo | EmbeddingModelInfo,
        model: LoadedModel,
        ttl_ms: int | None,
        jit: bool,
    ) -> None:
        self.identifier = identifier
        self.instance_reference = f"inst-{uuid.uuid4().hex}"
        self.info = info
        self.model = model
        self.ttl_ms = ttl_ms
        self.jit = jit
        self.last_used_time: int | None = None
        # As many predictions / embeddings at a time as the engine runs side by side (its
        # parallel slots); the rest wait here and are reported as queued.
        self.slots = asyncio.Semaphore(parallel_slots(model))
        self.active = 0
        self.queued = 0  # waiting for a slot (the wire's ``queued`` adds the active ones)
        self.status: ProcessingStatus = "idle"
        self.unloading = False
        self.unloaded = asyncio.Event()
        self.cancel_tokens: set[CancelToken] = set()
        self.ttl_timer: asyncio.TimerHandle | None = None

    async def drained(self) -> None:
        """Wait until no work runs on the instance (taking every slot, then giving them back)."""
        n = parallel_slots(self.model)
        taken = 0
        try:
            for _ in range(n):
                await self.slots.acquire()
                taken += 1
        finally:
            for _ in range(taken):
                self.slots.release()

    @property
    def domain(self) -> Domain:
        return domain_of(self.info)

    @property
    def requests(self) -> int:
        """What ``getInstanceProcessingState`` reports as ``queued``: the requests in the
        instance's queue, the ones running included (as the TypeScript SDK documents it)."""
        return self.active + self.queued

    @property
    def load_config(self) -> KVConfig:
        return self.model.load_config

    def instance_info(self) -> LLMInstanceInfo | EmbeddingModelInstanceInfo:
        fields = msgspec.structs.asdict(self.info)
        extra: dict[str, Any] = {
            "identifier": self.identifier,
            "instance_reference": self.instance_reference,
            "context_length": self.model.context_length,
            "ttl_ms": self.ttl_ms,
            "last_used_time": self.last_used_time,
        }
        if isinstance(self.info, LLMInfo):
            return LLMInstanceInfo(**fields, **extra)
        return EmbeddingModelInstanceInfo(**fields, **extra)


def _matches_path(info: LLMInfo | EmbeddingModelInfo, key: str) -> bool:
    """LM Studio's rules: model key, full path, or path without its file part."""
    needle = key.strip().strip("/").lower()
    if not needle:
        return False
    path = info.path.lower()
    return (
        needle == info.model_key.lower()
        or needle == path
        or needle == info.indexed_model_identifier.lower()
        or _matches_publisher_name(path, needle)
    )


def _matches_publisher_name(path: str, needle: str) -> bool:
    """A "publisher/name" naming the start of a path, even inside the folder name: LM Studio finds
    hugging-quants/Llama-3.2-1B-Instruct-Q8_0-GGUF/… by "hugging-quants/llama-3.2-1b-instruct"
    (the official Python SDK 1.5's tests rely on it). Needs a publisher and a name."""
    publisher, _, name = needle.partition("/")
    return bool(publisher and name) and path.startswith(needle)


class ModelManager:
    """Every downloaded model and loaded instance of one server."""

    def __init__(self, engine: Engine, *, device_identifier: str | None = None) -> None:
        self.engine = engine
        # The one LM Link device this server is (models are listed as local: null).
        self.device_identifier = device_identifier or machine_device_identifier()
        self._instances: dict[str, Instance] = {}  # identifier → instance, in load order
        self._by_reference: dict[str, Instance] = {}
        self._reserved: set[str] = set()  # identifiers of loads in progress
        self._jit_loads: dict[tuple[Domain, str], asyncio.Task[Instance]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._closed = False

    # -- downloaded models --------------------------------------------------------------------

    def downloaded(self) -> list[LLMInfo | EmbeddingModelInfo]:
        return list(self.engine.list_models())

    def resolve(
        self, key: str, domain: Domain | None
    ) -> tuple[LLMInfo | EmbeddingModelInfo, list[str]]:
        """The downloaded model a key or path names, plus the other candidates (ambiguous).

        Raises pathNotFound, or domainMismatch when it names a model of the other domain.
        """
        models = self.downloaded()
        exact = [m for m in models if m.model_key == key or m.path == key]
        candidates = exact or [m for m in models if _matches_path(m, key)]
        if not candidates:
            raise path_not_found(key, [m.model_key for m in models])
        if domain is not None:
            in_domain = [m for m in candidates if domain_of(m) == domain]
            if not in_domain:
                raise domain_mismatch(candidates[0].path, domain_of(candidates[0]), domain)
            candidates = in_domain
        return candidates[0], [m.model_key for m in candidates[1:]]

    def check_device(self, requested: str | UnsetType | None) -> None:
        """A request's ``deviceIdentifier``: none (LM Studio's cascade), ``null`` (local only)
        and this server's own identifier all mean this server; any other is refused."""
        if isinstance(requested, str) and requested != self.device_identifier:
            raise device_not_found(requested, self.device_identifier)

    # -- loaded instances ---------------------------------------------------------------------

    def loaded(self, domain: Domain | None = None) -> list[Instance]:
        return [i for i in self._instances.values() if domain is None or i.domain == domain]

    def jit_instances(self, *, except_model_key: str) -> list[Instance]:
        """The loaded JIT instances of other models (a new JIT load evicts them)."""
        return [
            i
            for i in self._instances.values()
            if i.jit and not i.unloading and i.info.model_key != except_model_key
        ]

    def instance(self, identifier: str) -> Instance | None:
        return self._instances.get(identifier)

    def find(self, specifier: ModelSpecifier, domain: Domain) -> Instance:
        """The loaded instance a ModelSpecifier names; raises LM Studio's errors."""
        if isinstance(specifier, InstanceReferenceSpecifier):
            found = self._by_reference.get(specifier.instance_reference)
            if found is None:
                raise specific_model_unloaded()
            if found.domain != domain:
                raise domain_mismatch(found.info.path, found.domain, domain)
            return found
        query = specifier.query
        self._check_query(query, domain)
        loaded = self.loaded(domain)
        # An exact identifier first; then "publisher/name" as the start of a path (LM Studio).
        matches = [i for i in loaded if self._matches_query(i, query)] or [
            i for i in loaded if self._matches_query(i, query, by_path=True)
        ]
        if matches:
            return matches[0]
        if query.identifier is not None:
            other = self._instances.get(query.identifier)
            if other is not None and other.domain != domain:
                raise domain_mismatch(other.info.path, other.domain, domain)
        query_wire: dict[str, Any] = msgspec.to_builtins(query)
        raise no_model_matching_query(
            query_wire, [i.identifier for i in self.loaded(domain)], domain
        )

    def find_optional(self, specifier: ModelSpecifier, domain: Domain) -> Instance | None:
        try:
            return self.find(specifier, domain)
        except ServerError:
            return None

    def _check_query(self, query: ModelQuery, domain: Domain) -> None:
        """Refuse a query no model of ``domain`` can ever match, naming the member."""
        self.check_device(query.device_identifier)
        why = None
        if query.domain is not None and query.domain != domain:
            why = f"this namespace serves {domain} models, not {query.domain} ones"
        elif query.vision and domain == "embedding":
            why = "embedding models have no vision"
        if why is not None:
            loaded = [i.identifier for i in self.loaded(domain)]
            raise impossible_query(msgspec.to_builtins(query), loaded, domain, why)

    @staticmethod
    def _matches_query(instance: Instance, query: ModelQuery, *, by_path: bool = False) -> bool:
        if query.identifier is not None and instance.identifier != query.identifier:
            needle = query.identifier.strip().strip("/").lower()
            if not by_path or not _matches_publisher_name(instance.info.path.lower(), needle):
                return False
        if query.path is not None and not _matches_path(instance.info, query.path):
            return False
        if query.domain is not None and instance.domain != query.domain:
            return False
        if query.vision is not None:
            vision = isinstance(instance.info, LLMInfo) and instance.info.vision
            if vision != query.vision:
                return False
        return True

    def find_for_get_or_load(self, identifier: str, domain: Domain) -> Instance | None:
        """A loaded instance named by identifier, model key or path (getOrLoad's first step)."""
        exact = self._instances.get(identifier)
        if exact is not None:
            if exact.domain != domain:
                raise domain_mismatch(exact.info.path, exact.domain, domain)
            return exact
        for instance in self.loaded(domain):
            if _matches_path(instance.info, identifier):
                return instance
        return None

    # -- loading ------------------------------------------------------------------------------

    def _reserve_identifier(self, requested: str | None, model_key: str) -> str:
        taken = set(self._instances) | self._reserved
        if requested is not None:
            if requested in taken:
                # Only a title, as LM Studio (the official Python SDK prints it on one line).
                raise ServerError(
                    f'A model with the identifier "{requested}" already exists: choose another '
                    "identifier, or unload that model first"
                )
            identifier = requested
        else:
            identifier, n = model_key, 1
            while identifier in taken:
                n += 1
                identifier = f"{model_key}:{n}"
        self._reserved.add(identifier)
        return identifier

    async def load(
        self,
        info: LLMInfo | EmbeddingModelInfo,
        stack: KVConfigStack,
        *,
        identifier: str | None = None,
        ttl_ms: int | None = None,
        on_progress: Callable[[float], None] = lambda _: None,
        jit: bool = False,
    ) -> Instance:
        """Load a new instance. The engine's load is cancelled if this task is."""
        if self._closed:
            raise ServerError("The server is shutting down")
        name = self._reserve_identifier(identifier, info.model_key)
        try:
            model = await self.engine.load(info, collapse(stack), on_progress)
        finally:
            self._reserved.discard(name)
        instance = Instance(identifier=name, info=info, model=model, ttl_ms=ttl_ms, jit=jit)
        self._instances[name] = instance
        self._by_reference[instance.instance_reference] = instance
        self._arm_ttl(instance)
        logger.info("loaded %s as %r", info.model_key, name)
        return instance

    async def get_or_load_jit(
        self,
        info: LLMInfo | EmbeddingModelInfo,
        stack: KVConfigStack,
        *,
        ttl_ms: int | None,
        on_progress: Callable[[float], None],
    ) -> tuple[Instance, bool]:
        """JIT-load, sharing a load already in flight for the same model.

        Returns the instance and whether this call started the load.
        """
        key = (domain_of(info), info.model_key)
        running = self._jit_loads.get(key)
        if running is not None:
            try:
                return await asyncio.shield(running), False
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if running.cancelled() and current is not None and not current.cancelling():
                    # The client that started the load cancelled it; we were not cancelled.
                    raise ServerError(
                        f'Loading "{info.model_key}" was cancelled by another request'
                    ) from None
                raise
        task = asyncio.create_task(
            self.load(info, stack, ttl_ms=ttl_ms, on_progress=on_progress, jit=True)
        )
        self._jit_loads[key] = task
        task.add_done_callback(lambda _: self._jit_loads.pop(key, None))
        try:
            return await task, True
        except asyncio.CancelledError:
            task.cancel()  # our caller gave up (cancel packet or socket closed)
            raise

    # -- use, TTL, unloading ------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def use(self, instance: Instance, status: ProcessingStatus) -> AsyncIterator[None]:
        """Run work on an instance: up to its parallel slots at a time, TTL paused,
        lastUsedTime updated."""
        instance.queued += 1
        try:
            await instance.slots.acquire()
        finally:
            instance.queued -= 1
        instance.active += 1
        try:
            if instance.unloading:
                raise specific_model_unloaded()
            self._disarm_ttl(instance)
            instance.status = status
            instance.last_used_time = _now_ms()
            yield
        finally:
            instance.active -= 1
            if instance.active == 0:
                instance.status = "idle"
            instance.last_used_time = _now_ms()
            instance.slots.release()
            if not instance.unloading and instance.active == 0:
                self._arm_ttl(instance)

    def touch(self, instance: Instance) -> None:
        """A light use (tokenize, template, info): reset the idle timer."""
        instance.last_used_time = _now_ms()
        if not instance.active and not instance.unloading:
            self._arm_ttl(instance)

    def _arm_ttl(self, instance: Instance) -> None:
        self._disarm_ttl(instance)
        if instance.ttl_ms is None or self._closed:
            return
        loop = asyncio.get_running_loop()
        instance.ttl_timer = loop.call_later(instance.ttl_ms / 1000, self._ttl_expired, instance)

    @staticmethod
    def _disarm_ttl(instance: Instance) -> None:
        if instance.ttl_timer is not None:
            instance.ttl_timer.cancel()
            instance.ttl_timer = None

    def _ttl_expired(self, instance: Instance) -> None:
        instance.ttl_timer = None
        if instance.active or instance.queued:
            return  # use() re-arms the timer when the work ends
        logger.info("unloading %r: idle for %d ms", instance.identifier, instance.ttl_ms or 0)
        task = asyncio.create_task(self.unload_instance(instance))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def unload(self, identifier: str, domain: Domain) -> None:
        instance = self._instances.get(identifier)
        if instance is None or instance.domain != domain:
            # LM Studio answers noModelMatchingQuery here (the official Python SDK raises it as
            # LMStudioModelNotFoundError, and its test set-up relies on that).
            raise no_model_matching_query(
                {"identifier": identifier},
                [i.identifier for i in self.loaded(domain)],
                domain,
            )
        await self.unload_instance(instance)

    async def unload_instance(self, instance: Instance) -> None:
        if instance.unloading:
            await instance.unloaded.wait()
            return
        instance.unloading = True
        self._disarm_ttl(instance)
        self._instances.pop(instance.identifier, None)
        self._by_reference.pop(instance.instance_reference, None)
        for token in list(instance.cancel_tokens):
            token.set()  # running predictions end with stopReason modelUnloaded
        try:
            async with asyncio.timeout(UNLOAD_GRACE_SECONDS):
                await instance.drained()
        except TimeoutError:
            logger.warning("unloading %r while a prediction still runs", instance.identifier)
        try:
            await instance.model.unload()
        finally:
            instance.unloaded.set()
            logger.info("unloaded %r", instance.identifier)

    async def close(self) -> None:
        """Unload everything (server shutdown)."""
        self._closed = True
        for task in list(self._jit_loads.values()) + list(self._background):
            task.cancel()
        instances = list(self._instances.values())
        results = await asyncio.gather(
            *(self.unload_instance(i) for i in instances), return_exceptions=True
        )
        for instance, result in zip(instances, results, strict=True):
            if isinstance(result, BaseException):
                logger.warning("unloading %r failed: %r", instance.identifier, result)
