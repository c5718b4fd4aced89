"""Load a sweep file and reject every problem in it before any work starts.

Each problem names the TOML key, the value found and what is allowed, on one line. All problems of a
file are reported at once, so a user fixes them in one go.
"""

from __future__ import annotations

import difflib
import itertools
import math
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ciminus.kernels import layout as L
from ciminus.kernels.jit import python
from ciminus.kernels.tile_stats import intrablock_segment, nm_keep, sparsity_reason
from ciminus.resolve import default_value, taken_values
from ciminus.sparsity.masks import mask_columns
from ciminus.specs.accuracy import AccuracySpec
from ciminus.specs.constraints import ConstraintsSpec
from ciminus.specs.fields import (
    BOOL,
    CHOICE,
    FLOAT,
    FLOAT_OR_CHOICE,
    INT,
    STR,
    Field,
    parse_profile,
    spec_fields,
    toml_repr,
    type_name,
)
from ciminus.specs.mapping import FLATTEN_ORDERS, LOOP_ORDERS, TILE_SIZES, parse_grid
from ciminus.specs.output import OutputSpec
from ciminus.specs.sampling import MAX_RUNS as MAX_SAMPLED_RUNS
from ciminus.specs.sampling import SamplingSpec
from ciminus.specs.sampling import runs as sampling_runs
from ciminus.specs.sparsity import PATTERNS
from ciminus.specs.sweep import SAMPLE_TABLE, SPEC_CLASSES, TABLES, Axis, Sweep
from ciminus.specs.workload import network_layers
from ciminus.templates import TEMPLATE_NAMES
from ciminus.workloads.layers import KINDS, Layer
from ciminus.workloads.networks import SEQUENCE_NETWORKS

TOP_LEVEL = ("name", "description", *TABLES, "output", "constraints", "accuracy", "sweep")
INTRABLOCK_PATTERNS = ("nm", "hybrid", "flexblock")
# Which block key each pattern reads (others ignore block_rows / block_cols).
BLOCK_KEYS_USED = {
    "row-block": ("block_cols",),
    "column-block": ("block_rows",),
    "hybrid": ("block_cols",),
    "flexblock": ("block_rows", "block_cols"),
}

LAYER_FIELDS: dict[str, Field] = {
    "name": Field(kind=STR, doc="layer name"),
    "kind": Field(kind=CHOICE, choices=KINDS, doc="conv, linear or matmul"),
    "C": Field(kind=INT, lo=1, hi=1 << 24, doc="input channels / features"),
    "K": Field(kind=INT, lo=1, hi=1 << 24, doc="output channels / features"),
    "R": Field(kind=INT, lo=1, hi=1024, doc="kernel height"),
    "S": Field(kind=INT, lo=1, hi=1024, doc="kernel width"),
    "H": Field(kind=INT, lo=1, hi=1 << 20, doc="input height"),
    "W": Field(kind=INT, lo=1, hi=1 << 20, doc="input width"),
    "stride": Field(kind=INT, lo=1, hi=1024, doc="stride"),
    "pad": Field(kind=INT, lo=0, hi=1024, doc="zero padding"),
    "dilation": Field(kind=INT, lo=1, hi=1024, doc="dilation"),
    "groups": Field(kind=INT, lo=1, hi=1 << 24, doc="groups (C for depthwise)"),
    "count": Field(kind=INT, lo=1, hi=1 << 20, doc="identical repeats"),
    "tokens": Field(kind=INT, lo=1, hi=1 << 24, doc="input vectors per sample (linear/matmul)"),
    "dynamic": Field(kind=BOOL, doc="weight operand produced at run time"),
    "input_density": Field(kind=FLOAT, lo=0.0, hi=1.0, lo_open=True, doc="input density of this layer"),
}


@dataclass(frozen=True)
class SpecProblem:
    """One problem in a sweep file."""

    key: str
    value: Any
    problem: str
    allowed: str

    def __str__(self) -> str:
        value = "" if self.value is _MISSING else f" = {toml_repr(self.value)}"
        return f"{self.key}{value}: {self.problem}; allowed: {self.allowed}"


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


