"""neos with diffdag: train a network end to end on expected CLs, judged with hard histograms.

Adam at 1e-3 on fresh batches of 2000 events per sample; CLs, p0 and sigma_mu on 100k
held-out events per sample with hard histograms, before and after, for the neos notebooks'
1024-wide network and a small one.

    python examples/neos.py [--steps 60] [--widths 1024 32] [--quick]
"""

from __future__ import annotations

import argparse

from neos_analysis import run


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--widths", type=int, nargs="+", default=[1024, 32])
    parser.add_argument("--quick", action="store_true", help="a small network and few steps, for tests")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.widths = 40, [16]

    results = [run("cls", width, args.steps, test_events=20_000 if args.quick else 100_000)
               for width in args.widths]
    print(f"{'width':>6} {'steps':>6} {'CLs before':>11} {'CLs after':>11} {'p0 after':>10} "
          f"{'sigma_mu before':>16} {'sigma_mu after':>15} {'train_s':>8}")
    for r in results:
        print(f"{r['width']:>6} {r['steps']:>6} {r['before']['cls']:>11.3e} {r['after']['cls']:>11.3e} "
              f"{r['after']['p0']:>10.3e} {r['before']['sigma_mu']:>16.3f} {r['after']['sigma_mu']:>15.3f} "
              f"{r['train_s']:>8.1f}")
    return results


if __name__ == "__main__":
    main()
