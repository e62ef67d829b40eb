"""The compiled scoring path: the fitted scikit-learn Pipeline flattened once into numpy arrays.

Why: one record through the Pipeline costs ~10 ms of CPU (a DataFrame, the ColumnTransformer with pandas
output, per-call validation, then a Python loop over 200 trees); the same arithmetic on flat arrays costs
tens of microseconds. Why not ONNX or treelite: ONNX's tree ensembles compare in float32 (a split can flip,
so probabilities differ by far more than 1e-9) and treelite needs a C compiler where the model is packaged.
Flat numpy arrays do the very comparisons and additions scikit-learn does, in its order: the probabilities
are equal bit for bit where the encoding is exact (trees), within a few ulps where it is affine (scaling).

Two parts, both built from the fitted objects, neither reading a DataFrame at serve time:
- `Encoder`: a validated record (a dict) straight into the model's input row. It is compiled by probing the
  fitted preprocessing one input column at a time (each output column must depend on one input column,
  affinely for a number, by lookup for a category), so it follows what the transformers do rather than
  re-implementing them; a transformer that is not column-separable is refused.
- A scorer per estimator family: HistGradientBoosting (its predictors' node arrays, categorical bitsets,
  missing-value directions, baseline), RandomForest (each tree's arrays, float32 inputs as sklearn casts
  them), LogisticRegression (a dot product). Anything else is refused with the reason.

`compile_pipeline` refuses (NotCompilableError) rather than guess; `parity` is the proof the packager demands
before the compiled path may serve (mlops.deploy.package): golden set and holdout rows, maximum absolute
probability difference and identical classes. Private scikit-learn attributes are read here only, and only
at packaging: a scikit-learn release that changes them fails parity, and the model keeps the sklearn path.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlops.contract import Contract

PROBE_VALUES = (0.0, 1.0, 2.5, -3.0)  # an affine map is fixed by two points and checked on the others
PARITY_BOUND = 1e-9  # max |p_compiled - p_sklearn| for the compiled path to serve (classes identical too)
PARITY_ROWS = 3000  # holdout rows the proof covers, beside the golden set (packaging and the gate alike)
# Measured (one thread, 200 trees of 7 leaves): the vectorised walk wins below ~48 rows (0.1 ms for one row
# against 0.8 ms for the per-tree loop), the per-tree loop above (2.3 against 5.1 ms at 256 rows).
VECTOR_ROWS = 48
CODES = 256  # HistGradientBoosting's category bitsets: 8 words of 32 bits


class NotCompilableError(Exception):
    """The pipeline cannot be compiled exactly; the message says why (shown by `mlops package`)."""


# -- the encoder -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NumericColumn:
    name: str
    outputs: np.ndarray  # output column indices
    slope: np.ndarray  # per output: value = slope * x + intercept (x not missing)
    intercept: np.ndarray
    missing: np.ndarray  # per output, when x is missing (None / NaN)
    exact: bool  # slope 1, intercept 0 on every output: the value passes through unchanged


@dataclass(frozen=True)
class CategoricalColumn:
    name: str
    outputs: np.ndarray
    table: dict[Any, np.ndarray]  # known category -> its output values
    unknown: np.ndarray  # a category the fit never saw
    missing: np.ndarray


@dataclass(frozen=True)
class Encoder:
    """A record (dict of contract columns) -> the model's input row, as the fitted preprocessing makes it."""

    base: np.ndarray  # outputs that depend on no input column (constant)
    numeric: tuple[NumericColumn, ...]
    categorical: tuple[CategoricalColumn, ...]

    def encode(self, records: Sequence[dict[str, Any]]) -> np.ndarray:
        out = np.tile(self.base, (len(records), 1))
        for col in self.numeric:
            raw = np.array([_number(r.get(col.name)) for r in records], dtype=float)
            nan = np.isnan(raw)
            if col.exact:
                values = np.where(nan[:, None], col.missing, raw[:, None])
            else:
                values = np.where(nan[:, None], col.missing, raw[:, None] * col.slope + col.intercept)
            out[:, col.outputs] = values
        for cat in self.categorical:
            out[:, cat.outputs] = [
                cat.missing if _missing(v := r.get(cat.name)) else cat.table.get(v, cat.unknown)
                for r in records
            ]
        return out


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def compile_encoder(
    transform: Any, base_record: dict[str, Any], numeric: list[str], categorical: dict[str, list[Any]]
) -> Encoder:
    """Probe `transform` (a fitted frame -> model-input array function) one column at a time around
    `base_record`: which outputs each input column moves, and how."""

    def run(rows: list[dict[str, Any]]) -> np.ndarray:
        return np.asarray(transform(pd.DataFrame.from_records(rows)), dtype=float)

    base_row = run([base_record])[0]
    width = base_row.shape[0]
    owner = np.full(width, -1)
    num_cols: list[NumericColumn] = []
    cat_cols: list[CategoricalColumn] = []
    columns = [*numeric, *categorical]
    for index, name in enumerate(columns):
        if name in categorical:
            known = list(categorical[name])
            probes = [*known, "\x00never-seen\x00", None]
        else:
            probes = [*PROBE_VALUES, None]
        out = run([{**base_record, name: value} for value in probes])
        moved = np.flatnonzero(~np.all(_same(out, out[0]), axis=0) | ~_same(out[0], base_row))
        if name not in categorical and moved.size == 0:
            continue  # a column the model ignores (dropped by the preprocessing)
        clash = moved[owner[moved] >= 0]
        if clash.size:
            raise NotCompilableError(
                f"output column {int(clash[0])} depends on {columns[owner[clash[0]]]!r} and {name!r}: "
                "the preprocessing is not column-separable"
            )
        owner[moved] = index
        if name in categorical:
            table = {value: out[i, moved] for i, value in enumerate(known)}
            cat_cols.append(CategoricalColumn(name, moved, table, out[-2, moved], out[-1, moved]))
            continue
        values = out[: len(PROBE_VALUES), moved]
        x = np.asarray(PROBE_VALUES)[:, None]
        slope = (values[1] - values[0]) / (x[1] - x[0])
        intercept = values[0] - slope * x[0]
        if not np.allclose(slope * x + intercept, values, rtol=1e-12, atol=1e-12):
            raise NotCompilableError(f"column {name!r}: its encoding is not affine in the value")
        exact = bool(np.all(slope == 1.0) and np.all(intercept == 0.0))
        num_cols.append(NumericColumn(name, moved, slope, intercept, out[-1, moved], exact))
    base = np.where(owner < 0, base_row, 0.0)
    return Encoder(base, tuple(num_cols), tuple(cat_cols))


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a == b) | (np.isnan(a) & np.isnan(b)))


