"""aigvqa: predict the human quality score (MOS) of AI-generated videos.

```python
import aigvqa

scorer = aigvqa.load("default")              # a bundled model, or a model directory
result = scorer.score("clip.mp4", prompt="a corgi surfing a wave")
result.score, result.reasons, result.dims
```

The functions below are imported on first use, so ``import aigvqa`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

_API = {
    "load": "aigvqa.api",
    "list_models": "aigvqa.api",
    "train": "aigvqa.api",
    "predict": "aigvqa.api",
    "evaluate": "aigvqa.api",
    "cross_validate": "aigvqa.api",
    "Scorer": "aigvqa.api",
    "ScoreResult": "aigvqa.api",
    "Predictions": "aigvqa.api",
    "TrainingSummary": "aigvqa.api",
    "validate": "aigvqa.validation",
    "ValidationReport": "aigvqa.validation",
    "write_report": "aigvqa.predictions",
    "rank_predictions": "aigvqa.predictions",
    "run_demo": "aigvqa.demo",
    "QualityModel": "aigvqa.model",
    "Explanation": "aigvqa.explain",
}

__all__ = ["__version__", *sorted(_API)]

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names load lazily
    from aigvqa.api import (  # noqa: F401
        Predictions,
        Scorer,
        ScoreResult,
        TrainingSummary,
        cross_validate,
        evaluate,
        list_models,
        load,
        predict,
        train,
    )
    from aigvqa.demo import run_demo  # noqa: F401
    from aigvqa.explain import Explanation  # noqa: F401
    from aigvqa.model import QualityModel  # noqa: F401
    from aigvqa.predictions import rank_predictions, write_report  # noqa: F401
    from aigvqa.validation import ValidationReport, validate  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'aigvqa' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
