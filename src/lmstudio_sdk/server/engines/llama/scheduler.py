"""Continuous batching: the sequences of one loaded LLM decoded together, one llama.cpp batch
per step, in one thread that owns the context.

Each of the N slots is a llama.cpp sequence id. A slot keeps the tokens whose KV cells it
holds (``resident``) after its job ends, so a later job that starts with the same tokens (the
next turn of a chat, or another chat with the same system prompt) evaluates only the rest: the
job takes the idle slot with the longest common prefix, or gets that prefix copied from any
other slot (``llama_memory_seq_cp``; each sequence has a KV stream of its own, see
``runtime.parallel_context``). Every step decodes one token of each generating sequence
plus a chunk of the prompts being processed, then samples each sequence with its own sampler
(and grammar). A job beyond N waits; a cancelled or finished one leaves at the next step, and
its slot's cells stay as cache.

A job with a draft model (``Job.drafter``, ``speculative.py``) adds its drafted tokens after its
last sampled one, in the same batch as the other sequences, and verifies them after the decode
(:meth:`BatchScheduler._verify`).
"""

from __future__ import annotations

import collections
import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...errors import ServerError
from ..base import TokenLogProb
from .batch import TokenBatch
from .generation import Generation, Step
from .sampler import token_logprob
from .speculative import Drafter

__all__ = ["BatchScheduler", "Job"]

_log = logging.getLogger("lmstudio_sdk.server.engines.llama")

# While other sequences generate, a prompt is evaluated in chunks of at most this many tokens,
# so one long prompt does not stall their streams for a whole batch.
PROMPT_CHUNK_WHILE_GENERATING = 128


@dataclass(eq=False)
class Job:
    """One prediction as the scheduler runs it.

    ``make_sampler`` is called on the scheduler thread (samplers are not thread-safe);
    ``prefill``, for prompts with images, evaluates the whole prompt into a sequence itself and
    returns its length (or None if cancelled). ``progress(cached, total, processed)`` reports
    the prompt's evaluation.
    """

    generation: Generation
    make_sampler: Callable[[], Any]
    cancelled: Callable[[], bool]
    progress: Callable[[int, int, int], None]
    prefill: Callable[[Any, int], int | None] | None = None
    n_threads: int | None = None
    drafter: Drafter | None = None  # speculative decoding with a draft model
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    sampler: Any = None
    prompt_done: bool = False
    cached: int = 0
    order: int = 0  # admission order: prompts are evaluated first come, first served


class _Slot:
    def __init__(self, seq_id: int) -> None:
        self.seq_id = seq_id
        self.resident: list[int] = []  # tokens whose KV this sequence holds (-1: image)
        self.job: Job | None = None


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y or x < 0:
            break
        n += 1
    return n


