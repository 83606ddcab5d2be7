//! Where everything of the picture goes: dagre's layered layout (a Rust port of dagre-js)
//! places the boxes (nodes, nets, the host) and each link's label as a box of its own in a
//! rank between its ends, so no label can overlap another label or a box, and orders each
//! rank to cross as few links as it can. Links point away from a root (the host, else the
//! best-connected net), so a lab's routers fall into layers; the layout is made top to bottom
//! and left to right, and the one nearer a projector's shape is kept.
//!
//! Text is measured as DejaVu Sans Mono, which the pictures use (every glyph 0.602 em wide).

use std::collections::{BTreeMap, VecDeque};

use dagre_dgl_rs::{EdgeLabel, Graph, GraphLabel, NodeLabel};

use super::{Shape, Topology};

/// Font sizes (px) at the picture's own scale: a box's name, its second line, link labels.
pub const NAME_PX: f64 = 18.0;
pub const SUB_PX: f64 = 14.0;
pub const LABEL_PX: f64 = 14.0;
/// The height of a line of link label.
pub const LINE_PX: f64 = 17.0;
const PAD: f64 = 12.0;
const MARGIN: f64 = 24.0;

/// The width of `text` at `px` in DejaVu Sans Mono.
pub fn text_width(text: &str, px: f64) -> f64 {
    text.chars().count() as f64 * 0.602 * px
}

/// A box, placed: its top-left corner and size.
#[derive(Clone, Debug)]
pub struct Placed {
    pub id: String,
    pub shape: Shape,
    pub name: String,
    pub sub: String,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

/// A link, placed: its path from the node to the net, and its label's box.
#[derive(Clone, Debug)]
pub struct PlacedLink {
    pub key: String,
    pub from: String,
    pub to: String,
    pub points: Vec<(f64, f64)>,
    pub label: (f64, f64, f64, f64),
    pub lines: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Drawing {
    pub width: f64,
    pub height: f64,
    pub items: Vec<Placed>,
    pub links: Vec<PlacedLink>,
}

fn box_size(shape: Shape, name: &str, sub: &str) -> (f64, f64) {
    let w = text_width(name, NAME_PX).max(text_width(sub, SUB_PX)) + 2.0 * PAD;
    let w = if shape == Shape::Net { w + NAME_PX } else { w }; // a pill's rounded ends
    (w.max(70.0), NAME_PX + SUB_PX + 2.0 * PAD)
}

fn label_size(lines: &[String]) -> (f64, f64) {
    let w = lines.iter().map(|l| text_width(l, LABEL_PX)).fold(0.0, f64::max) + 10.0;
    (w, lines.len() as f64 * LINE_PX + 6.0)
}

/// Breadth-first distances from `root` over `adj`.
fn bfs<'a>(adj: &BTreeMap<&'a str, Vec<&'a str>>, root: &'a str) -> BTreeMap<&'a str, usize> {
    let mut depth = BTreeMap::from([(root, 0)]);
    let mut q = VecDeque::from([root]);
    while let Some(v) = q.pop_front() {
        let d = depth[v];
        for w in &adj[v] {
            if !depth.contains_key(w) {
                depth.insert(*w, d + 1);
                q.push_back(w);
            }
        }
    }
    depth
}

/// Each item's distance from its connected part's centre (the item nearest to all others:
/// the fewest layers; a net, then the best-connected, when several are), so the picture is
/// as shallow as the topology allows.
fn depths(t: &Topology) -> BTreeMap<String, usize> {
    let ids: Vec<String> = t.items.iter().map(|i| i.id()).collect();
    let mut adj: BTreeMap<&str, Vec<&str>> = ids.iter().map(|i| (i.as_str(), vec![])).collect();
    for l in &t.links {
        adj.entry(l.from.as_str()).or_default().push(l.to.as_str());
        adj.entry(l.to.as_str()).or_default().push(l.from.as_str());
    }
    let mut depth: BTreeMap<String, usize> = BTreeMap::new();
    for start in adj.keys().copied().collect::<Vec<_>>() {
        if depth.contains_key(start) {
            continue;
        }
        let part: Vec<&str> = bfs(&adj, start).into_keys().collect();
        // Eccentricity of each member (a part of a big lab: at most a few hundred BFS runs).
        let centre = part
            .iter()
            .copied()
            .min_by_key(|v| {
                let ecc = bfs(&adj, v).into_values().max().unwrap_or(0);
                (ecc, !v.starts_with("net:"), std::cmp::Reverse(adj[v].len()), v.to_string())
            })
            .unwrap_or(start);
        for (v, d) in bfs(&adj, centre) {
            depth.insert(v.to_string(), d);
        }
    }
    depth
}

