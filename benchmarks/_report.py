"""Rows of the results table, and the JSON and Markdown files written from them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ._common import JsonDict, Summary

Better = Literal["lower", "higher"]


@dataclass
class Row:
    """One comparison: ours vs a baseline on one metric, as a ratio (ours ÷ baseline).

    ``difference`` rows (TTFT overhead) compare ``ours - baseline`` against the target instead.
    """

    group: str
    name: str
    unit: str
    better: Better
    ours_label: str
    baseline_label: str
    ours: Summary | None = None
    baseline: Summary | None = None
    target: float | None = None  # on the ratio (or on the difference, for difference rows)
    difference: bool = False
    ours_cpu: Summary | None = None  # client CPU seconds per unit, when it means something
    baseline_cpu: Summary | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.ours is None or self.baseline is None or self.baseline.median == 0:
            return None
        return self.ours.median / self.baseline.median

    @property
    def value(self) -> float | None:
        """What the target applies to."""
        if self.difference:
            if self.ours is None or self.baseline is None:
                return None
            return self.ours.median - self.baseline.median
        return self.ratio

    @property
    def verdict(self) -> str:
        value = self.value
        if self.target is None:
            return "info" if value is not None else "skipped"
        if value is None:
            return "skipped"
        if self.difference or self.better == "lower":
            return "pass" if value <= self.target else "MISS"
        return "pass" if value >= self.target else "MISS"

    def target_text(self) -> str:
        if self.target is None:
            return "—"
        sign = "≤" if (self.difference or self.better == "lower") else "≥"
        if self.difference:
            return f"{sign} +{_fmt(self.target, self.unit)}"
        return f"{sign} {self.target:g}x"

    def as_json(self) -> JsonDict:
        return {
            "group": self.group,
            "name": self.name,
            "unit": self.unit,
            "better": self.better,
            "ours_label": self.ours_label,
            "baseline_label": self.baseline_label,
            "ours": self.ours.as_json() if self.ours else None,
            "baseline": self.baseline.as_json() if self.baseline else None,
            "ratio": self.ratio,
            "difference": self.value if self.difference else None,
            "target": self.target,
            "target_text": self.target_text(),
            "verdict": self.verdict,
            "ours_cpu_per_unit": self.ours_cpu.as_json() if self.ours_cpu else None,
            "baseline_cpu_per_unit": self.baseline_cpu.as_json() if self.baseline_cpu else None,
            "note": self.note,
        }


def _fmt(value: float, unit: str) -> str:
    if unit == "s":
        if value < 1e-3:
            return f"{value * 1e6:.0f} µs"
        if value < 1:
            return f"{value * 1e3:.1f} ms"
        return f"{value:.2f} s"
    if unit == "MB":
        return f"{value:.1f} MB"
    if value >= 1000:
        return f"{value:,.0f} {unit}"
    return f"{value:.1f} {unit}"


def _cell(summary: Summary | None, unit: str) -> str:
    if summary is None:
        return "—"
    return f"{_fmt(summary.median, unit)} (±{summary.spread_pct / 2:.0f}%)"


def markdown(rows: list[Row], machine: JsonDict, notes: list[str]) -> str:
    lines = [
        "# lmstudio-sdk benchmarks",
        "",
        f"{machine['date']} · {machine['cpu_model']} · {machine['cores']} cores · "
        f"Python {machine['python']} · mode {machine['mode']} · {machine['placement']}",
        "",
        "Versions: "
        + ", ".join(f"{name} {version}" for name, version in machine["versions"].items()),
        "",
        "Cells: median of the repeats (± half the min-max range, in % of the median). "
        "Ratio = ours ÷ baseline on the row's metric.",
        "",
        "| benchmark | ours | baseline | ratio | target | result |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        ratio = "—" if row.ratio is None else f"{row.ratio:.2f}x"
        if row.difference and row.value is not None:
            ratio = f"{ratio} (Δ {row.value * 1e3:+.1f} ms)"
        verdict = {"pass": "✅ pass", "MISS": "❌ miss"}.get(row.verdict, row.verdict)
        lines.append(
            f"| {row.name} | {row.ours_label}: {_cell(row.ours, row.unit)} "
            f"| {row.baseline_label}: {_cell(row.baseline, row.unit)} "
            f"| {ratio} | {row.target_text()} | {verdict} |"
        )
    cpu_rows = [r for r in rows if r.ours_cpu is not None and r.baseline_cpu is not None]
    if cpu_rows:
        lines += [
            "",
            "Client CPU per unit (process CPU time of the measuring client ÷ calls, fragments, "
            "predictions or strings): where the server is the bottleneck, wall-time ratios hide "
            "client cost and this column shows it.",
            "",
            "| benchmark | ours CPU/unit | baseline CPU/unit | ratio |",
            "|---|---|---|---|",
        ]
        for row in cpu_rows:
            assert row.ours_cpu is not None and row.baseline_cpu is not None
            cpu_ratio = row.ours_cpu.median / row.baseline_cpu.median
            lines.append(
                f"| {row.name} | {_fmt(row.ours_cpu.median, 's')} "
                f"| {_fmt(row.baseline_cpu.median, 's')} | {cpu_ratio:.2f}x |"
            )
    annotated = [r for r in rows if r.note]
    if annotated or notes:
        lines += ["", "Notes:", ""]
        lines += [f"- {note}" for note in notes]
        lines += [f"- {row.name}: {row.note}" for row in annotated]
    return "\n".join(lines) + "\n"


def write(out_dir: Path, rows: list[Row], machine: JsonDict, notes: list[str]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    data = {"machine": machine, "notes": notes, "rows": [row.as_json() for row in rows]}
    (out_dir / "latest.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    (out_dir / "latest.md").write_text(markdown(rows, machine, notes), encoding="utf-8")