# -- the scorers -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trees:
    """Every tree's nodes in flat arrays. `child[2 * node + goes_right]` is the next node; a leaf's two
    children are itself, so a row that reached its leaf stays there for the remaining steps."""

    roots: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    child: np.ndarray
    missing_left: np.ndarray
    depth: int

    def leaves(self, x: np.ndarray, go_left: Any) -> np.ndarray:
        """The leaf each row reaches in each tree: (rows, trees) node indices."""
        rows = np.arange(x.shape[0])[:, None]
        node = np.broadcast_to(self.roots, (x.shape[0], self.roots.size))
        for _ in range(self.depth):
            left = go_left(node, x[rows, self.feature[node]], rows)
            node = self.child[2 * node + ~left]
        return node


def _trees(
    roots: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    leaf: np.ndarray,
    missing_left: np.ndarray,
    depth: int,
) -> Trees:
    index = np.arange(leaf.size)
    child = np.empty(2 * leaf.size, np.int64)
    child[0::2] = np.where(leaf, index, left)
    child[1::2] = np.where(leaf, index, right)
    feature = np.where(leaf, 0, feature).astype(np.int64)
    return Trees(
        roots.astype(np.int64), feature, threshold.astype(float), child, missing_left.astype(bool), depth
    )


@dataclass(frozen=True)
class GradientBoosting:
    trees: Trees
    value: np.ndarray
    categorical: np.ndarray  # per node: a categorical split
    # per node, per category code 0-255: goes left (sklearn's rule: in the left bitset -> left; known but
    # not in it -> right; a category the fit never saw -> the node's missing-value direction)
    cat_left: np.ndarray  # flat (nodes * 256,)
    cat_features: np.ndarray  # the input features that are categorical
    baseline: float
    # For batches of VECTOR_ROWS or more: sklearn's own per-tree Cython loop on the encoded rows (the same
    # comparisons and the same order of additions; the vectorised walk's arrays grow with rows x trees).
    tree_predict: tuple[Any, ...] = ()

    def raw(self, x: np.ndarray) -> np.ndarray:
        if x.shape[0] >= VECTOR_ROWS and self.tree_predict:
            out = np.full(x.shape[0], self.baseline)
            for predict in self.tree_predict:
                out += predict(x)
            return out
        t = self.trees
        codes = np.zeros(x.shape, np.int64)
        if self.cat_features.size:
            cats = x[:, self.cat_features]
            # sklearn treats NaN and negative codes as missing; codes are < 256 (the bitsets' width)
            usable = ~np.isnan(cats) & (cats >= 0)
            codes[:, self.cat_features] = np.where(usable, cats, 0).astype(np.int64) & (CODES - 1)

        def go_left(node: np.ndarray, value: np.ndarray, rows: np.ndarray) -> np.ndarray:
            left = value <= t.threshold[node]
            if self.cat_features.size:
                cat = self.cat_left[node * CODES + codes[rows, t.feature[node]]]
                left = np.where(self.categorical[node], cat & ~(value < 0), left)
                left |= self.categorical[node] & (value < 0) & t.missing_left[node]
            return np.asarray(np.where(np.isnan(value), t.missing_left[node], left))

        leaves = t.leaves(x, go_left)
        # sklearn adds the trees one by one onto the baseline: cumsum keeps that order (bit-equal sums)
        parts = np.concatenate([np.full((x.shape[0], 1), self.baseline), self.value[leaves]], axis=1)
        return np.asarray(np.cumsum(parts, axis=1)[:, -1])

    def proba(self, x: np.ndarray) -> np.ndarray:
        from scipy.special import expit

        return np.asarray(expit(self.raw(x)))


