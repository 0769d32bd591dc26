"""Command line: ``python -m sharelib list``, ``python -m sharelib reproduce`` and ``python -m sharelib site``.

Examples::

    python -m sharelib list
    python -m sharelib reproduce --preset quick
    python -m sharelib reproduce --paper ce_dos d3c --preset paper --jobs 2
    python -m sharelib site --preset paper --out build/site
"""

from __future__ import annotations

import argparse
import sys

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

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
