"""How far the prompt block moves a model's scores, compared with the video block.

A stacking model's score is its baseline plus one share per block (``QualityModel.explain_blocks``).
This prints the spread of each block's share (median and 90th percentile of |share|, standard
deviation, range; score points on the 1-5 scale):

- ``modern_eval``: the modern eval clips that have a published prompt, with that prompt (video
  and prompt; measure only: these clips never train, calibrate or select a model). The first
  ``--frames`` frames of ``--clips`` clips per source, the copies ``modern_eval.py`` makes and caches;
- ``fetv_train``: FETV's 174 clips and their 35 prompts, the model's own training data (in
  sample: how far each block moves the scores of the clips it learned from);
- ``qeval_test_prompts`` / ``qeval_all_prompts``: the challenge's prompts (Q-Eval-Video, prompt
  only: no videos there), whose wording FETV's 35 prompts never covered: the unique prompts of
  ``test.json``, and of train, val and test together. No label is read. ``qeval_familiar`` /
  ``qeval_unfamiliar`` split the latter by whether at least half of a prompt's content words
  (stemmed, as the ``words`` extractor reads them) occur in some FETV prompt.

A model whose prompt block weighs its share by ``familiarity`` (the fraction of a prompt's
content words seen in training; the stacking block setting) is measured as loaded and, side by
side, with that weighting switched off in memory (``without familiarity``), and the median
familiarity of each set is printed.

``--max-share M`` also prints every figure with the prompt block bounded to ±M (the stacking
block parameter ``max_share``, applied to the loaded model in memory; nothing is written).

What the block is worth:

- on the challenge's wording: Score ((PLCC + SROCC) / 2) of the prompt block's share against
  Q-Eval-Video's ``train.json`` labels, per item and per prompt (mean label); measured only;
- on FETV (``--cv random,prompt``, about 7 minutes per scheme on one core): the model's recipe
  in 5-fold CV on the 140 AI clips (``gt_score``; ``--group-by prompt`` as ``fetv.py`` for
  ``prompt``), and the same out-of-fold predictions with the prompt block bounded to each of
  ``--bounds``. The bound acts at prediction only (the weights are fitted without it), so each
  fold's model is fitted once and scored with every bound. A recipe whose score does not use its
  artifact dimensions is run without them (its score is the same).

    python benchmarks/prompt_block.py [--model default] [--modern ../shared/data/modern]
        [--fetv ../shared/data/fetv] [--qeval ../shared/data/qeval_video] [--clips 2] [--frames 24]
        [--max-share 0.15] [--cv random,prompt] [--bounds 0.05,0.1,0.15,0.25,0.5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
import modern_eval  # noqa: E402

from aigvqa.cache import FeatureCache  # noqa: E402
from aigvqa.data import Item  # noqa: E402
from aigvqa.extract import FeatureTable, extract_features  # noqa: E402
from aigvqa.features.prompt import prompt_terms  # noqa: E402
from aigvqa.model import QualityModel  # noqa: E402
from aigvqa.pipeline import RunOptions, featurize  # noqa: E402
from aigvqa.zoo import resolve_model  # noqa: E402

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"


def spread(x: np.ndarray) -> dict[str, float]:
    x = x[np.isfinite(x)]
    return {"n": int(len(x)), "median_abs": float(np.median(np.abs(x))), "p90_abs": float(np.quantile(np.abs(x), 0.9)),
            "std": float(x.std()), "range": [float(x.min()), float(x.max())]}  # fmt: skip


def prompt_table(model: QualityModel, prompts: list[str]) -> FeatureTable:
    """The model's feature table of prompts without videos: prompt columns filled, video columns 0
    (only the shares of blocks that read no video column mean anything)."""
    specs = [(n, c) for n, c in model.extractor_specs() if f"{n}." in model._prompt_prefixes()]
    ptab = extract_features([Item(video="", prompt=p) for p in prompts], specs, progress=False)
    full = np.zeros((len(prompts), len(model.feature_names_)))
    for j, name in enumerate(model.feature_names_):
        if name in ptab.names:
            full[:, j] = ptab.values[:, ptab.names.index(name)]
    return FeatureTable(list(model.feature_names_), full, sequences=ptab.sequences)


def prompt_only_shares(model: QualityModel, table: FeatureTable) -> dict[str, np.ndarray]:
    """Each block's share of rows built by :func:`prompt_table`: with a penalty the shares are
    scaled by the video's artifact factor, which has no meaning for those zero video columns, so
    it is taken back out (the shares the prompt gives a clean clip)."""
    shares, _ = model.explain_blocks(table)
    factor = model.penalty_factors(table)
    return {k: v / factor for k, v in shares.items()}


def prompt_blocks(model: QualityModel) -> list[str]:
    """The blocks that read prompt columns only."""
    stack = model.regressor_
    prefixes = tuple(model._prompt_prefixes())
    return [name for name, cols in zip(stack.block_names(), stack.columns, strict=True)
            if all(model.feature_names_[j].startswith(prefixes) for j in cols)]  # fmt: skip


def bound_prompt_block(model: QualityModel, max_share: float) -> None:
    """Give the loaded model's prompt-only blocks ``max_share`` (in memory), main and fallback."""
    names = set(prompt_blocks(model))
    for stack in (model.regressor_, model.fallback_):
        for block in getattr(stack, "blocks", []):
            if block["name"] in names:
                block["max_share"] = float(max_share)


