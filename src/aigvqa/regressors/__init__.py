"""Regressors from features to scores (registered on import), one file per family.

Importing this package registers every built-in regressor: ``lightgbm`` (boosting.py),
``ridge`` (linear.py), ``svr`` (svr.py), ``knn`` (neighbours.py), ``blend`` (blend.py), ``stack``
(stacking.py: one model per feature block, combined by out-of-fold weights), the
neural fusion head ``mlp`` (mlp.py) and the fine-tuned prompt model ``minilm_ft``
(minilm_ft.py). The interface and factory are in base.py, the PyTorch helpers in
torch_utils.py; none of them imports torch at import time.
"""

from __future__ import annotations

from aigvqa.registry import REGRESSORS

# importing a module registers its regressors
from aigvqa.regressors import blend, boosting, finetune, linear, minilm_ft, mlp, neighbours, stacking, svr  # noqa: F401
from aigvqa.regressors.base import OrderPairs, Regressor, Sequences, list_regressors, make_regressor

__all__ = ["REGRESSORS", "OrderPairs", "Regressor", "Sequences", "list_regressors", "make_regressor"]
