"""The model against published reference points (``ciminus validate``).

``reference_points.toml`` lists published figures with their sources and conditions
(``docs/validation-sources.md``). A point is predicted when its configuration is known well enough to
describe it to the model: a macro's energy per MAC (and so its TOPS/W) follows from the same activation
equations the sweeps use, with the ``digital-28nm`` template's 1-bit energies scaled to the macro's
technology node and supply (energy per switching event ~ C V^2, C ~ node). Points whose configuration or
baseline the model cannot describe are listed with the reason. ``docs/validation.md`` discusses each miss.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ciminus.kernels import actions as A
from ciminus.kernels import layout as L
from ciminus.kernels.jit import python
from ciminus.resolve import ADDER_MODELS, PARAMS, encode
from ciminus.templates import template_table

POINTS = Path(__file__).with_name("reference_points.toml")
TEMPLATE = "digital-28nm"
MACRO_KINDS = ("energy_per_mac", "macro_efficiency")
ADDER_TREE_MODELS = {"miredo": ADDER_MODELS["miredo"], "full": ADDER_MODELS["ripple"]}  # the table's two columns
JSON_MODEL = "full"  # the prediction ``--json`` reports: the sweeps' default tree (ripple), every gate switching
# kind in the data file -> (metric name of --json, factor from the data file's unit to that metric's)
METRICS = {"energy_per_mac": ("energy_per_mac_fj", 1000.0), "macro_efficiency": ("tops_per_w", 1.0),
           "system_efficiency": ("tops_per_w", 1.0), "energy_saving": ("energy_saving", 1.0),
           "speedup": ("speedup", 1.0)}


@dataclass(frozen=True)
class Comparison:
    """One reference point: what was reported, what the model predicts with each adder-tree count, and how
    far apart they are."""

    id: str
    kind: str
    reported: float
    unit: str
    predicted: dict[str, float | None]  # adder-tree model -> prediction (None where the model does not apply)
    configuration: str
    confidence: str
    source: str
    locator: str
    why_not: str = ""  # why no prediction is made
    peer_ratio: float | None = None  # the peer tool's published model / reported, in this point's metric
    peer_reported: float | None = None  # the reported value that ratio is against (the peer's own reading)

    @property
    def modelled(self) -> bool:
        return any(v is not None for v in self.predicted.values())

    def error_pct(self, model: str) -> float | None:
        value = self.predicted.get(model)
        return None if value is None else 100.0 * (value - self.reported) / self.reported


def load_points(path: Path = POINTS) -> list[dict]:
    """The reference points, as written in the data file."""
    with open(path, "rb") as fh:
        return tomllib.load(fh)["point"]


def macro_energy_per_mac(rows: int, cols: int, weight_bits: int, input_bits: int, bits_per_cycle: int,
                         node_nm: float, voltage_v: float, adder_tree: str) -> float | None:
    """pJ per MAC of one macro activation (array, adder tree, shift-add) at full activity; None where the
    adder-tree count does not apply. The template's energies move to the macro's node and supply by the
    sweeps' own rule (``arch.node_nm``, ``arch.vdd``: switching ~ (node / 28 nm) * (V / 0.9 V)^2)."""
    prm = np.ones((1, L.N_PRM))
    for key, value in template_table(TEMPLATE, "energy").items():
        prm[0, PARAMS[("energy", key)]] = encode(key, value)
    for p, value in ((L.PRM_ROWS, rows), (L.PRM_COLS, cols), (L.PRM_WEIGHT_BITS, weight_bits),
                     (L.PRM_INPUT_BITS, input_bits), (L.PRM_BITS_PER_CYCLE, bits_per_cycle),
                     (L.PRM_ADDER_MODEL, ADDER_TREE_MODELS[adder_tree]), (L.PRM_NODE, node_nm),
                     (L.PRM_VDD, voltage_v)):
        prm[0, p] = value
    pc, table = np.zeros((1, A.N_PC)), np.zeros((1, L.N_ACTIONS))
    python(A.point_constants)(prm, 0, pc)
    python(A.action_energies)(prm, 0, table)
    if pc[0, A.PC_ADDER_ADDS] <= 0:
        return None
    counts = np.zeros((1, L.N_RESULTS))  # one activation: its bit-cell, adder-tree and shift-add actions
    counts[0, L.A_CELL_MULT] = pc[0, A.PC_CELL_MULTS]
    counts[0, L.A_TREE_ADD] = pc[0, A.PC_TREE_ADDS]
    counts[0, L.A_SHIFT_ADD] = pc[0, A.PC_SHIFT_ADDS]
    return python(A.energy_pj)(counts, 0, table, 0) / (rows * cols)


