"""The documentation's examples run, so the docs cannot rot.

Every fenced ``bash`` and ``python`` block in ``README.md`` and ``docs/*.md`` runs, page by page and
in page order, in a fresh copy of a prepared workspace: small synthetic clips laid out under the
names the examples use (``data/train.json``, ``data/val_videos/``, ``clip1.mp4``, …), a model in
``models/xgc`` and its predictions in ``runs/val/``. ``text`` and ``json`` blocks are shown, not
run. A block that cannot run here (a GPU, a Ray cluster, hub weights, the ``deep`` extra) is
preceded by ``<!-- not-run: <reason> -->``, and the reason must be given.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUN = {"bash", "python"}
SHOWN = {"text", "json"}
BLOCK_TIMEOUT_S = 120
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>\S*)\s*$")
SKIP = re.compile(r"^\s*<!--\s*not-run:(?P<reason>.*?)-->\s*$")
# the workspace: clips at the smallest size the features accept, so every page runs in seconds
N_TRAIN, N_VAL = 12, 6
CLIP_SIZE, CLIP_FRAMES = (96, 64), 12


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    skip: str | None  # the not-run reason, or None

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line} ({self.lang})"


def blocks_of(page: Path) -> list[Block]:
    """The fenced blocks of a Markdown page, with the not-run reason given just before each."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks, i, skip = [], 0, None
    while i < len(lines):
        marker = SKIP.match(lines[i])
        fence = FENCE.match(lines[i])
        if marker:
            skip = marker["reason"].strip()
            assert FENCE.match(lines[i + 1] if i + 1 < len(lines) else ""), (
                f"{page.name}:{i + 1}: a not-run comment must sit right above a fenced block"
            )
        elif fence:
            indent, start = len(fence["indent"]), i
            body = []
            i += 1
            while i < len(lines) and not re.match(r"^\s*```\s*$", lines[i]):
                body.append(lines[i][indent:])
                i += 1
            assert i < len(lines), f"{page.name}:{start + 1}: unclosed code block"
            blocks.append(Block(page, start + 1, fence["lang"], "\n".join(body) + "\n", skip))
            skip = None
        i += 1
    return blocks


ALL_BLOCKS = [b for page in PAGES for b in blocks_of(page)]


def test_every_block_says_whether_it_runs():
    """A block runs (bash, python), is shown (text, json), or says why it cannot run here."""
    assert len(PAGES) > 5 and any(b.lang in RUN for b in ALL_BLOCKS)
    for block in ALL_BLOCKS:
        assert block.lang in RUN | SHOWN, f"{block}: tag the block bash, python, text or json"
        if block.skip is not None:
            assert block.skip, f"{block}: a not-run comment must give its reason"
            assert block.lang in RUN, f"{block}: only bash and python blocks run, so only they can be skipped"


def test_every_docs_page_is_in_the_nav():
    """A page left out of mkdocs.yml's nav builds, but no reader finds it."""
    nav = set(re.findall(r"^\s*- [^:]+:\s*(\S+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), flags=re.M))
    assert nav == {p.name for p in (ROOT / "docs").glob("*.md")}


STARTS_WORKERS = {"train", "predict", "cross_validate"}  # read videos in worker processes unless workers=0


def _starts_workers(call: ast.Call) -> bool:
    workers = next((k.value for k in call.keywords if k.arg == "workers"), None)
    if isinstance(workers, ast.Constant) and workers.value == 0:
        return False
    name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
    return workers is not None or name in STARTS_WORKERS


def test_python_examples_that_start_workers_guard_their_work():
    """Worker processes import the script that starts them: an example that copies into a script
    must keep its work under ``if __name__ == "__main__":`` (the test's cached features start no worker)."""
    for block in ALL_BLOCKS:
        if block.lang != "python" or block.skip is not None:
            continue
        tree = ast.parse(block.code)
        guarded = {
            id(node)
            for top in tree.body
            if isinstance(top, ast.If) and "__main__" in ast.unparse(top.test)
            for node in ast.walk(top)
        }
        defined = {top.name for top in tree.body if isinstance(top, ast.FunctionDef)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _starts_workers(node) and id(node) not in guarded:
                inside = [f for f in tree.body if isinstance(f, ast.FunctionDef) and node in set(ast.walk(f))]
                assert inside and inside[0].name in defined and guarded, (
                    f"{block}: {ast.unparse(node)[:60]} starts worker processes; guard the work with "
                    'if __name__ == "__main__": or pass workers=0'
                )


def _slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it (and mkdocs' toc, for these headings)."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_readme_links_reach_their_pages_and_sections():
    """The README's links into the docs, which GitHub follows, name pages and sections that exist."""
    links = re.findall(r"\]\(((?:docs/)?[\w./-]+\.md)(?:#([\w-]+))?\)", (ROOT / "README.md").read_text())
    assert len(links) >= 10
    for target, section in links:
        page = ROOT / target
        assert page.is_file(), f"README links to {target}, which does not exist"
        if section:
            headings = re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), flags=re.M)
            assert section in {_slug(h) for h in headings}, f"README links to {target}#{section}: no such section"


# -- the workspace the examples run in ----------------------------------------------------------


def _env(cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["AIGVQA_CACHE_DIR"] = str(cache)  # never the user's cache
    env["MPLBACKEND"] = "Agg"
    return env


def _run(cmd: list[str], cwd: Path, env: dict[str, str], what: str) -> str | None:
    """Run ``cmd``; None, or what went wrong with its output."""
    try:
        done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=BLOCK_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        return f"{what} took over {BLOCK_TIMEOUT_S} s:\n{exc.stdout or ''}\n{exc.stderr or ''}"
    if done.returncode != 0:
        return f"{what} failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
    return None


def _prepare(cmd: list[str], cwd: Path, env: dict[str, str], what: str) -> None:
    failure = _run(cmd, cwd, env, what)
    assert failure is None, failure


def _decode(path: Path) -> tuple[np.ndarray, int]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = round(float(stream.average_rate))
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)]), fps


