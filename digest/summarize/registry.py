"""Name → algorithm. Adding an algorithm: its class in one module, plus one line here."""

from __future__ import annotations

from digest.summarize import sumy_algorithms as sumy
from digest.summarize.base import Summarizer
from digest.summarize.digest_ranker import CentralRanker, NewsRanker
from digest.summarize.lead import LeadSummarizer

DEFAULT_ALGORITHM = "digest"

REGISTRY: dict[str, type[Summarizer]] = {
    "digest": NewsRanker,
    "central": CentralRanker,
    "lexrank": sumy.LexRank,
    "textrank": sumy.TextRank,
    "lsa": sumy.Lsa,
    "luhn": sumy.Luhn,
    "kl": sumy.KL,
    "sumbasic": sumy.SumBasic,
    "reduction": sumy.Reduction,
    "edmundson": sumy.Edmundson,
    "lead": LeadSummarizer,
}
