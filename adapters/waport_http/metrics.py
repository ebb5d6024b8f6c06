"""A small Prometheus text-format registry, owned by the gateway (no global state)."""

from __future__ import annotations

from collections.abc import Mapping

import attrs


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@attrs.define
class Metrics:
    _counters: dict[str, dict[tuple[tuple[str, str], ...], float]] = attrs.Factory(dict)
    _help: dict[str, str] = attrs.Factory(dict)

    def inc(self, name: str, help_text: str, amount: float = 1, **labels: str) -> None:
        self._help.setdefault(name, help_text)
        series = self._counters.setdefault(name, {})
        key = tuple(sorted(labels.items()))
        series[key] = series.get(key, 0) + amount

    def render(
        self, gauges: Mapping[str, tuple[str, Mapping[tuple[tuple[str, str], ...], float]]]
    ) -> str:
        lines: list[str] = []
        for name in sorted(self._counters):
            lines.append(f"# HELP {name} {self._help[name]}")
            lines.append(f"# TYPE {name} counter")
            for key, value in sorted(self._counters[name].items()):
                lines.append(f"{name}{_labels(dict(key))} {value:g}")
        for name in sorted(gauges):
            help_text, series = gauges[name]
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} gauge")
            for key, value in sorted(series.items()):
                lines.append(f"{name}{_labels(dict(key))} {value:g}")
        return "\n".join(lines) + "\n"
