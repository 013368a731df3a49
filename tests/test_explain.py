"""Explanations name artifacts: every classic feature is labelled with the artifact it measures."""

from __future__ import annotations

import numpy as np

from aigvqa.explain import Explanation, artifact_of, format_reasons
from aigvqa.registry import EXTRACTORS
from aigvqa.synthetic import render_clip, write_video
from aigvqa.video import read_clip


def test_every_classic_feature_names_an_artifact(tmp_path):
    frames, prompt = render_clip(np.random.default_rng(0), [("blur", 0.3)])
    path = write_video(tmp_path / "c.mp4", list(frames), 12)
    clip = read_clip(path)
    for name in ("spatial", "temporal"):
        keys = EXTRACTORS.get(name)().extract(clip, prompt)
        labels = {k: artifact_of(f"{name}.{k}") for k in keys}
        assert name not in labels.values(), [k for k, v in labels.items() if v == name]
    assert artifact_of("temporal.tp_frozen_fraction") == "frozen frames"
    assert artifact_of("spatial.sp_lapvar_log_s0_mean") == "blur"
    assert artifact_of("temporal.tp_luma_flicker") == "flicker"
    assert artifact_of("lexical.lex_words") == "prompt difficulty"


def test_reasons_are_the_largest_costs_only():
    expl = Explanation(3.0, 3.2, by_artifact={"blur": -0.12, "flicker": -0.31, "noise": 0.2, "colour": -0.01})
    assert expl.reasons() == [("flicker", -0.31), ("blur", -0.12)]
    assert format_reasons(expl) == "flicker -0.31, blur -0.12"
    assert Explanation(4.0, 3.0, by_artifact={"blur": 0.5}).reasons() == []
