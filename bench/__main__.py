"""``python -m bench``: every benchmark module in turn (each also runs alone)."""

from __future__ import annotations

import importlib
import sys

#: Benchmark modules, each with ``main(argv)``; add new areas here.
MODULES = ["bench.seal", "bench.registry"]


def main() -> None:
    for name in MODULES:
        print(f"== {name}", flush=True)
        importlib.import_module(name).main(sys.argv[1:])


if __name__ == "__main__":
    main()
