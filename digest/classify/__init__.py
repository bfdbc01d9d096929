"""Is an article about politics? An offline logistic-regression score in [0, 1].

Parameters ship beside this module in `params.json` (made by `python -m digest.classify.train`)
and are read once, on first use.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from digest.classify.features import raw_features, vectorise
from digest.errors import DigestError

__all__ = ["POLITICAL_THRESHOLD", "is_political", "political_score"]

PARAMS_PATH = Path(__file__).with_name("params.json")

# Matches the threshold the shipped parameters were cross-validated at (see params.json "cv").
POLITICAL_THRESHOLD = 0.5


@dataclass(frozen=True)
class _Parameters:
    weights: dict[str, float]
    bias: float


@lru_cache(maxsize=4)
def _load(path: Path = PARAMS_PATH) -> _Parameters:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return _Parameters(
            weights={str(f): float(w) for f, w in data["weights"].items()},
            bias=float(data["bias"]),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DigestError(f"{path}: classifier parameters unreadable ({exc})") from None


def political_score(title: str, body: str, *, params_path: Path = PARAMS_PATH) -> float:
    """The probability-like score that the article is political news, in [0, 1]."""
    params = _load(params_path)
    vector = vectorise(raw_features(title, body), params.weights)
    z = params.bias + sum(params.weights[f] * v for f, v in vector.items())
    return 1.0 / (1.0 + math.exp(-max(-35.0, min(35.0, z))))


def is_political(score: float) -> bool:
    return score >= POLITICAL_THRESHOLD
