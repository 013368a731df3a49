"""Writing predictions, error reports and the challenge submission zip."""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

from aigvqa.data import Item


def write_json_atomic(path: str | os.PathLike, payload: object) -> Path:
    """Write JSON to ``path`` via a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=1, ensure_ascii=False)
    os.replace(tmp, path)
    return path


def predictions_payload(items: list[Item], scores) -> list[dict]:
    """The challenge submission: one ``{video, predict_score}`` per item, in input order."""
    return [{"video": it.video, "predict_score": float(s)} for it, s in zip(items, scores, strict=False)]


def errors_path(pred_path: str | os.PathLike) -> Path:
    """Where the errors of a prediction run are written: beside the predictions."""
    pred_path = Path(pred_path)
    return pred_path.with_name(pred_path.stem + ".errors.json")


def readme_text(runtime_per_video: float, uses_gpu: bool, extra_data: bool, description: str) -> str:
    """The NTIRE fact-sheet readme.txt that goes into a CodaLab submission."""
    return (
        f"runtime per video [s] : {runtime_per_video:.3f}\n"
        f"CPU[1] / GPU[0] : {0 if uses_gpu else 1}\n"
        f"Extra Data [1] / No Extra Data [0] : {1 if extra_data else 0}\n"
        f"Other description : {description}\n"
    )


def write_submission_zip(zip_path: str | os.PathLike, pred_path: str | os.PathLike, readme: str) -> Path:
    """Zip the predictions file and readme.txt at the archive root, as CodaLab expects."""
    zip_path = Path(zip_path)
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(pred_path, arcname=Path(pred_path).name)
        zf.writestr("readme.txt", readme)
    return zip_path
