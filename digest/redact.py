"""Credentials out of every message and log line: libpq, psycopg and urllib quote the URLs and
connection strings they were given, and a password can ride along in them (or in a part of a
URL that a parser misread: `postgresql://u:pa/ss@host` reads as port "pa").

`redact` replaces a URL's password, any `password=` setting, and the value of each secret in the
environment wherever it appears. `install` applies it to every log record of the process, and the
CLI applies it to each line it prints.
"""

from __future__ import annotations

import logging
import os
import re

# the environment's secrets, whose values are replaced wherever they appear
SECRET_VARIABLES = (
    "DIGEST_DATABASE_PASSWORD",
    "PGPASSWORD",
    "DIGEST_SMTP_PASSWORD",
    "DIGEST_IMAP_PASSWORD",
    "DIGEST_SECRET",
    "DIGEST_SECRET_PREVIOUS",
)
MASK = "***"
_MIN_SECRET = 4  # shorter values are too likely to be ordinary words to replace
_URL_PASSWORD = re.compile(r"([a-z][a-z0-9+.-]*://[^\s:/@'\"]*):[^\s'\"]*@", re.IGNORECASE)
_SETTING = re.compile(
    r"\b((?:ssl)?password|passwd|pwd)(\s*[=:]\s*)('[^']*'|\"[^\"]*\"|[^\s&;,'\"]+)", re.IGNORECASE
)


def _secret_values() -> list[str]:
    values = []
    for name in SECRET_VARIABLES:
        for value in os.environ.get(name, "").split(","):
            if len(value.strip()) >= _MIN_SECRET:
                values.append(value.strip())
    return sorted(set(values), key=len, reverse=True)


def redact(text: str) -> str:
    """`text` fit to print or log: no URL password, `password=` value or environment secret."""
    text = _URL_PASSWORD.sub(rf"\1:{MASK}@", text)
    text = _SETTING.sub(rf"\1\2{MASK}", text)
    for value in _secret_values():
        text = text.replace(value, MASK)
    return text


_installed = False


def install() -> None:
    """Redact every log record this process makes from now on, its traceback included."""
    global _installed
    if _installed:
        return
    _installed = True
    make_record = logging.getLogRecordFactory()
    formatter = logging.Formatter()

    def redacted_record(*args: object, **kwargs: object) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            record.msg, record.args = redact(record.getMessage()), ()
        except Exception:  # noqa: BLE001 - a record that cannot format is logging's to report
            return record
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(formatter.formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(redacted_record)
