"""``aigvqa report``: a self-contained HTML file with every section, rendered in headless Chromium.

The browser test fails on a report with a JavaScript error or a chart that does not show
(checked by rendering deliberately broken copies).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from browser import chromium_missing_reason, render
from conftest import run_cli

MISSING = "clip_003.mp4"  # predicted, but its file is gone
CHARTS = ["#chart-distribution", "#chart-scatter", "#chart-groups"]
N_CLIPS = 3


@dataclass(frozen=True)
class Run:
    pred: Path
    data: Path  # what was predicted: video, prompt, artifact
    labels: Path
    videos: Path
    model: Path
    records: list[dict]


@pytest.fixture(scope="module")
def run(synthetic_data, trained_model, tmp_path_factory) -> Run:
    """Predictions for the synthetic clips with one video missing (as written by 'aigvqa predict')."""
    root = tmp_path_factory.mktemp("report")
    videos = root / "videos"
    videos.mkdir()
    for r in synthetic_data.records:
        if r["video"] != MISSING:
            (videos / r["video"]).symlink_to(synthetic_data.videos / r["video"])
    data = root / "data.json"
    data.write_text(json.dumps([{k: r[k] for k in ("video", "prompt", "artifact")} for r in synthetic_data.records]))
    pred = root / "pred.json"
    run_cli("predict", data, "--model", trained_model.dir, "--videos", videos, "--out", pred, "--workers", "1", "-q")
    assert (root / "pred.errors.json").exists()
    return Run(pred, data, synthetic_data.train_json, videos, trained_model.dir, synthetic_data.records)


def _full_report(run: Run, out: Path) -> str:
    run_cli("report", run.pred, "--labels", run.labels, "--data", run.data, "--videos", run.videos,
            "--model", run.model, "--by", "artifact", "--clips", N_CLIPS, "--n-boot", 200, "--out", out)  # fmt: skip
    return out.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def full_report(run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("html") / "report.html"
    _full_report(run, out)
    return out


def test_report_has_every_section_and_names_groups_and_failures(run, full_report):
    text = full_report.read_text(encoding="utf-8")
    for chart in CHARTS:
        assert f'id="{chart[1:]}"' in text
    for table in ("metrics", "ranking", "group-accuracy", "failures"):
        assert f'id="{table}"' in text
    for artifact in {r["artifact"] for r in run.records}:
        assert f">{artifact}<" in text
    assert MISSING in text and "file not found" in text
    assert text.count('class="strip"') == 2 * N_CLIPS
    assert "costliest artifacts" in text
    assert all(m in text for m in ("PLCC after logistic fit", "SROCC", "KRCC", "RMSE"))


def test_report_is_self_contained(full_report):
    text = full_report.read_text(encoding="utf-8")
    refs = re.findall(r"""(?:src|href)\s*=\s*["']?([^"'\s>]+)""", text)
    assert refs and all(r.startswith("data:") for r in refs), [r[:40] for r in refs if not r.startswith("data:")]
    assert "@import" not in text and not re.search(r"url\((?!data:)", text)
    assert "http://" not in text and "https://" not in text


def test_report_is_deterministic(run, full_report, tmp_path):
    assert _full_report(run, tmp_path / "again.html") == full_report.read_text(encoding="utf-8")


def test_report_ranking_is_the_rank_command(run, full_report):
    ranked = json.loads(run_cli("rank", run.pred, "--data", run.data, "--by", "artifact", "--json").stdout)
    table = full_report.read_text(encoding="utf-8").split('id="ranking"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", table)[1:]
    assert len(rows) == len(ranked["groups"])
    for row, g in zip(rows, ranked["groups"], strict=True):
        lo, hi = g["ci95"]
        assert f">{g['group']}<" in row and f">{g['mean']:.3f}<" in row and f"[{lo:.3f}, {hi:.3f}]" in row


def test_report_from_predictions_alone(run, tmp_path):
    out = tmp_path / "plain.html"
    run_cli("report", run.pred, "--out", out)
    text = out.read_text(encoding="utf-8")
    assert 'id="chart-distribution"' in text and MISSING in text
    assert 'id="chart-scatter"' not in text and 'class="strip"' not in text


def test_report_works_without_torch(run, tmp_path):
    """The light install has no PyTorch: the full report must not need it."""
    out = tmp_path / "light.html"
    code = (
        "import sys, importlib.abc\n"
        "class NoTorch(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('torch', 'torchvision', 'sentence_transformers'):\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        "from aigvqa.cli import main\n"
        "main()\n"
    )
    args = ["report", run.pred, "--labels", run.labels, "--data", run.data, "--videos", run.videos,
            "--model", run.model, "--by", "artifact", "--clips", "2", "--n-boot", "50", "--out", out]  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert 'class="strip"' in out.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--model", "MODEL"], "--videos"),  # explanations need the clips
        (["--by", "artifact"], "--data or --labels"),
        (["--data", "DATA", "--by", "no_such_field"], "no_such_field"),
    ],
)
def test_report_bad_options_are_one_line_errors(run, tmp_path, extra, fragment):
    extra = [{"MODEL": run.model, "DATA": run.data}.get(a, a) for a in extra]
    result = run_cli("report", run.pred, "--out", tmp_path / "r.html", *extra, ok=False)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert fragment in result.stderr and not (tmp_path / "r.html").exists()


