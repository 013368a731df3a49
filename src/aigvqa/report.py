"""A self-contained HTML report of a prediction run: charts, metrics, groups, failures, clips.

Everything is inline (charts as PNG drawn by matplotlib, frame strips as JPEG, both as
``data:`` URIs; CSS and a few lines of JavaScript for sortable tables), so the file opens
in any browser without a network and prints on A4/Letter. :func:`build_report` takes items
already joined by the caller (prediction, and where known prompt, MOS, group, failure) and
returns the HTML text; the same input gives the same bytes.
"""

from __future__ import annotations

import base64
import html
import io
import os
from dataclasses import dataclass, field

import numpy as np

from aigvqa.metrics import METRIC_NAMES, bootstrap_intervals, evaluate, logistic_curve, logistic_params
from aigvqa.ranking import DEFAULT_N_BOOT, GroupRank, rank_groups

CHART_IDS = ("chart-distribution", "chart-scatter", "chart-groups")  # ids of the <img> charts, when drawn
MAX_CHART_GROUPS = 50  # more groups: the chart shows the best and the worst 25


@dataclass
class ReportItem:
    """One prediction with what is known about it."""

    video: str
    score: float
    prompt: str | None = None
    mos: float | None = None
    group: str | None = None
    error: str | None = None  # why the video failed (its score is a fallback)
    fallback: str | None = None


@dataclass
class ClipView:
    """A clip shown with its frames: the strip (JPEG bytes) and its costliest artifacts."""

    item: ReportItem
    strip: bytes | None = None
    strip_error: str | None = None
    reasons: list[tuple[str, float]] | None = None  # None: not explained (no model)
    note: str | None = None
    dims: dict[str, float] | None = None  # how much of each artifact the clip shows, when the model knows


@dataclass
class ReportOptions:
    """What the report is about and how its statistics are computed."""

    title: str = "aigvqa report"
    sources: dict[str, str] = field(default_factory=dict)  # "predictions" -> path, ...
    by: str | None = None
    target: str = "gt_score"
    n_boot: int = 1000
    seed: int = 0
    notes: list[str] = field(default_factory=list)


# -- charts -----------------------------------------------------------------------------------


def _figure(width: float, height: float):
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    return fig, fig.subplots()


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _img(chart_id: str, png_b64: str, alt: str) -> str:
    return (
        f'<figure class="chart"><img id="{chart_id}" src="data:image/png;base64,{png_b64}" '
        f'alt="{html.escape(alt)}"><figcaption>{html.escape(alt)}</figcaption></figure>'
    )


def distribution_chart(scores: np.ndarray, mos: np.ndarray | None, target: str) -> str:
    fig, ax = _figure(7.0, 3.0)
    values = scores if mos is None else np.concatenate([scores, mos])
    bins = np.linspace(values.min(), values.max() if np.ptp(values) else values.min() + 1, 31)
    ax.hist(scores, bins=bins, color="#3b6ea8", alpha=0.85, label=f"predicted ({len(scores)})")
    if mos is not None:
        ax.hist(mos, bins=bins, histtype="step", color="#c0392b", linewidth=1.5, label=f"{target} ({len(mos)})")
    ax.set_xlabel("score")
    ax.set_ylabel("items")
    ax.legend(frameon=False)
    return _img("chart-distribution", _png(fig), "Distribution of predicted scores")


def scatter_chart(pred: np.ndarray, mos: np.ndarray, target: str) -> str:
    fig, ax = _figure(5.5, 4.5)
    ax.scatter(pred, mos, s=20 if len(pred) < 2000 else 4, alpha=0.6, color="#3b6ea8", linewidths=0)
    params = logistic_params(pred, mos)
    if params is not None:
        x = np.linspace(pred.min(), pred.max(), 200)
        ax.plot(x, logistic_curve(x, params), color="#c0392b", linewidth=2, label="4-parameter logistic fit")
        ax.legend(frameon=False, loc="upper left")
    ax.set_xlabel("predicted score")
    ax.set_ylabel(target)
    return _img("chart-scatter", _png(fig), f"Prediction against {target}, with the logistic fit")


