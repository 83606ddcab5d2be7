//! The picture as PNG, rendered by resvg (no Graphviz, no browser): the SVG with the
//! machine's fonts (DejaVu Sans Mono, Debian's fonts-dejavu-core).

/// PNG bytes of `svg`, drawn at `scale` (2: sharp on a projector).
pub fn png(svg: &str, scale: f32) -> Result<Vec<u8>, String> {
    use resvg::{tiny_skia, usvg};
    let mut opt = usvg::Options::default();
    opt.fontdb_mut().load_system_fonts();
    opt.font_family = "DejaVu Sans Mono".into();
    let tree = usvg::Tree::from_str(svg, &opt).map_err(|e| format!("the map's SVG: {e}"))?;
    let size = tree.size().to_int_size().scale_by(scale).ok_or("the map is too large for a PNG")?;
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height()).ok_or("the map is too large for a PNG")?;
    resvg::render(&tree, tiny_skia::Transform::from_scale(scale, scale), &mut pixmap.as_mut());
    pixmap.encode_png().map_err(|e| format!("encoding the PNG: {e}"))
}