@dataclass(frozen=True)
class Forest:
    trees: Trees
    positive: np.ndarray  # per node: the leaf's share of the positive class

    def proba(self, x: np.ndarray) -> np.ndarray:
        # sklearn's trees compare float32 inputs (DTYPE) with float64 thresholds
        x32 = x.astype(np.float32).astype(np.float64)
        t = self.trees

        def go_left(node: np.ndarray, value: np.ndarray, rows: np.ndarray) -> np.ndarray:
            # sklearn >= 1.3 trees send a missing value where the fit learnt to (missing_go_to_left)
            return np.asarray(np.where(np.isnan(value), t.missing_left[node], value <= t.threshold[node]))

        leaves = t.leaves(x32, go_left)
        shares = self.positive[leaves]
        total = np.cumsum(shares, axis=1)[:, -1]  # sklearn sums the trees' probabilities in order
        return np.asarray(total / shares.shape[1])


@dataclass(frozen=True)
class Linear:
    coef: np.ndarray
    intercept: float

    def proba(self, x: np.ndarray) -> np.ndarray:
        from scipy.special import expit

        return np.asarray(expit(x @ self.coef + self.intercept))


Scorer = GradientBoosting | Forest | Linear


@dataclass(frozen=True)
class Compiled:
    """The compiled model: records -> P(positive). `kind` names the scorer (shown in package.json)."""

    kind: str
    encoder: Encoder
    scorer: Scorer

    def proba(self, records: Sequence[dict[str, Any]]) -> np.ndarray:
        return self.scorer.proba(self.encoder.encode(records))


def _bits(bitsets: np.ndarray) -> np.ndarray:
    """(rows, 8) uint32 bitsets -> (rows, 256) booleans."""
    codes = np.arange(CODES)
    return ((bitsets[:, codes >> 5] >> (codes & 31).astype(np.uint32)) & 1).astype(bool)


def _first(model: Any, *names: str) -> Any:
    for name in names:
        if (value := getattr(model, name, None)) is not None:
            return value
    return []