def groups_chart(ranking: list[GroupRank], mos_means: dict[str, float] | None, by: str) -> str:
    shown = ranking
    if len(ranking) > MAX_CHART_GROUPS:
        half = MAX_CHART_GROUPS // 2
        shown = ranking[:half] + ranking[-half:]
    fig, ax = _figure(7.0, max(2.0, 0.8 + 0.28 * len(shown)))
    y = np.arange(len(shown))[::-1]
    means = np.array([g.mean for g in shown])
    err = np.array([[g.mean - g.ci_low for g in shown], [g.ci_high - g.mean for g in shown]])
    ax.errorbar(means, y, xerr=err, fmt="o", color="#3b6ea8", capsize=3, label="mean prediction, 95% interval")
    if mos_means:
        mx = [mos_means.get(g.group, np.nan) for g in shown]
        ax.plot(mx, y, "D", mfc="none", color="#c0392b", label="mean label")
    ax.set_yticks(y, [g.group for g in shown])
    ax.set_xlabel("score")
    fig.legend(frameon=False, fontsize="small", loc="outside lower center", ncols=2)
    caption = f"Mean score per {by}, best first"
    if len(shown) < len(ranking):
        caption += f" (the best and worst {len(shown) // 2} of {len(ranking)})"
    return _img("chart-groups", _png(fig), caption)


# -- frame strips -----------------------------------------------------------------------------


def frame_strip(path: str | os.PathLike, n_frames: int = 5, height: int = 120) -> bytes:
    """``n_frames`` frames spread over the video, side by side, as JPEG bytes (raises VideoError)."""
    import cv2

    from aigvqa.video import SamplingConfig, read_clip

    clip = read_clip(path, SamplingConfig(spatial_frames=n_frames, spatial_side=4 * height, motion_frames=1))
    frames = []
    for f in clip.frames:
        h, w = f.shape[:2]
        frames.append(cv2.resize(f, (max(1, round(w * height / h)), height), interpolation=cv2.INTER_AREA))
        frames.append(np.full((height, 3, 3), 255, np.uint8))
    strip = np.concatenate(frames[:-1], axis=1)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(strip, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 82])
    if not ok:
        raise ValueError(f"{path}: cannot encode the frame strip")
    return buf.tobytes()