class SpecError(Exception):
    """A sweep file that cannot be run; ``problems`` lists every reason, one line each."""

    def __init__(self, problems: Iterable[SpecProblem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def _suggest(word: str, options: Iterable[str]) -> str:
    options = list(options)
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f"unknown key (did you mean '{close[0]}'?)" if close else "unknown key"


def _choice_problem(problem: str, value: Any, f: Field) -> str:
    if problem == "not allowed" and isinstance(value, str) and f.choices:
        close = difflib.get_close_matches(value, f.choices, n=1, cutoff=0.6)
        if close:
            return f"not allowed (did you mean \"{close[0]}\"?)"
    return problem


class _Checker:
    """Collects problems while walking a parsed sweep file."""

    def __init__(self) -> None:
        self.problems: list[SpecProblem] = []

    def add(self, key: str, value: Any, problem: str, allowed: str) -> None:
        self.problems.append(SpecProblem(key, value, problem, allowed))

    def value(self, key: str, value: Any, f: Field) -> Any:
        """Check one value (a scalar or a list of scalars when the key can be swept)."""
        if isinstance(value, list):
            if not f.sweepable:
                self.add(key, value, "cannot be swept", "one value: " + f.allowed())
                return _MISSING
            if not value:
                self.add(key, value, "empty list", "one value or a non-empty list of " + f.allowed())
                return _MISSING
            out = []
            for i, v in enumerate(value):
                if isinstance(v, list | dict):
                    self.add(f"{key}[{i}]", v, f"wrong type ({type_name(v)})", f.allowed())
                    return _MISSING
                p = f.problem(v)
                if p:
                    self.add(f"{key}[{i}]", v, _choice_problem(p, v, f), f.allowed())
                    return _MISSING
                nv = f.normalise(v)
                if nv in out:
                    self.add(f"{key}[{i}]", v, "repeated value in a swept list", "each value once")
                    return _MISSING
                out.append(nv)
            return tuple(out) if len(out) > 1 else out[0]
        if isinstance(value, dict):
            self.add(key, value, f"wrong type ({type_name(value)})", f.allowed())
            return _MISSING
        p = f.problem(value)
        if p:
            self.add(key, value, _choice_problem(p, value, f), f.allowed())
            return _MISSING
        return f.normalise(value)


def _as_list(v: Any) -> tuple[Any, ...]:
    return v if isinstance(v, tuple) else (v,)


def _path_values(key: str, table: str, fixed: dict, axes: list[Axis]) -> tuple[Any, ...]:
    for a in axes:
        if a.table == table and a.key == key:
            return a.values
    return (fixed[table][key],) if key in fixed[table] else ()


def _check_files(ck: _Checker, fixed: dict, axes: list[Axis], base: Path) -> dict[str, str]:
    """Resolve every input file a sweep names; check it can be read. Returns value -> absolute path."""
    from ciminus.sparsity.sources import SourceError, npz_arrays, onnx_model, resolve_path

    files: dict[str, str] = {}
    for v in _path_values("onnx", "workload", fixed, axes):
        p = resolve_path(v, base)
        if p is None:
            ck.add("workload.onnx", v, "no such file (looked next to the sweep file and in the working directory)",
                   "the path of an ONNX model")
            continue
        try:
            model = onnx_model(str(p))
        except ValueError as exc:  # OnnxImportError and friends name the node
            ck.add("workload.onnx", v, f"cannot be imported: {exc}", "an ONNX model of Conv, Gemm and MatMul layers")
            continue
        if not model.layers:
            ck.add("workload.onnx", v, "has no Conv, Gemm or MatMul layer (nothing a CIM macro computes)",
                   "an ONNX model with at least one Conv, Gemm or MatMul node")
            continue
        files[v] = str(p)
    for key in ("source", "activations"):
        for v in _path_values(key, "sparsity", fixed, axes):
            if key == "source" and v in ("random", "weights"):
                continue
            allowed = ('"random", "weights" or the path of an .npz of weights by layer name' if key == "source"
                       else "the path of an .npz of activation samples by layer name")
            if not str(v).endswith(".npz"):
                ck.add(f"sparsity.{key}", v, "not allowed", allowed)
                continue
            p = resolve_path(v, base)
            if p is None:
                ck.add(f"sparsity.{key}", v, "no such file (looked next to the sweep file and in the working directory)",
                       allowed)
                continue
            try:
                npz_arrays(str(p))
            except SourceError as exc:
                ck.add(f"sparsity.{key}", v, str(exc), allowed)
                continue
            files[v] = str(p)
    return files


def _check_layer_data(ck: _Checker, fixed: dict, axes: list[Axis], layer_lists: list, files: dict[str, str]) -> None:
    """Weights and activation samples must exist and fit every layer that reads them."""
    from ciminus.sparsity.activations import ActivationsError, input_vectors
    from ciminus.sparsity.sources import SourceError, layer_activations, layer_weights
    from ciminus.sparsity.weights import WeightsError, weight_matrices

    sources = _path_values("source", "sparsity", fixed, axes) or ("random",)
    prune = _path_values("prune", "sparsity", fixed, axes)
    if prune == (True,) and sources == ("random",):
        ck.add("sparsity.prune", True, 'prunes real weights, but sparsity.source = "random"',
               'false, or source = "weights" or an .npz of weights')
    for source in sources:
        if source == "random" or (source != "weights" and source not in files):
            continue
        path = files.get(source, source)
        for onnx_path, layers in layer_lists:
            for layer in layers:
                try:
                    w = layer_weights(path, onnx_path, layer)
                    if w is not None:
                        weight_matrices(w, layer)
                except (SourceError, WeightsError) as exc:
                    ck.add("sparsity.source", source, str(exc), 'weights for every layer of the workload, or "random"')
                    return
    for act in _path_values("activations", "sparsity", fixed, axes):
        if act not in files:
            continue
        for _onnx_path, layers in layer_lists:
            for layer in layers:
                samples = layer_activations(files[act], layer)
                if samples is None:
                    continue
                try:
                    input_vectors(samples, layer, "CRS", 1, 0)
                except ActivationsError as exc:
                    ck.add("sparsity.activations", act, str(exc), "samples shaped like the layer's input")
                    return


def load_sweep(path: str | Path) -> Sweep:
    """Read and validate a sweep file; raise :class:`SpecError` listing every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError([SpecProblem(str(path), _MISSING, "no such sweep file", "a path to a TOML sweep file")])
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([SpecProblem(str(path), _MISSING, f"cannot be read ({exc})", "a readable UTF-8 TOML file")])
    return parse_sweep(text, source=str(path), default_name=path.stem, base=path.resolve().parent)


def parse_sweep(text: str, source: str = "<string>", default_name: str = "sweep", base: Path | None = None) -> Sweep:
    """Validate the text of a sweep file (see :func:`load_sweep`)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError([SpecProblem(source, _MISSING, f"invalid TOML ({exc})", "a TOML document")])
    ck = _Checker()

    for key in doc:
        if key not in TOP_LEVEL:
            ck.add(key, doc[key], _suggest(key, TOP_LEVEL), "top-level keys " + ", ".join(TOP_LEVEL))
    name = doc.get("name", default_name)
    if not isinstance(name, str) or not name.strip():
        ck.add("name", name, "not a non-empty string", "a non-empty string")
        name = default_name
    for t in (*TABLES, "output", "constraints", "accuracy"):
        if t in doc and not isinstance(doc[t], dict):
            ck.add(t, doc[t], f"wrong type ({type_name(doc[t])})", f"a [{t}] table")

    tables = {t: doc.get(t, {}) if isinstance(doc.get(t, {}), dict) else {} for t in TABLES}
    select = tables["mapping"].get("select", "best")

    fixed: dict[str, dict[str, Any]] = {t: {} for t in TABLES}
    axes: list[Axis] = []
    cand_axes: list[Axis] = []
    layers: tuple[Layer, ...] = ()
    layer_density: dict[str, float] = {}

    for t in TABLES:
        fields = spec_fields(SPEC_CLASSES[t])
        extra = {"workload": ("layer",), "sparsity": ("layer_input_density",)}.get(t, ())
        for key, raw in tables[t].items():
            full = f"{t}.{key}"
            if key in extra:
                continue
            if key == "template" and t != "arch":
                ck.add(full, raw, "unknown key (arch.template sets [arch], [energy], [area] and [timing] together)",
                       f"template in [arch]; override single [{t}] values here")
                continue
            if key not in fields:
                ck.add(full, raw, _suggest(key, [*fields, *extra]), f"keys of [{t}]: " + ", ".join([*fields, *extra]))
                continue
            v = ck.value(full, raw, fields[key])
            if v is _MISSING:
                continue
            if isinstance(v, tuple):
                axis = Axis(t, key, v)
                if t == "mapping" and select != "all":
                    cand_axes.append(axis)
                else:
                    axes.append(axis)
            else:
                fixed[t][key] = v

    layers = _check_layers(ck, tables["workload"].get("layer"))
    _check_workload(ck, fixed, axes, layers)
    files = _check_files(ck, fixed, axes, base or Path.cwd())
    layer_lists = _layer_lists(ck, fixed, axes, layers, files)
    _check_layer_data(ck, fixed, axes, layer_lists, files)
    layer_names = {layer.name for _, ls in layer_lists for layer in ls}
    layer_density = _check_layer_density(ck, tables["sparsity"].get("layer_input_density"), layer_names)

    output = _check_output(ck, doc.get("output", {}) if isinstance(doc.get("output", {}), dict) else {}, name)
    sampling, sampled = None, {}
    if "sweep" in doc:
        sampling, sampled = _check_sampling(ck, doc["sweep"], fixed, axes, select)
    pseudo = [Axis(t, k, tuple(dict.fromkeys(v))) for (t, k), v in sampled.items()]  # for combination checks
    constraints = _check_constraints(ck, doc.get("constraints", {}) if isinstance(doc.get("constraints", {}), dict)
                                     else {}, fixed, [*axes, *pseudo])
    accuracy = None
    if isinstance(doc.get("accuracy"), dict):
        accuracy = _check_accuracy(ck, doc["accuracy"], fixed, axes, cand_axes, select, files, base or Path.cwd())
    if constraints.accuracy is not None and accuracy is None:
        ck.add("constraints.accuracy", constraints.accuracy, "needs an [accuracy] table to measure it",
               "an [accuracy] table with validation data, or no accuracy budget")
    _check_combinations(ck, fixed, [*axes, *pseudo], cand_axes, output)
    if select != "all":  # before the organisation and loop order, which stay innermost (loop orders share a pass)
        _search_layout(fixed, [*axes, *pseudo], cand_axes, accuracy is not None, bool(layer_density))
    _search_mapping(ck, fixed, axes, cand_axes, select, taken_values("arch", "macros", fixed, [*axes, *pseudo]))
    if sampling is not None and sampled:
        axes = [Axis(SAMPLE_TABLE, "sample", tuple(range(len(next(iter(sampled.values()))))))]

    if ck.problems:
        raise SpecError(ck.problems)
    return Sweep(
        name=name,
        text=text,
        source=source,
        fixed=fixed,
        axes=tuple(axes),
        candidate_axes=tuple(cand_axes),
        output=output,
        constraints=constraints,
        accuracy=accuracy,
        layers=layers,
        layer_input_density=layer_density,
        files=files,
        sampling=sampling,
        sampled=sampled,
    )


def _divisors(n: int) -> int:
    """How many divisors ``n`` has (the macro organisations of ``n`` macros)."""
    pairs = sum(2 for i in range(1, math.isqrt(n) + 1) if n % i == 0)
    return pairs - (1 if math.isqrt(n) ** 2 == n else 0)


def _search_mapping(ck: _Checker, fixed: dict[str, dict[str, Any]], axes: list[Axis], cand_axes: list[Axis],
                    select: str, macros: tuple[int, ...]) -> None:
    """Mapping keys left to ``"auto"`` (their default) are searched: ``macro_grid`` over every organisation of
    the macros (``"auto:k"``, the k-th by rows, as many as the point with the most divisors has), then
    ``loop_order`` over the four orders. Each becomes a candidate axis (a swept one with ``select = "all"``),
    so each point keeps the best candidate and records it."""
    counts = [_divisors(m) for m in set(macros) if isinstance(m, int) and m > 0]
    searches = (("macro_grid", tuple(f"auto:{k}" for k in range(1, max(counts, default=1) + 1)),
                 '"ROWSxCOLS" grids or "square" (the squarest organisation), or "auto" alone'),
                ("loop_order", LOOP_ORDERS, "a list of " + ", ".join(LOOP_ORDERS) + ', or "auto" alone'))
    for key, values, allowed in searches:
        listed = [a for a in [*axes, *cand_axes] if a.table == "mapping" and a.key == key]
        if listed:
            if "auto" in listed[0].values:
                ck.add(f"mapping.{key}", list(listed[0].values), '"auto" inside a list', allowed)
            continue
        if fixed["mapping"].get(key, "auto") != "auto":
            continue
        fixed["mapping"].pop(key, None)
        (axes if select == "all" else cand_axes).append(Axis("mapping", key, values))


def _search_layout(fixed: dict[str, dict[str, Any]], axes: list[Axis], cand_axes: list[Axis], accuracy: bool,
                   layer_density: bool) -> None:
    """The other mapping keys a user does not give are searched too, where they can change a point (with
    ``select = "all"`` they keep their defaults, so that a sweep's dimensions are the ones it lists):
    ``copies`` (as many as fit, none, at most 2 and 4, where the macros allow; unless ``duplicate`` is
    given), ``compress`` (rows and columns) where some point is sparse, ``rearrange``
    (pad and slice) where sub-arrays are smaller than the array, ``flatten`` (all six orders) where the
    order changes the statistics (channel blocks, real weights, measured activations), ``tile_rows`` (the
    array and half of it) where sub-arrays are shorter than the array and inputs are sparse (a shorter tile
    skips more input bit planes; nothing else makes it pay). Pruning with
    [accuracy] keeps one flattening, compression and tiling size (a point is pruned as its winner is). Candidates whose
    statistics are equal are copied in the kernel, not priced twice (``ciminus.lower.twins``)."""
    def given(key: str) -> bool:
        return key in fixed["mapping"] or any(a.table == "mapping" and a.key == key for a in [*axes, *cand_axes])

    def values(table: str, key: str) -> tuple[Any, ...]:
        return taken_values(table, key, fixed, axes)

    patterns = set(values("sparsity", "pattern"))
    sub = any(s < a for s in values("arch", "subarray_rows") for a in values("arch", "array_rows")) or any(
        s < a for s in values("arch", "subarray_cols") for a in values("arch", "array_cols"))
    order_matters = ("channel-wise" in patterns or set(values("sparsity", "source")) != {"random"}
                     or any(v is not None for v in values("sparsity", "activations")))
    macros = [m for m in values("arch", "macros") if isinstance(m, int)]
    degrees = (0, 1, *(k for k in (2, 4) if k < max(macros, default=1)))
    sub_rows = any(s < a for s in values("arch", "subarray_rows") for a in values("arch", "array_rows"))
    sparse_inputs = (any(isinstance(d, float | int) and d < 1 for d in values("sparsity", "input_density"))
                     or layer_density or any(v is not None for v in values("sparsity", "activations")))
    for key, wanted, options in (
        ("copies", not given("duplicate"), degrees),
        ("compress", bool(patterns - {"dense"}) and not accuracy, ("row", "col")),
        ("rearrange", sub, ("pad", "slice")),
        ("flatten", order_matters and not accuracy, FLATTEN_ORDERS),
        ("tile_rows", sub_rows and sparse_inputs and not accuracy, TILE_SIZES),
    ):
        if wanted and not given(key):
            fixed["mapping"].pop(key, None)
            cand_axes.append(Axis("mapping", key, options))


# ----- workload -------------------------------------------------------------------------------------
MAX_MATRIX_SIDE = 1 << 24  # rows of one group's weight matrix: the closed form keeps a distribution over them


def _check_layers(ck: _Checker, raw: Any) -> tuple[Layer, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(x, dict) for x in raw) or not raw:
        ck.add("workload.layer", raw, "not a list of tables", "[[workload.layer]] tables")
        return ()
    layers = []
    names: set[str] = set()
    for i, table in enumerate(raw):
        base = f"workload.layer[{i}]"
        vals: dict[str, Any] = {}
        ok = True
        for key, v in table.items():
            if key not in LAYER_FIELDS:
                ck.add(f"{base}.{key}", v, _suggest(key, LAYER_FIELDS), "layer keys " + ", ".join(LAYER_FIELDS))
                ok = False
                continue
            f = LAYER_FIELDS[key]
            p = f.problem(v) if not isinstance(v, list | dict) else f"wrong type ({type_name(v)})"
            if p:
                ck.add(f"{base}.{key}", v, _choice_problem(p, v, f), f.allowed())
                ok = False
                continue
            vals[key] = f.normalise(v)
        for req in ("C", "K"):
            if req not in vals and req in LAYER_FIELDS and ok:
                ck.add(f"{base}.{req}", _MISSING, "missing", LAYER_FIELDS[req].allowed())
                ok = False
        if not ok:
            continue
        vals.setdefault("name", f"layer{i}")
        vals.setdefault("kind", "conv")
        if vals["name"] in names:
            ck.add(f"{base}.name", vals["name"], "repeated layer name", "a name no other layer has")
            continue
        names.add(vals["name"])
        layer = Layer(**vals)
        if layer.C % layer.groups or layer.K % layer.groups:
            ck.add(f"{base}.groups", layer.groups, f"does not divide C = {layer.C} and K = {layer.K}",
                   "a common divisor of C and K")
            continue
        if layer.kind != "conv" and (layer.R != 1 or layer.S != 1 or layer.groups != 1):
            bad = "R" if layer.R != 1 else "S" if layer.S != 1 else "groups"
            ck.add(f"{base}.{bad}", getattr(layer, bad), f"not used by a {layer.kind} layer", "1 (or kind = \"conv\")")
            continue
        if layer.kind == "conv" and (layer.E < 1 or layer.F < 1):
            ck.add(f"{base}.H" if layer.E < 1 else f"{base}.W", layer.H if layer.E < 1 else layer.W,
                   "smaller than the dilated kernel (no output pixel)",
                   "H + 2*pad >= dilation*(R-1) + 1 and likewise for W")
            continue
        if layer.rows > MAX_MATRIX_SIDE:
            ck.add(f"{base}.R" if layer.R * layer.S > 1 else f"{base}.C", layer.R if layer.R * layer.S > 1 else layer.C,
                   f"makes a weight matrix of C/groups*R*S = {layer.rows:,} rows",
                   f"at most {MAX_MATRIX_SIDE:,} rows per group (the tile statistics hold one number per row)")
            continue
        layers.append(layer)
    return tuple(layers)


def _check_workload(ck: _Checker, fixed: dict, axes: list[Axis], layers: tuple[Layer, ...]) -> None:
    given = [k for k in ("network", "onnx")
             if k in fixed["workload"] or any(a.key == k and a.table == "workload" for a in axes)]
    if layers:
        given.append("layer")
    if len(given) > 1:
        shown = "[[workload.layer]]" if given[1] == "layer" else "..."
        ck.add(f"workload.{given[1]}", shown, f"given together with workload.{given[0]}",
               "one of a built-in network, an ONNX model, or inline layers")
    if not given and not ck.problems:
        ck.add("workload.network", _MISSING, "missing",
               "a built-in network (" + ", ".join(spec_fields(SPEC_CLASSES["workload"])["network"].choices)
               + "), workload.onnx, or [[workload.layer]] tables")


def _layer_lists(ck: _Checker, fixed: dict, axes: list[Axis], layers: tuple[Layer, ...],
                 files: dict[str, str]) -> list[tuple[str | None, tuple[Layer, ...]]]:
    """Every layer list the sweep's points can have, with the ONNX file it came from (None otherwise)."""
    from ciminus.sparsity.sources import onnx_model

    if layers:
        return [(None, layers)]
    out: list[tuple[str | None, tuple[Layer, ...]]] = []
    for v in _path_values("onnx", "workload", fixed, axes):
        if v in files:
            out.append((files[v], onnx_model(files[v]).layers))
    nets = _values("network", "workload", fixed, axes)
    datasets = _values("dataset", "workload", fixed, axes) or ("imagenet",)
    tokens = _path_values("tokens", "workload", fixed, axes) or (None,)
    for n, d, t in itertools.product(nets, datasets, tokens):
        if n is None:
            continue
        try:
            out.append((None, network_layers(n, d, t)))
        except (KeyError, ValueError) as exc:
            key, value = ("workload.dataset", d) if t is None or n not in SEQUENCE_NETWORKS else ("workload.tokens", t)
            ck.add(key, value, f"not available for network \"{n}\" ({exc.args[0]})",
                   "a dataset (or sequence length) the network is defined for")
    given_datasets = _path_values("dataset", "workload", fixed, axes)
    if given_datasets and nets and all(n in SEQUENCE_NETWORKS for n in nets if n is not None) and any(nets):
        ck.add("workload.dataset", given_datasets[0], "not used by " + ", ".join(f'"{n}"' for n in nets if n),
               "only with an image network (its input size and classes); "
               + ", ".join(SEQUENCE_NETWORKS) + " takes workload.tokens instead")
    if (tokens != (None,) and nets and not any(n in SEQUENCE_NETWORKS for n in nets)):
        ck.add("workload.tokens", tokens[0], "not used by " + ", ".join(f'"{n}"' for n in nets),
               "only with a network that has a sequence length: " + ", ".join(SEQUENCE_NETWORKS))
    return out


def _check_layer_density(ck: _Checker, raw: Any, names: set[str]) -> dict[str, float]:
    if raw is None:
        return {}
    key = "sparsity.layer_input_density"
    if not isinstance(raw, dict):
        ck.add(key, raw, f"wrong type ({type_name(raw)})", "a table of layer name = density")
        return {}
    f = Field(kind=FLOAT, lo=0.0, hi=1.0, lo_open=True, doc="")
    out = {}
    for name, v in raw.items():
        if names and name not in names:
            ck.add(f"{key}.{name}", v, _suggest(name, names).replace("key", "layer"), "a layer of the workload")
            continue
        p = f.problem(v) if not isinstance(v, list | dict) else f"wrong type ({type_name(v)})"
        if p:
            ck.add(f"{key}.{name}", v, p, f.allowed())
            continue
        out[name] = float(v)
    return out


# ----- sampled sweeps --------------------------------------------------------------------------------
def _check_sampling(ck: _Checker, raw: Any, fixed: dict, axes: list[Axis],
                    select: str) -> tuple[SamplingSpec | None, dict[tuple[str, str], tuple]]:
    """``[sweep]``: the sampler, N, the seed and a range for every sampled key; draws the samples."""
    if not isinstance(raw, dict):
        ck.add("sweep", raw, f"wrong type ({type_name(raw)})", "a [sweep] table")
        return None, {}
    fields = spec_fields(SamplingSpec)
    vals: dict[str, Any] = {}
    for key, v in raw.items():
        if key == "ranges":
            continue
        if key not in fields:
            ck.add(f"sweep.{key}", v, _suggest(key, [*fields, "ranges"]), "keys of [sweep]: " + ", ".join([*fields, "ranges"]))
            continue
        got = ck.value(f"sweep.{key}", v, fields[key])
        if got is not _MISSING:
            vals[key] = got
    if "sample" not in vals:
        if "sample" not in raw:
            ck.add("sweep.sample", _MISSING, "missing", fields["sample"].allowed())
        return None, {}
    ranges = raw.get("ranges")
    if not isinstance(ranges, dict) or not ranges:
        ck.add("sweep.ranges", ranges if ranges is not None else _MISSING, "missing or empty",
               'a table of "table.key" = [low, high] for every sampled key')
        return None, {}
    checked: dict[str, tuple[float, float]] = {}
    integer = []
    for name, bounds in ranges.items():
        key = f'sweep.ranges."{name}"'
        table, _, k = str(name).partition(".")
        sampleable = {t: {n: f for n, f in spec_fields(SPEC_CLASSES[t]).items() if f.kind in (INT, FLOAT, FLOAT_OR_CHOICE)
                          and f.sweepable}
                      for t in ("workload", "arch", "energy", "area", "timing", "sparsity")}
        if table not in sampleable or k not in sampleable[table]:
            options = [f"{t}.{n}" for t, fs in sampleable.items() for n in fs]
            close = difflib.get_close_matches(str(name), options, n=1, cutoff=0.6)
            ck.add(key, bounds, "not a numeric key that can be sampled" + (f" (did you mean '{close[0]}'?)" if close else ""),
                   "a numeric key of [workload], [arch], [energy], [area], [timing] or [sparsity] as \"table.key\"")
            continue
        f = sampleable[table][k]
        if (not isinstance(bounds, list) or len(bounds) != 2
                or any(isinstance(b, bool) or not isinstance(b, int | float) for b in bounds)):
            ck.add(key, bounds, "not a [low, high] pair", f"two numbers: {f.allowed()}")
            continue
        lo, hi = bounds
        bad = [b for b in bounds if f.problem(b) not in (None, "not an integer")]
        if bad or lo >= hi:
            ck.add(key, bounds, "out of range" if bad else "low is not below high", f"low < high, each {f.allowed()}")
            continue
        if k in fixed[table] or any(a.table == table and a.key == k for a in axes):
            ck.add(f"{table}.{k}", fixed[table].get(k, "[...]"), "also given in [sweep.ranges]",
                   "a fixed value or list, or a range, not both")
            continue
        checked[name] = (float(lo), float(hi))
        if f.kind == INT:
            integer.append(name)
    swept = [a for a in axes if not (a.table == "mapping" and select != "all")]
    for a in swept:
        ck.add(f"{a.table}.{a.key}", list(a.values), "cannot be swept together with [sweep] sample",
               "one value, or a range in [sweep.ranges]")
    if ck.problems or not checked:
        return None, {}
    spec = SamplingSpec(**vals, ranges=checked, integer=tuple(integer))
    n_runs = sampling_runs(spec.sample, spec.samples, len(checked))
    if n_runs > MAX_SAMPLED_RUNS:  # refused before drawing anything
        ck.add("sweep.samples", spec.samples, f"{spec.sample} would draw {n_runs:,} runs for {len(checked)} ranged keys",
               f"at most {MAX_SAMPLED_RUNS:,} runs (the indices need every run in memory): sweep.samples <= "
               f"{MAX_SAMPLED_RUNS // max(1, sampling_runs(spec.sample, 1, len(checked))):,}")
        return None, {}
    from ciminus.analysis.sensitivity import sample

    X = sample(spec.sample, spec.problem, spec.samples, spec.seed)
    sampled = {}
    for j, name in enumerate(spec.names):
        table, _, k = name.partition(".")
        column = X[:, j]
        sampled[(table, k)] = tuple(int(v) for v in column) if name in integer else tuple(float(v) for v in column)
    return spec, sampled


# ----- output ---------------------------------------------------------------------------------------
def _check_output(ck: _Checker, raw: dict, name: str) -> OutputSpec:
    return _check_plain(ck, "output", OutputSpec, raw)


def _check_plain(ck: _Checker, table: str, cls: type, raw: dict) -> Any:
    """A table of fixed values only (``[output]``, ``[constraints]``) as its spec."""
    fields = spec_fields(cls)
    vals: dict[str, Any] = {}
    for key, v in raw.items():
        if key not in fields:
            ck.add(f"{table}.{key}", v, _suggest(key, fields), f"keys of [{table}]: " + ", ".join(fields))
            continue
        got = ck.value(f"{table}.{key}", v, fields[key])
        if got is not _MISSING:
            vals[key] = got
    return cls(**vals)


def _check_accuracy(ck: _Checker, raw: dict, fixed: dict, axes: list[Axis], cands: list[Axis], select: str,
                    files: dict[str, str], base: Path) -> AccuracySpec | None:
    """``[accuracy]``: its data read and checked against the model before any pricing."""
    from ciminus.accuracy import AccuracyError, validation
    from ciminus.sparsity.sources import resolve_path

    problems = len(ck.problems)
    if "data" not in raw:
        ck.add("accuracy.data", "(missing)", "not given", 'the path of an .npz with "inputs" and "labels"')
        return None
    spec = _check_plain(ck, "accuracy", AccuracySpec, raw)
    if len(ck.problems) > problems:
        return None
    models = _values("onnx", "workload", fixed, axes)
    if len(models) != 1 or models[0] is None or models[0] not in files:
        ck.add("accuracy.data", spec.data, "needs one ONNX model (workload.onnx) to run",
               "one workload.onnx with weights, not a built-in network, inline layers or a list of models")
        return None
    sources = _values("source", "sparsity", fixed, axes)
    if sources != ("weights",):
        ck.add("sparsity.source", sources[0] if len(sources) == 1 else list(sources),
               "[accuracy] runs the model's own weights pruned into each pattern", '"weights" (with prune = true)')
    for a in cands:
        if a.key in ("flatten", "compress", "tile_rows", "tile_cols") and select != "all":
            ck.add(f"mapping.{a.key}", list(a.values), "a list of candidates: each point would be pruned as its "
                   "winner is, which [accuracy] cannot know before pricing",
                   'one value, or a swept dimension with mapping.select = "all"')
    path = resolve_path(spec.data, base)
    if path is None:
        ck.add("accuracy.data", spec.data, "no such file (looked next to the sweep file and in the working directory)",
               'the path of an .npz with "inputs" and "labels"')
        return None
    try:
        validation(files[models[0]], str(path), spec.metric)
    except AccuracyError as exc:
        ck.add("accuracy.data", spec.data, str(exc), 'an .npz whose "inputs" the model runs on and whose "labels" '
               "are its classes")
        return None
    files[spec.data] = str(path)
    return spec


def _check_constraints(ck: _Checker, raw: dict, fixed: dict, axes: list[Axis]) -> ConstraintsSpec:
    """Budgets; the power and latency budgets need every point to have a clock (seconds)."""
    spec = _check_plain(ck, "constraints", ConstraintsSpec, raw)
    clocks = _values("freq_mhz", "arch", fixed, axes)
    if any(not isinstance(c, str) and c <= 0 for c in clocks):
        for key in ("power_mw", "latency_s"):
            if getattr(spec, key) is not None:
                ck.add(f"constraints.{key}", getattr(spec, key), "needs a clock, and arch.freq_mhz is 0 at some points",
                       'arch.freq_mhz > 0 or "auto" at every point (or no budget in seconds)')
    return spec


# ----- combinations ----------------------------------------------------------------------------------
def _values(key: str, table: str, fixed: dict, axes: list[Axis]) -> tuple[Any, ...]:
    """Every value ``table.key`` takes in the sweep (template values and defaults included)."""
    if table == "arch" and key != "template" and any(t not in TEMPLATE_NAMES for t in _values("template", "arch", fixed, axes)):
        return ()  # an unknown template is reported on its own
    return taken_values(table, key, fixed, axes)


def _fixed(key: str, table: str, fixed: dict, axes: list[Axis]) -> Any:
    vals = _values(key, table, fixed, axes)
    return vals[0] if len(vals) == 1 else _MISSING


def _set_by_user(table: str, key: str, fixed: dict, axes: list[Axis]) -> Any:
    """What a sweep file sets ``table.key`` to other than its default ("[...]" where it is swept), else
    ``_MISSING``: a key that is read only with some other setting is refused when set without it."""
    if any(a.table == table and a.key == key for a in axes):
        return "[...]"
    given = fixed[table].get(key, _MISSING)
    return _MISSING if given is _MISSING or given == default_value(table, key) else given


def _check_combinations(ck: _Checker, fixed: dict, axes: list[Axis], cands: list[Axis], output: OutputSpec) -> None:
    every = [*axes, *cands]
    # A given bit profile: with input_profile = "given" only, one probability per input bit.
    profiles = set(_values("input_profile", "sparsity", fixed, every) or ("laplace",))
    ones = [v for v in _values("input_bit_ones", "sparsity", fixed, every) if isinstance(v, str)]
    reported = any(p.key == "sparsity.input_bit_ones" for p in ck.problems)  # a bad value, already said
    if "given" in profiles and not reported and (not ones or None in _values("input_bit_ones", "sparsity", fixed,
                                                                             every)):
        ck.add("sparsity.input_profile", "given", "needs sparsity.input_bit_ones",
               'input_bit_ones = "0.48,0.45,..." (one probability per input bit), or "laplace" / "independent"')
    if ones and "given" not in profiles:
        ck.add("sparsity.input_bit_ones", ones[0], 'not used unless sparsity.input_profile = "given"',
               'input_profile = "given"')
    bits = [b for b in _values("input_bits", "arch", fixed, every) if isinstance(b, int)]
    for text in ones:
        try:
            n = len(parse_profile(text))
        except ValueError:
            continue  # already reported with the key
        if any(b != n for b in bits):
            ck.add("sparsity.input_bit_ones", text, f"has {n} bit positions, arch.input_bits = "
                   f"{bits[0] if len(set(bits)) == 1 else sorted(set(bits))}",
                   "one probability per input bit (arch.input_bits of them)")
    # Sub-arrays must tile the array.
    for sub, arr in (("subarray_rows", "array_rows"), ("subarray_cols", "array_cols")):
        s, a = _fixed(sub, "arch", fixed, every), _fixed(arr, "arch", fixed, every)
        if s is not _MISSING and a is not _MISSING and s is not None and a is not None and a % s:
            ck.add(f"arch.{sub}", s, f"does not divide arch.{arr} = {a}", f"a divisor of {a}")
    # Each macro grid must hold the macros of at least one point (all of them when macros is fixed).
    macros = _values("macros", "arch", fixed, every)
    for g in _values("macro_grid", "mapping", fixed, every):
        if g in ("auto", "square"):
            continue
        rc = parse_grid(g)
        if rc is None or rc[0] < 1 or rc[1] < 1:
            ck.add("mapping.macro_grid", g, "not a grid", '"ROWSxCOLS" such as "4x2", "square" or "auto"')
        elif macros and rc[0] * rc[1] not in macros:
            ck.add("mapping.macro_grid", g, f"{rc[0]} x {rc[1]} = {rc[0] * rc[1]} macros, but arch.macros = "
                   f"{toml_repr(list(macros)) if len(macros) > 1 else macros[0]}",
                   "a grid with as many macros as arch.macros, \"square\" or \"auto\"")
    # A sparsity that no point can build is refused; a sweep where only some combinations cannot be built
    # marks those points infeasible (kernels.tile_stats.sparsity_reason).
    patterns = _values("pattern", "sparsity", fixed, every) or ("dense",)
    ratios = _values("ratio", "sparsity", fixed, every) or (0.0,)
    n_values = _values("nm_n", "sparsity", fixed, every) or (2,)
    m_values = _values("nm_m", "sparsity", fixed, every) or (4,)
    mask_values = [v for v in (_values("intrablock_masks", "sparsity", fixed, every) or ("all",))
                   if isinstance(v, str)]
    why = python(sparsity_reason)
    codes = {name: code for code, name in enumerate(PATTERNS)}
    combos = list(itertools.product(patterns, ratios, n_values, m_values, mask_values))
    if combos and all(why(codes[p], r, n, m, *mask_columns(k)[3:]) for p, r, n, m, k in combos):
        first = next(c for c in combos)
        code = why(codes[first[0]], *first[1:4], *mask_columns(first[4])[3:])
        if code == L.REASON_NM_N_OVER_M:
            ck.add("sparsity.nm_n", first[2], f"keeps more than the segment length sparsity.nm_m = {first[3]}",
                   f"an integer from 1 to {first[3]}")
        elif code == L.REASON_IB_MASKS:
            keep = first[2] if first[0] != "nm" else python(nm_keep)(first[1], first[3])
            length, ones = mask_columns(first[4])[3:]
            ck.add("sparsity.intrablock_masks", first[4],
                   f"the masks must be sparsity.nm_m = {first[3]} long and keep {keep} weights each (these are "
                   f"{length} long and keep {ones}: set nm_m = {length} and "
                   + ("the ratio to match" if first[0] == "nm" else f"nm_n = {ones}") + ")",
                   f'"all", or masks of {first[3]} characters with {keep} ones')
        else:
            kept = ", ".join(f"{1 - k / first[3]:g}" for k in range(first[3], 0, -1))
            ck.add("sparsity.ratio", first[1], f'is no whole k of sparsity.nm_m = {first[3]} for pattern "nm"',
                   f"one of {kept}")
    pattern = _fixed("pattern", "sparsity", fixed, every)
    if pattern is not _MISSING:
        for key, users in (("intrablock_masks", INTRABLOCK_PATTERNS), ("intrablock_cols", INTRABLOCK_PATTERNS),
                           ("order", ("hybrid", "flexblock"))):
            value = _set_by_user("sparsity", key, fixed, axes)
            if pattern not in users and value is not _MISSING:
                ck.add(f"sparsity.{key}", value, f'not used by pattern "{pattern}"',
                       "only with pattern " + ", ".join(f'"{p}"' for p in users))
    firsts = set(_values("first", "sparsity", fixed, every)) - {"none"}
    for key in ("first_block_rows", "first_block_cols"):  # the sizes of a first stage of blocks
        value = _set_by_user("sparsity", key, fixed, axes)
        if "block" not in firsts and value is not _MISSING:
            ck.add(f"sparsity.{key}", value, 'not used without first = "block"', 'only with sparsity.first = "block"')
    if set(_values("first", "sparsity", fixed, every)) == {"block"}:  # no point can be priced: refused
        nm = itertools.product(patterns, n_values, m_values)
        if all(python(intrablock_segment)(codes[p], n, m) for p, n, m in nm):
            ck.add("sparsity.first", "block", "prunes blocks before a pattern with an IntraBlock stage: three stages",
                   'a FullBlock pattern after it (for FullBlock then IntraBlock: pattern "hybrid" or "flexblock" '
                   'with order = "full-first")')
    if firsts and False in _values("prune", "sparsity", fixed, every) and set(
            _values("source", "sparsity", fixed, every)) - {"random"}:
        ck.add("sparsity.first", min(firsts), "prunes weights, but real weights are taken as they are "
               "(sparsity.prune = false)", 'sparsity.prune = true, or first = "none"')
    compress = _values("compress", "mapping", fixed, every)
    if pattern in INTRABLOCK_PATTERNS and compress and set(compress) == {"col"}:
        ck.add("mapping.compress", "col", f"IntraBlock pattern \"{pattern}\" selects inputs per column and needs row compression",
               '"row" or "auto"')
    if pattern is not _MISSING:
        for bk in ("block_rows", "block_cols"):
            if bk in fixed["sparsity"] or any(a.table == "sparsity" and a.key == bk for a in axes):
                if bk not in BLOCK_KEYS_USED.get(pattern, ()):
                    users = [p for p, ks in BLOCK_KEYS_USED.items() if bk in ks]
                    ck.add(f"sparsity.{bk}", fixed["sparsity"].get(bk, "[...]"), f"not used by pattern \"{pattern}\"",
                           "only with pattern " + ", ".join(f'"{p}"' for p in users))
    if output.per_layer:
        nets = _values("network", "workload", fixed, axes)
        dsets = _values("dataset", "workload", fixed, axes)
        if len(nets) > 1 or len(dsets) > 1:
            ck.add("output.per_layer", True, "needs one layer list, but the sweep varies the network or dataset",
                   "false, or a single network and dataset")
