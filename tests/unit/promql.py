"""The metric names a PromQL expression reads: enough of PromQL to check dashboards and alert rules against
pipeline/metrics.py, not a parser. Strings, label matchers, ranges, grouping label lists and Grafana variables
are removed first; what is left that looks like a name and is not a function call or a keyword is a metric."""

from __future__ import annotations

import re

from pipeline.metrics import Metrics, series_names

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset",
            "inf", "nan"}
PROMETHEUS_OWN = {"up"}  # written by Prometheus for every scrape target


def metric_names(expr: str) -> set[str]:
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\$\{?\w+\}?", " ", e)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        before = e[m.start() - 1] if m.start() else " "
        if before.isdigit() or before == "." or e[m.end():].lstrip().startswith("(") or m.group() in KEYWORDS:
            continue
        names.add(m.group())
    return names


def known_series() -> set[str]:
    return series_names(Metrics()) | PROMETHEUS_OWN
