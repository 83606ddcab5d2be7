//! A small XML element tree with exact source spans, read with quick-xml.
//!
//! The scenario reader works on this tree rather than on the event stream, so that it can
//! look at attributes and children in any order and point at any of them in an error.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::scenario::diag::Diag;
use crate::scenario::span::Span;

#[derive(Clone, Debug)]
pub struct Attr {
    pub name: String,
    pub name_span: Span,
    pub value: String,
    pub value_span: Span,
}

#[derive(Clone, Debug)]
pub struct Element {
    pub name: String,
    /// The element's name in its start tag: what "unknown element" points at.
    pub name_span: Span,
    /// The whole start tag (the whole tag for `<empty/>`).
    pub span: Span,
    pub attrs: Vec<Attr>,
    pub children: Vec<Element>,
    /// The text directly inside the element, entities resolved.
    pub text: String,
    /// The trimmed text's place, or the end of the start tag when there is none.
    pub text_span: Span,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.iter().find(|a| a.name == name)
    }
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
    /// The text, trimmed, as it should be read for a value.
    pub fn trimmed_text(&self) -> &str {
        self.text.trim()
    }
}

/// Offset of `part` in `src`, both slices of the same string.
fn offset_in(src: &str, part: &[u8]) -> usize {
    (part.as_ptr() as usize).saturating_sub(src.as_ptr() as usize).min(src.len())
}

