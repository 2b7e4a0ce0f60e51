"""A self-contained HTML page (or report section): the SVG picture and each node's details.

Clicking or hovering a box shows its kind, ports, types, shapes and config in a side
panel; the same details are listed in a table below, readable without JavaScript.
Nothing is loaded from the network.
"""

from __future__ import annotations

import html
import json

from workflow.viz.model import Picture, as_picture, details

STYLE = """
.diffdag-graph { font-family: Helvetica, Arial, sans-serif; font-size: 13px; color: #222; }
.diffdag-graph .layout { display: flex; gap: 16px; align-items: flex-start; }
.diffdag-graph .picture { flex: 1 1 auto; overflow: auto; border: 1px solid #ddd; padding: 6px; }
.diffdag-graph .picture svg { max-width: 100%; height: auto; }
.diffdag-graph .panel { flex: 0 0 300px; border: 1px solid #ddd; padding: 8px; background: #fafafa;
  white-space: pre-wrap; font-family: Menlo, Consolas, monospace; font-size: 12px; }
.diffdag-graph .notes li { color: #b00; margin-bottom: 4px; white-space: pre-wrap; }
.diffdag-graph table { border-collapse: collapse; margin-top: 12px; }
.diffdag-graph td, .diffdag-graph th { border: 1px solid #ccc; padding: 3px 6px; vertical-align: top; text-align: left; }
.diffdag-graph tr.selected { background: #fff3c4; }
.diffdag-graph g.node, .diffdag-graph g[id^="n"] { cursor: pointer; }
"""

SCRIPT = """
(function () {
  var root = document.currentScript.parentNode;
  var info = JSON.parse(root.querySelector('script.diffdag-details').textContent);
  var panel = root.querySelector('.panel');
  function describe(d) {
    var lines = [d.name + '  (' + d.kind + (d.op ? ': ' + d.op : '') + ')'];
    if (d.samples.length) lines.push('samples: ' + d.samples.join(', '));
    d.inputs.forEach(function (p) { lines.push('in  ' + p.name + ': ' + p.type + ' ' + p.shape); });
    d.outputs.forEach(function (p) { lines.push('out ' + p.name + ': ' + p.type + ' ' + p.shape); });
    Object.keys(d.config).forEach(function (k) { lines.push(k + ' = ' + JSON.stringify(d.config[k])); });
    if (!d.differentiable) lines.push('not differentiable' + (d.replacement ? '; use ' + d.replacement : ''));
    if (d.grad_norm !== null) lines.push('|grad| = ' + d.grad_norm);
    if (d.doc) lines.push('', d.doc);
    return lines.join('\\n');
  }
  function show(id) {
    panel.textContent = describe(info[id]);
    root.querySelectorAll('tr.selected').forEach(function (r) { r.classList.remove('selected'); });
    var row = root.querySelector('tr[data-node="' + id + '"]');
    if (row) row.classList.add('selected');
  }
  Object.keys(info).forEach(function (id) {
    var box = root.querySelector('svg [id="' + id + '"]');
    if (!box) return;
    box.addEventListener('click', function () { show(id); });
    box.addEventListener('mouseenter', function () { show(id); });
  });
  var chosen = location.hash.match(/node=([A-Za-z0-9_]+)/);  // page.html#node=n3 opens with n3 shown
  if (chosen && info[chosen[1]]) show(chosen[1]);
})();
"""


def _svg(picture: Picture, engine: str) -> str:
    from workflow.viz.render import render_image

    text = render_image(picture, "svg", engine).decode()
    return text[text.find("<svg"):]  # drop the XML declaration and doctype


def _ports(ports) -> str:
    return "<br>".join(html.escape(f"{p.name}: {p.type} {p.shape}".rstrip()) for p in ports)


def _table(picture: Picture) -> str:
    rows = [("<tr><th>node</th><th>kind</th><th>op</th><th>inputs</th><th>outputs</th><th>config</th>"
             "<th>gradient</th></tr>")]
    for node in picture.nodes:
        config = "<br>".join(html.escape(f"{k} = {v}") for k, v in node.config.items())
        gradient = [] if node.differentiable else [f"not differentiable; use {node.replacement or '?'}"]
        if node.role == "param" and node.blocked:
            gradient.append("blocked")
        if node.grad_norm is not None:
            gradient.append(f"|grad| = {node.grad_norm:.4g}")
        rows.append(
            f'<tr data-node="{node.id}"><td>{html.escape(node.title)}</td><td>{node.role}</td>'
            f"<td>{html.escape(node.op or '')}</td><td>{_ports(node.inputs)}</td><td>{_ports(node.outputs)}</td>"
            f"<td>{config}</td><td>{html.escape('; '.join(gradient))}</td></tr>")
    return '<table class="nodes">' + "".join(rows) + "</table>"


def to_html(obj, gradients=None, collapse_samples: bool = False, engine: str = "auto",
            standalone: bool = True) -> str:
    """The HTML page of a Graph, Program or Picture; ``standalone=False`` gives a section for a report."""
    picture = as_picture(obj, gradients, collapse_samples)
    blob = json.dumps({n.id: details(n) for n in picture.nodes}).replace("</", "<\\/")
    notes = "".join(f"<li>{html.escape(note)}</li>" for note in picture.notes)
    value = (f"<p>objective {html.escape(str(picture.static.objective))} = {picture.measured.value:.6g}; "
             f"edges drawn by measured cotangent norm</p>" if picture.measured else "")
    section = (
        f'<section class="diffdag-graph"><style>{STYLE}</style>'
        f"<h2>{html.escape(picture.name)}</h2>{value}"
        + (f'<ul class="notes">{notes}</ul>' if notes else "")
        + f'<div class="layout"><div class="picture">{_svg(picture, engine)}</div>'
        f'<div class="panel">Click or point at a box to see its kind, ports, types, shapes and config.</div></div>'
        f"{_table(picture)}"
        f'<script type="application/json" class="diffdag-details">{blob}</script>'
        f"<script>{SCRIPT}</script></section>"
    )
    if not standalone:
        return section
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(picture.name)}: diffdag graph</title></head><body>{section}</body></html>\n")