def _hgb(model: Any) -> tuple[Scorer, Any]:
    if getattr(model, "n_trees_per_iteration_", 1) != 1:
        raise NotCompilableError("a multi-class gradient boosting model (only binary is compiled)")
    predictors = [iteration[0] for iteration in model._predictors]
    sizes = [len(p.nodes) for p in predictors]
    offsets = np.cumsum([0, *sizes[:-1]])
    nodes = np.concatenate([p.nodes for p in predictors])
    per_tree = np.repeat(np.arange(len(predictors)), sizes)
    leaf = nodes["is_leaf"].astype(bool)
    categorical = nodes["is_categorical"].astype(bool) & ~leaf
    missing_left = nodes["missing_go_to_left"].astype(bool)
    known, known_row = model._bin_mapper.make_known_categories_bitsets()
    known_row = np.asarray(known_row, np.int64)
    cat_left = np.zeros((len(nodes), CODES), bool)
    for i in np.flatnonzero(categorical):
        tree = predictors[per_tree[i]]
        goes_left = _bits(tree.raw_left_cat_bitsets[nodes["bitset_idx"][i] : nodes["bitset_idx"][i] + 1])[0]
        seen = _bits(known[known_row[nodes["feature_idx"][i]]][None, :])[0]
        cat_left[i] = goes_left | (~seen & missing_left[i])
    left = nodes["left"].astype(np.int64) + offsets[per_tree]
    right = nodes["right"].astype(np.int64) + offsets[per_tree]
    depth = int(nodes["depth"].max())
    trees = _trees(
        offsets, nodes["feature_idx"], nodes["num_threshold"], left, right, leaf, missing_left, depth
    )
    scorer = GradientBoosting(
        trees=trees,
        value=nodes["value"].astype(float),
        categorical=categorical,
        cat_left=cat_left.ravel(),
        # in the trees' feature order: its internal encoder puts the categorical columns first
        cat_features=np.flatnonzero(np.asarray(_first(model, "_is_categorical_remapped", "is_categorical_"))),
        baseline=float(np.asarray(model._baseline_prediction).ravel()[0]),
        tree_predict=tuple(
            functools.partial(
                p.predict, known_cat_bitsets=known, f_idx_map=known_row.astype(np.uint32), n_threads=1
            )
            for p in predictors
        ),
    )

    def model_input(x: Any) -> Any:
        return model._preprocessor.transform(x) if model._preprocessor is not None else np.asarray(x, float)

    return scorer, model_input


def _forest(model: Any) -> tuple[Scorer, Any]:
    if list(model.classes_) != [0, 1]:
        raise NotCompilableError(f"forest classes {list(model.classes_)} (compiled: 0/1)")
    feature, threshold, left, right, leaf, positive, roots, missing = [], [], [], [], [], [], [], []
    offset, depth = 0, 0
    for estimator in model.estimators_:
        tree = estimator.tree_
        n = tree.node_count
        is_leaf = tree.children_left < 0
        roots.append(offset)
        feature.append(tree.feature)
        threshold.append(tree.threshold)
        left.append(tree.children_left + offset)
        right.append(tree.children_right + offset)
        leaf.append(is_leaf)
        missing.append(np.asarray(tree.missing_go_to_left, dtype=bool))
        value = tree.value[:, 0, :]
        positive.append(value[:, 1] / value.sum(axis=1))  # predict_proba's normalisation
        offset += n
        depth = max(depth, int(tree.max_depth))
    f, th, lt, rt, lf = (np.concatenate(part) for part in (feature, threshold, left, right, leaf))
    trees = _trees(np.asarray(roots), f, th, lt, rt, lf, np.concatenate(missing), depth)
    return Forest(trees, np.concatenate(positive)), lambda x: x


def _linear(model: Any) -> tuple[Scorer, Any]:
    if model.coef_.shape[0] != 1 or list(model.classes_) != [0, 1]:
        raise NotCompilableError("a multi-class linear model (compiled: binary 0/1)")
    return Linear(model.coef_[0].astype(float), float(model.intercept_[0])), lambda x: x


SCORERS = {
    "HistGradientBoostingClassifier": _hgb,
    "RandomForestClassifier": _forest,
    "LogisticRegression": _linear,
}