def weighs_by_familiarity(model: QualityModel) -> bool:
    return any(k is not None for k in getattr(model.regressor_, "known_ids", []))


def without_familiarity(model: QualityModel) -> None:
    """Switch the loaded model's familiarity weighting off (in memory), main and fallback."""
    for stack in (model.regressor_, model.fallback_):
        if hasattr(stack, "known_ids"):
            stack.known_ids = [None] * len(stack.known_ids)


def measure(model: QualityModel, tables: dict[str, tuple[FeatureTable, np.ndarray | None]]) -> dict:
    out = {}
    only_prompt = prompt_blocks(model)
    stack = model.regressor_
    for where, (table, rows) in tables.items():
        shares = prompt_only_shares(model, table) if where.startswith("qeval") else model.explain_blocks(table)[0]
        keep = only_prompt if where.startswith("qeval") else list(shares)
        out[where] = {k: spread(v if rows is None else v[rows]) for k, v in shares.items() if k in keep}
        if weighs_by_familiarity(model):
            fam = stack.familiarities(model._q_values(table), table.sequences)
            for k, name in enumerate(stack.block_names()):
                if stack.known_ids[k] is not None:
                    f = fam[:, k] if rows is None else fam[rows, k]
                    out[where][name]["familiarity_median"] = float(np.median(f))
                    out[where][name]["familiarity_quartiles"] = [float(np.quantile(f, q)) for q in (0.25, 0.75)]
    return out


def known_fraction(fetv_prompts: list[str], prompts: list[str]) -> np.ndarray:
    """Per prompt, the fraction of its content words (stemmed, as the ``words`` extractor reads
    them) that occur in some FETV prompt (1 for a prompt without content words)."""
    vocabulary = {t for p in fetv_prompts for t in prompt_terms(p, bigrams=False)}
    terms = [prompt_terms(p, bigrams=False) for p in prompts]
    return np.array([np.mean([t in vocabulary for t in ts]) if ts else 1.0 for ts in terms])


def score(pred: np.ndarray, y: np.ndarray) -> float:
    """(PLCC + SROCC) / 2, as ``fetv.py``."""
    return float((stats.pearsonr(pred, y)[0] + stats.spearmanr(pred, y)[0]) / 2)


def qeval_worth(model: QualityModel, train: list[dict]) -> dict[str, float]:
    """Score of the prompt blocks' summed share against the challenge's train labels."""
    labels: dict[str, list[float]] = defaultdict(list)
    for x in train:
        labels[x["prompt"]].append(float(x["gt_score"]))
    prompts = sorted(labels)
    shares = prompt_only_shares(model, prompt_table(model, prompts))
    share = sum(shares[b] for b in prompt_blocks(model))
    at = {p: i for i, p in enumerate(prompts)}
    per_item = np.array([share[at[x["prompt"]]] for x in train])
    return {"items": len(train), "prompts": len(prompts),
            "score_items": score(per_item, np.array([float(x["gt_score"]) for x in train])),
            "score_prompt_means": score(share, np.array([np.mean(labels[p]) for p in prompts]))}  # fmt: skip


