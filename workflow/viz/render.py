"""Write a picture to a file, the format chosen by its suffix; images via ``dot`` or matplotlib."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from workflow.errors import DiffdagError
from workflow.viz import fallback
from workflow.viz.dot import to_dot
from workflow.viz.model import Picture, as_picture

TEXT_FORMATS = (".dot", ".gv", ".mmd", ".mermaid", ".html")
IMAGE_FORMATS = (".svg", ".png", ".pdf")
FORMATS = TEXT_FORMATS + IMAGE_FORMATS
ENGINES = ("auto", "dot", "matplotlib")


def graphviz_available() -> bool:
    """Whether Graphviz's ``dot`` program is on the PATH (Debian package ``graphviz``)."""
    return shutil.which("dot") is not None


def _engine(engine: str) -> str:
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if engine == "auto":
        return "dot" if graphviz_available() else "matplotlib"
    if engine == "dot" and not graphviz_available():
        raise DiffdagError("engine='dot' needs Graphviz's dot program, which is not on the PATH; "
                           "install it (apt-get install graphviz) or use engine='auto' / 'matplotlib'")
    return engine


def render_image(picture: Picture, fmt: str = "svg", engine: str = "auto") -> bytes:
    """An SVG, PNG or PDF image of the picture, as bytes."""
    if _engine(engine) == "dot":
        result = subprocess.run(["dot", f"-T{fmt}"], input=to_dot(picture).encode(), capture_output=True,
                                timeout=120, check=False)
        if result.returncode != 0:
            raise DiffdagError(f"dot -T{fmt} failed: {result.stderr.decode(errors='replace').strip()}")
        return result.stdout
    if fmt == "svg":
        return fallback.svg_text(picture).encode()
    import io

    buffer = io.BytesIO()
    fallback.draw(picture).savefig(buffer, format=fmt, dpi=150)
    return buffer.getvalue()


def render(obj, path: str | Path, gradients=None, collapse_samples: bool = False, engine: str = "auto") -> Path:
    """Write a Graph, Program or Picture to ``path``: .dot .gv .mmd .mermaid .html .svg .png .pdf.

    ``gradients`` is a :class:`~workflow.gradient_flow.GradientFlow` to draw on the edges.
    Returns the path written.
    """
    from workflow.viz.html import to_html
    from workflow.viz.mermaid import to_mermaid

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise DiffdagError(f"cannot draw to {path.name!r}: unknown suffix {suffix or '(none)'!r}; "
                           f"use one of {', '.join(FORMATS)}, e.g. out.svg")
    picture = as_picture(obj, gradients, collapse_samples)
    if suffix in (".dot", ".gv"):
        path.write_text(to_dot(picture))
    elif suffix in (".mmd", ".mermaid"):
        path.write_text(to_mermaid(picture))
    elif suffix == ".html":
        path.write_text(to_html(picture, engine=engine))
    else:
        path.write_bytes(render_image(picture, suffix[1:], engine))
    return path