def build_workspace(root: Path, clips: Path, env: dict[str, str]) -> None:
    """What the examples name, under ``root``: data, clips, recipes, a trained model and its predictions."""
    from aigvqa.synthetic import make_dataset, write_video

    records = make_dataset(clips, n_clips=N_TRAIN + N_VAL, seed=0, size=CLIP_SIZE, n_frames=CLIP_FRAMES)
    data = root / "data"
    splits = {"train": records[:N_TRAIN], "val": records[N_TRAIN:]}
    for split, items in splits.items():
        (data / f"{split}_videos").mkdir(parents=True)
        rows = []
        for i, r in enumerate(items):
            shutil.copy(clips / "videos" / r["video"], data / f"{split}_videos" / r["video"])
            generator = "gen-a" if i % 2 == 0 else "gen-b"  # the group field the examples rank by
            rows.append({"video": r["video"], "prompt": r["prompt"], "gt_score": r["gt_score"], "generator": generator})
        if split == "train":
            (data / "train.json").write_text(json.dumps(rows, indent=1))
        else:
            (data / "val.json").write_text(json.dumps([{k: v for k, v in r.items() if k != "gt_score"} for r in rows]))
            (data / "val_labels.json").write_text(json.dumps(rows, indent=1))
    first, second = splits["val"][0]["video"], splits["val"][1]["video"]
    shutil.copy(data / "val_videos" / first, root / "clip1.mp4")
    frames, fps = _decode(data / "val_videos" / second)
    write_video(root / "clip2.webm", frames, fps, codec="libvpx-vp9")
    shutil.copytree(ROOT / "recipes", root / "recipes")
    steps = {  # in this process's interpreter, without worker processes
        "training the workspace's model":
            ["train", "data/train.json", "--videos", "data/train_videos", "--out", "models/xgc"],
        "predicting the validation items": ["predict", "data/val.json", "--videos", "data/val_videos",
                                            "--model", "models/xgc", "--out", "runs/val/prediction.json"],
        # the clips' features in the cache, so that pages running side by side do not each compute them
        "scoring the clips": ["score", "clip1.mp4", "clip2.webm"],
    }
    for what, args in steps.items():
        _prepare([sys.executable, "-m", "aigvqa", *args, "--workers", "0"], root, env, what)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The prepared workspace, built once, and the environment the examples run in."""
    root = tmp_path_factory.mktemp("docs-workspace")
    env = _env(tmp_path_factory.mktemp("docs-cache"))
    build_workspace(root, tmp_path_factory.mktemp("docs-clips"), env)
    return root, env


def run_page(page: Path, root: Path, env: dict[str, str], scratch: Path) -> str | None:
    """Run a page's bash and python blocks in order in a copy of the workspace; the first failure, or None."""
    here = scratch / "ws"
    shutil.copytree(root, here)
    for n, block in enumerate(b for b in blocks_of(page) if b.lang in RUN and b.skip is None):
        script = scratch / f"block{n}.{'sh' if block.lang == 'bash' else 'py'}"
        script.write_text(block.code)
        cmd = ["bash", "-euo", "pipefail", str(script)] if block.lang == "bash" else [sys.executable, str(script)]
        failure = _run(cmd, here, env, str(block))
        if failure:
            return failure
    return None


RUNNABLE_PAGES = [p for p in PAGES if any(b.lang in RUN and b.skip is None for b in blocks_of(p))]


@pytest.fixture(scope="module")
def page_failures(request, workspace, tmp_path_factory) -> dict[Path, str | None]:
    """Run the selected pages side by side, one per core (each page's blocks in order)."""
    root, env = workspace
    selected = {
        item.callspec.params["page"]
        for item in request.session.items
        if getattr(item, "originalname", "") == "test_page_examples_run"
    }
    pages = [p for p in RUNNABLE_PAGES if p in selected]
    with ThreadPoolExecutor(max_workers=max(1, min(len(pages), os.cpu_count() or 1))) as pool:
        futures = {p: pool.submit(run_page, p, root, env, tmp_path_factory.mktemp("page")) for p in pages}
        return {p: f.result() for p, f in futures.items()}


@pytest.mark.parametrize("page", RUNNABLE_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_page_examples_run(page, page_failures):
    """Every bash and python block of a page runs, in order, in one copy of the workspace."""
    assert page_failures[page] is None, page_failures[page]


# -- the bundled models' cards on the docs site -------------------------------------------------


def _hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cards_page_shows_every_key_of_every_card():
    """Every key of every bundled card reaches the page, by its lines when it has a ``_lines`` twin."""
    from aigvqa.zoo import list_bundled

    rendered = _hooks().render_cards(ROOT)
    for card in list_bundled():
        assert f"### `{card['name']}`" in rendered
        for key, value in card.items():
            if key == "name" or f"{key}_lines" in card:
                continue
            for text in value if isinstance(value, list) else [value]:
                if isinstance(text, str):
                    assert text in rendered, f"{card['name']}: {key} is not on the page"


def test_a_new_card_key_appears_without_code_changes():
    card = {"summary": "a model", "invariances": {"scale": [0.5, 2.0], "checked": True}, "prompt_block": "words"}
    rendered = _hooks().render_card("new", card)
    assert "**Invariances**" in rendered and "**Prompt block**" in rendered
    assert "- **scale**:" in rendered and "- 0.5" in rendered and "- **checked**: yes" in rendered
    assert rendered.index("a model") < rendered.index("Invariances")