/// Lays `t` out in direction `rankdir` (`TB` or `LR`), links pointing away from `depth`'s
/// centres.
fn run(t: &Topology, depth: &BTreeMap<String, usize>, rankdir: &str) -> Drawing {
    let mut g = Graph::with_options(true, true, false);
    g.set_graph(GraphLabel {
        rankdir: Some(rankdir.into()),
        nodesep: Some(28.0),
        edgesep: Some(14.0),
        ranksep: Some(28.0),
        marginx: Some(MARGIN),
        marginy: Some(MARGIN),
        ..Default::default()
    });
    for i in &t.items {
        let (w, h) = box_size(i.shape, &i.name, &i.sub);
        g.set_node(&i.id(), NodeLabel { width: w, height: h, ..Default::default() });
    }
    for l in &t.links {
        let (w, h) = label_size(&l.lines);
        let (a, b) = if depth.get(&l.from) <= depth.get(&l.to) { (&l.from, &l.to) } else { (&l.to, &l.from) };
        let label = EdgeLabel {
            width: Some(w),
            height: Some(h),
            labelpos: Some("c".into()),
            minlen: Some(1),
            weight: Some(1.0),
            ..Default::default()
        };
        g.set_edge(a, b, label, Some(&l.key));
    }
    dagre_dgl_rs::layout(&mut g);
    let mut d = Drawing::default();
    for i in &t.items {
        let n = g.node(&i.id());
        let (cx, cy) = (n.x.unwrap_or(0.0), n.y.unwrap_or(0.0));
        d.items.push(Placed {
            id: i.id(),
            shape: i.shape,
            name: i.name.clone(),
            sub: i.sub.clone(),
            x: cx - n.width / 2.0,
            y: cy - n.height / 2.0,
            w: n.width,
            h: n.height,
        });
    }
    for l in &t.links {
        let (a, b) = if depth.get(&l.from) <= depth.get(&l.to) { (&l.from, &l.to) } else { (&l.to, &l.from) };
        let Some(e) = g.edge_label_named(a, b, &l.key) else { continue };
        let (w, h) = (e.width.unwrap_or(0.0), e.height.unwrap_or(0.0));
        let (lx, ly) = (e.x.unwrap_or(0.0), e.y.unwrap_or(0.0));
        let mut points: Vec<(f64, f64)> = e.points.iter().flatten().map(|p| (p.x, p.y)).collect();
        // From the node's end to the net's, whichever way the layout ran.
        if a != &l.from {
            points.reverse();
        }
        d.links.push(PlacedLink {
            key: l.key.clone(),
            from: l.from.clone(),
            to: l.to.clone(),
            points,
            label: (lx - w / 2.0, ly - h / 2.0, w, h),
            lines: l.lines.clone(),
        });
    }
    // The drawing's extent (and everything moved off negative coordinates, if any).
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    let mut extend = |x: f64, y: f64, w: f64, h: f64| {
        x0 = x0.min(x);
        y0 = y0.min(y);
        x1 = x1.max(x + w);
        y1 = y1.max(y + h);
    };
    for p in &d.items {
        extend(p.x, p.y, p.w, p.h);
    }
    for l in &d.links {
        extend(l.label.0, l.label.1, l.label.2, l.label.3);
        for (x, y) in &l.points {
            extend(*x, *y, 0.0, 0.0);
        }
    }
    if d.items.is_empty() {
        return Drawing { width: 2.0 * MARGIN, height: 2.0 * MARGIN, ..d };
    }
    let (dx, dy) = (MARGIN - x0, MARGIN - y0);
    for p in &mut d.items {
        p.x += dx;
        p.y += dy;
    }
    for l in &mut d.links {
        l.label.0 += dx;
        l.label.1 += dy;
        for pt in &mut l.points {
            pt.0 += dx;
            pt.1 += dy;
        }
    }
    d.width = x1 - x0 + 2.0 * MARGIN;
    d.height = y1 - y0 + 2.0 * MARGIN;
    d
}

/// The layout of `t`: top to bottom or left to right, whichever is nearer a 16:10 page.
pub fn layout(t: &Topology) -> Drawing {
    let page = 1.6f64;
    let off = |d: &Drawing| (d.width / d.height.max(1.0) / page).ln().abs();
    let depth = depths(t);
    let tb = run(t, &depth, "TB");
    let lr = run(t, &depth, "LR");
    if off(&lr) < off(&tb) {
        lr
    } else {
        tb
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map::{Item, Link};

    fn overlap(a: (f64, f64, f64, f64), b: (f64, f64, f64, f64)) -> bool {
        a.0 < b.0 + b.2 && b.0 < a.0 + a.2 && a.1 < b.1 + b.3 && b.1 < a.1 + a.3
    }

    /// Boxes and labels never overlap, whatever the topology's shape.
    #[test]
    fn nothing_overlaps() {
        let mut t = Topology::default();
        for n in 0..4 {
            t.items.push(Item { shape: Shape::Net, name: format!("Net{n}"), sub: "virtual_bridge".into() });
        }
        for r in 0..12 {
            t.items.push(Item { shape: Shape::Node, name: format!("r{r}"), sub: "lxc".into() });
            for k in 0..2 {
                t.links.push(Link {
                    from: format!("node:r{r}"),
                    to: format!("net:Net{}", (r + k) % 4),
                    key: format!("r{r}/{k}"),
                    lines: vec![format!("eth{k}"), format!("10.{k}.{r}.1/24"), "2001:db8::1/64".into()],
                });
            }
        }
        let d = layout(&t);
        let mut boxes: Vec<(f64, f64, f64, f64)> = d.items.iter().map(|p| (p.x, p.y, p.w, p.h)).collect();
        boxes.extend(d.links.iter().map(|l| l.label));
        for (i, a) in boxes.iter().enumerate() {
            assert!(a.0 >= 0.0 && a.1 >= 0.0 && a.0 + a.2 <= d.width && a.1 + a.3 <= d.height, "{a:?} outside");
            for b in &boxes[i + 1..] {
                assert!(!overlap(*a, *b), "{a:?} overlaps {b:?}");
            }
        }
        assert_eq!(d.links.len(), 24);
        assert!(d.links.iter().all(|l| l.points.len() >= 2));
    }
}
