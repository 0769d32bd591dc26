"""Command line: ``python -m sharelib list``, ``reproduce``, ``site`` and ``sweep``.

Examples::

    python -m sharelib list
    python -m sharelib reproduce --preset quick
    python -m sharelib reproduce --paper ce_dos d3c --preset paper --jobs 2
    python -m sharelib site --preset paper --out build/site
    python -m sharelib sweep --list
    python -m sharelib sweep d3c.rl --preset reduced --status
    python -m sharelib sweep d3c.rl --preset reduced --jobs 2
"""

from __future__ import annotations

import argparse
import sys
import warnings

from . import __version__, pipeline
from .experiments import PRESET_NAMES


def _cmd_list(args) -> int:
    notebooks = pipeline.select(pipeline.find_notebooks(), args.paper)
    for nb in notebooks:
        print(f"{nb.paper:<14} notebooks/{nb.relpath}")
        for name, p in pipeline.describe(nb).items():
            default = p["default"]
            help_text = f"  # {p['help']}" if p["help"] else ""
            print(f"    {name}: {p['type']} = {default}{help_text}")
    return 0


def _cmd_reproduce(args) -> int:
    failures = pipeline.reproduce(args.paper, preset=args.preset, jobs=args.jobs)
    if failures:
        print(f"\n{len(failures)} notebook(s) failed:", file=sys.stderr)
        for failure in failures:
            print(f"  {failure}", file=sys.stderr)
        return 1
    return 0


def _cmd_site(args) -> int:
    from . import site

    try:
        site.build_site(preset=args.preset, out=args.out, papers=args.paper)
    except site.SiteBuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _cmd_sweep(args) -> int:
    from . import experiments, results

    try:
        results.load_sweeps(args.experiment, args.imports or ())
    except ImportError as exc:
        raise ValueError(f"--import: {exc}") from exc
    if args.list or args.experiment is None:
        for name in experiments.sweepable():
            presets = ", ".join(experiments._PRESETS[name])
            print(f"{name:<16} presets: {presets:<24} store: {results.default_store(name)}")
        return 0
    # validate before touching anything (the preset through sweep_plans, the rest here)
    experiments.check_choice("stale", args.stale, results.STALE_POLICIES)
    experiments.check_choice("backend", args.backend or "serial", experiments.BACKENDS)
    jobs = experiments.check_int("jobs", args.jobs, min=1)
    status = results.experiment_status(args.experiment, args.preset, args.store)
    print(results.format_status(args.experiment, args.preset, status, verbose=args.status or args.verbose))
    if args.status:
        return 0
    backend = args.backend or ("serial" if jobs == 1 else "processes")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            results.run_experiment(args.experiment, args.preset, args.store, backend=backend, n_jobs=jobs,
                                   stale=args.stale, progress=not args.quiet)
        except results.StaleResultError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        finally:
            for w in caught:
                print(f"warning: {w.message}", file=sys.stderr)
    after = results.experiment_status(args.experiment, args.preset, args.store)
    print("after the run:")
    print(results.format_status(args.experiment, args.preset, after, verbose=False))
    return 0


_SWEEP_HELP = """\
Run a registered experiment's sweep points into its results store, or show what is stored.

The store (default: results/<paper>/<experiment>, e.g. results/d3c/rl) holds one JSON file per
point, keyed by the swept function, the parameters, the run and the seed, and recording the code
version (git commit, dirty flag, fingerprint). Finished points are never recomputed, so a long
sweep continues across sessions: stop it at any moment (Ctrl-C, a killed job) and run the same
command again. Points computed by other code are "stale": reused with a warning by default,
recomputed with --stale recompute, refused with --stale error. Commit the store's files with git.
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sharelib", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"sharelib {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p_list = sub.add_parser("list", help="show each notebook with its parameters, types, defaults and help")
    p_list.add_argument("--paper", nargs="+", metavar="NAME", help="only these papers")
    p_list.set_defaults(func=_cmd_list)

    p_rep = sub.add_parser("reproduce", help="execute notebooks with papermill and write their figures")
    p_rep.add_argument("--paper", nargs="+", metavar="NAME", help="only these papers (default: all)")
    p_rep.add_argument("--preset", default="quick", help=f"one of {', '.join(PRESET_NAMES)} (default: quick)")
    p_rep.add_argument("--jobs", type=int, default=1, help="notebooks run at once (default: 1)")
    p_rep.set_defaults(func=_cmd_reproduce)

    p_site = sub.add_parser("site", help="build a static website of the executed notebooks (Jupyter Book 2)")
    p_site.add_argument("--preset", default="paper",
                        help="whose executed notebooks (build/notebooks/<preset>/): quick, paper or reduced (default: paper)")
    p_site.add_argument("--out", default="build/site", help="output folder of the static HTML (default: build/site)")
    p_site.add_argument("--paper", nargs="+", metavar="NAME", help="only these papers (default: every executed notebook)")
    p_site.set_defaults(func=_cmd_site)

    p_sweep = sub.add_parser("sweep", help="run a registered experiment's sweep into its results store, or show its status",
                             description=_SWEEP_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p_sweep.add_argument("experiment", nargs="?", help="a registered experiment, e.g. as.main or d3c.rl (see --list)")
    p_sweep.add_argument("--list", action="store_true", help="list the sweepable experiments, their presets and stores")
    p_sweep.add_argument("--preset", default="quick", help="the experiment's preset: quick, paper, or reduced where it "
                                                           "has one (default: quick)")
    p_sweep.add_argument("--store", metavar="DIR", help="the results store (default: results/<paper>/<experiment>)")
    p_sweep.add_argument("--status", action="store_true",
                         help="only show what is stored: done, stale, missing and corrupt points per setting")
    p_sweep.add_argument("--jobs", type=int, default=1, help="worker processes (default: 1, in this process)")
    p_sweep.add_argument("--backend", help="serial, processes, dask or ray (default: serial for "
                                                         "--jobs 1, else processes)")
    p_sweep.add_argument("--stale", default="reuse",
                         help="points computed by other code: reuse (default, with a warning), recompute or error")
    p_sweep.add_argument("--import", dest="imports", action="append", metavar="MODULE",
                         help="import MODULE first (registers experiments defined outside sharelib); repeatable")
    p_sweep.add_argument("--verbose", action="store_true", help="list every setting before running")
    p_sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    p_sweep.set_defaults(func=_cmd_sweep)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
