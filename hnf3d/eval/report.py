"""Reports of an evaluation: the per-class markdown table of the ONet papers and the per-object CSV."""
from __future__ import annotations

import csv
import io
import math

__all__ = ["TABLE", "markdown_table", "objects_csv"]

#: (result key, column head, scale) of the table's columns, in the papers' order: Chamfer-L1 is reported x10
TABLE = (("iou", "IoU", 1.0), ("chamfer_l1", "Chamfer-L1 x10", 10.0), ("chamfer_l2", "Chamfer-L2", 1.0),
         ("normal_consistency", "NC", 1.0), ("fscore@0.01", "F@1%", 1.0), ("fscore@0.015", "F@1.5%", 1.0),
         ("fscore@0.02", "F@2%", 1.0))


def _fmt(v, scale: float = 1.0) -> str:
    return "nan" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v * scale:.4f}"


def markdown_table(result: dict, names: dict) -> str:
    """The per-class table of an evaluation `result` (hnf3d.eval.protocol: 'classes', 'mean', 'problems') with
    the 'mean (of class means)' row and a count of empty or missing meshes per class. names: {synset: name}."""
    keys = [k for k, _, _ in TABLE if k in result["mean"]]
    heads = [h for k, h, _ in TABLE if k in result["mean"]]
    scale = {k: s for k, _, s in TABLE}
    lines = ["| class | n | " + " | ".join(heads) + " | empty/missing |",
             "|---|---|" + "---|" * len(heads) + "---|"]
    bad: dict = {}
    for p in result["problems"]:
        bad[p["category"]] = bad.get(p["category"], 0) + 1
    for cat, m in result["classes"].items():
        label = names.get(cat, cat)
        label = f"{label} ({cat})" if label != cat else cat
        lines.append(f"| {label} | {m['n']} | " + " | ".join(_fmt(m.get(k), scale[k]) for k in keys)
                     + f" | {bad.get(cat, 0)} |")
    n = sum(m["n"] for m in result["classes"].values())
    lines.append(f"| **mean (of class means)** | {n} | "
                 + " | ".join(_fmt(result["mean"].get(k), scale[k]) for k in keys)
                 + f" | {len(result['problems'])} |")
    return "\n".join(lines)


def objects_csv(rows: list) -> str:
    """CSV text of per-object rows (dicts); the header is the union of their keys, in order of first use."""
    fields: list = []
    for r in rows:
        fields += [k for k in r if k not in fields]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow(r)
    return buf.getvalue()
