"""Name → algorithm. Adding an algorithm: its class in one module, plus one line here.

Each class is imported when its name is first looked up, so a process that only runs `digest`
never loads sumy (and NLTK behind it) or numpy's linear algebra.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from importlib import import_module

from digest.summarize.base import Summarizer

DEFAULT_ALGORITHM = "digest"

_WHERE = {
    "digest": "digest.summarize.digest_ranker:NewsRanker",
    "central": "digest.summarize.digest_ranker:CentralRanker",
    "lexrank": "digest.summarize.sumy_algorithms:LexRank",
    "textrank": "digest.summarize.sumy_algorithms:TextRank",
    "lsa": "digest.summarize.sumy_algorithms:Lsa",
    "luhn": "digest.summarize.sumy_algorithms:Luhn",
    "kl": "digest.summarize.sumy_algorithms:KL",
    "sumbasic": "digest.summarize.sumy_algorithms:SumBasic",
    "reduction": "digest.summarize.sumy_algorithms:Reduction",
    "edmundson": "digest.summarize.sumy_algorithms:Edmundson",
    "lead": "digest.summarize.lead:LeadSummarizer",
}


class _Registry(Mapping[str, type[Summarizer]]):
    def __getitem__(self, name: str) -> type[Summarizer]:
        module, _, attribute = _WHERE[name].partition(":")
        cls: type[Summarizer] = getattr(import_module(module), attribute)
        return cls

    def __iter__(self) -> Iterator[str]:
        return iter(_WHERE)

    def __len__(self) -> int:
        return len(_WHERE)


REGISTRY: Mapping[str, type[Summarizer]] = _Registry()
