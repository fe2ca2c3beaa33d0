"""Print the verdict's figures of issue 12, simulated through the analysis API.

Run: python bench/verdict_simulations.py [--replicates 2000] [--seed 12] [--workers 2]

Scenarios and figures (``tests/stats/simulate.py``): A/A false-positive rate of the primary test
and winner rates; a planted effect at the design's 80% power (observed power against the
formula, and the share each guardrail mode blocks at equal latency and cost); a p90 latency
regression of twice the margin (the share blocked, per mode); differential failures under the
null (the winner rate).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.stats.power import power_paired
from experiments.stats.validation import RateEstimate
from tests.stats.simulate import (
    ALPHA,
    EPOCHS,
    LATENCY_SD,
    N_TASKS,
    NOISY_LATENCY_SD,
    aa,
    design_mde,
    design_sd,
    differential_failures,
    latency_regression,
    planted,
    simulate,
)


def _pct(estimate: RateEstimate) -> str:
    return f"{estimate.rate:6.2%} (MC SE {estimate.mc_se:.2%}, n={estimate.replicates})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    run = {"replicates": args.replicates, "seed": args.seed, "workers": args.workers}
    print(f"{args.replicates} replicates per scenario, seed {args.seed}")
    print(f"design: {N_TASKS} tasks x {EPOCHS} epochs, alpha {ALPHA}")

    null = simulate(aa(), **run)
    print(f"A/A  primary test false-positive rate: {_pct(null.false_positive)}")
    print(f"A/A  a variant named winner:           {_pct(null.variant_winner)}")
    print(f"A/A  the control named winner:         {_pct(null.control_winner)}")

    mde, sd = design_mde(), design_sd()
    formula = power_paired(N_TASKS, mde / sd, ALPHA)
    print(f"planted effect +{mde:.4f} (80% power by the noncentral t formula: {formula:.2%})")
    for latency_sd in (LATENCY_SD, NOISY_LATENCY_SD):
        for mode in ("harm", "prove"):
            tally = simulate(planted(mode, latency_sd), **run)
            print(
                f"{tally.scenario}: power {_pct(tally.power)}; blocked at equal latency and "
                f"cost {_pct(tally.blocked)}"
            )
    for latency_sd in (LATENCY_SD, NOISY_LATENCY_SD):
        for mode in ("harm", "prove"):
            tally = simulate(latency_regression(mode, latency_sd), **run)
            print(f"{tally.scenario}: significant gains blocked {_pct(tally.blocked)}")

    failures = simulate(differential_failures(), **run)
    print(f"differential failures (null): a variant named winner {_pct(failures.variant_winner)}")
    print(f"differential failures (null): primary test rejects   {_pct(failures.false_positive)}")


if __name__ == "__main__":
    main()
