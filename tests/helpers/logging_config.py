"""A Kedro logging configuration of plain one-line records (``LEVEL|logger|message``,
no line wrapping), so that a test reads every message of a real ``kedro run``."""

from __future__ import annotations

from pathlib import Path

PLAIN_LOGGING = """
version: 1
disable_existing_loggers: false
formatters:
  plain:
    format: "%(levelname)s|%(name)s|%(message)s"
handlers:
  console:
    class: logging.StreamHandler
    formatter: plain
    stream: ext://sys.stdout
loggers:
  kedro:
    level: INFO
  brain_tumor_mri:
    level: INFO
root:
  level: {root_level}
  handlers: [console]
"""


def write_plain_logging(path: Path, root_level: str = "WARNING") -> Path:
    """Write the configuration to ``path`` (for ``KEDRO_LOGGING_CONFIG``); ``path``."""
    path.write_text(PLAIN_LOGGING.format(root_level=root_level))
    return path
