//! The picture as SVG: one group per box and per link, each with its id and mark as classes
//! and data attributes (the page's script and its tests find them there), styled by a
//! stylesheet inside the picture, so the same SVG stands alone, in the page, and as PNG.

use std::fmt::Write;

use super::layout::{Drawing, LABEL_PX, LINE_PX, NAME_PX, SUB_PX};
use super::{esc, Marks, Shape};

/// The stylesheet: boxes by shape, run states and plan actions by mark.
pub const STYLE: &str = r#"
text { font-family: 'DejaVu Sans Mono', monospace; fill: #1b1b1b; }
text.name { font-size: 18px; font-weight: bold; }
text.sub { font-size: 14px; fill: #3c3c3c; }
.label text { font-size: 14px; }
.label rect { fill: #ffffff; stroke: #c8c8c8; }
.link polyline { fill: none; stroke: #6d6d6d; stroke-width: 2; }
.item rect { stroke: #4d4d4d; stroke-width: 1.5; }
.node rect { fill: #cfe2f3; }
.net rect { fill: #d9ead3; stroke: #5b7f50; }
.host rect { fill: #fce5cd; }
.running rect { fill: #b6d7a8; }
.paused rect { fill: #ffe599; }
.shutoff rect, .missing rect { fill: #e6e6e6; stroke: #a0a0a0; }
.shutoff text, .missing text { fill: #8c8c8c; }
.link.down polyline { stroke: #bbbbbb; stroke-dasharray: 6 4; }
.create rect { fill: #c9f0c0; stroke: #2e7d32; stroke-width: 3; }
.update rect { fill: #ffe0b2; stroke: #e67700; stroke-width: 3; }
.replace rect { fill: #e1d5f5; stroke: #6a3fb5; stroke-width: 3; }
.delete rect { fill: #f8d0d0; stroke: #c62828; stroke-width: 3; stroke-dasharray: 8 4; }
.link.create polyline { stroke: #2e7d32; stroke-width: 3; }
.link.update polyline { stroke: #e67700; stroke-width: 3; }
.link.replace polyline { stroke: #6a3fb5; stroke-width: 3; }
.link.delete polyline { stroke: #c62828; stroke-width: 3; stroke-dasharray: 8 4; }
"#;

/// The SVG of `d`, coloured by `marks`.
pub fn svg(d: &Drawing, marks: &Marks) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}"><style>{STYLE}</style><rect width="100%" height="100%" fill="#ffffff"/>"##,
        w = d.width,
        h = d.height
    );
    let mark = |id: &str| marks.of.get(id).map(String::as_str).unwrap_or("");
    // Links under boxes and labels.
    for l in &d.links {
        let points: Vec<String> = l.points.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
        let _ = write!(
            o,
            r#"<g class="link {m}" data-key="{k}" data-from="{f}" data-to="{t}"><polyline points="{p}"/></g>"#,
            m = mark(&l.key),
            k = esc(&l.key),
            f = esc(&l.from),
            t = esc(&l.to),
            p = points.join(" ")
        );
    }
    for l in &d.links {
        let (x, y, w, h) = l.label;
        let _ = write!(
            o,
            r#"<g class="label" data-key="{k}"><rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" rx="3"/>"#,
            k = esc(&l.key)
        );
        for (i, line) in l.lines.iter().enumerate() {
            let _ = write!(
                o,
                r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
                x + 5.0,
                y + 3.0 + LABEL_PX + i as f64 * LINE_PX - 2.0,
                esc(line)
            );
        }
        o.push_str("</g>");
    }
    for p in &d.items {
        let (class, rx) = match p.shape {
            Shape::Node => ("node", 6.0),
            Shape::Net => ("net", p.h / 2.0),
            Shape::Host => ("host", 2.0),
        };
        let m = mark(&p.id);
        let _ = write!(
            o,
            r#"<g class="item {class} {m}" data-id="{id}" data-name="{n}" data-state="{m}"><rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" rx="{rx:.1}"/>"#,
            id = esc(&p.id),
            n = esc(&p.name),
            x = p.x,
            y = p.y,
            w = p.w,
            h = p.h
        );
        let cx = p.x + p.w / 2.0;
        let _ = write!(
            o,
            r#"<text class="name" x="{cx:.1}" y="{:.1}" text-anchor="middle">{}</text><text class="sub" x="{cx:.1}" y="{:.1}" text-anchor="middle">{}</text></g>"#,
            p.y + 10.0 + NAME_PX - 3.0,
            esc(&p.name),
            p.y + 10.0 + NAME_PX + SUB_PX + 1.0,
            esc(&p.sub)
        );
    }
    o.push_str("</svg>\n");
    o
}
