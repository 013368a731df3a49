"""Augmented copies: a copy that cannot be made is named, never dropped silently."""

from __future__ import annotations

import numpy as np
import pytest

from aigvqa import augment
from aigvqa.augment import Variant, make_copies, write_lossless


def test_a_copy_that_cannot_be_made_is_named_and_the_others_are_kept(tmp_path, monkeypatch):
    src = tmp_path / "clip.mkv"
    write_lossless(src, [np.full((32, 48, 3), 40 * i, np.uint8) for i in range(4)], 8.0)
    real = augment.make_variant

    def failing(frames, fps, variant):
        if variant.artifact == "warp":
            raise ValueError("no room to warp")
        return real(frames, fps, variant)

    monkeypatch.setattr(augment, "make_variant", failing)
    variants = [Variant("blur", 0.5, seed=1), Variant("warp", 0.5, seed=2), Variant(None, scale=0.5)]
    with pytest.warns(RuntimeWarning, match=r"clip\.mkv: its warp-s0\.500-r2 copy could not be made "
                                            r"\(ValueError: no room to warp\)"):
        paths = make_copies(str(src), str(tmp_path / "copies"), variants)
    assert paths[1] is None
    assert paths[0] is not None and paths[2] is not None
    assert all(p.endswith(".mkv") for p in (paths[0], paths[2]))


def test_the_same_frames_give_the_same_file(tmp_path):
    """Copies are made again on other machines: equal bytes keep their cached features."""
    frames = [np.full((24, 40, 3), 30 * i, np.uint8) for i in range(5)]
    write_lossless(tmp_path / "a.mkv", frames, 10.0)
    write_lossless(tmp_path / "b.mkv", frames, 10.0)
    assert (tmp_path / "a.mkv").read_bytes() == (tmp_path / "b.mkv").read_bytes()
