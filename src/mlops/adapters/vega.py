"""vl-convert adapter: Vega-Lite specs to PNG, offline (no browser, no CDN).

`dvc plots diff --json` gives specs with their data inlined; vl-convert bundles the Vega engine, so the PR
report's images render on a runner with no network beyond the package registry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops.io import write_bytes

# 2x: GitHub shows comment images at their CSS size; the extra pixels keep lines and labels sharp.
SCALE = 2.0


def render_png(spec: dict[str, Any], path: Path) -> None:
    """Write the chart as a PNG (atomically: a failed render leaves no half-written image)."""
    import vl_convert

    png: bytes = vl_convert.vegalite_to_png(spec, scale=SCALE)
    write_bytes(png, path)
