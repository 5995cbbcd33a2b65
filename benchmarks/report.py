"""Writing the results: JSON (everything), a Markdown table, and a PNG chart of the ratios."""

from __future__ import annotations

import json
import os
from typing import Any


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _spread(summary: dict[str, Any] | None) -> str:
    if not summary or summary.get("spread") is None:
        return "-"
    return f"±{summary['spread'] * 100:.1f}%"


def _target(row: dict[str, Any]) -> str:
    target = row["target"]
    if target is None:
        return ""
    if row["baseline"] == "limit":
        return f"< {_num(target)} {row['unit']}"
    sign = "≥" if row["better"] == "higher" else "≤"
    return f"{sign} {target:.2f}"


def _met(row: dict[str, Any]) -> str:
    return {True: "yes", False: "**no**", None: ""}[row["met"]]


def _base_text(row: dict[str, Any]) -> str:
    if row["baseline"] == "limit":
        return f"Pyro4: {row.get('pyro4_text') or '-'}"
    if row["base"] is None:
        return "-"
    return f"{_num(row['base']['median'])} ({row['baseline']})"


def row_text(row: dict[str, Any]) -> str:
    ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else "-"
    return (
        f"   {row['metric']}: ours {_num(row['ours']['median'])} {row['unit']} {_spread(row['ours'])}, "
        f"{_base_text(row)}, ratio {ratio} {_target(row)} {_met(row)} {row['note']}"
    ).rstrip()


def markdown(meta: dict[str, Any], records: list[dict[str, Any]]) -> str:
    lines = [
        f"# Benchmarks: ours vs Pyro4 4.82 ({meta['mode']} run)",
        "",
        (
            f"`{meta['command']}` on {meta['started']}, Python {meta['python']}, {meta['machine']}, "
            f"{meta['seconds']} s. Each figure is the median of the repetitions; spread is half the "
            "min-max range relative to the median. Ratio is ours / baseline (Pyro4 4.82 with the same "
            "serializer in the same run, or the raw socket floor); the target says which way is better."
        ),
        "",
        "| scenario | metric | unit | ours | spread | baseline | spread | ratio | target | met | note |",
        "|---|---|---|---:|---:|---|---:|---:|---|---|---|",
    ]
    for row in records:
        ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else "-"
        note = row["note"].replace("|", "/")
        lines.append(
            f"| {row['scenario']} | {row['metric']} | {row['unit']} | {_num(row['ours']['median'])} | "
            f"{_spread(row['ours'])} | {_base_text(row).replace('|', '/')} | {_spread(row['base'])} | {ratio} | "
            f"{_target(row)} | {_met(row)} | {note} |"
        )
    return "\n".join(lines) + "\n"


def _advantage(row: dict[str, Any]) -> float | None:
    """How many times better ours is than the baseline (higher is better, whatever the unit)."""
    if row["ratio"] is None or not row["ratio"]:
        return None
    return row["ratio"] if row["better"] == "higher" else 1 / row["ratio"]


def chart(path: str, meta: dict[str, Any], records: list[dict[str, Any]]) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    rows = [row for row in records if _advantage(row) is not None]
    if not rows:
        return False
    labels = [f"{row['metric']} (vs {row['baseline']})" for row in rows]
    values = [_advantage(row) for row in rows]
    targets = []
    for row in rows:
        target = row["target"]
        targets.append(None if target is None else (target if row["better"] == "higher" else 1 / target))
    colors = ["#2a9d8f" if row["met"] else "#e76f51" if row["met"] is False else "#8d99ae" for row in rows]
    fig, ax = plt.subplots(figsize=(13, 0.32 * len(rows) + 1.5))
    positions = list(range(len(rows)))[::-1]
    ax.barh(positions, values, color=colors)
    for pos, target in zip(positions, targets):
        if target is not None:
            ax.plot([target, target], [pos - 0.4, pos + 0.4], color="black", linewidth=1.5)
    ax.axvline(1.0, color="gray", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    ax.set_yticks(positions)
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_xlabel("times better than the baseline (log scale; black tick = target; 1 = equal)")
    ax.set_title(
        f"ours vs Pyro4 4.82 / raw socket ({meta['mode']} run, {meta['started']})",
        fontsize=9,
    )
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return True


def write(
    folder: str,
    mode: str,
    meta: dict[str, Any],
    records: list[dict[str, Any]],
    chart_too: bool = True,
    **options: Any,
) -> list[str]:
    chart_too = options.get("chart", chart_too)
    os.makedirs(folder, exist_ok=True)
    stem = os.path.join(folder, f"bench-{mode}")
    paths = []
    with open(stem + ".json", "w") as out:
        json.dump({"meta": meta, "results": records}, out, indent=1)
    paths.append(stem + ".json")
    with open(stem + ".md", "w") as out:
        out.write(markdown(meta, records))
    paths.append(stem + ".md")
    if chart_too and chart(stem + ".png", meta, records):
        paths.append(stem + ".png")
    return paths