# -- HTML -------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:1100px;
padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:1px solid #ccc;padding-bottom:.2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
th,td{padding:.25em .6em;border-bottom:1px solid #e3e3e3;text-align:right;vertical-align:top}
th{background:#f4f4f4;cursor:pointer;user-select:none}th.sorted-asc::after{content:" \\25B2"}
th.sorted-desc::after{content:" \\25BC"}td.l,th.l{text-align:left}
figure.chart{margin:1em 0}figure.chart img{max-width:100%;height:auto;display:block}
figcaption{color:#555;font-size:.9em}.meta{color:#555;font-size:.9em}.note{color:#8a5300}
.clips{display:grid;grid-template-columns:1fr;gap:.8em}
.clip{border:1px solid #ddd;border-radius:6px;padding:.6em}.clip img{max-width:100%;height:auto;display:block}
.clip .name{font-weight:600}.bad{color:#b03a2e}.prompt{color:#444;font-style:italic}
@media print{body{margin:0;max-width:none;font-size:10pt}h2{break-after:avoid}
figure.chart,.clip,tr{break-inside:avoid}th{cursor:auto}th::after{content:""!important}}
"""

_JS = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, col) {
    th.addEventListener("click", function () {
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var asc = !th.classList.contains("sorted-asc");
      table.querySelectorAll("th").forEach(function (h) { h.classList.remove("sorted-asc", "sorted-desc"); });
      th.classList.add(asc ? "sorted-asc" : "sorted-desc");
      rows.sort(function (a, b) {
        var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v;
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = (isNaN(nx) || isNaN(ny)) ? String(x).localeCompare(String(y)) : nx - ny;
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""


def _e(value) -> str:
    return html.escape(str(value))


def _num(x, digits: int = 3) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def _cell(value, text: str | None = None, left: bool = False) -> str:
    """A table cell whose sort key is ``value`` (numbers sort numerically)."""
    key = value if isinstance(value, str) else ("" if value is None or not np.isfinite(value) else repr(value))
    cls = ' class="l"' if left else ""
    return f'<td{cls} data-v="{_e(key)}">{_e(text if text is not None else value)}</td>'


def _table(table_id: str, headers: list[str], rows: list[str], left: set[int] = frozenset()) -> str:
    head = "".join(f"<th{' class=l' if i in left else ''}>{_e(h)}</th>" for i, h in enumerate(headers))
    body = "".join(f"<tr>{r}</tr>" for r in rows)
    return f'<table id="{table_id}" class="sortable"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _ci(lo: float, hi: float) -> str:
    return "–" if not (np.isfinite(lo) and np.isfinite(hi)) else f"[{lo:.3f}, {hi:.3f}]"


def ranking_table(ranking: list[GroupRank], by: str) -> str:
    """The ranking as an HTML table (also what ``aigvqa rank`` prints)."""
    rows = []
    for g in ranking:
        p = "–" if g.p_beats_next is None else f"{g.p_beats_next:.3f}"
        how = (
            ""
            if g.paired is None
            else ("paired, " if g.paired else "unpaired, ") + f"{g.shared_prompts} shared prompts"
        )
        rows.append(
            _cell(g.rank, str(g.rank))
            + _cell(g.group, left=True)
            + _cell(g.n, str(g.n))
            + _cell(g.mean, _num(g.mean))
            + _cell(g.ci_low, _ci(g.ci_low, g.ci_high))
            + _cell(g.p_beats_next, p)
            + _cell(how, left=True)
        )
    headers = ["rank", by, "n", "mean score", "95% interval", "P(beats next)", "comparison"]
    return _table("ranking", headers, rows, left={1, 6})


def _metrics_section(pred: np.ndarray, mos: np.ndarray, opts: ReportOptions) -> str:
    m = evaluate(pred, mos, n_boot=opts.n_boot, seed=opts.seed)
    ci = bootstrap_intervals(pred, mos, n_boot=opts.n_boot, seed=opts.seed)
    labels = {
        "plcc": "PLCC",
        "plcc_logistic": "PLCC after logistic fit",
        "srocc": "SROCC",
        "krcc": "KRCC",
        "rmse": "RMSE",
        "score": "Score = (PLCC + SROCC) / 2",
    }
    rows = [
        _cell(labels[k], left=True) + _cell(m[k], _num(m[k], 4)) + _cell(ci[k][0], _ci(*ci[k])) for k in METRIC_NAMES
    ]
    return (
        f"<h2>Accuracy against {_e(opts.target)}</h2><p class=meta>{len(pred)} labelled items; "
        f"percentile bootstrap 95% intervals, {opts.n_boot} resamples of the items (seed {opts.seed}).</p>"
        + _table("metrics", ["metric", "value", "95% interval"], rows, left={0})
        + scatter_chart(pred, mos, opts.target)
    )


def _groups_section(items: list[ReportItem], opts: ReportOptions) -> str:
    by = opts.by
    scores = np.array([it.score for it in items])
    ranking = rank_groups(scores, [it.group for it in items], [it.prompt or "" for it in items], seed=opts.seed)
    labelled: dict[str, list[int]] = {}
    for i, it in enumerate(items):
        if it.mos is not None:
            labelled.setdefault(it.group, []).append(i)
    mos = np.array([np.nan if it.mos is None else it.mos for it in items])
    mos_means = {g: float(np.mean(mos[idx])) for g, idx in labelled.items()}
    parts = [
        f"<h2>By {_e(by)}</h2><p class=meta>Groups ordered by mean predicted score; intervals: percentile "
        f"bootstrap of the group's items ({DEFAULT_N_BOOT} resamples, seed {opts.seed}, as `aigvqa rank`). "
        "P(beats next): the share of "
        "bootstrap resamples in which the group's mean exceeds the next group's; paired by prompt (resampling the "
        "shared prompts, mean of per-prompt differences) when the shared prompts hold at least half of both "
        "groups' items, else the two groups are resampled independently.</p>",
        groups_chart(ranking, mos_means or None, by),
        ranking_table(ranking, by),
    ]
    if labelled:
        rows = []
        for g in ranking:
            idx = labelled.get(g.group)
            if not idx:
                continue
            m = evaluate(scores[idx], mos[idx], n_boot=opts.n_boot, seed=opts.seed)
            rows.append(
                _cell(g.group, left=True)
                + _cell(len(idx), str(len(idx)))
                + _cell(mos_means[g.group], _num(mos_means[g.group]))
                + "".join(_cell(m[k], _num(m[k])) for k in ("plcc", "srocc", "krcc", "rmse", "score"))
                + _cell(m["score_ci_low"], _ci(m["score_ci_low"], m["score_ci_high"]))
            )
        parts.append(f"<h3>Accuracy within each {_e(by)}</h3>")
        headers = [
            by,
            "labelled",
            f"mean {opts.target}",
            "PLCC",
            "SROCC",
            "KRCC",
            "RMSE",
            "Score",
            "Score 95% interval",
        ]
        parts.append(_table("group-accuracy", headers, rows, left={0}))
    return "".join(parts)


def _failures_section(items: list[ReportItem]) -> str:
    failed = [it for it in items if it.error is not None]
    if not failed:
        return "<h2>Failed videos</h2><p id=failures>None: every video was read.</p>"
    rows = [
        _cell(it.video, left=True)
        + _cell(it.error, left=True)
        + _cell(it.fallback or "", left=True)
        + _cell(it.score, _num(it.score))
        for it in failed
    ]
    return (
        f"<h2>Failed videos ({len(failed)})</h2><p class=meta>These videos could not be read; their score is a "
        "fallback (see the errors file beside the predictions) and they are left out of the clips below.</p>"
        + _table("failures", ["video", "reason", "fallback", "score"], rows, left={0, 1, 2})
    )


def _clip_card(view: ClipView) -> str:
    it = view.item
    facts = [f"predicted <b>{it.score:.3f}</b>"]
    if it.mos is not None:
        facts.append(f"label {it.mos:.3f}")
    if it.group is not None:
        facts.append(_e(it.group))
    parts = [f'<div class="clip"><div class="name">{_e(it.video)}</div><div>{" · ".join(facts)}</div>']
    if it.prompt:
        parts.append(f'<div class="prompt">{_e(it.prompt)}</div>')
    if view.strip is not None:
        b64 = base64.b64encode(view.strip).decode("ascii")
        parts.append(f'<img class="strip" src="data:image/jpeg;base64,{b64}" alt="frames of {_e(it.video)}">')
    else:
        parts.append(f'<div class="bad">no frames: {_e(view.strip_error)}</div>')
    shown = [(a, c) for a, c in view.reasons or [] if c <= -0.005]  # what rounds to -0.00 is noise
    if shown:
        parts.append("<div>costliest artifacts: " + ", ".join(f"{_e(a)} {c:+.2f}" for a, c in shown) + "</div>")
    elif view.reasons is not None:
        parts.append("<div>no artifact lowered this score</div>")
    if view.dims:
        seen = sorted(((v, a) for a, v in view.dims.items() if v >= 0.05), reverse=True)
        text = ", ".join(f"{_e(a)} {v:.2f}" for v, a in seen) if seen else "none seen"
        parts.append(f'<div class="dims">artifacts seen (0-1): {text}</div>')
    if view.note:
        parts.append(f'<div class="note">{_e(view.note)}</div>')
    return "".join(parts) + "</div>"


def _clips_section(lowest: list[ClipView], highest: list[ClipView]) -> str:
    parts = []
    for title, views, cid in (
        ("Lowest-scored clips", lowest, "clips-low"),
        ("Highest-scored clips", highest, "clips-high"),
    ):
        if views:
            cards = "".join(_clip_card(v) for v in views)
            parts.append(f'<h2>{title}</h2><div class="clips" id="{cid}">{cards}</div>')
    return "".join(parts)


def build_report(
    items: list[ReportItem],
    opts: ReportOptions,
    lowest: list[ClipView] | None = None,
    highest: list[ClipView] | None = None,
) -> str:
    """The report's HTML text (see the module docstring)."""
    if not items:
        raise ValueError("the report needs at least one prediction")
    from aigvqa import __version__

    scores = np.array([it.score for it in items])
    labelled = [it for it in items if it.mos is not None]
    mos = np.array([it.mos for it in labelled]) if labelled else None
    n_failed = sum(it.error is not None for it in items)
    sources = "".join(f"<li>{_e(k)}: <code>{_e(v)}</code></li>" for k, v in opts.sources.items())
    summary = (
        f"{len(items)} predictions, mean {scores.mean():.3f}, median {np.median(scores):.3f}, "
        f"range {scores.min():.3f}–{scores.max():.3f}; failed videos: {n_failed}; labelled: {len(labelled)}"
    )
    body = [
        f"<h1>{_e(opts.title)}</h1><p class=meta>made by aigvqa {_e(__version__)}</p><ul class=meta>{sources}</ul>",
        f"<p id=summary>{_e(summary)}</p>",
        "".join(f'<p class="note">{_e(n)}</p>' for n in opts.notes),
        "<h2>Predicted scores</h2>",
        distribution_chart(scores, mos, opts.target),
    ]
    if labelled:
        body.append(_metrics_section(np.array([it.score for it in labelled]), mos, opts))
    if opts.by:
        body.append(_groups_section(items, opts))
    body.append(_failures_section(items))
    body.append(_clips_section(lowest or [], highest or []))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(opts.title)}</title><style>{_CSS}</style></head><body>"
        + "".join(body)
        + f"<script>{_JS}</script></body></html>\n"
    )
