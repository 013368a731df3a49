"""How the label-free parts of a recipe generalise to generators and sources they never learned from.

The artifact dimensions and the learned damage (``"artifact_dims"``, ``"damage"``) learn from
families of graded copies, without human labels. Random folds would flatter them: the copies of
one generator's clips look alike. Here every group of clips is held out in turn (each FETV
generator, each source repository of ``modern/train``): the dimensions (and the damage, when the
recipe has one) are learned from every other group's families and measured on the held-out
group's. Beside each figure, its in-sample reference (learned from every family, the held-out
ones too), so the gap is what generalising costs. Per artifact:

- dimension: Spearman correlation between applied and estimated severity over the held-out
  families' sources (at 0) and that artifact's copies;
- damage: the ordered pairs inside each family's chain (source, then the copies by severity)
  whose damage rises, and source < mildest copy alone.

    python benchmarks/label_free_by_source.py [--config recipes/damage_model.json]
        [--data ../shared/data/fetv] [--modern ../shared/data/modern] [--workers 2]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np
from scipy import stats

from aigvqa.artifacts import ARTIFACTS
from aigvqa.cache import FeatureCache
from aigvqa.data import load_items
from aigvqa.families import load_unlabelled
from aigvqa.model import QualityModel
from aigvqa.pipeline import RunOptions, featurize_unique, with_families
from aigvqa.recipes import load_recipe

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"


def groups_of(fam, items, data: Path, modern: Path) -> list[str]:
    """Each family member's group: ``fetv:<generator>`` or the modern clip's source repository."""
    by_video = {x["video"]: x["generator"] for x in json.loads((data / "labels.json").read_text())}
    by_path = {
        str((modern / x["video"]).resolve()): x["source"] for x in json.loads((modern / "manifest.json").read_text())
    }
    out = []
    for m, src in zip(fam.items, fam.source, strict=True):
        out.append(f"fetv:{by_video[items[src].video]}" if src >= 0 else by_path[str(m.meta["family"])])
    return out


def learned(recipe: dict, table, fam, rows: np.ndarray) -> QualityModel:
    """A model whose dimensions (and damage) are learned from the family members ``rows``."""
    art, sev, family, scale = fam.rows(rows)
    return QualityModel(**recipe).fit_dimensions(table.subset(rows), art, sev, family=family, scale=scale)


def measure(dims: np.ndarray, damage: np.ndarray | None, fam, rows: np.ndarray) -> dict[str, tuple]:
    """Per artifact: (dimension SROCC, damage pairs, damage source < mildest) over ``rows``."""
    art, sev, family, scale = fam.rows(rows)
    base = {f: j for j, f in enumerate(family) if art[j] is None and scale[j] == 1.0}
    out = {}
    for k, a in enumerate(ARTIFACTS):
        mine = [j for j in range(len(rows)) if art[j] == a and family[j] in base]
        pool = sorted(set(base.values())) + mine
        truth = [0.0 if art[j] is None else sev[j] for j in pool]
        rho = float(stats.spearmanr(truth, dims[pool, k])[0])
        pairs = first = float("nan")
        if damage is not None:
            held, firsts = [], []
            for f, b in base.items():
                chain = [b] + sorted((j for j in mine if family[j] == f), key=lambda j: sev[j])
                if len(chain) < 2:
                    continue
                held += [damage[j2] > damage[j1] for j1, j2 in itertools.combinations(chain, 2)]
                firsts.append(damage[chain[1]] > damage[chain[0]])
            pairs, first = float(np.mean(held)), float(np.mean(firsts))
        out[a] = (rho, pairs, first)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=HERE.parent / "recipes" / "damage_model.json")
    parser.add_argument("--data", type=Path, default=SHARED / "fetv")
    parser.add_argument("--modern", type=Path, default=SHARED / "modern")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    for need in (args.data / "labels.json", args.modern / "manifest.json"):
        if not need.exists():
            sys.exit(f"{need}: not found (pass --data with the FETV folder and --modern with the modern clips' folder)")
    recipe = load_recipe(args.config)
    if not recipe.get("artifact_dims"):
        sys.exit(f"{args.config}: the recipe learns nothing without labels (no artifact_dims)")
    items = load_items(args.data / "labels.json", target="gt_score", require_target=True)
    run = RunOptions(videos_dir=args.data / "videos", cache=FeatureCache(), workers=args.workers, progress=False)
    template = QualityModel(**recipe)
    fam = with_families(template, items, run, load_unlabelled(args.modern, "train"))
    table = featurize_unique(template, fam.items, run)
    ok = np.array([i not in table.errors for i in range(len(fam.items))])
    group = np.array(groups_of(fam, items, args.data, args.modern))
    everything = learned(recipe, table, fam, np.flatnonzero(ok))
    dims_in = everything.dims_.predict(table.values, table.names)
    dims_out = np.full_like(dims_in, np.nan)
    has_damage = everything.damage_ is not None
    damage_in = everything.damage_.predict(table.values, table.names) if has_damage else None
    damage_out = np.full(len(fam.items), np.nan) if has_damage else None
    names = sorted(set(group))
    for g in names:
        model = learned(recipe, table, fam, np.flatnonzero(ok & (group != g)))
        rows = np.flatnonzero(group == g)
        dims_out[rows] = model.dims_.predict(table.values[rows], table.names)
        if has_damage:
            damage_out[rows] = model.damage_.predict(table.values[rows], table.names)
    print(f"{args.config.name}: {len(names)} groups held out in turn ({', '.join(names)}); {int(ok.sum())} family rows")
    from_fetv = np.char.startswith(group, "fetv:")
    for domain, keep in (("FETV", from_fetv), ("modern train", ~from_fetv)):
        rows = np.flatnonzero(keep & ok)
        out = measure(dims_out[rows], None if damage_out is None else damage_out[rows], fam, rows)
        ref = measure(dims_in[rows], None if damage_in is None else damage_in[rows], fam, rows)
        print(f"\n{domain} families ({len(set(group[rows]))} groups), held out (in-sample)")
        heads = f" {'damage pairs':>15s} {'source < mildest':>17s}" if has_damage else ""
        print(f"  {'artifact':12s} {'dimension SROCC':>17s}{heads}")
        for a in ARTIFACTS:
            (r, p, f), (r0, p0, f0) = out[a], ref[a]
            line = f"  {a:12s} {r:7.3f} ({r0:.3f})"
            if has_damage:
                line += f"   {p:6.3f} ({p0:.3f})    {f:6.3f} ({f0:.3f})"
            print(line)
        means = [np.mean([v[i] for v in out.values()]) for i in range(3)]
        refs = [np.mean([v[i] for v in ref.values()]) for i in range(3)]
        line = f"  {'mean':12s} {means[0]:7.3f} ({refs[0]:.3f})"
        if has_damage:
            line += f"   {means[1]:6.3f} ({refs[1]:.3f})    {means[2]:6.3f} ({refs[2]:.3f})"
        print(line)


if __name__ == "__main__":
    main()
