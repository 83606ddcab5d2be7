//! The picture as one self-contained HTML page (no network needed): the SVG, scaled to fill
//! the window but never below its own size (its smallest text stays 14 px), a legend, and a
//! panel that a click on a node fills with its interfaces and the commands that reach it.
//! Served by `vnx graph --serve`, the page follows the lab: it reads `/events` (server-sent
//! events) and recolours each node and link as its state changes. `#check` in the address
//! makes the page measure itself (every label's and box's rectangle, as the browser drew
//! them) for the tests.

use super::{esc, Topology};

/// The HTML page of `svg`, the picture of `t`; `live` when served (it then follows `/events`).
pub fn page(t: &Topology, svg: &str, live: bool, legend: &str) -> String {
    let details = serde_json::json!(t
        .items
        .iter()
        .filter(|i| i.shape != super::Shape::Net)
        .map(|i| {
            let id = i.id();
            let ifaces: Vec<serde_json::Value> = t
                .links
                .iter()
                .filter(|l| l.from == id)
                .map(|l| serde_json::json!({"net": l.to.trim_start_matches("net:"), "lines": l.lines}))
                .collect();
            (id, serde_json::json!({"name": i.name, "type": i.sub, "interfaces": ifaces}))
        })
        .collect::<serde_json::Map<String, serde_json::Value>>());
    // Inside <script>: no "</" can end it early.
    let details = details.to_string().replace("</", "<\\/");
    format!(
        r##"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title} — vnx map</title>
<style>
html, body {{ margin: 0; height: 100%; }}
body {{ font-family: 'DejaVu Sans', Helvetica, Arial, sans-serif; color: #1b1b1b; display: flex; flex-direction: column; }}
header {{ padding: 8px 16px; display: flex; gap: 24px; align-items: baseline; flex-wrap: wrap; }}
header h1 {{ font-size: 22px; margin: 0; }}
header span {{ font-size: 15px; }}
#map {{ flex: 1; min-height: 0; overflow: auto; }}
#map svg {{ display: block; margin: 0 auto; }}
#panel {{ position: fixed; right: 12px; top: 56px; max-width: 420px; background: #fff; border: 1px solid #999; border-radius: 6px; padding: 10px 14px; font-size: 15px; box-shadow: 0 2px 8px #0003; display: none; }}
#panel code {{ font-family: 'DejaVu Sans Mono', monospace; font-size: 14px; background: #f2f2f2; padding: 1px 4px; }}
#panel h2 {{ font-size: 18px; margin: 0 0 6px 0; }}
#panel ul {{ padding-left: 18px; margin: 4px 0; }}
.item.node, .item.host {{ cursor: pointer; }}
#check {{ display: none; }}
</style></head>
<body>
<header><h1>{title}</h1><span>{legend}</span><span id="live">{live_text}</span></header>
<div id="map">{svg}</div>
<div id="panel"></div>
<pre id="check"></pre>
<script type="application/json" id="lab">{details}</script>
<script>
"use strict";
const lab = {lab_name};
const details = JSON.parse(document.getElementById('lab').textContent);
const svg = document.querySelector('#map svg');
const W = +svg.getAttribute('width'), H = +svg.getAttribute('height');
// Fill the window, never below the picture's own size (its text stays at 14 px or more).
function fit() {{
  const box = document.getElementById('map');
  const s = Math.max(1, Math.min(2.5, (box.clientWidth - 8) / W, (box.clientHeight - 8) / H));
  svg.setAttribute('width', Math.floor(W * s));
  svg.setAttribute('height', Math.floor(H * s));
}}
fit();
window.addEventListener('resize', fit);
const esc = t => String(t).replace(/[&<>"]/g, c => ({{'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}}[c]));
document.querySelectorAll('.item.node, .item.host').forEach(g => g.addEventListener('click', () => {{
  const d = details[g.dataset.id];
  if (!d) return;
  const p = document.getElementById('panel');
  const state = g.dataset.state ? ' · ' + esc(g.dataset.state) : '';
  let h = '<h2>' + esc(d.name) + '</h2><div>' + esc(d.type) + state + '</div><ul>';
  for (const i of d.interfaces) h += '<li>' + esc(i.lines.join(' ')) + ' on ' + esc(i.net) + '</li>';
  h += '</ul>';
  if (g.classList.contains('node')) {{
    h += '<div>Console: <code>vnx console ' + esc(lab) + ' -M ' + esc(d.name) + '</code></div>';
    h += '<div>A command: <code>vnx exec ' + esc(lab) + ' -M ' + esc(d.name) + ' -- ip addr</code></div>';
  }}
  p.innerHTML = h;
  p.style.display = 'block';
}}));
document.getElementById('map').addEventListener('click', e => {{
  if (!e.target.closest('.item')) document.getElementById('panel').style.display = 'none';
}});
const MARKS = ['running', 'paused', 'shutoff', 'missing', 'down', 'up'];
function mark(el, m) {{
  MARKS.forEach(c => el.classList.remove(c));
  if (m) el.classList.add(m);
  el.dataset.state = m || '';
}}
if ({live}) {{
  const es = new EventSource('/events');
  es.onmessage = ev => {{
    const s = JSON.parse(ev.data);
    for (const [name, st] of Object.entries(s.nodes || {{}}))
      document.querySelectorAll('.item[data-id="node:' + CSS.escape(name) + '"]').forEach(g => mark(g, st));
    for (const [key, st] of Object.entries(s.links || {{}}))
      document.querySelectorAll('.link[data-key="' + CSS.escape(key) + '"]').forEach(g => mark(g, st));
    document.getElementById('live').textContent = 'live · ' + new Date().toLocaleTimeString();
  }};
  es.onerror = () => {{ document.getElementById('live').textContent = 'live · the lab\'s server does not answer'; }};
}}
// For tests: every label's and box's rectangle as drawn, and whether any overlap.
if (location.hash === '#check') {{
  const r = el => {{ const b = el.getBoundingClientRect(); return [b.left + scrollX, b.top + scrollY, b.width, b.height]; }};
  const labels = [...document.querySelectorAll('.label rect')].map(e => ({{key: e.parentNode.dataset.key, box: r(e)}}));
  const items = [...document.querySelectorAll('.item rect')].map(e => ({{id: e.parentNode.dataset.id, box: r(e)}}));
  const scale = svg.getBoundingClientRect().width / W;
  const texts = [...document.querySelectorAll('svg text')].map(e => parseFloat(getComputedStyle(e).fontSize) * scale);
  const view = [0, 0, window.innerWidth, window.innerHeight];
  document.getElementById('check').textContent = JSON.stringify({{labels, items, view, text_min_px: Math.min(...texts)}});
}}
</script>
</body></html>
"##,
        title = esc(&t.title),
        lab_name = serde_json::json!(t.title).to_string().replace("</", "<\\/"),
        live_text = if live { "live · connecting" } else { "" },
    )
}
