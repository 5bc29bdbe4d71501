"""Run every benchmark (`make bench`), or those named: `python -m bench engine platform`."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main(argv: list[str]) -> int:
    scripts = sorted(HERE.glob("*_bench.py"))
    if argv:
        scripts = [s for s in scripts if any(s.stem.startswith(name) for name in argv)]
    print(f"# machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
          f"python {platform.python_version()}")
    failed = 0
    for script in scripts:
        print(f"\n## {script.name}", flush=True)
        # As modules from the root: the benchmarks start Levante with tests/harness.py.
        proc = subprocess.run([sys.executable, "-m", f"bench.{script.stem}"], check=False,
                              cwd=HERE.parent)
        failed += proc.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
