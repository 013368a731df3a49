"""Recipes: model settings from a JSON file (``--config``) or a dict, merged with explicit options."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

RECIPE_KEYS = frozenset(
    {"features", "regressor", "regressor_params", "target", "seed", "sampling", "extractor_config", "augment",
     "artifact_dims"}
)  # fmt: skip


class RecipeError(ValueError):
    """A recipe that cannot be read or holds unknown or bad settings."""


def _named(value: Any) -> bool:
    """A list of objects that each carry a ``"name"`` (a stack's blocks)."""
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) and "name" in v for v in value)


def _adds(key: str) -> bool:
    """A key that adds to the base's list (``"exclude+"``)."""
    return key.endswith("+") and len(key) > 1


def _appended(key: str, base: Any, value: Any) -> list[Any]:
    """``base``'s list with the items of ``value`` it lacks added at the end (``"key+"``)."""
    if not isinstance(value, list):
        raise RecipeError(f"'{key}+' must be a list to add to '{key}', got {value!r}")
    if base is None:
        base = []
    if not isinstance(base, list):
        raise RecipeError(f"'{key}+' adds to a list, but the base's '{key}' is {base!r}")
    return [*base, *(v for v in value if v not in base)]


def _resolve_appends(settings: Any) -> Any:
    """``settings`` laid over nothing: every ``"key+"`` (no base value to add to) made ``"key"``."""
    if isinstance(settings, list):
        return [_resolve_appends(v) for v in settings]
    if not isinstance(settings, dict):
        return settings
    out = {key: _resolve_appends(value) for key, value in settings.items() if not _adds(key)}
    for key, value in settings.items():
        if _adds(key):
            out[key[:-1]] = _appended(key[:-1], out.get(key[:-1]), _resolve_appends(value))
    return out


def merge_settings(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` laid over it: objects merge key by key (recursively), lists of
    named objects (a stack's ``blocks``) merge object by ``"name"`` (the base's order kept, new
    names added at the end), ``"key+": [...]`` adds its items to the base's list ``"key"`` (those
    it lacks, at the end), any other value replaces the base's, and ``null`` removes the setting
    (the model's default applies)."""
    out = dict(base)
    for key, value in override.items():
        if _adds(key):
            out[key[:-1]] = _appended(key[:-1], out.get(key[:-1]), _resolve_appends(value))
        elif value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_settings(out[key], value)
        elif _named(value) and _named(out.get(key)):
            given = {v["name"]: v for v in value}
            merged = [merge_settings(b, given.pop(b["name"])) if b["name"] in given else b for b in out[key]]
            out[key] = merged + [_resolve_appends(v) for v in value if v["name"] in given]
        else:
            out[key] = _resolve_appends(value)
    return out


def _read_settings(path: Path, where: str, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A recipe file's settings, comments dropped, laid over its ``"base"`` recipe (a path
    relative to the file's folder), which may have a base of its own."""
    try:
        params = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecipeError(f"{where}: file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RecipeError(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(params, dict):
        raise RecipeError(f"{where}: expected a JSON object of model settings")
    return _with_base(params, path.parent, where, (*chain, path.resolve()))


def _with_base(params: dict[str, Any], folder: Path, where: str, chain: tuple[Path, ...]) -> dict[str, Any]:
    params = {k: v for k, v in params.items() if not k.startswith("_")}
    base = params.pop("base", None)
    settings: dict[str, Any] = {}
    if base is not None:
        if not isinstance(base, str) or not base:
            raise RecipeError(f"{where}: 'base' must be the path of another recipe, got {base!r}")
        path = folder / base
        if path.resolve() in chain:
            names = " -> ".join(str(p) for p in (*chain, path.resolve()))
            raise RecipeError(f"{where}: 'base' recipes form a loop ({names})")
        settings = _read_settings(path, f"{where}: base {base}", chain)
    try:
        return merge_settings(settings, params)  # over no base, a "key+" is the list itself
    except RecipeError as exc:  # a "key+" that cannot add
        raise RecipeError(f"{where}: {exc}") from None


def load_recipe(recipe: str | os.PathLike | dict[str, Any] | None) -> dict[str, Any]:
    """:class:`~aigvqa.model.QualityModel` parameters from a JSON recipe file or a dict.

    Keys starting with ``_`` are comments. ``"base"`` names another recipe (a path relative to
    this file's folder; to the working directory for a dict) that this one is laid over: its
    objects merge key by key, a stack's blocks by name, ``"key+"`` adds to the base's list, other
    values replace the base's, and ``null`` removes a setting (:func:`merge_settings`). Unknown
    keys and bad ``sampling`` / ``augment`` settings are reported, naming the file, never passed on.
    """
    if recipe is None:
        return {}
    where = "recipe" if isinstance(recipe, dict) else f"--config {recipe}"
    if isinstance(recipe, dict):
        params = _with_base(dict(recipe), Path.cwd(), where, ())
    else:
        params = _read_settings(Path(recipe), where)
    unknown = sorted(set(params) - RECIPE_KEYS)
    if unknown:
        raise RecipeError(f"{where}: unknown settings {', '.join(unknown)}; known: {', '.join(sorted(RECIPE_KEYS))}")
    if isinstance(params.get("sampling"), dict):
        from aigvqa.video import SamplingConfig

        try:
            SamplingConfig(**params["sampling"])
        except TypeError as exc:
            raise RecipeError(f"{where}: bad 'sampling' ({exc})") from None
    if params.get("augment") is not None:
        from aigvqa.augment import AugmentConfig

        if not isinstance(params["augment"], dict):
            raise RecipeError(f"{where}: 'augment' must be an object of augmentation settings")
        try:
            AugmentConfig.from_dict(params["augment"])
        except ValueError as exc:
            raise RecipeError(f"{where}: {exc}") from None
    return params


def model_params(
    config: str | os.PathLike | dict[str, Any] | None = None,
    *,
    features: str | None = None,
    regressor: str | None = None,
    target: str = "gt_score",
    seed: int = 0,
    backbone: list[str] | None = None,
    weights: list[str] | None = None,
    offline: bool = False,
    device: str | None = None,
    head: str | None = None,
) -> dict[str, Any]:
    """QualityModel parameters: explicit options over the recipe over the defaults."""
    from aigvqa.deep_options import apply_deep_options
    from aigvqa.features import DEFAULT_FEATURES

    params = load_recipe(config)
    if features:
        params["features"] = features
    params.setdefault("features", DEFAULT_FEATURES)
    if regressor:
        params["regressor"] = regressor
    params.update(target=target, seed=seed)
    return apply_deep_options(params, backbone, weights, offline, device, head, regressor)