def test_report_names_a_malformed_errors_file(run, tmp_path):
    pred = tmp_path / "p.json"
    pred.write_text(run.pred.read_text())
    (tmp_path / "p.errors.json").write_text('[{"video": "x.mp4"}]')
    result = run_cli("report", pred, "--out", tmp_path / "r.html", ok=False)
    assert result.exit_code == 2 and "p.errors.json" in result.stderr and "reason" in result.stderr


# -- in a real browser ------------------------------------------------------------------------

needs_chromium = pytest.mark.skipif(chromium_missing_reason() is not None, reason=str(chromium_missing_reason()))


def _assert_renders(page, n_strips: int) -> None:
    """What a reader must see: no errors, nothing fetched, every chart and strip shown, a real picture."""
    assert page.console_errors == [], page.console_errors
    assert page.external_requests() == [], page.external_requests()
    for selector in CHARTS:
        assert page.elements[selector] == [1, 1], (selector, page.elements[selector])
    assert page.elements["img.strip"] == [n_strips, n_strips], page.elements["img.strip"]
    assert MISSING in page.text
    shot = page.screenshot
    assert shot is not None and shot.shape[0] > 900
    ink = (shot.min(axis=2) < 200).mean()  # share of pixels that are not (near) white
    assert ink > 0.05 and shot.std() > 20, (ink, shot.std())
    assert page.pdf.startswith(b"%PDF") and len(page.pdf) > 20_000


@needs_chromium
def test_report_renders_in_chromium(full_report):
    _assert_renders(render(full_report, [*CHARTS, "img.strip"]), 2 * N_CLIPS)


@needs_chromium
@pytest.mark.parametrize(
    "breakage",
    ["script error", "chart gone", "chart undecodable", "chart hidden"],
)
def test_browser_check_fails_on_a_broken_report(full_report, tmp_path, breakage):
    text = full_report.read_text(encoding="utf-8")
    if breakage == "script error":
        text = text.replace("</body>", "<script>document.getElementById('no-such-node').remove()</script></body>")
    elif breakage == "chart gone":
        text = re.sub(r'<img id="chart-scatter"[^>]*>', "", text)
    elif breakage == "chart undecodable":
        text = re.sub(r'(<img id="chart-scatter" src="data:image/png;base64,)[^"]*', r"\1AAAA", text)
    else:
        text = text.replace("</style>", "#chart-groups{display:none}</style>")
    broken = tmp_path / "broken.html"
    broken.write_text(text, encoding="utf-8")
    with pytest.raises(AssertionError):
        _assert_renders(render(broken, [*CHARTS, "img.strip"]), 2 * N_CLIPS)
