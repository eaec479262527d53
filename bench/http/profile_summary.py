"""Summarize a py-spy raw (collapsed stacks) profile: where a worker's time goes, by function.

    python bench/http/profile_summary.py results/profile-user-ours.txt [--top 25]

Prints, for the busiest functions, the share of samples in which they are on the stack
(inclusive) and on top of it (self).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

# "function (path/to/file.py:123)" -> "function (file.py)"; line numbers split one function
# into many entries.
_FRAME = re.compile(r"^(?P<fn>.*?) \((?P<file>[^:()]*?)(?::\d+)?\)$")


def _short(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match['fn']} ({path})"


def summarize(path: Path, top: int = 25) -> str:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_short(f) for f in stack.split(";") if f.strip()]
        for frame in set(frames):
            inclusive[frame] += n
        if frames:
            own[frames[-1]] += n
    if not total:
        return f"{path.name}: no samples"
    lines = [f"{path.name}: {total} samples", "  incl%   self%  function"]
    for frame, n in inclusive.most_common(top):
        lines.append(f"  {100 * n / total:5.1f}  {100 * own[frame] / total:5.1f}  {frame}")
    lines.append("  -- top self time --")
    for frame, n in own.most_common(12):
        lines.append(f"  {100 * inclusive[frame] / total:5.1f}  {100 * n / total:5.1f}  {frame}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    print(summarize(args.profile, args.top))


if __name__ == "__main__":
    main()