class BatchScheduler:
    """Runs the jobs of one context in slots, decoding them together."""

    def __init__(
        self,
        lc: Any,
        ctx: Any,
        n_slots: int,
        n_batch: int,
        n_threads: int,
        name: str,
        *,
        shared_cache: bool,
    ) -> None:
        self._lc = lc
        self._shared_cache = shared_cache
        self._context = ctx  # llama-cpp-python's LlamaContext (what samplers take)
        self._ctx = ctx.ctx
        self._mem = lc.llama_get_memory(self._ctx)
        self._slots = [_Slot(i) for i in range(n_slots)]
        self._batch = TokenBatch(lc, max(n_batch, n_slots))
        self._n_threads = n_threads
        self._threads_set: int | None = None
        self._waiting: collections.deque[Job] = collections.deque()
        self._wake = threading.Condition()
        self._closed = False
        self._admitted = 0
        self._thread = threading.Thread(target=self._loop, name=f"batch-{name}", daemon=True)
        self._thread.start()

    @property
    def n_slots(self) -> int:
        return len(self._slots)

    def submit(self, job: Job) -> None:
        with self._wake:
            if self._closed:
                raise ServerError("The model has been unloaded")
            self._waiting.append(job)
            self._wake.notify()

    def close(self) -> None:
        """Stop the thread; jobs still in flight end as cancelled (they see ``cancelled()``)."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join()
        self._batch.close()

    # -- the loop -------------------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._closed and not self._waiting and not self._active():
                    self._wake.wait()
                if self._closed and not self._active() and not self._waiting:
                    return
                admitted = self._take_waiting()
            for slot, job in admitted:
                self._guard(slot, job, self._admit)
            self._drop_cancelled()
            if self._active():
                try:
                    self._step()
                except BaseException as exc:  # never leave a job waiting forever
                    _log.exception("batch step failed")
                    for slot in self._active():
                        if slot.job is not None:
                            slot.job.error = exc
                            self._release(slot, slot.job)
                        self._forget(slot, 0)

    def _active(self) -> list[_Slot]:
        return [s for s in self._slots if s.job is not None]

    def _take_waiting(self) -> list[tuple[_Slot, Job]]:
        admitted: list[tuple[_Slot, Job]] = []
        for job in [j for j in self._waiting if j.cancelled() or self._closed]:
            self._waiting.remove(job)
            self._end(None, job, "userStopped")
        while self._waiting:
            job = self._waiting[0]
            free = [s for s in self._slots if s.job is None]
            if not free:
                break
            self._waiting.popleft()
            slot = max(free, key=lambda s: _common_prefix(s.resident, job.generation.context))
            self._admitted += 1
            job.order = self._admitted
            slot.job = job
            admitted.append((slot, job))
        return admitted

    def _guard(self, slot: _Slot, job: Job, work: Callable[[_Slot, Job], None]) -> None:
        try:
            work(slot, job)
        except BaseException as exc:  # the job fails, the others go on
            job.error = exc
            self._release(slot, job)

    def _admit(self, slot: _Slot, job: Job) -> None:
        job.sampler = job.make_sampler()
        if job.prefill is not None:
            self._forget(slot, 0)
            n_past = job.prefill(self._ctx, slot.seq_id)
            if n_past is None:
                self._end(slot, job, "userStopped")
                return
            slot.resident = [-1] * n_past
            job.generation.context = list(slot.resident)
            job.prompt_done = True
            self._sample(slot, job, index=-1)
            return
        self._fit(slot, job.generation.context)
        job.cached = len(slot.resident)
        total = len(job.generation.context)
        job.progress(job.cached, total, job.cached)

    def _fit(self, slot: _Slot, target: list[int]) -> None:
        """Keep the longest usable prefix of ``target`` in the slot (copying it from another
        slot if that one has more), so that only the rest is evaluated."""
        own = _common_prefix(slot.resident, target)
        donor, best = slot, own
        for other in self._slots:
            n = _common_prefix(other.resident, target)
            if n > best:
                donor, best = other, n
        best = min(best, len(target) - 1)  # re-evaluate at least one token for its logits
        if donor is slot or best <= own:
            self._forget(slot, min(own, best))
            return
        if self._shared_cache:
            # One cache: the cells of the prefix just get a second owner.
            self._forget(slot, 0)
            self._lc.llama_memory_seq_cp(self._mem, donor.seq_id, slot.seq_id, 0, best)
            slot.resident = donor.resident[:best]
            return
        # Sequences live in streams of their own, and llama.cpp copies between streams only
        # whole (the data is copied at the next decode): copy all, then cut to the prefix.
        self._lc.llama_memory_seq_cp(self._mem, donor.seq_id, slot.seq_id, -1, -1)
        slot.resident = list(donor.resident)
        self._forget(slot, best)

    def _forget(self, slot: _Slot, keep: int) -> None:
        """Drop the slot's cells from position ``keep`` on."""
        if keep < len(slot.resident) or keep == 0:
            if not self._lc.llama_memory_seq_rm(self._mem, slot.seq_id, keep, -1):
                self._lc.llama_memory_seq_rm(self._mem, slot.seq_id, 0, -1)
                keep = 0
        del slot.resident[keep:]

    def _drop_cancelled(self) -> None:
        for slot in self._active():
            job = slot.job
            if job is not None and job.cancelled():
                self._end(slot, job, "userStopped")

    def _end(self, slot: _Slot | None, job: Job, stop_reason: str) -> None:
        try:
            job.generation.stop(stop_reason)
        except BaseException as exc:
            job.error = exc
        self._release(slot, job)

    def _release(self, slot: _Slot | None, job: Job) -> None:
        if slot is not None and slot.job is job:
            slot.job = None
        if job.sampler is not None:
            job.sampler.close()
            job.sampler = None
        job.done.set()

    # -- one step ---------------------------------------------------------------------------------

    def _step(self) -> None:
        batch = self._batch
        batch.clear()
        planned: list[tuple[_Slot, int, int | None]] = []  # slot, tokens added, output index
        drafted: dict[int, tuple[list[int], list[int]]] = {}  # seq id -> drafts, their outputs
        active = self._active()
        generating = [s for s in active if s.job is not None and s.job.prompt_done]
        # One prompt per step, the oldest first: on a CPU a batch costs about its token count,
        # so evaluating prompts one after the other gives the first request its first token
        # sooner, and the last no later, than evaluating them all together.
        prompting = sorted(
            (s for s in active if s.job is not None and not s.job.prompt_done),
            key=lambda s: s.job.order if s.job is not None else 0,
        )[:1]
        for slot in generating + prompting:
            job = slot.job
            assert job is not None
            todo = job.generation.context[len(slot.resident) :]
            room = batch.room
            if not job.prompt_done and generating:
                room = min(room, PROMPT_CHUNK_WHILE_GENERATING)
            if room <= 0 or not todo:
                continue
            chunk = todo[:room]
            last = len(chunk) == len(todo)
            pos = len(slot.resident)
            index: int | None = None
            for j, token in enumerate(chunk):
                i = batch.add(token, pos + j, slot.seq_id, last and j == len(chunk) - 1)
                if last and j == len(chunk) - 1:
                    index = i
            if last and job.prompt_done and job.drafter is not None:
                drafts = job.drafter.propose(
                    slot.seq_id, job.generation, batch.room, job.generation.m._n_ctx
                )
                if drafts:
                    end = pos + len(chunk)
                    outputs = [
                        batch.add(t, end + j, slot.seq_id, True) for j, t in enumerate(drafts)
                    ]
                    drafted[slot.seq_id] = (drafts, outputs)
            planned.append((slot, len(chunk), index))
        if not planned:
            return
        self._set_threads(active)
        result = batch.decode(self._ctx)
        if result != 0:
            for slot, _n, _i in planned:
                if slot.seq_id in drafted and slot.job is not None and slot.job.drafter:
                    slot.job.drafter.counts.ignored += len(drafted[slot.seq_id][0])
            self._decode_failed(result, planned)
            return
        for slot, n_added, _index in planned:
            job = slot.job
            assert job is not None
            start = len(slot.resident)
            slot.resident.extend(job.generation.context[start : start + n_added])
            slot.resident.extend(drafted.get(slot.seq_id, ((), ()))[0])
            if not job.prompt_done:
                total = len(job.generation.context)
                job.progress(job.cached, total, len(slot.resident))
        for slot, _n, index in planned:
            job = slot.job
            if index is None or job is None:
                continue
            job.prompt_done = True
            if slot.seq_id in drafted:
                drafts, outputs = drafted[slot.seq_id]
                verify = functools.partial(self._verify, drafts=drafts, outputs=[index, *outputs])
                self._guard(slot, job, verify)
            else:
                self._guard(slot, job, functools.partial(self._sample, index=index))

    def _verify(self, slot: _Slot, job: Job, *, drafts: list[int], outputs: list[int]) -> None:
        """Sample at each output in turn with the job's own sampler; a drafted token is
        accepted while it equals the sampled one. The first sampled token that differs is
        taken instead, and the cells of the rejected drafts are removed."""
        assert job.drafter is not None
        counts = job.drafter.counts
        step = Step.CONTINUE
        for i, index in enumerate(outputs):
            if job.cancelled():
                counts.rejected += len(drafts) - i
                self._end(slot, job, "userStopped")
                return
            token, logprob = self._pick(job, index)
            hit = i < len(drafts) and token == drafts[i]
            # The drafts after this token, rejected if the sequence ends or turns here; counted
            # before taking the token, because the final stats go out as it ends.
            rest = len(drafts) - i - hit
            counts.accepted += hit
            counts.rejected += rest
            step = self._take(slot, job, token, logprob, drafted=hit)
            if not hit or step is not Step.CONTINUE:
                break
            counts.rejected -= rest
        if slot.job is job and step is Step.CONTINUE:
            self._forget(slot, _common_prefix(slot.resident, job.generation.context))

    def _sample(self, slot: _Slot, job: Job, *, index: int) -> None:
        token, logprob = self._pick(job, index)
        self._take(slot, job, token, logprob)

    def _pick(self, job: Job, index: int) -> tuple[int, TokenLogProb | None]:
        token = int(job.sampler.sample(self._context, index))
        logprob = None
        top = job.generation.params.logprobs
        if top is not None:
            m = job.generation.m

            def text(t: int) -> str:
                return m._piece(t).decode("utf-8", errors="replace")

            n_vocab = m._llm._n_vocab
            logprob = token_logprob(self._lc, self._ctx, index, n_vocab, token, top, text)
        return token, logprob

    def _take(
        self,
        slot: _Slot,
        job: Job,
        token: int,
        logprob: TokenLogProb | None,
        *,
        drafted: bool = False,
    ) -> Step:
        if job.cancelled():
            self._end(slot, job, "userStopped")
            return Step.DONE
        step = job.generation.take(token, logprob, drafted=drafted)
        if step is Step.DONE:
            self._release(slot, job)
        elif step is Step.RESHAPED:
            if any(t < 0 for t in job.generation.context):
                # An image's cells cannot be evaluated again from tokens.
                job.generation.stop("contextLengthReached")
                self._release(slot, job)
                return Step.DONE
            self._fit(slot, job.generation.context)
        return step

    def _set_threads(self, active: list[_Slot]) -> None:
        wanted = [s.job.n_threads for s in active if s.job is not None and s.job.n_threads]
        threads = max(wanted) if wanted else self._n_threads
        if threads != self._threads_set:
            self._lc.llama_set_n_threads(self._ctx, threads, threads)
            self._threads_set = threads

    def _decode_failed(self, result: int, planned: list[tuple[_Slot, int, int | None]]) -> None:
        """No room in the KV cache (1): free idle slots' cached cells and retry at the next
        step; if none are left, the sequence with the most cells ends. Other codes fail the
        batch's jobs."""
        if result == 1:
            idle = [s for s in self._slots if s.job is None and s.resident]
            if idle:
                for slot in idle:
                    self._forget(slot, 0)
                return
            victim = max((s for s, _n, _i in planned), key=lambda s: len(s.resident))
            job = victim.job
            assert job is not None
            if job.prompt_done:
                self._end(victim, job, "contextLengthReached")
            else:
                job.error = ServerError(
                    "The parallel predictions together do not fit in the context",
                    cause="The KV cache of this model instance is shared by its parallel "
                    "predictions and is full.",
                    suggestion="Load the model with a longer context length or fewer "
                    "parallel predictions (llm.load.numParallelSessions).",
                )
                self._release(victim, job)
            self._forget(victim, 0)
            return
        for slot, _n, _i in planned:
            job = slot.job
            if job is not None:
                job.error = ServerError(f"llama_decode failed (code {result})")
                self._release(slot, job)
                self._forget(slot, 0)
