"""Colours, shapes and widths shared by every renderer, so all pictures read the same way."""

from __future__ import annotations

import math

# role -> (fill colour, Graphviz shape, legend text)
ROLE_STYLE = {
    "source": ("#cfe2f3", "cylinder", "sample (events)"),
    "param": ("#ffe599", "hexagon", "parameter"),
    "event": ("#d9ead3", "box", "event node (per event)"),
    "reduce": ("#f9cb9c", "invtrapezium", "reduce node (sum over events)"),
    "global": ("#d9d2e9", "box", "global node"),
}
FIXED_PARAM_FILL = "#eeeeee"
BLOCKED = "#d62728"  # a parameter without gradient, a node that blocks it
GRADIENT = "#1f5fbf"  # an edge declared to carry gradient
NO_GRADIENT = "#9a9a9a"
REGION_EVENT = "#3d85c6"
REGION_GLOBAL = "#674ea7"
REGION_PARAMETERS = "#bf9000"
LOW, HIGH = (253, 212, 158), (179, 0, 0)  # measured cotangent: small -> large


def fill(role: str, trainable: bool | None = True) -> str:
    if role == "param" and trainable is False:
        return FIXED_PARAM_FILL
    return ROLE_STYLE.get(role, ROLE_STYLE["global"])[0]


def edge_width(cotangent: float | None, largest: float, gradient: bool) -> float:
    """Line width: by measured cotangent (log scale, relative to the largest) or by declaration."""
    if cotangent is None or largest <= 0 or not math.isfinite(cotangent):
        return 1.6 if gradient else 0.9
    return 0.6 + 4.4 * math.log10(1.0 + 9.0 * min(cotangent / largest, 1.0))


def edge_colour(cotangent: float | None, largest: float, gradient: bool) -> str:
    """Colour: measured cotangent from pale orange to dark red (grey when zero), else declared flow."""
    if cotangent is None:
        return GRADIENT if gradient else NO_GRADIENT
    if cotangent == 0.0 or largest <= 0 or not math.isfinite(cotangent):
        return NO_GRADIENT
    t = math.log10(1.0 + 9.0 * min(cotangent / largest, 1.0))
    return "#" + "".join(f"{round(a + (b - a) * t):02x}" for a, b in zip(LOW, HIGH))


def dashed_edge(cotangent: float | None, gradient: bool) -> bool:
    """Edges that carry no gradient are dashed."""
    return cotangent == 0.0 if cotangent is not None else not gradient
HIGH_HEX = "#" + "".join(f"{c:02x}" for c in HIGH)


def region_colour(region: str) -> str:
    """Frame colour: event regions blue, the global region purple, the parameter stage ochre."""
    return {"global": REGION_GLOBAL, "parameters": REGION_PARAMETERS}.get(region, REGION_EVENT)
