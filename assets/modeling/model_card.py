"""Model cards: what a registered care-gap model version is for, what it learned from, how it did, and what was decided.

Plain Markdown built from the training record; the training asset stores it with the MLflow version (description and
`model_card.md` run artifact) and shows it in the Dagster UI. Aggregates only: no member appears in a card.
"""

from assets.measures import measure_settings, measures
from assets.modeling.evaluation import SUBGROUPS
from assets.modeling.gates import Decision
from assets.modeling.training import GATE_METRICS, Candidate, Split

LIMITATIONS = (
    "Predicts whether an open gap persists without outreach; it does not estimate the effect of outreach on a member.",
    "Trained only on members with an open gap at the as-of date; scores for anyone else are meaningless.",
    "Validated on the latest labelled months only; performance drifts as coding, benefits and outreach programmes change.",
    "Subgroups with fewer than the configured rows of each class are not assessed for the fairness gate.",
)


def _value(v: object) -> str:
    return "n/a" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def model_card(measure: str, version: int, data: Split, chosen: Candidate, decision: Decision, run_link: str) -> str:
    """The card for one registered version, in Markdown."""
    m, metrics = measures()[measure], chosen.metrics
    rows = [f"| {name} | {_value(metrics[name])} | {'pass' if chosen.gate.checks[name]['passed'] else 'FAIL'} |"
            for name in GATE_METRICS if name in chosen.gate.checks] + [f"| pr_auc | {_value(metrics['pr_auc'])} | |"]
    groups = [f"| {attr} | {group} | {_value(auc)} |" for attr in SUBGROUPS for group, auc in sorted(metrics["subgroup_auc"][attr].items())]
    return "\n".join([
        f"# Model card: caregap_{measure} version {version}",
        "",
        "## Intended use",
        f"Rank members with an open **{m.title}** gap by the probability that the gap is still open "
        f"{measure_settings()['horizon_months']} months later without outreach, to prioritise care-management calls. "
        "Not for coverage, pricing or any decision about an individual's care.",
        "",
        "## Training data",
        f"- Family: {chosen.family}; MLflow run: {run_link}",
        f"- Training as-of months: {data.train_months[0]} .. {data.train_months[-1]} ({data.train.height:,} member-months, "
        "recent months weighted most)",
        f"- Validation as-of months: {', '.join(data.validation_months)} ({data.validation.height:,} member-months, "
        f"prevalence of a persisting gap {_value(metrics['prevalence'])})",
        "- Population: members eligible for the measure with an open gap at the as-of date, outcome known at the horizon.",
        "",
        "## Validation metrics and gates",
        "| metric | value | gate |", "|---|---|---|", *rows,
        "",
        "## Subgroup ROC AUC", "| attribute | group | ROC AUC |", "|---|---|---|", *(groups or ["| none assessed | | |"]),
        "",
        "## Decision",
        f"{'Promoted to champion' if decision.promote else 'Kept as challenger'}: {decision.reason}",
        "",
        "## Known limitations",
        *[f"- {item}" for item in LIMITATIONS],
    ])
