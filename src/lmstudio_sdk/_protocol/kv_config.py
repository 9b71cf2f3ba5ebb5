"""LM Studio KV configs: typed user configs to KVConfigs and back.

LM Studio sends prediction and load settings as flat ``KVConfig`` lists of dotted keys
(protocol §4.6-4.9). The key table is ``kv_keys``, the types users see are ``config_types``,
and which option maps to which key is ``kv_options``; this module converts:

* ``*_to_kv`` encode the ``*ConfigDict`` TypedDicts users pass (snake_case; the official SDKs'
  camelCase names are accepted too) exactly like TS 2.0, including its side effects
  (``*.autoFit: false`` for manual load settings, speculative selector side-writes).
* ``kv_to_*`` decode a received KVConfig into frozen read-back structs. They never raise:
  unknown keys and ill-typed values stay in ``raw`` and are logged once per key.

Deliberate differences from TS 2.0 (documented at the functions): ``gpu.ratio`` is also
mapped for embedding models (as the official Python SDK does); ``llama_cpp_arguments_override``
is sent (TS 2.0's recorded conversion dropped it); and keys neither official SDK exposes
(``seed``, ``system_prompt``, ``frequency_penalty``, ...) have option names.
"""

from __future__ import annotations

import difflib
import logging
import re
import types
from collections.abc import Callable, Mapping, Sequence
from functools import cache, partial
from typing import Any, Final, Union, get_args, get_origin, get_type_hints, is_typeddict

import msgspec

from .._exceptions import ConfigKeyError, LMStudioValueError
from .config_types import EmbeddingLoadConfig, GpuSetting, LlmLoadConfig, LlmPredictionConfig
from .kv_keys import (
    AUTO_FIT_KEYS,
    EMBEDDING_RATIO_KEY,
    EXPERT_RATIO_KEY,
    KV_KEYS,
    LLM_RATIO_KEY,
    SPLIT_KEY,
    STOP_STRINGS_KEY,
    TAG_TYPES,
)
from .kv_options import (
    BOOL,
    EMBEDDING_GPU_FIELDS,
    EMBEDDING_LOAD,
    GPU_FIELDS,
    LLM_LOAD,
    MANUAL_GPU_SETTINGS,
    MANUAL_LOAD_OPTIONS,
    NO_FALSE,
    PREDICTION,
    RATIO,
    SPECULATIVE_SELECTORS,
    SPECULATIVE_SIDECARS,
    SPLIT_CONFIG,
    TOOL_CHOICE,
    Domain,
    Kind,
    Option,
)
from .packets.shared import KVConfig, KVConfigField, KVConfigLayer, KVConfigStack

__all__ = [
    "COMPLETE_MODE_TEMPLATE_LAYER",
    "api_override_stack",
    "collapse",
    "completion_stack",
    "embedding_load_config_to_kv",
    "kv_to_embedding_load_config",
    "kv_to_llm_load_config",
    "kv_to_prediction_config",
    "llm_load_config_to_kv",
    "prediction_config_to_kv",
    "unknown_keys",
    "validate_kv_value",
]

logger = logging.getLogger("lmstudio_sdk.protocol")

# -- encoding -----------------------------------------------------------------------------------

_Given = dict[str, tuple[str, Any]]  # snake name -> (name as written, value)