PEER = "ZigZag-IMC (energies fitted to these macros; 50 % input toggle rate and weight sparsity assumed)"


def _peer(point: dict) -> tuple[float | None, float | None]:
    """The peer tool's published model / reported ratio and its reported value, in the point's own metric:
    the data file gives them as energy per MAC (fJ), and TOPS/W is 2 / (pJ per MAC)."""
    ratio, fj = point.get("peer_energy_ratio"), point.get("peer_reported_fj_per_mac")
    if ratio is None or fj is None:
        return None, None
    if point["kind"] == "energy_per_mac":
        return ratio, fj / 1000.0
    return 1.0 / ratio, 2.0 / (fj / 1000.0)


def _missing(point: dict) -> list[str]:
    needed = ("node_nm", "voltage_v", "rows", "cols", "weight_bits", "input_bits", "bit_serial")
    unknown = set(point.get("unknown", []))
    return [k for k in needed if k in unknown or not point[k]]


def compare(point: dict) -> Comparison:
    """Predict one reference point (or say why it cannot be)."""
    base = dict(id=point["id"], kind=point["kind"], reported=float(point["reported"]), unit=point["unit"],
                confidence=point["confidence"], source=point["source"], locator=point["locator"])
    if point["kind"] not in MACRO_KINDS:
        why = ("its baseline is another accelerator, not the same hardware run dense" if point["kind"] != "system_efficiency"
               else "the accelerator's configuration (macro size, precision, node, compression rates) is not published "
                    "in a form we could read")
        if point["kind"] in ("speedup", "energy_saving") and "unknown" in point and "macros" in point["unknown"]:
            why = "the configuration and the baseline it is measured against are not published in a form we could read"
        return Comparison(predicted={}, configuration="", why_not=why, **base)
    missing = _missing(point)
    if missing:
        return Comparison(predicted={}, configuration="", why_not="not published: " + ", ".join(missing), **base)
    if point.get("sparse_measurement"):
        return Comparison(predicted={}, configuration="",
                          why_not="measured on sparse data whose statistics are not published", **base)
    w_bits, i_bits = point["weight_bits"], point["input_bits"]
    cols = point["cols"] // w_bits if point.get("cols_are_bits") else point["cols"]
    per_cycle = point.get("input_bits_per_cycle") or (1 if point["bit_serial"] else i_bits)
    predicted: dict[str, float | None] = {}
    for model in ADDER_TREE_MODELS:
        e_mac = macro_energy_per_mac(point["rows"], cols, w_bits, i_bits, per_cycle, point["node_nm"],
                                     point["voltage_v"], model)
        if e_mac is None:
            predicted[model] = None
        else:
            predicted[model] = e_mac if point["kind"] == "energy_per_mac" else 2.0 / e_mac  # 1 MAC = 2 operations
    config = (f"{point['rows']} rows x {cols} weights, {w_bits}b x {i_bits}b, {per_cycle} input bit(s)/cycle, "
              f"{point['node_nm']:g} nm, {point['voltage_v']:g} V")
    peer_ratio, peer_reported = _peer(point)
    return Comparison(predicted=predicted, configuration=config, peer_ratio=peer_ratio, peer_reported=peer_reported,
                      **base)


def comparisons(path: Path = POINTS) -> list[Comparison]:
    return [compare(p) for p in load_points(path)]


# ----- silicon: macro area and clock period ---------------------------------------------------------
SILICON_METRICS = {"area_mm2": "mm^2", "tclk_ns": "ns"}


