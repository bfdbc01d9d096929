"""Wire datelines: "(CNN) --", "WASHINGTON —", "MADRID (AP) –", "LONDON, England (Reuters) --".

A dateline says where a story was filed, not what happened: no summary sentence carries one. The
sentence is kept verbatim from the first word after the dateline (`dateline_end` gives the offset),
so a summary item is still a substring of the body.
"""

from __future__ import annotations

import re

# The news agencies and broadcasters whose name, in brackets, closes a dateline.
_AGENCIES = (
    r"CNN|AP|Reuters|AFP|UPI|Bloomberg|dpa|EFE|Xinhua|ANSA|BBC|NPR|PA|CNS|RNS|Kyodo|Yonhap"
    r"|TASS|Interfax|Al Jazeera|AAP|CP|IANS|PTI|ANI|KCNA|WWD|EW\.com|CNN Student News|CNNMoney"
    r"|Mashable|Fortune|Variety|The Hollywood Reporter|Billboard|Politico|Axios"
)
_DASH = r"(?:--|[—–-])"
# A place in capitals ("WASHINGTON", "RIO DE JANEIRO", "ST. LOUIS"), or capitalised when an agency
# follows ("Atlanta, Georgia (CNN)"), optionally followed by a region ("England", "Calif.").
_CAPS_PLACE = r"[A-Z][A-Z.'’-]+(?: [A-Z][A-Z.'’-]+){0,3}"
_ANY_PLACE = r"[A-Z][\w.'’-]*(?: [\w.'’-]+){0,3}"
_REGION = r"(?:, [\w.'’-]+(?: [\w.'’-]+){0,2}){0,2}"
_AGENCY = rf"\((?i:{_AGENCIES})\)"
_DATELINE = re.compile(
    "^(?:"
    rf"{_AGENCY}\s*{_DASH}?"  # (CNN) --    (CNN)
    rf"|{_CAPS_PLACE}{_REGION}\s+{_AGENCY}\s*{_DASH}?"  # NEW YORK (CNN)
    rf"|{_ANY_PLACE}{_REGION}\s+{_AGENCY}\s*{_DASH}"  # Atlanta, Georgia (CNN) --
    rf"|{_CAPS_PLACE}{_REGION}\s+{_DASH}"  # WASHINGTON —   PARIS, France --
    r")\s*"
)


def dateline_end(sentence: str) -> int:
    """Where the news starts in `sentence`: after a leading wire dateline, else 0.

    Only when words follow it: a sentence that is all dateline is left alone.
    """
    match = _DATELINE.match(sentence)
    if not match:
        return 0
    rest = sentence[match.end() :]
    return match.end() if re.search(r"\w", rest) else 0
