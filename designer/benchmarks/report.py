"""Moved to ``designer.report.results`` (kept so that old imports keep working)."""

from designer.report.results import clean, command_line, device_info, fmt, write_results  # noqa: F401
