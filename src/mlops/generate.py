"""Seeded synthetic customer-churn data with a documented generative relation and drift knobs.

The relation (log-odds of churn, reference world, `concept_shift = 0`)::

    logit = -1.9
            + 1.1 * [contract == month-to-month] - 0.9 * [contract == two-year]
            - 0.045 * tenure_months
            + 0.015 * (monthly_charges - 65)
            + 0.38  * support_calls
            + 0.55  * [payment_method == electronic-check]
            + 0.35  * [internet_service == fiber]
            - 0.004 * data_usage_gb            (missing usage counts as 40 GB)
            + N(0, 0.6)                        (unobserved heterogeneity)
    churned ~ Bernoulli(sigmoid(logit))

Gender and age band have no direct effect; age band lengthens tenure a little, a mild proxy that the
fairness gate measures (older customers churn slightly less because they stay longer), so a fair model
is possible but not automatic.
`covariate_shift` moves the inputs (more month-to-month contracts, higher charges, more support calls,
more usage, a region mix tilted south) while keeping the relation; `concept_shift` blends the relation
towards a different world (price sensitivity up, support calls and payment method matter less, the south
churns more) while keeping the inputs. Both are 0 in the reference data.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

TARGET = "churned"  # the example's target and time columns (as data/contract.yaml names them)
TIME_COLUMN = "event_date"
CONTRACTS = ("month-to-month", "one-year", "two-year")
PAYMENTS = ("electronic-check", "mailed-check", "bank-transfer", "credit-card")
INTERNET = ("dsl", "fiber", "none")
REGIONS = ("north", "south", "east", "west")
GENDERS = ("female", "male", "other")
AGE_BANDS = ("18-29", "30-44", "45-59", "60+")

# Coefficients of the log-odds above: (reference world, shifted world). Exposed so tests can check that
# a trained model moves in the direction the generator implies.
EFFECTS: dict[str, tuple[float, float]] = {
    "intercept": (-1.9, -2.2),
    "contract=month-to-month": (1.1, 0.9),
    "contract=two-year": (-0.9, -0.7),
    "tenure_months": (-0.045, -0.02),
    "monthly_charges": (0.015, 0.045),
    "support_calls": (0.38, 0.05),
    "payment_method=electronic-check": (0.55, 0.0),
    "internet_service=fiber": (0.35, 0.35),
    "data_usage_gb": (-0.004, -0.004),
    "region=south": (0.0, 1.2),
}
NOISE_SD = 0.6


def _probs(base: list[float], tilt: list[float], shift: float) -> np.ndarray:
    """Category probabilities moved by `shift * tilt`, floored so no category vanishes."""
    p: np.ndarray = np.clip(np.asarray(base) + shift * np.asarray(tilt), 0.02, None)
    return p / float(p.sum())


def _effect(name: str, concept_shift: float) -> float:
    ref, shifted = EFFECTS[name]
    return (1.0 - concept_shift) * ref + concept_shift * shifted


def churn_logit(df: pd.DataFrame, concept_shift: float) -> np.ndarray:
    """The noiseless log-odds of churn for each row (the relation in the module docstring)."""

    def e(name: str) -> float:
        return _effect(name, concept_shift)

    usage = df["data_usage_gb"].fillna(40.0).to_numpy()
    logit: np.ndarray = np.asarray(
        e("intercept")
        + e("contract=month-to-month") * (df["contract"] == "month-to-month").to_numpy()
        + e("contract=two-year") * (df["contract"] == "two-year").to_numpy()
        + e("tenure_months") * df["tenure_months"].to_numpy()
        + e("monthly_charges") * (df["monthly_charges"].to_numpy() - 65.0)
        + e("support_calls") * df["support_calls"].to_numpy()
        + e("payment_method=electronic-check") * (df["payment_method"] == "electronic-check").to_numpy()
        + e("internet_service=fiber") * (df["internet_service"] == "fiber").to_numpy()
        + e("data_usage_gb") * usage
        + e("region=south") * (df["region"] == "south").to_numpy(),
        dtype=float,
    )
    return logit


def _inputs(rng: np.random.Generator, rows: int, start: dt.date, days: int, shift: float) -> pd.DataFrame:
    """Every input column (no target) for `rows` customers."""
    age_idx = rng.choice(len(AGE_BANDS), size=rows, p=[0.22, 0.30, 0.28, 0.20])
    internet = rng.choice(INTERNET, size=rows, p=[0.35, 0.45, 0.20])
    fiber, dsl = internet == "fiber", internet == "dsl"
    tenure = np.minimum(120, np.round(rng.gamma(1.5, (12.0 + 1.0 * age_idx) * (1.0 - 0.2 * min(shift, 2.0)))))
    monthly = np.minimum(
        1000.0, 20.0 + 25.0 * fiber + 15.0 * dsl + rng.lognormal(np.log(30.0), 0.5, rows) * (1 + 0.25 * shift)
    )
    total = np.minimum(150_000.0, tenure * monthly * rng.uniform(0.9, 1.05, rows))
    total[(tenure == 0) | (rng.random(rows) < 0.01)] = np.nan  # new customers have no bill yet
    usage = np.where(internet == "none", 0.0, rng.lognormal(np.log(25.0 + 40.0 * fiber), 0.8, rows))
    usage = np.minimum(5000.0, usage * (1 + 0.5 * shift))
    usage[rng.random(rows) < 0.04] = np.nan  # metering gaps
    offsets = rng.integers(0, days, size=rows)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:07d}" for i in rng.choice(10_000_000, size=rows, replace=False)],
            "event_date": pd.to_datetime(np.datetime64(start) + offsets.astype("timedelta64[D]")).astype(
                "datetime64[ns]"
            ),
            "tenure_months": tenure.astype("int64"),
            "monthly_charges": np.round(monthly, 2),
            "total_charges": np.round(total, 2),
            "support_calls": np.minimum(60, rng.poisson(1.2 + 0.8 * fiber + 0.6 * shift)).astype("int64"),
            "data_usage_gb": np.round(usage, 1),
            "contract": rng.choice(
                CONTRACTS, size=rows, p=_probs([0.55, 0.25, 0.20], [0.2, -0.08, -0.12], shift)
            ),
            "payment_method": rng.choice(PAYMENTS, size=rows, p=[0.34, 0.22, 0.22, 0.22]),
            "internet_service": internet,
            "region": rng.choice(REGIONS, size=rows, p=_probs([0.25] * 4, [-0.08, 0.2, -0.06, -0.06], shift)),
            "gender": rng.choice(GENDERS, size=rows, p=[0.49, 0.49, 0.02]),
            "age_band": np.asarray(AGE_BANDS)[age_idx],
        }
    )


def generate(
    rows: int,
    seed: int,
    start_date: dt.date = dt.date(2025, 1, 1),
    days: int = 365,
    covariate_shift: float = 0.0,
    concept_shift: float = 0.0,
) -> pd.DataFrame:
    """A deterministic churn dataset: same arguments, same frame, on every machine."""
    rng = np.random.default_rng(seed)
    df = _inputs(rng, rows, start_date, days, covariate_shift)
    logit = churn_logit(df, concept_shift) + rng.normal(0.0, NOISE_SD, rows)
    df["churned"] = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype("int64")
    return df.sort_values("event_date", kind="stable").reset_index(drop=True)