def compile_pipeline(
    pipeline: Any, base_record: dict[str, Any], numeric: list[str], categorical: dict[str, list[Any]]
) -> Compiled:
    """Compile a fitted Pipeline([..., ("model", estimator)]) for records shaped like `base_record`
    (`numeric` and `categorical`: the contract's input columns, the latter with their known values)."""
    steps = getattr(pipeline, "steps", None)
    if not steps:
        raise NotCompilableError(f"{type(pipeline).__name__} is not a scikit-learn Pipeline")
    estimator = steps[-1][1]
    kind = type(estimator).__name__
    if kind not in SCORERS:
        raise NotCompilableError(f"no compiled scorer for {kind} (compiled: {', '.join(SCORERS)})")
    try:
        scorer, model_input = SCORERS[kind](estimator)
        head = pipeline[:-1]

        def transform(frame: pd.DataFrame) -> Any:
            return model_input(head.transform(frame))

        encoder = compile_encoder(transform, base_record, numeric, categorical)
    except NotCompilableError:
        raise
    except Exception as exc:  # a fitted object unlike the ones compiled here (another sklearn, a subclass)
        raise NotCompilableError(f"{kind}: {type(exc).__name__}: {exc}") from exc
    return Compiled(kind, encoder, scorer)


@dataclass(frozen=True)
class Parity:
    rows: int
    max_abs_diff: float
    classes_equal: bool

    def holds(self, bound: float) -> bool:
        return self.rows > 0 and self.classes_equal and self.max_abs_diff <= bound


def agreement(got: np.ndarray, expected: np.ndarray, threshold: float) -> tuple[float, bool]:
    """(max |got - expected|, identical classes at `threshold`): the one comparison every proof makes."""
    diff = float(np.max(np.abs(got - expected))) if np.all(np.isfinite(got)) else math.inf
    return diff, bool(np.array_equal(got >= threshold, expected >= threshold))


def parity(compiled: Compiled, pipeline: Any, records: list[dict[str, Any]], threshold: float) -> Parity:
    """The compiled path against the Pipeline itself on `records`: the proof asked before it may serve."""
    if not records:
        return Parity(0, math.inf, False)
    expected = np.asarray(pipeline.predict_proba(pd.DataFrame.from_records(records))[:, 1], dtype=float)
    # Both regimes a scorer may have: the whole set at once (a large batch) and the set in batches below
    # VECTOR_ROWS (what single requests and micro-batches take), each against the Pipeline.
    small = VECTOR_ROWS - 1
    answers = [
        compiled.proba(records),
        np.concatenate([compiled.proba(records[i : i + small]) for i in range(0, len(records), small)]),
    ]
    checks = [agreement(got, expected, threshold) for got in answers]
    return Parity(len(records), max(d for d, _ in checks), all(same for _, same in checks))


def prove(
    pipeline: Any, contract: Contract, records: list[dict[str, Any]], threshold: float
) -> tuple[Compiled | None, dict[str, Any]]:
    """Compile and prove on `records` (served records: golden set and holdout). Returns the compiled path
    when it may serve, else None, and the verdict as packaged-model metadata (`scoring_path`,
    `scoring_reason`, the parity figures). Packaging and the operational gate decide with this one rule."""
    try:
        compiled = compile_for_contract(pipeline, contract, records[0])
    except NotCompilableError as exc:
        return None, {"scoring_path": "sklearn", "scoring_reason": f"not compiled: {exc}"}
    proof = parity(compiled, pipeline, records, threshold)
    figures = {"parity_rows": proof.rows, "parity_max_abs_diff": proof.max_abs_diff}
    if not proof.holds(PARITY_BOUND):
        reason = (
            f"compiled {compiled.kind} differs from the Pipeline on {proof.rows} rows: max |dp| "
            f"{proof.max_abs_diff:.3g} (bound {PARITY_BOUND:g}), classes identical: {proof.classes_equal}"
        )
        return None, {"scoring_path": "sklearn", "scoring_reason": reason, **figures}
    return compiled, {"scoring_path": "compiled", "scoring_reason": f"compiled {compiled.kind}", **figures}


def compile_for_contract(pipeline: Any, contract: Contract, example: dict[str, Any]) -> Compiled:
    """Compile a pipeline trained on `contract` (every contract column but the target is an input);
    `example` is one valid record (the golden set's first), the point the encoder is probed around."""
    inputs = [name for name in contract.data_columns if name != contract.target]
    numeric = contract.numeric(inputs)
    columns = contract.columns
    # as the request schema hands them to the model (serving/schema.py: Literal[str(value)])
    listed: dict[str, list[Any]] = {n: list(columns[n].values or []) for n in contract.categorical(inputs)}  # noqa: PD011
    categorical = {name: [str(v) for v in values] for name, values in listed.items()}
    return compile_pipeline(pipeline, example, numeric, categorical)
