"""Artifact dimensions: learned from graded copies, saved with the model, and what the score falls with."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from aigvqa.artifacts import ARTIFACTS
from aigvqa.dimensions import artifact_costs, penalty_factor
from aigvqa.extract import FeatureTable
from aigvqa.families import FamilyConfig, plan
from aigvqa.model import ModelError, QualityModel

NAMES = [f"spatial.f{j}" for j in range(6)] + [f"temporal.g{j}" for j in range(4)] + ["lexical.lex_chars"]


def _families(n_clips: int = 16, seed: int = 0):
    """Rows of a synthetic family table: artifact k raises feature k in proportion to its severity."""
    rng = np.random.default_rng(seed)
    rows, arts, sev = [], [], []
    for _ in range(n_clips):
        base = rng.normal(0, 0.2, len(NAMES))
        for a in [None, *ARTIFACTS]:
            for s in [0.0] if a is None else [0.05, 0.2, 0.5, 0.9]:
                x = base.copy()
                if a is not None:
                    x[ARTIFACTS.index(a) % 10] += 3 * s
                rows.append(x)
                arts.append(a)
                sev.append(s)
    return FeatureTable(NAMES, np.array(rows), {}, {}), arts, np.array(sev)


def _model(penalty: bool = True) -> QualityModel:
    dims = {"params": {"n_estimators": 40}, **({"penalty": {"drop": 0.6}} if penalty else {})}
    return QualityModel(features="spatial,temporal,lexical", regressor="ridge", artifact_dims=dims)


def _fitted(penalty: bool = True) -> tuple[QualityModel, FeatureTable]:
    table, arts, sev = _families()
    model = _model(penalty).fit_dimensions(table, arts, sev)
    y = 3.0 + table.values[:, -1]  # the rated clips' targets do not depend on the artifacts here
    return model.fit(table, y), table


def test_dimensions_rise_with_severity_and_read_clean_on_clean_rows():
    model, table = _fitted()
    dims = model.dimensions_array(table)
    _, arts, sev = _families()
    arts = np.array([a or "" for a in arts])
    for k, a in enumerate(ARTIFACTS[:9]):
        col = dims[:, k]
        means = [col[(arts == a) & (sev == s)].mean() for s in (0.05, 0.2, 0.5, 0.9)]
        assert np.all(np.diff(means) > 0), (a, means)
        assert np.median(col[arts == ""]) <= 0.15
    d = model.dimensions(table)[0]
    assert set(d) == set(ARTIFACTS) and all(0.0 <= v <= 1.0 for v in d.values())


def test_dims_round_trip_through_save_and_load(tmp_path):
    model, table = _fitted()
    model.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["dims"]["artifacts"] == list(ARTIFACTS)
    loaded = QualityModel.load(tmp_path / "m")
    assert loaded.has_dimensions()
    assert loaded.dimensions(table) == model.dimensions(table)
    np.testing.assert_array_equal(loaded.predict(table), model.predict(table))


def test_codec_columns_teach_the_compression_dimension_only(tmp_path):
    """A measure made for one artifact reaches that artifact's estimate; every other dimension reads
    exactly what it read without it (the score, which may use them, does not move)."""
    from aigvqa.dimensions import DimensionModel

    table, arts, sev = _families()
    # a codec trace that follows the compression copies' severity and nothing else
    trace = np.array([3 * s if a == "compression" else 0.0 for a, s in zip(arts, sev, strict=True)])
    names = [*table.names, "codec.cd_block8_mean"]
    X = np.column_stack([table.values, trace])
    plain = DimensionModel(params={"n_estimators": 40}).fit(table.values, table.names, arts, sev)
    both = DimensionModel(params={"n_estimators": 40}).fit(X, names, arts, sev)
    assert both.own_columns_["compression"] == ["codec.cd_block8_mean"]
    assert all(not both.own_columns_[a] for a in ARTIFACTS if a != "compression")
    a_plain, a_both = plain.predict(table.values, table.names), both.predict(X, names)
    k = ARTIFACTS.index("compression")
    others = [j for j in range(len(ARTIFACTS)) if j != k]
    np.testing.assert_array_equal(a_both[:, others], a_plain[:, others])
    assert not np.array_equal(a_both[:, k], a_plain[:, k])
    meta = both.save(tmp_path)
    loaded = DimensionModel.load(tmp_path, json.loads(json.dumps(meta)))
    np.testing.assert_array_equal(loaded.predict(X, names), a_both)
    del meta["own_columns"]  # a model saved before per-dimension columns reads the shared ones only
    old = DimensionModel.load(tmp_path, meta)
    assert old.own_columns_ == {}


def test_failed_rows_have_no_dimensions():
    model, table = _fitted()
    bad = FeatureTable(table.names, table.values[:3].copy(), {1: "cannot decode"}, {})
    out = model.dimensions(bad)
    assert out[1] is None and out[0] is not None


def test_a_model_without_dimensions_says_so(tmp_path):
    table, _, _ = _families(5)
    model = QualityModel(features="spatial,temporal,lexical", regressor="ridge").fit(
        table, np.linspace(1, 5, len(table.values))
    )
    model.save(tmp_path / "old")
    meta = json.loads((tmp_path / "old" / "model.json").read_text())
    meta.pop("dims"), meta.pop("artifact_dims")  # a model directory written before dimensions existed
    (tmp_path / "old" / "model.json").write_text(json.dumps(meta))
    old = QualityModel.load(tmp_path / "old")
    assert not old.has_dimensions()
    with pytest.raises(ModelError, match="no artifact dimensions"):
        old.dimensions(table)


def test_score_falls_with_every_dimension():
    model, table = _fitted()
    dims = model.dimensions_array(table)
    w = model._weights()
    f = penalty_factor(dims, w)
    assert np.all((f > 0) & (f <= 1))
    # more of any artifact, everything else equal: a lower factor
    bumped = dims.copy()
    bumped[:, 0] = np.minimum(bumped[:, 0] + 0.1, 1.0)
    assert np.all(penalty_factor(bumped, w) <= f)
    costs = artifact_costs(dims, w, np.full(len(dims), 2.0))
    np.testing.assert_allclose(costs.sum(axis=1), (f - 1) * 2.0)
    # the explanation still adds up: feature shares, baseline and the artifacts' costs give the score
    contrib = model.explain(table)
    total = contrib.sum(axis=1) + model.dimension_costs(table).sum(axis=1)
    np.testing.assert_allclose(total, model.predict_raw(table), atol=1e-9)


def test_family_plan_covers_faint_and_strong_severities():
    v = plan("clip.mp4", FamilyConfig(copies=2, min_severity=0.02))
    sev = {a: sorted(x.severity for x in v if x.artifact == a) for a in ARTIFACTS}
    for a, (lo, hi) in sev.items():
        assert 0.02 <= lo < 0.15 <= hi <= 1.0, a
    assert plan("clip.mp4", FamilyConfig()) == plan("clip.mp4", FamilyConfig())


def test_coded_family_members_are_h264_files_with_their_copys_labels(tmp_path):
    """``coded``: every member is also an H.264 MP4 at each CRF, labelled as its lossless twin, and
    written again from scratch it has the same bytes (its features' cache entries stay valid)."""
    from aigvqa.augment import write_lossless
    from aigvqa.data import Item
    from aigvqa.families import family_items
    from aigvqa.synthetic import render_clip
    from aigvqa.video import probe

    frames, _ = render_clip(np.random.default_rng([7, 0]), [], size=(96, 64), n_frames=8)
    write_lossless(tmp_path / "clip.mkv", list(frames), 8)
    cfg = FamilyConfig(artifacts=("noise",), copies=1, max_frames=8, scales=(0.5,), coded=(23, 40))
    members = family_items([Item("clip.mkv", "a cat")], tmp_path, tmp_path / "fam", cfg)
    assert len(members) == 3 * 3  # base, the noise copy, the half-size copy; each lossless + 2 coded
    assert sorted(str(m.meta["coded"]) for m in members) == ["23"] * 3 + ["40"] * 3 + ["None"] * 3
    for m in members:
        twin = next(x for x in members if x.meta["coded"] is None and x.meta["artifact"] == m.meta["artifact"]
                    and x.meta["scale"] == m.meta["scale"])  # fmt: skip
        assert (m.meta["severity"], m.prompt) == (twin.meta["severity"], "a cat")
        if m.meta["coded"] is not None:
            assert m.video.endswith(f".crf{m.meta['coded']}.mp4")
            assert probe(m.video).coding_qp is not None
    fine, coarse = (next(m for m in members if m.meta["coded"] == c and m.meta["artifact"] is None
                         and m.meta["scale"] == 1.0) for c in (23, 40))  # fmt: skip
    assert probe(coarse.video).coding_qp > probe(fine.video).coding_qp
    first = {m.video: Path(m.video).read_bytes() for m in members}
    for v in first:
        Path(v).unlink()
    again = family_items([Item("clip.mkv", "a cat")], tmp_path, tmp_path / "fam", cfg)
    assert {m.video: Path(m.video).read_bytes() for m in again} == first
    with pytest.raises(ValueError, match="coded"):
        FamilyConfig.from_dict({"coded": [23.5]})


def test_bundled_default_reads_an_artifact_on_its_own_dimension(tmp_path):
    """A clean synthetic clip (never seen in training) and copies degraded by three artifacts: each
    copy reads higher than the original on its artifact's dimension (and, when the score uses the
    dimensions, scores lower: today's 'default' scores with its noise dimension)."""
    from aigvqa.artifacts import degrade
    from aigvqa.augment import write_lossless
    from aigvqa.data import Item
    from aigvqa.pipeline import RunOptions, predict
    from aigvqa.synthetic import render_clip
    from aigvqa.zoo import bundled_names, resolve_model

    if "default" not in bundled_names():
        pytest.skip("no bundled 'default' model in this tree")
    model = QualityModel.load(resolve_model("default"))
    if not model.has_dimensions():
        pytest.skip("the bundled model has no dimensions")
    frames, prompt = render_clip(np.random.default_rng([99, 0]), [], size=(256, 192), n_frames=24)
    frames = list(frames)
    write_lossless(tmp_path / "clean.mkv", frames, 12)
    items = [Item(video="clean.mkv", prompt=prompt)]
    for a in ("blur", "noise", "freeze"):
        write_lossless(tmp_path / f"{a}.mkv", degrade(frames, 12, [(a, 0.6)], seed=5), 12)
        items.append(Item(video=f"{a}.mkv", prompt=prompt))
    scores, table = predict(model, items, RunOptions(videos_dir=tmp_path, progress=False))
    dims = model.dimensions(table)
    for k, a in enumerate(("blur", "noise", "freeze"), start=1):
        assert dims[k][a] > dims[0][a], (a, dims[0][a], dims[k][a])
        if model.scores_with_dimensions():
            assert scores[k] < scores[0], a


def test_dimensions_without_a_penalty_are_a_diagnostic(tmp_path):
    """No "penalty" in artifact_dims: the model reads the dimensions, but scores and explains as the
    same recipe without artifact_dims (same predictions, no artifact costs)."""
    table, arts, sev = _families()
    y = 3.0 + table.values[:, -1] - 0.5 * table.values[:, 0]
    plain = QualityModel(features="spatial,temporal,lexical", regressor="ridge").fit(table, y)
    diag = _model(penalty=False)
    diag.artifact_dims["content"] = "prompt"  # ignored without a penalty: the video still reaches q
    diag = diag.fit_dimensions(table, arts, sev).fit(table, y)
    assert diag.has_dimensions() and not diag.scores_with_dimensions()
    assert plain.predict(table).tolist() == diag.predict(table).tolist()
    assert diag.dimension_costs(table) is None
    np.testing.assert_array_equal(diag.explain(table), plain.explain(table))
    diag.save(tmp_path / "m")
    loaded = QualityModel.load(tmp_path / "m")
    assert loaded.has_dimensions() and not loaded.scores_with_dimensions()
    assert loaded.predict(table).tolist() == plain.predict(table).tolist()


def test_explanations_add_the_artifact_costs_of_a_penalised_score():
    """With a penalty, each artifact's cost joins ``by_artifact``: baseline + by_artifact + bound
    is the score, and ``bound`` is only what keeping the score in range moved it."""
    from aigvqa.dimensions import LABELS
    from aigvqa.explain import explain_rows

    model, table = _fitted()
    scores = model.predict(table)
    expl = explain_rows(model, table, scores)
    costs = model.dimension_costs(table)
    feature_part = model.explain(table)[:, :-1].sum(axis=1)
    for i, e in enumerate(expl):
        assert e.baseline + sum(e.by_artifact.values()) + e.bound == pytest.approx(e.score, abs=1e-9)
        assert e.bound == pytest.approx(scores[i] - model.predict_raw(table)[i], abs=1e-9)
        assert sum(e.by_artifact.values()) == pytest.approx(feature_part[i] + costs[i].sum(), abs=1e-9)
    heavy = int(np.argmin(costs.sum(axis=1)))  # the row whose artifacts cost most
    worst = ARTIFACTS[int(np.argmin(costs[heavy]))]
    assert LABELS.get(worst, worst) in expl[heavy].by_artifact
    assert costs[heavy].sum() < 0


def test_a_penalty_on_top_lowers_the_recipes_own_score_by_its_artifacts():
    """``"on_top"``: the content part is the recipe's own score (trained on the targets as they are),
    and the penalty's product lowers it, so an artifact the content part rewards still lowers the score."""
    table, arts, sev = _families()
    k = ARTIFACTS.index("noise")
    y = 3.0 + table.values[:, -1] + 0.5 * table.values[:, k % 10]  # the rated scores reward what noise raises
    plain = QualityModel(features="spatial,temporal,lexical", regressor="ridge").fit(table, y)
    on_top = {"on_top": True, "drop": 0.0, "drop_by_artifact": {"noise": 1.0}}
    dims = {"params": {"n_estimators": 40}, "penalty": on_top}
    model = QualityModel(features="spatial,temporal,lexical", regressor="ridge", artifact_dims=dims)
    model = model.fit_dimensions(table, arts, sev).fit(table, y)
    assert model.penalty_on_top() and not _model().penalty_on_top()
    d = model.dimensions_array(table)
    q = plain.predict_raw(table)
    np.testing.assert_allclose(model.predict_raw(table), 1.0 + (q - 1.0) * (1.0 - d[:, k]), rtol=1e-9)
    arts = np.array([a or "" for a in arts])
    plain_means = [plain.predict(table)[(arts == "noise") & (sev == s)].mean() for s in (0.05, 0.2, 0.5, 0.9)]
    means = [model.predict(table)[(arts == "noise") & (sev == s)].mean() for s in (0.05, 0.2, 0.5, 0.9)]
    assert np.all(np.diff(plain_means) > 0) and np.all(np.diff(means) < 0), (plain_means, means)
    costs = model.dimension_costs(table)
    assert np.all(costs[:, [j for j in range(costs.shape[1]) if j != k]] == 0.0)


def _penalised_model(table, arts, sev, y, penalty: dict) -> QualityModel:
    model = QualityModel(features="spatial,temporal,lexical", regressor="ridge",
                         artifact_dims={"params": {"n_estimators": 40}, "penalty": penalty})  # fmt: skip
    return model.fit_dimensions(table, arts, sev).fit(table, y)


def _penalised_scores(table, arts, sev, y, penalty: dict) -> np.ndarray:
    return _penalised_model(table, arts, sev, y, penalty).predict_raw(table)


def test_a_penalty_deadzone_lets_what_clean_clips_read_cost_nothing():
    table, arts, sev = _families()
    y = 3.0 + table.values[:, -1]
    k = ARTIFACTS.index("noise")
    pen = {"on_top": True, "drop": 0.0, "drop_by_artifact": {"noise": 1.0}}
    scores = {t: _penalised_scores(table, arts, sev, y, {**pen, "deadzone": t}) for t in (0.0, 0.3)}
    d = _penalised_model(table, arts, sev, y, pen).dimensions_array(table)[:, k]
    q = QualityModel(features="spatial,temporal,lexical", regressor="ridge").fit(table, y).predict_raw(table)
    below = d <= 0.3
    assert below.any() and (~below).any()
    np.testing.assert_allclose(scores[0.3][below], q[below], rtol=1e-12)  # under the deadzone: no cost
    np.testing.assert_allclose(scores[0.3][~below], 1 + (q[~below] - 1) * (1 - (d[~below] - 0.3) / 0.7), rtol=1e-9)
    assert np.all(scores[0.0][~below] < scores[0.3][~below])
    with pytest.raises(ValueError, match="deadzone"):
        _penalised_model(table, arts, sev, y, {**pen, "deadzone": 1.5})


def test_an_artifact_s_own_deadzone_replaces_the_common_one_for_it_alone():
    table, arts, sev = _families()
    y = 3.0 + table.values[:, -1]
    pen = {"on_top": True, "drop": 0.0, "drop_by_artifact": {"noise": 1.0, "blur": 1.0}, "deadzone": 0.3}
    common = _penalised_model(table, arts, sev, y, pen)
    own = _penalised_model(table, arts, sev, y, {**pen, "deadzone_by_artifact": {"noise": 0.05}})
    d = own.dimensions_array(table)
    kn, kb = ARTIFACTS.index("noise"), ARTIFACTS.index("blur")
    q = QualityModel(features="spatial,temporal,lexical", regressor="ridge").fit(table, y).predict_raw(table)
    expected = 1 + (q - 1) * (1 - np.clip((d[:, kn] - 0.05) / 0.95, 0, 1)) * (1 - np.clip((d[:, kb] - 0.3) / 0.7, 0, 1))
    np.testing.assert_allclose(own.predict_raw(table), expected, rtol=1e-9)
    faint = (d[:, kn] > 0.05) & (d[:, kn] <= 0.3)  # noise a clean clip would not read, under the common deadzone
    assert faint.any()
    assert np.all(own.predict_raw(table)[faint] < common.predict_raw(table)[faint])
    for bad, match in (({"nois": 0.01}, "not one of"), ({"noise": 1.0}, "deadzone_by_artifact")):
        with pytest.raises(ValueError, match=match):
            _penalised_model(table, arts, sev, y, {**pen, "deadzone_by_artifact": bad})


def test_a_penalty_cap_makes_a_trace_cost_and_leaves_more_to_the_content_part():
    table, arts, sev = _families()
    y = 3.0 + table.values[:, -1]
    k = ARTIFACTS.index("noise")
    pen = {"on_top": True, "drop": 0.0, "drop_by_artifact": {"noise": 1.0}}
    scores = {None: _penalised_scores(table, arts, sev, y, pen),
              0.2: _penalised_scores(table, arts, sev, y, {**pen, "cap_by_artifact": {"noise": 0.2}})}  # fmt: skip
    d = _penalised_model(table, arts, sev, y, pen).dimensions_array(table)[:, k]
    q = QualityModel(features="spatial,temporal,lexical", regressor="ridge").fit(table, y).predict_raw(table)
    np.testing.assert_allclose(scores[0.2], 1 + (q - 1) * (1 - np.minimum(d, 0.2)), rtol=1e-9)
    above = d > 0.2
    assert above.any() and (~above).any()
    np.testing.assert_allclose(scores[0.2][~above], scores[None][~above], rtol=1e-12)  # up to the cap: as before
    assert np.all(scores[0.2][above] > scores[None][above])  # above it: no more than the cap costs
    for bad in ({"noise": 0.0}, {"noise": 1.5}, {"nosie": 0.1}, {"noise": True}):
        with pytest.raises(ValueError, match="cap_by_artifact"):
            _penalised_model(table, arts, sev, y, {**pen, "cap_by_artifact": bad})


def _with_qp(table: FeatureTable, qp: np.ndarray) -> FeatureTable:
    return FeatureTable([*table.names, "bitstream.bs_h264_qp"], np.column_stack([table.values, qp]), {}, {})


DIRECT = {"compression": {"feature": "bitstream.bs_h264_qp", "zero": 28, "one": 51}}


def test_a_direct_reading_joins_its_dimension_and_alone_prices_it():
    """``"direct"``: an artifact read straight from one measure (an H.264 file's quantiser for
    compression). The dimension shows the larger of it and the learned estimate; the penalty reads it
    alone, so what the learned estimate reads costs nothing and a coarser file always scores lower."""
    table, arts, sev = _families()
    rng = np.random.default_rng(1)
    qp = rng.uniform(10, 51, len(arts))
    qp[::5] = np.nan  # e.g. a GIF: no quantiser
    table = _with_qp(table, qp)
    y = 3.0 + table.values[:, -2]
    k = ARTIFACTS.index("compression")
    pen = {"on_top": True, "drop": 0.0, "drop_by_artifact": {"compression": 1.0},
           "deadzone_by_artifact": {"compression": 0.0}}  # fmt: skip
    dims = {"params": {"n_estimators": 40}, "penalty": pen}
    features = "spatial,temporal,lexical,bitstream"
    direct = QualityModel(features=features, regressor="ridge", artifact_dims={**dims, "direct": DIRECT})
    direct = direct.fit_dimensions(table, arts, sev).fit(table, y)
    learned = QualityModel(features=features, regressor="ridge", artifact_dims=dims)
    learned = learned.fit_dimensions(table, arts, sev).fit(table, y)
    reading = np.clip((qp - 28) / 23, 0, 1)
    d_learned = learned.dimensions_array(table)[:, k]
    shown = direct.dimensions_array(table)[:, k]
    np.testing.assert_allclose(shown, np.where(np.isnan(qp), d_learned, np.maximum(d_learned, reading)), rtol=1e-12)
    q = QualityModel(features="spatial,temporal,lexical,bitstream", regressor="ridge").fit(table, y).predict_raw(table)
    np.testing.assert_allclose(direct.predict_raw(table), 1 + (q - 1) * (1 - np.nan_to_num(reading)), rtol=1e-9)
    assert np.all(direct.predict_raw(table)[qp > 29] < q[qp > 29])  # a coarse file costs
    np.testing.assert_allclose(direct.predict_raw(table)[~(qp > 28)], q[~(qp > 28)], rtol=1e-12)  # fine or none: free


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"compresion": DIRECT["compression"]}, "not one of"),
        ({"compression": {**DIRECT["compression"], "feature": "bitstream.nothere"}}, "not among the model's columns"),
        ({"compression": {**DIRECT["compression"], "one": 28}}, "two different numbers"),
        ({"compression": {"feature": "bitstream.bs_h264_qp"}}, '"zero": number'),
        (["compression"], "must map artifacts"),
    ],
)
def test_a_bad_direct_reading_is_named_before_any_fitting(bad, match):
    table, arts, sev = _families()
    table = _with_qp(table, np.full(len(arts), 30.0))
    model = QualityModel(features="spatial,temporal,lexical,bitstream", regressor="ridge",
                         artifact_dims={"params": {"n_estimators": 40}, "direct": bad})  # fmt: skip
    with pytest.raises(ValueError, match=match):
        model.fit_dimensions(table, arts, sev)
