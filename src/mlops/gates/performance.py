"""Gate `performance`: floors (and ceilings) on holdout metrics computed by `evaluate`."""

from __future__ import annotations

from mlops.gates.result import GateResult, bounded
from mlops.params import PerformanceGate


def check(metrics: dict[str, float], params: PerformanceGate) -> list[GateResult]:
    limits = [(name, floor, ">=") for name, floor in params.min.items()]
    limits += [(name, ceiling, "<=") for name, ceiling in params.max.items()]
    unknown = sorted(name for name, _, _ in limits if name not in metrics)
    if unknown:
        raise ValueError(
            f"gates.performance names metrics {unknown} that evaluate does not produce: {sorted(metrics)}"
        )
    return [
        bounded("performance", name, metrics[name], limit, op, f"holdout {name}")  # type: ignore[arg-type]
        for name, limit, op in limits
    ]