@dataclass(frozen=True)
class SiliconComparison:
    """A published macro's area or clock period beside the model's, and the peer tool's published ratio."""

    id: str
    metric: str
    reported: float
    predicted: float
    peer_ratio: float | None
    configuration: str
    confidence: str
    source: str

    @property
    def error_pct(self) -> float:
        return 100.0 * (self.predicted - self.reported) / self.reported


def load_silicon(path: Path = POINTS) -> list[dict]:
    with open(path, "rb") as fh:
        return tomllib.load(fh).get("silicon", [])


def macro_silicon(point: dict) -> tuple[float, float]:
    """(area of all its banks in mm^2, clock period in ns) of a published macro, from its geometry and the digital-28nm
    template's [area] and [timing] tables, by the sweeps' own ``kernels.silicon.silicon``."""
    from ciminus.kernels.silicon import silicon
    from ciminus.resolve import SILICON_PARAMS

    prm = np.zeros((1, L.N_PRM))
    si = np.full((1, L.N_SI), np.nan)
    for table in ("area", "timing"):
        for key, value in template_table(TEMPLATE, table).items():
            si[0, SILICON_PARAMS[(table, key)]] = encode(key, value)
    for col, value in ((L.SI_PATTERN, 0), (L.SI_NM_N, 2), (L.SI_NM_M, 4), (L.SI_FREQ, 0),
                       (L.SI_CELL_GROUP, point["cell_group"]), (L.SI_PIPELINE, float(point["pipelined"]))):
        si[0, col] = value
    for col, value in ((L.PRM_MACROS, point["macros"]), (L.PRM_ROWS, point["rows"]), (L.PRM_COLS, point["cols"]),
                       (L.PRM_WEIGHT_BITS, point["weight_bits"]), (L.PRM_INPUT_BITS, point["input_bits"]),
                       (L.PRM_BITS_PER_CYCLE, point["input_bits_per_cycle"]), (L.PRM_PSUM_BITS, 16),
                       (L.PRM_ADDER_MODEL, L.ADDER_TREE_RIPPLE), (L.PRM_SKIP, 0), (L.PRM_NODE, point["node_nm"]),
                       (L.PRM_VDD, point["voltage_v"])):
        prm[0, col] = value  # buffers, index memory 0: a macro paper's area has none of them
    out = np.zeros((1, L.N_SO))
    python(silicon)(prm, si, 0, out)
    return float(out[0, L.SO_MACRO_AREA]) * point["macros"], float(out[0, L.SO_TCLK])  # every bank


def silicon_comparisons(path: Path = POINTS) -> list[SiliconComparison]:
    rows = []
    for p in load_silicon(path):
        area, tclk = macro_silicon(p)
        config = (f"{p['macros']} x {p['rows']} rows x {p['cols']} weights ({p['weight_bits']}b, cell group "
                  f"{p['cell_group']}), {p['input_bits_per_cycle']} input bit(s)/cycle, "
                  f"{'pipelined' if p['pipelined'] else 'one stage'}, {p['node_nm']:g} nm, {p['voltage_v']:g} V")
        for metric, value in (("area_mm2", area), ("tclk_ns", tclk)):
            rows.append(SiliconComparison(p["id"], metric, float(p[metric]), value,
                                          p.get(f"peer_{metric.split('_')[0]}_ratio"), config, p["confidence"],
                                          p["source"]))
    return rows


def format_silicon(rows: list[SiliconComparison], width: int = 220) -> str:
    """Area and clock period of published macros, ours beside the peer tool's model / reported ratio."""
    lines = [(f"{'macro':26} {'metric':9} {'reported':>10} {'predicted':>10} {'error':>8} {'peer ratio':>10}  "
              "configuration")]
    for c in rows:
        peer = f"{100 * c.peer_ratio:.0f}%" if c.peer_ratio is not None else "-"
        lines.append(f"{c.id:26} {c.metric:9} {c.reported:>10.4g} {c.predicted:>10.4g} {c.error_pct:>+7.1f}% "
                     f"{peer:>10}  {c.configuration}")
    lines.append("\nSilicon from the digital-28nm [area] and [timing] tables (NanGate 45 nm cells, 45 nm bit cell), "
                 "nothing fitted; peer ratio = ZigZag-IMC's model / reported (fitted to these macros).")
    return "\n".join(line[:width] for line in lines)