/// Parses a whole document into its root element. Malformed XML is one located error.
pub fn parse(src: &str) -> Result<Element, Diag> {
    let mut reader = Reader::from_str(src);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    // Text pieces of the innermost element: (text, start, end).
    loop {
        let before = reader.buffer_position() as usize;
        let ev = match reader.read_event() {
            Ok(ev) => ev,
            Err(e) => {
                let at = reader.error_position() as usize;
                return Err(malformed(src, at, &e.to_string()));
            }
        };
        let after = reader.buffer_position() as usize;
        match ev {
            Event::Start(e) | Event::Empty(e) if root.is_some() && stack.is_empty() => {
                let _ = e;
                return Err(malformed(src, before, "a second root element: a scenario file has one root element"));
            }
            Event::Start(_) if stack.len() >= crate::scenario::limits::MAX_DEPTH => {
                return Err(malformed(
                    src,
                    before,
                    &format!("elements nested more than {} deep", crate::scenario::limits::MAX_DEPTH),
                ));
            }
            Event::Start(e) => stack.push(start_element(src, &e, Span::new(before, after))?),
            Event::Empty(e) => {
                let el = start_element(src, &e, Span::new(before, after))?;
                finish(el, &mut stack, &mut root);
            }
            Event::End(_) => {
                let el = stack.pop().expect("quick-xml checks end names");
                finish(el, &mut stack, &mut root);
            }
            Event::Text(t) => {
                let raw = t.decode().map_err(|e| malformed(src, before, &e.to_string()))?;
                push_text(src, &mut stack, &raw, before, after)?;
            }
            Event::CData(t) => {
                let raw = t.decode().map_err(|e| malformed(src, before, &e.to_string()))?;
                push_text(src, &mut stack, &raw, before + 9, after.saturating_sub(3))?;
            }
            Event::GeneralRef(r) => {
                let ch = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => {
                        let name = r.decode().map_err(|e| malformed(src, before, &e.to_string()))?;
                        match quick_xml::escape::resolve_predefined_entity(&name) {
                            Some(s) => s.to_string(),
                            None => {
                                return Err(malformed(src, before, &format!("unknown entity `&{name};`"))
                                    .help("only the predefined entities (&lt; &gt; &amp; &apos; &quot;) and character references may be used"))
                            }
                        }
                    }
                    Err(e) => return Err(malformed(src, before, &e.to_string())),
                };
                push_text(src, &mut stack, &ch, before, after)?;
            }
            Event::DocType(_) => {
                return Err(Diag::error("vnx::xml::doctype", "a DOCTYPE declaration is not allowed in a scenario")
                    .at(Span::new(before, after), "remove this declaration")
                    .help("scenarios are checked against vnx's own schema; VNX refused DOCTYPEs too"))
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(Diag::error("vnx::xml::malformed", format!("the file ends inside <{}>", open.name))
            .at(open.span, "this element is never closed")
            .help(format!("add </{}> where the element ends", open.name)));
    }
    root.ok_or_else(|| {
        Diag::error("vnx::xml::malformed", "the file holds no XML element")
            .at(Span::new(0, src.len().min(1)), "")
            .help("a scenario starts with <vnx> (or <modify_vnx> for a change document)")
    })
}

fn malformed(src: &str, at: usize, msg: &str) -> Diag {
    let at = at.min(src.len());
    let end = (at + 1).min(src.len());
    Diag::error("vnx::xml::malformed", format!("malformed XML: {msg}"))
        .at(Span::new(at, end), "here")
        .help("fix the XML syntax; every element must be closed and attribute values quoted")
}

fn start_element(src: &str, e: &BytesStart, span: Span) -> Result<Element, Diag> {
    let name_bytes = e.name().into_inner();
    let name = String::from_utf8_lossy(name_bytes).into_owned();
    let ns = offset_in(src, name_bytes);
    let mut attrs = Vec::new();
    for a in e.attributes().with_checks(true) {
        let a = a.map_err(|err| malformed(src, span.start, &err.to_string()))?;
        let key = a.key.into_inner();
        let ks = offset_in(src, key);
        let vs = offset_in(src, &a.value);
        let value = a.unescape_value().map_err(|err| malformed(src, vs, &err.to_string()))?.into_owned();
        attrs.push(Attr {
            name: String::from_utf8_lossy(key).into_owned(),
            name_span: Span::new(ks, ks + key.len()),
            value,
            value_span: Span::new(vs, vs + a.value.len()),
        });
    }
    Ok(Element {
        name,
        name_span: Span::new(ns, ns + name_bytes.len()),
        span,
        attrs,
        children: vec![],
        text: String::new(),
        text_span: Span::new(span.end, span.end),
    })
}

fn push_text(src: &str, stack: &mut [Element], text: &str, start: usize, end: usize) -> Result<(), Diag> {
    let Some(el) = stack.last_mut() else {
        if text.trim().is_empty() {
            return Ok(());
        }
        return Err(malformed(src, start, "text outside the root element"));
    };
    // Narrow the span to the non-blank part of this piece.
    let raw = &src[start.min(src.len())..end.min(src.len())];
    let lead = raw.len() - raw.trim_start().len();
    let trail = raw.len() - raw.trim_end().len();
    if !raw.trim().is_empty() {
        let (s, e) = (start + lead, end - trail);
        if el.text.trim().is_empty() {
            el.text_span = Span::new(s, e);
        } else {
            el.text_span.end = e;
        }
    }
    el.text.push_str(text);
    Ok(())
}

fn finish(el: Element, stack: &mut [Element], root: &mut Option<Element>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None => *root = Some(el),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_point_at_names_values_and_text() {
        let src =
            "<?xml version=\"1.0\"?>\n<vnx a=\"x&amp;y\">\n  <net name=\"N1\"/>\n  <v>  hi &lt;there&gt; </v>\n</vnx>";
        let root = parse(src).unwrap();
        assert_eq!(root.name, "vnx");
        let a = root.attr("a").unwrap();
        assert_eq!(a.value, "x&y");
        assert_eq!(&src[a.value_span.start..a.value_span.end], "x&amp;y");
        let net = &root.children[0];
        assert_eq!(&src[net.name_span.start..net.name_span.end], "net");
        assert_eq!(&src[net.attrs[0].value_span.start..net.attrs[0].value_span.end], "N1");
        let v = &root.children[1];
        assert_eq!(v.trimmed_text(), "hi <there>");
        assert_eq!(&src[v.text_span.start..v.text_span.end], "hi &lt;there&gt;");
    }

    #[test]
    fn malformed_documents_are_located_errors() {
        for bad in
            ["<vnx><net></vnx>", "<vnx a=x/>", "<vnx>", "", "<a/><b/>", "<!DOCTYPE x><vnx/>", "<vnx a='1' a='2'/>"]
        {
            let d = parse(bad).unwrap_err();
            assert!(d.is_error(), "{bad}");
            assert!(d.primary_span().is_some(), "{bad}");
        }
    }
}