def _plain(value: Any) -> Any:
    """A JSON-ready deep copy: mappings become dicts, tuples and lists become lists."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _suggest(
    written: str, pairs: Sequence[tuple[str, str]], by_key: Mapping[str, str]
) -> str | None:
    """The closest option name, in the naming style the caller used."""
    camel_of = dict(pairs)
    snake = by_key.get(written)  # a KV key given as an option name
    if snake is None:
        lowered: dict[str, str] = {}
        for name, camel in pairs:
            lowered.setdefault(name.lower(), name)
            lowered.setdefault(camel.lower(), name)
        match = difflib.get_close_matches(written.lower(), list(lowered), n=1, cutoff=0.6)
        if not match and len(written) >= 3:  # an abbreviation: "topK" -> "topKSampling"
            match = [name for name in lowered if name.startswith(written.lower())][:1]
        if not match:
            return None
        snake = lowered[match[0]]
    wrote_camel = "_" not in written and any(c.isupper() for c in written)
    return camel_of[snake] if wrote_camel else snake


def _settings_of(struct: msgspec.Struct) -> dict[str, Any]:
    """A config struct's fields that are set (not None), nested structs as dicts too; ``raw``
    (what a read-back struct received) is not a setting."""

    def drop_none(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: drop_none(v) for k, v in value.items() if v is not None}
        return value

    settings: dict[str, Any] = drop_none(msgspec.to_builtins(struct))
    settings.pop("raw", None)
    return settings


def _collect(
    config: Mapping[str, Any],
    where: str,
    names: Mapping[str, str],
    pairs: Sequence[tuple[str, str]],
    by_key: Mapping[str, str],
) -> _Given:
    """Resolve both spellings to snake names; ``None`` values count as not given. A config
    struct (``LlmLoadConfig(context_length=4096)``, the official SDK's way) counts as the
    dict of its fields that are set."""
    if isinstance(config, msgspec.Struct):
        config = _settings_of(config)
    if not isinstance(config, Mapping):
        raise LMStudioValueError(f"{where} must be a mapping, got {type(config).__name__}")
    given: _Given = {}
    for written, value in config.items():
        if not isinstance(written, str):
            raise LMStudioValueError(f"{where} keys must be strings, got {written!r}")
        name = names.get(written)
        if name is None:
            raise ConfigKeyError(written, where=where, suggestion=_suggest(written, pairs, by_key))
        if name in given:
            raise LMStudioValueError(
                f"{where} option {name!r} is given twice, as {given[name][0]!r} and {written!r}"
            )
        given[name] = (written, value)
    return {name: wv for name, wv in given.items() if wv[1] is not None}


def _check(written: str, value: Any, kind: Kind, desc: str) -> None:
    try:
        msgspec.convert(value, kind.check, strict=True)
    except msgspec.ValidationError as exc:
        if kind.limit is not None and _read(kind, value) is not _BAD:  # right type, out of range
            desc = kind.limit + desc.removeprefix(kind.desc)
        detail = f" ({exc})" if kind.nested else ""
        raise LMStudioValueError(f"{written} must be {desc}, got {value!r}{detail}") from None


@cache
def _fields(typed_dict: Any) -> tuple[dict[str, Any], tuple[tuple[str, str], ...]]:
    """A TypedDict's field types by wire (camelCase) name, and its (snake, camel) pairs."""
    hints = get_type_hints(typed_dict)
    return hints, tuple((re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", k).lower(), k) for k in hints)


def _nested(written: str, value: Any, typ: Any) -> Any:
    """A nested setting with its keys checked like top-level ones: snake_case or camelCase
    (sent as camelCase), and an unknown key is refused with the closest known one."""
    if is_typeddict(typ) and isinstance(value, Mapping):
        hints, pairs = _fields(typ)
        names = {spelling: camel for snake, camel in pairs for spelling in (snake, camel)}
        out: dict[str, Any] = {}
        for key, sub in value.items():
            camel = names.get(key) if isinstance(key, str) else None
            if camel is None:
                suggestion = _suggest(key, pairs, {}) if isinstance(key, str) else None
                raise ConfigKeyError(str(key), where=written, suggestion=suggestion)
            if camel in out:
                raise LMStudioValueError(f"{written} key {camel!r} is given twice")
            out[camel] = _nested(f"{written}.{camel}", sub, hints[camel])
        return out
    origin = get_origin(typ)
    if origin in (Union, types.UnionType):  # e.g. ToolChoiceDict | Literal["auto", ...]
        for member in get_args(typ):
            if is_typeddict(member):
                return _nested(written, value, member)
    if origin is list and isinstance(value, list):
        return [_nested(f"{written}[{i}]", item, get_args(typ)[0]) for i, item in enumerate(value)]
    return value


def _encode(opt: Option, written: str, value: Any) -> Any:
    if value is False and opt.when_false is not NO_FALSE:
        placeholder = _plain(opt.when_false)
        return {"checked": False, "value": placeholder} if opt.checkbox else placeholder
    if opt.kind is TOOL_CHOICE and isinstance(value, str):
        value = {"type": "generic", "mode": value}
    value = _plain(value)
    if opt.kind.nested:
        value = _nested(written, value, opt.kind.check)
    desc = opt.kind.desc + (" or False" if opt.when_false is not NO_FALSE else "")
    _check(written, value, opt.kind, desc)
    return {"checked": True, "value": value} if opt.checkbox else value


def _encode_plain(domain: Domain, given: _Given, out: dict[str, Any]) -> None:
    for name, (written, value) in given.items():
        opt = domain.by_name.get(name)
        if opt is not None:
            out[opt.key] = _encode(opt, written, value)


def _gpu_settings(written: str, value: Any, allowed: Sequence[str]) -> dict[str, Any]:
    """Checked ``gpu=`` settings by snake name."""
    pairs = [(name, GPU_FIELDS[name][0]) for name in allowed]
    names = {spelling: snake for snake, camel in pairs for spelling in (snake, camel)}
    where = f"{written} setting"
    if not isinstance(value, Mapping):
        raise LMStudioValueError(f"{written} must be a mapping of GPU settings, got {value!r}")
    settings: dict[str, Any] = {}
    for name, (sub_written, sub_value) in _collect(value, where, names, pairs, {}).items():
        kind = GPU_FIELDS[name][1]
        sub_value = _plain(sub_value)
        _check(f"{written}.{sub_written}", sub_value, kind, kind.desc)
        settings[name] = sub_value
    return settings


def _split_config(gpu: Mapping[str, Any]) -> dict[str, Any]:
    strategy = gpu.get("split_strategy", "evenly")
    main_gpu = gpu.get("main_gpu")
    return {
        "strategy": "priorityOrder" if strategy == "favorMainGpu" else strategy,
        "disabledGpus": gpu.get("disabled_gpus", []),
        # GPU 0 is a main GPU too (TS 2.0: `mainGpu !== undefined`).
        "priority": [main_gpu] if main_gpu is not None else [],
        "customRatio": [],
    }


def _raw_fields(written: str, raw: Any) -> dict[str, Any]:
    """A ``raw`` option as key -> value (later duplicates win)."""
    if isinstance(raw, KVConfig):
        return {f.key: f.value for f in raw.fields}
    if isinstance(raw, Mapping):
        items = raw.get("fields") if set(raw) == {"fields"} else None
        if isinstance(items, list | tuple):  # the wire shape {"fields": [{key, value}, ...]}
            out: dict[str, Any] = {}
            for item in items:
                if isinstance(item, KVConfigField):
                    out[item.key] = item.value
                elif (
                    isinstance(item, Mapping)
                    and isinstance(item.get("key"), str)
                    and "value" in item
                ):
                    out[item["key"]] = _plain(item["value"])
                else:
                    raise LMStudioValueError(
                        f"{written} fields must be {{'key': str, 'value': ...}}, got {item!r}"
                    )
            return out
        if all(isinstance(k, str) for k in raw):
            return {k: _plain(v) for k, v in raw.items()}
    raise LMStudioValueError(
        f"{written} must be a KVConfig or a mapping of KV keys to values, got {raw!r}"
    )


def _finish(domain: Domain, given: _Given, typed: dict[str, Any]) -> KVConfig:
    """Order the typed fields like TS, then lay them over ``raw`` (typed fields win)."""
    fields = dict(sorted(typed.items(), key=lambda item: domain.order[item[0]]))
    if "raw" in given:
        fields = {**_raw_fields(*given["raw"]), **fields}
    return KVConfig(fields=[KVConfigField(key=k, value=v) for k, v in fields.items()])


def _given(config: Mapping[str, Any] | None, domain: Domain) -> _Given:
    if config is None:
        return {}
    return _collect(config, domain.where, domain.names, domain.pairs, domain.by_key)


def prediction_config_to_kv(config: Mapping[str, Any] | None) -> KVConfig:
    """Encode prediction options (:class:`LlmPredictionConfigDict`) like TS 2.0.

    Both snake_case and the official camelCase names are accepted. ``tool_choice`` also
    takes a bare mode (``"required"``). ``raw`` fields go under the typed ones.

    Raises:
        ConfigKeyError: an unknown option (the message suggests the closest one).
        LMStudioValueError: a value of the wrong type.
    """
    given = _given(config, PREDICTION)
    typed: dict[str, Any] = {}
    _encode_plain(PREDICTION, given, typed)
    return _finish(PREDICTION, given, typed)


def llm_load_config_to_kv(config: Mapping[str, Any] | None) -> KVConfig:
    """Encode LLM load options (:class:`LlmLoadConfigDict`) like TS 2.0.

    As TS 2.0 does: ``gpu.ratio`` becomes ``llm.load.llama.acceleration.offloadRatio``;
    ``load.gpuSplitConfig`` is sent only with split settings (``main_gpu``,
    ``split_strategy`` or non-empty ``disabled_gpus``); manual settings (``context_length``,
    ``gpu_strict_vram_cap``, ``gpu`` ratios, main GPU or strategy) also write ``false`` to
    the three ``*.autoFit`` keys unless ``auto_fit`` is given; and any speculative selector
    also writes ``false`` to the sidecar selectors not given explicitly. Unlike TS 2.0's
    recorded conversion, ``llama_cpp_arguments_override`` is sent, not dropped.

    Raises:
        ConfigKeyError: an unknown option (the message suggests the closest one).
        LMStudioValueError: a value of the wrong type.
    """
    given = _given(config, LLM_LOAD)
    typed: dict[str, Any] = {}
    gpu = _gpu_settings(*given["gpu"], list(GPU_FIELDS)) if "gpu" in given else {}
    if "auto_fit" in given:
        written, auto_fit = given["auto_fit"]
        _check(written, auto_fit, BOOL, BOOL.desc)
    elif MANUAL_LOAD_OPTIONS & given.keys() or MANUAL_GPU_SETTINGS & gpu.keys():
        auto_fit = False
    else:
        auto_fit = None
    if auto_fit is not None:
        typed.update(dict.fromkeys(AUTO_FIT_KEYS, auto_fit))
    if gpu.get("disabled_gpus") or {"main_gpu", "split_strategy"} & gpu.keys():
        typed[SPLIT_KEY] = _split_config(gpu)
    if "ratio" in gpu:
        typed[LLM_RATIO_KEY] = gpu["ratio"]
    if "num_cpu_expert_layers_ratio" in gpu:
        typed[EXPERT_RATIO_KEY] = gpu["num_cpu_expert_layers_ratio"]
    if SPECULATIVE_SELECTORS & given.keys():
        for name in SPECULATIVE_SIDECARS:
            typed[LLM_LOAD.by_name[name].key] = False  # explicit values overwrite this below
    _encode_plain(LLM_LOAD, given, typed)
    return _finish(LLM_LOAD, given, typed)


def embedding_load_config_to_kv(config: Mapping[str, Any] | None) -> KVConfig:
    """Encode embedding load options (:class:`EmbeddingLoadConfigDict`).

    Like TS 2.0, any ``gpu`` setting sends ``load.gpuSplitConfig``. Unlike TS 2.0 (which
    drops it) and like the official Python SDK, ``gpu.ratio`` is sent too, as
    ``embedding.load.llama.acceleration.offloadRatio``.

    Raises:
        ConfigKeyError: an unknown option (the message suggests the closest one).
        LMStudioValueError: a value of the wrong type.
    """
    given = _given(config, EMBEDDING_LOAD)
    typed: dict[str, Any] = {}
    if "gpu" in given:
        gpu = _gpu_settings(*given["gpu"], EMBEDDING_GPU_FIELDS)
        typed[SPLIT_KEY] = _split_config(gpu)
        if "ratio" in gpu:
            typed[EMBEDDING_RATIO_KEY] = gpu["ratio"]
    _encode_plain(EMBEDDING_LOAD, given, typed)
    return _finish(EMBEDDING_LOAD, given, typed)


# -- decoding -----------------------------------------------------------------------------------

_BAD: Final = object()
_MAX_LOGGED: Final = 1024
_logged: set[tuple[int, str]] = set()


def _log_once(level: int, key: str, message: str, *args: Any) -> None:
    """Log once per (level, key) per process: the same config comes back with every call."""
    if (level, key) in _logged or len(_logged) >= _MAX_LOGGED:
        return
    _logged.add((level, key))
    logger.log(level, message, *args)


def _read(kind: Kind, value: Any) -> Any:
    """A received value as its read-back type, or ``_BAD``."""
    try:
        converted = msgspec.convert(value, kind.read or kind.check, strict=True)
    except msgspec.ValidationError:
        return _BAD
    return _plain(value) if kind.nested else converted


def _decode(opt: Option, value: Any) -> Any:
    if opt.checkbox:
        if not (isinstance(value, dict) and isinstance(value.get("checked"), bool)):
            return _BAD
        if not value["checked"]:
            return False
        return _read(opt.kind, value.get("value"))
    if opt.when_false is not NO_FALSE and isinstance(value, dict) and value.get("enabled") is False:
        return False
    return _read(opt.kind, value)


def _read_or_log(key: str, value: Any, read: Callable[[Any], Any]) -> Any:
    result = read(value)
    if result is _BAD:
        _log_once(logging.WARNING, key, "ignoring an ill-typed value for KV key %r: %r", key, value)
    return result


def _decode_fields(domain: Domain, values: Mapping[str, Any]) -> dict[str, Any]:
    """Read-back fields by snake name; logs unknown keys and unreadable values."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key not in KV_KEYS:
            _log_once(logging.INFO, key, "LM Studio sent an unknown KV key %r; kept in raw", key)
        name = domain.by_key.get(key)
        if name is not None:
            opt = domain.by_name[name]
            result = _read_or_log(key, value, partial(_decode, opt))
            if result is not _BAD:
                out[name] = result
    return out


def _decode_gpu(
    values: Mapping[str, Any], ratio_key: str, expert_key: str | None
) -> GpuSetting | None:
    fields: dict[str, Any] = {}
    for key, name in ((ratio_key, "ratio"), (expert_key, "num_cpu_expert_layers_ratio")):
        if key is not None and key in values:
            result = _read_or_log(key, values[key], lambda v: _read(RATIO, v))
            if result is not _BAD:
                fields[name] = result
    if SPLIT_KEY in values:
        split = _read_or_log(SPLIT_KEY, values[SPLIT_KEY], lambda v: _read(SPLIT_CONFIG, v))
        if split is not _BAD:
            strategy = split["strategy"]
            fields["split_strategy"] = "favorMainGpu" if strategy == "priorityOrder" else strategy
            fields["disabled_gpus"] = list(split["disabledGpus"])
            if split["priority"]:
                fields["main_gpu"] = split["priority"][0]
    return GpuSetting(**fields) if fields else None


def _values(kv: KVConfig) -> dict[str, Any]:
    return {f.key: f.value for f in kv.fields}


def kv_to_prediction_config(kv: KVConfig) -> LlmPredictionConfig:
    """Read a received prediction KVConfig; never raises (bad fields stay in ``raw``)."""
    return LlmPredictionConfig(**_decode_fields(PREDICTION, _values(kv)), raw=kv)


def kv_to_llm_load_config(kv: KVConfig) -> LlmLoadConfig:
    """Read a received LLM load KVConfig; never raises (bad fields stay in ``raw``).

    Every known key is read whatever the model format (TS 2.0 picks keys by format and
    hides manual values when autoFit is on; we report what the server sent).
    """
    values = _values(kv)
    fields = _decode_fields(LLM_LOAD, values)
    for key in AUTO_FIT_KEYS:
        if key in values:
            auto_fit = _read_or_log(key, values[key], lambda v: _read(BOOL, v))
            if auto_fit is not _BAD:
                fields["auto_fit"] = auto_fit
                break
    gpu = _decode_gpu(values, LLM_RATIO_KEY, EXPERT_RATIO_KEY)
    return LlmLoadConfig(**fields, gpu=gpu, raw=kv)


def kv_to_embedding_load_config(kv: KVConfig) -> EmbeddingLoadConfig:
    """Read a received embedding load KVConfig; never raises (bad fields stay in ``raw``)."""
    values = _values(kv)
    fields = _decode_fields(EMBEDDING_LOAD, values)
    gpu = _decode_gpu(values, EMBEDDING_RATIO_KEY, None)
    return EmbeddingLoadConfig(**fields, gpu=gpu, raw=kv)


# -- keys, stacks -------------------------------------------------------------------------------


def validate_kv_value(key: str, value: Any) -> None:
    """Check a received field against its key's value type; unknown keys always pass.

    Raises:
        LMStudioValueError: naming the key, its type tag and the value.
    """
    info = KV_KEYS.get(key)
    if info is None:
        return
    try:
        msgspec.convert(value, TAG_TYPES[info.type_tag], strict=True)
    except msgspec.ValidationError as exc:
        raise LMStudioValueError(
            f"KV key {key!r} needs a {info.type_tag} value, got {value!r} ({exc})"
        ) from None


def unknown_keys(kv: KVConfig) -> list[str]:
    """Keys of ``kv`` that are not in :data:`KV_KEYS`, each once, in order."""
    return [key for key in dict.fromkeys(f.key for f in kv.fields) if key not in KV_KEYS]


def collapse(stack: KVConfigStack) -> KVConfig:
    """One config from a stack: later layers override earlier ones key by key (LM Studio's rule)."""
    merged: dict[str, Any] = {}
    for layer in stack.layers:
        for item in layer.config.fields:
            merged[item.key] = item.value
    return KVConfig(fields=[KVConfigField(key=k, value=v) for k, v in merged.items()])


def api_override_stack(kv: KVConfig) -> KVConfigStack:
    """The one-layer ``apiOverride`` stack the SDKs send (``fields: []`` when empty)."""
    return KVConfigStack(layers=[KVConfigLayer(layer_name="apiOverride", config=kv)])


def completion_stack(kv: KVConfig) -> KVConfigStack:
    """The stack of a TS 2.0 ``completeRawText``: adds ``stopStrings: []`` unless given.

    The empty stop strings keep a preset's chat stop strings out of raw completions.
    """
    if any(f.key == STOP_STRINGS_KEY for f in kv.fields):
        return api_override_stack(kv)
    fields = [*kv.fields, KVConfigField(key=STOP_STRINGS_KEY, value=[])]
    return api_override_stack(KVConfig(fields=fields))


_COMPLETE_TEMPLATE: Final = "{% for message in messages %}{{ message['content'] }}{% endfor %}"

COMPLETE_MODE_TEMPLATE_LAYER: Final = KVConfigLayer(
    layer_name="completeModeFormatting",
    config=KVConfig(
        fields=[
            KVConfigField(
                key="llm.prediction.promptTemplate",
                value={
                    "type": "jinja",
                    "jinjaPromptTemplate": {
                        "template": _COMPLETE_TEMPLATE,
                        "bosToken": "",
                        "eosToken": "",
                        "inputConfig": {
                            "messagesConfig": {"contentConfig": {"type": "string"}},
                            "useTools": False,
                        },
                    },
                    "stopStrings": [],
                },
            )
        ]
    ),
)
"""Second layer for ``complete()`` over ``predict`` (official Python SDK): the prompt is
the messages' text, unformatted. Put it after the ``apiOverride`` layer."""
