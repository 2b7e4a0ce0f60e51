"""Which loss trains the better analysis? CLs, discovery significance, INFERNO and BCE compared.

The same data and network size for each loss; every trained network is judged on held-out
events with hard histograms (argmax bins for INFERNO's softmax binning). The background's
shape systematic is large here, so losses that know about it (CLs, Z0 through the profile
likelihood, INFERNO's sigma_mu) should beat the plain classifier on sigma_mu.

    python examples/loss_comparison.py [--steps 300] [--width 32] [--quick]
"""

from __future__ import annotations

import argparse

from neos_analysis import LOSSES, run


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-2)
    parser.add_argument("--quick", action="store_true", help="few steps, for tests")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.width = 60, 16

    results = [run(loss, args.width, args.steps, learning_rate=args.learning_rate,
                   test_events=20_000 if args.quick else 100_000) for loss in LOSSES]
    print(f"{'trained on':>11} {'sigma_mu':>9} {'CLs':>11} {'Z0':>7} {'train_s':>8}   (hard histograms, held-out events)")
    for r in results:
        a = r["after"]
        print(f"{r['loss']:>11} {a['sigma_mu']:>9.3f} {a['cls']:>11.3e} {a['z0']:>7.3f} {r['train_s']:>8.1f}")
    return results


if __name__ == "__main__":
    main()