def fetv_cv(model_dir: Path, fetv: Path, modern: Path, group_by: str | None, bounds: list[float]) -> dict:
    """FETV 5-fold CV of the model's recipe (140 AI clips, ``gt_score``), out-of-fold predictions
    without a bound on the prompt block and with each of ``bounds``: ``{bound: (gt, within)}``."""
    from aigvqa.families import load_unlabelled
    from aigvqa.pipeline import cross_validate, fold_ids

    ai = [x for x in json.loads((fetv / "labels.json").read_text()) if x["ai_generated"]]
    items = [Item(video=x["video"], prompt=x["prompt"], meta=x) for x in ai]
    y = np.array([float(x["gt_score"]) for x in ai])
    loaded = QualityModel.load(model_dir)
    params = {**loaded.get_params(), "target": "gt_score"}
    unlabelled = None
    if loaded.scores_with_dimensions():
        unlabelled = load_unlabelled(modern, "train")
    else:
        params["artifact_dims"] = None  # a diagnostic: the same score without them
    versions: list[float | None] = [None, *bounds]
    names = set(prompt_blocks(loaded))
    per_fold: list[dict] = []  # the predictions of each fold's held-out clips, by bound
    predict = QualityModel.predict

    def scored_with_every_bound(self: QualityModel, table: FeatureTable) -> np.ndarray:
        out = {}
        for m in versions:
            for stack in (self.regressor_, self.fallback_):
                for block in getattr(stack, "blocks", []):
                    if block["name"] in names:
                        block["max_share"] = m
            out[m] = predict(self, table)
        per_fold.append(out)
        return out[None]

    run = RunOptions(videos_dir=fetv / "videos", cache=FeatureCache(), workers=0, progress=False)
    QualityModel.predict = scored_with_every_bound
    try:
        cross_validate(QualityModel(**params), items, run, folds=5, repeats=1, group_by=group_by,
                       unlabelled=unlabelled)  # fmt: skip
    finally:
        QualityModel.predict = predict
    ids = fold_ids(items, 5, params["seed"], group_by)
    gens = sorted({x["generator"] for x in ai})
    out = {}
    for m in versions:
        oof = np.zeros(len(items))
        for k, preds in enumerate(per_fold):
            oof[ids == k] = preds[m]
        within = [
            stats.spearmanr(oof[g], y[g])[0] for gen in gens for g in [np.array([x["generator"] == gen for x in ai])]
        ]
        out["none" if m is None else f"{m:g}"] = {"gt": score(oof, y), "within": float(np.mean(within))}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--modern", type=Path, default=SHARED / "modern")
    parser.add_argument("--fetv", type=Path, default=SHARED / "fetv")
    parser.add_argument("--qeval", type=Path, default=SHARED / "qeval_video")
    parser.add_argument("--clips", type=int, default=2)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--max-share", type=float, help="also measure with the prompt block bounded to this")
    parser.add_argument("--cv", default="", help="FETV CV schemes to run: random, prompt or both (slow)")
    parser.add_argument("--bounds", default="0.05,0.1,0.15,0.25,0.5", help="max_share values for --cv")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    args.modern, args.fetv, args.qeval = args.modern.resolve(), args.fetv.resolve(), args.qeval.resolve()
    model = QualityModel.load(resolve_model(args.model))
    if not hasattr(model.regressor_, "block_contributions"):
        raise SystemExit(f"{args.model}: its regressor ({model.regressor}) has no blocks")
    cache = FeatureCache()
    options = RunOptions(videos_dir=Path("/"), cache=cache, progress=False, workers=0)
    tables: dict[str, tuple[FeatureTable, np.ndarray | None]] = {}
    if (args.modern / "manifest.json").exists():
        entries = [e for e in modern_eval.select(args.modern, args.clips) if e["prompt"]]
        sets = [modern_eval.make_clip_set(e, args.modern, cache.root / "modern_eval", args.frames) for e in entries]
        items = [Item(video=s["original"], prompt=e["prompt"]) for e, s in zip(entries, sets, strict=True)]
        tables["modern_eval"] = (featurize(model, items, options), None)
    fetv_prompts: list[str] = []
    if (args.fetv / "labels.json").exists():
        labels = json.loads((args.fetv / "labels.json").read_text())
        fetv_prompts = sorted({x["prompt"] for x in labels})
        items = [Item(video=str(args.fetv / "videos" / x["video"]), prompt=x["prompt"]) for x in labels]
        tables["fetv_train"] = (featurize(model, items, options), None)
    if (args.qeval / "test.json").exists():
        test = sorted({x["prompt"] for x in json.loads((args.qeval / "test.json").read_text())})
        tables["qeval_test_prompts"] = (prompt_table(model, test), None)
        every = sorted({x["prompt"] for s in ("train", "val", "test") if (args.qeval / f"{s}.json").exists()
                        for x in json.loads((args.qeval / f"{s}.json").read_text())})  # fmt: skip
        table = prompt_table(model, every)
        tables["qeval_all_prompts"] = (table, None)
        if fetv_prompts:
            known = known_fraction(fetv_prompts, every) >= 0.5
            tables["qeval_familiar"] = (table, np.flatnonzero(known))
            tables["qeval_unfamiliar"] = (table, np.flatnonzero(~known))
    out: dict = {"as_loaded": measure(model, tables)}
    if weighs_by_familiarity(model):
        without_familiarity(model)
        out["without familiarity"] = measure(model, tables)
        model = QualityModel.load(resolve_model(args.model))
    if args.max_share is not None:
        bound_prompt_block(model, args.max_share)
        out[f"max_share={args.max_share:g}"] = measure(model, tables)
    for version, sets in out.items():
        print(f"-- {args.model}, {version}")
        for where, blocks in sets.items():
            for block, s in blocks.items():
                lo, hi = s["range"]
                fam = f"  familiarity median {s['familiarity_median']:.2f}" if "familiarity_median" in s else ""
                print(f"{where:<20} {block:<10} n={s['n']:<5} median |share| {s['median_abs']:.3f}  "
                      f"90th pct {s['p90_abs']:.3f}  std {s['std']:.3f}  range {lo:+.2f}..{hi:+.2f}{fam}")  # fmt: skip
    model = QualityModel.load(resolve_model(args.model))  # the model as shipped again
    if (args.qeval / "train.json").exists():
        train = json.loads((args.qeval / "train.json").read_text())
        versions = [("as loaded", model)]
        if weighs_by_familiarity(model):
            plain = QualityModel.load(resolve_model(args.model))
            without_familiarity(plain)
            versions.append(("without familiarity", plain))
        for version, m in versions:
            worth = qeval_worth(m, train)
            out["qeval_train_worth" + ("" if m is model else " without familiarity")] = worth
            print(f"-- worth on the challenge's wording ({version}): Score of the prompt share against "
                  f"{worth['items']} train labels {worth['score_items']:.3f}, against the means of its "
                  f"{worth['prompts']} prompts {worth['score_prompt_means']:.3f}")  # fmt: skip
    bounds = [float(b) for b in args.bounds.split(",") if b]
    for scheme in [s for s in args.cv.split(",") if s]:
        if scheme not in ("random", "prompt"):
            raise SystemExit(f"--cv: unknown scheme {scheme!r} (random, prompt)")
        res = fetv_cv(
            resolve_model(args.model), args.fetv, args.modern, "prompt" if scheme == "prompt" else None, bounds
        )
        out[f"fetv_cv_{scheme}"] = res
        print(f"-- FETV 5-fold CV, {scheme} folds, 140 AI clips, gt_score (max_share: gt / within-generator SROCC)")
        print("   " + ";  ".join(f"{m}: {r['gt']:.3f} / {r['within']:.3f}" for m, r in res.items()))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