def as_records(rows: list[Comparison], path: Path = POINTS) -> list[dict]:
    """One plain object per reference point (``ciminus validate --json``): ``point``, ``kind`` (the kind of
    hardware), ``dense`` (measured on dense data), ``metric``, ``reported``, ``predicted`` and ``error_pct``
    (null when the point is not modelled), ``source``, and the prediction of every adder-tree count."""
    points = {p["id"]: p for p in load_points(path)}
    out = []
    for c in rows:
        p = points[c.id]
        metric, factor = METRICS[c.kind]
        value = c.predicted.get(JSON_MODEL)
        err = c.error_pct(JSON_MODEL)
        out.append({
            "point": c.id,
            "kind": "digital-sram" if c.kind in MACRO_KINDS else "digital-sram-accelerator",
            "dense": c.kind in MACRO_KINDS and not p.get("sparse_measurement", False),
            "metric": metric,
            "reported": c.reported * factor,
            "predicted": None if value is None else value * factor,
            "error_pct": err,
            "model": "ripple adder tree, full activity" if value is not None else None,
            "predicted_by_adder_tree": {("ripple" if k == "full" else k): (None if v is None else v * factor)
                                        for k, v in c.predicted.items()},
            "why_not_modelled": c.why_not or None,
            "peer_ratio": c.peer_ratio,
            "peer_reported": None if c.peer_reported is None else c.peer_reported * factor,
            "peer": PEER if c.peer_ratio is not None else None,
            "confidence": c.confidence,
            "source": c.source,
        })
    return out


def silicon_records(rows: list[SiliconComparison]) -> list[dict]:
    """``ciminus validate --json`` objects of the silicon comparisons (metric ``area_mm2`` / ``tclk_ns``)."""
    return [{
        "point": c.id,
        "kind": "digital-sram",
        "dense": True,
        "metric": c.metric,
        "reported": c.reported,
        "predicted": c.predicted,
        "error_pct": c.error_pct,
        "model": "digital-28nm [area] / [timing] tables",
        "peer_ratio": c.peer_ratio,
        "peer_reported": c.reported,
        "peer": "ZigZag-IMC (fitted to these macros)",
        "why_not_modelled": None,
        "confidence": c.confidence,
        "source": c.source,
    } for c in rows]


def format_table(rows: list[Comparison], width: int = 220) -> str:
    """The comparison as a plain-text table: each adder-tree count's prediction and error."""
    def cell(c: Comparison, model: str) -> str:
        v, err = c.predicted.get(model), c.error_pct(model)
        return f"{'n/a':>10} {'':>8}" if v is None else f"{v:>10.4g} {err:>+7.1f}%"

    def peer(c: Comparison) -> str:
        return "-" if c.peer_ratio is None else f"{100.0 * (c.peer_ratio - 1.0):+.0f}%"

    lines = [f"{'reference point':32} {'reported':>15}  {'miredo tree':>18}  {'full tree':>18}  {'peer':>6}  conf.   "
             "configuration / why not modelled"]
    for c in sorted(rows, key=lambda r: not r.modelled):
        rep = f"{c.reported:.4g} {c.unit}"
        if not c.modelled:
            lines.append(f"{c.id:32} {rep:>15}  {'-':>18}  {'-':>18}  {peer(c):>6}  {c.confidence:6}  {c.why_not}")
        else:
            lines.append(f"{c.id:32} {rep:>15}  {cell(c, 'miredo')}  {cell(c, 'full')}  {peer(c):>6}  "
                         f"{c.confidence:6}  {c.configuration}")
    modelled = [c for c in rows if c.modelled]
    lines.append(f"\n{len(modelled)} of {len(rows)} points modelled (macro energy from the digital-28nm 1-bit "
                 "energies scaled by node and V^2). Sources: ciminus/validation/reference_points.toml, "
                 "docs/validation-sources.md; discussion: docs/validation.md. peer = " + PEER + ", its published "
                 "model / reported, against its own reading of the figure")
    return "\n".join(line[:width] for line in lines)
