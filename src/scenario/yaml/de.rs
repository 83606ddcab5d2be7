//! A serde deserializer for YAML that knows where every value was written.
//!
//! yaml-rust2 parses the text into events with positions; we build a small tree of spanned
//! nodes and deserialize the model from it. Spans reach the model in two ways:
//! - a struct with a field named [`SPAN_FIELD`] gets its mapping's span there;
//! - a [`Spanned<T>`](crate::scenario::span::Spanned) gets the span of its value.
//!
//! Every error carries the span of the innermost value it is about, so serde's own messages
//! ("missing field", "unknown field", "invalid type") become located diagnostics. Any scalar can
//! be read as a string (`version: 2.0` is the string "2.0"), which spares users YAML's quoting
//! surprises.

use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::TScalarStyle;

use crate::scenario::diag::did_you_mean;
use crate::scenario::span::{Span, SPANNED_NAME, SPAN_FIELD};

#[derive(Clone, Debug)]
pub enum Kind {
    /// A scalar and whether it was quoted (a quoted scalar is always a string).
    Scalar(String, bool),
    Seq(Vec<YNode>),
    Map(Vec<(YNode, YNode)>),
}

#[derive(Clone, Debug)]
pub struct YNode {
    pub kind: Kind,
    pub span: Span,
}

/// A YAML error with the place it is about.
#[derive(Clone, Debug)]
pub struct Error {
    pub message: String,
    pub span: Option<Span>,
    pub help: Option<String>,
}

impl Error {
    fn at(mut self, span: Span) -> Self {
        if self.span.is_none() {
            self.span = Some(span);
        }
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error { message: msg.to_string(), span: None, help: None }
    }
    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let expected: Vec<&str> = expected.iter().copied().filter(|f| *f != SPAN_FIELD).collect();
        let help = match did_you_mean(field, expected.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("the keys allowed here are: {}", expected.join(", ")),
        };
        Error { message: format!("unknown key `{field}`"), span: None, help: Some(help) }
    }
    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let help = match did_you_mean(variant, expected.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("write one of: {}", expected.join(", ")),
        };
        Error { message: format!("unknown value `{variant}`"), span: None, help: Some(help) }
    }
    fn missing_field(field: &'static str) -> Self {
        Error {
            message: format!("missing key `{field}`"),
            span: None,
            help: Some(format!("add `{field}:` to this mapping")),
        }
    }
}

/// Parses YAML text into a tree of spanned nodes (the first document).
pub fn parse_tree(src: &str) -> Result<YNode, Error> {
    // yaml-rust2 counts characters; miette wants byte offsets. In ASCII text they are the
    // same (a table of them was 15 MB for a 10,000-node scenario).
    let byte_of: Vec<usize> =
        if src.is_ascii() { Vec::new() } else { src.char_indices().map(|(b, _)| b).chain([src.len()]).collect() };
    let to_byte = |ci: usize| {
        if byte_of.is_empty() {
            ci.min(src.len())
        } else {
            byte_of.get(ci).copied().unwrap_or(src.len())
        }
    };
    let line_end = |b: usize| src[b.min(src.len())..].find('\n').map_or(src.len(), |i| b + i);

    let mut parser = Parser::new_from_str(src);
    // Anchored nodes, with the number of nodes in each (an alias copies that many).
    let mut anchors: std::collections::HashMap<usize, (YNode, usize)> = Default::default();
    // Open collections: (node, pending key, anchor id, nodes made before it opened).
    enum Open {
        Seq(YNode, usize, usize),
        Map(YNode, Option<YNode>, usize, usize),
    }
    let mut stack: Vec<Open> = Vec::new();
    // Nodes made so far, aliases' copies included: bounded, so that a few bytes of nested
    // aliases ("billion laughs") cannot take the machine's memory.
    let mut made: usize = 0;
    let too_much = |what: String, start: usize| Error {
        message: what,
        span: Some(Span::new(start, line_end(start))),
        help: Some(format!(
            "a scenario holds at most {} nested collections and {} values, aliases' copies included",
            super::super::limits::MAX_DEPTH,
            super::super::limits::MAX_VALUES
        )),
    };
    let mut root: Option<YNode> = None;
    loop {
        let (ev, mark) = parser.next_token().map_err(|e| {
            let b = to_byte(e.marker().index());
            Error {
                message: format!("malformed YAML: {}", e.info()),
                span: Some(Span::new(b, (b + 1).min(src.len()))),
                help: Some("fix the YAML syntax (indentation, `key: value`, `- item`)".into()),
            }
        })?;
        let start = to_byte(mark.index());
        made += 1;
        if made > super::super::limits::MAX_VALUES {
            return Err(too_much(format!("more than {} values", super::super::limits::MAX_VALUES), start));
        }
        let finished: Option<YNode> = match ev {
            Event::StreamStart | Event::DocumentStart | Event::Nothing => None,
            Event::StreamEnd => break,
            Event::DocumentEnd => {
                if root.is_some() {
                    break;
                }
                None
            }
            Event::Scalar(value, style, anchor, _tag) => {
                let quoted = !matches!(style, TScalarStyle::Plain);
                let extra =
                    if matches!(style, TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted) { 2 } else { 0 };
                let end = (start + value.len() + extra).min(line_end(start)).max(start);
                let node = YNode { kind: Kind::Scalar(value, quoted), span: Span::new(start, end) };
                if anchor > 0 {
                    anchors.insert(anchor, (node.clone(), 1));
                }
                Some(node)
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some((n, size)) => {
                    made += size;
                    if made > super::super::limits::MAX_VALUES {
                        return Err(too_much(
                            format!("this alias makes more than {} values", super::super::limits::MAX_VALUES),
                            start,
                        ));
                    }
                    Some(n.clone())
                }
                None => {
                    return Err(Error {
                        message: "an alias names an anchor that is not defined".into(),
                        span: Some(Span::new(start, line_end(start))),
                        help: Some("define the anchor (&name) before using it (*name)".into()),
                    })
                }
            },
            Event::SequenceStart(..) | Event::MappingStart(..) if stack.len() >= super::super::limits::MAX_DEPTH => {
                return Err(too_much(
                    format!("collections nested more than {} deep", super::super::limits::MAX_DEPTH),
                    start,
                ));
            }
            Event::SequenceStart(anchor, _) => {
                stack.push(Open::Seq(
                    YNode { kind: Kind::Seq(vec![]), span: Span::new(start, line_end(start)) },
                    anchor,
                    made,
                ));
                None
            }
            Event::MappingStart(anchor, _) => {
                // yaml-rust2 marks a block mapping after its first key: point at the line's text.
                let line_start = src[..start.min(src.len())].rfind('\n').map_or(0, |i| i + 1);
                let text =
                    src[line_start..].find(|c: char| c != ' ' && c != '-').map_or(start, |i| line_start + i).min(start);
                stack.push(Open::Map(
                    YNode { kind: Kind::Map(vec![]), span: Span::new(text, line_end(text)) },
                    None,
                    anchor,
                    made,
                ));
                None
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor, before) = match stack.pop() {
                    Some(Open::Seq(n, a, b)) => (n, a, b),
                    Some(Open::Map(n, _, a, b)) => (n, a, b),
                    None => unreachable!("yaml-rust2 balances collections"),
                };
                if anchor > 0 {
                    anchors.insert(anchor, (node.clone(), made - before));
                }
                Some(node)
            }
        };
        if let Some(node) = finished {
            match stack.last_mut() {
                None => root = Some(node),
                Some(Open::Seq(seq, ..)) => {
                    if let Kind::Seq(items) = &mut seq.kind {
                        items.push(node)
                    }
                }
                Some(Open::Map(map, pending, ..)) => match pending.take() {
                    None => *pending = Some(node),
                    Some(key) => {
                        if let Kind::Map(entries) = &mut map.kind {
                            entries.push((key, node))
                        }
                    }
                },
            }
        }
    }
    root.ok_or_else(|| Error {
        message: "the file holds no YAML document".into(),
        span: Some(Span::new(0, 0)),
        help: Some("a scenario is a mapping with at least `name:` and `version:`".into()),
    })
}

/// Deserializes a value from YAML text, with located errors.
pub fn from_str<T: de::DeserializeOwned>(src: &str) -> Result<T, Error> {
    let tree = parse_tree(src)?;
    T::deserialize(&tree)
}

fn is_null(s: &str) -> bool {
    matches!(s, "~" | "null" | "Null" | "NULL" | "")
}

impl YNode {
    fn invalid(&self, expected: &str) -> Error {
        let got = match &self.kind {
            Kind::Scalar(s, _) if is_null(s) => "nothing".to_string(),
            Kind::Scalar(s, _) => format!("`{s}`"),
            Kind::Seq(_) => "a list".into(),
            Kind::Map(_) => "a mapping".into(),
        };
        Error { message: format!("expected {expected}, found {got}"), span: Some(self.span), help: None }
    }
    fn scalar(&self, expected: &str) -> Result<&str, Error> {
        match &self.kind {
            Kind::Scalar(s, _) => Ok(s),
            _ => Err(self.invalid(expected)),
        }
    }
    fn parse<T: std::str::FromStr>(&self, expected: &str) -> Result<T, Error> {
        self.scalar(expected)?.trim().parse().map_err(|_| self.invalid(expected))
    }
}

macro_rules! parse_num {
    ($($m:ident: $t:ty => $v:ident, $what:literal);*) => {$(
        fn $m<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
            let n: $t = self.parse($what)?;
            v.$v::<Error>(n).map_err(|e| e.at(self.span))
        }
    )*};
}

impl<'de> de::Deserializer<'de> for &YNode {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let r = match &self.kind {
            Kind::Seq(_) => return self.deserialize_seq(v),
            Kind::Map(_) => return self.deserialize_map(v),
            Kind::Scalar(s, true) => v.visit_str::<Error>(s),
            Kind::Scalar(s, false) => {
                if is_null(s) {
                    v.visit_unit::<Error>()
                } else if s == "true" || s == "false" {
                    v.visit_bool::<Error>(s == "true")
                } else if let Ok(n) = s.parse::<u64>() {
                    v.visit_u64::<Error>(n)
                } else if let Ok(n) = s.parse::<i64>() {
                    v.visit_i64::<Error>(n)
                } else if let Ok(f) = s.parse::<f64>() {
                    v.visit_f64::<Error>(f)
                } else {
                    v.visit_str::<Error>(s)
                }
            }
        };
        r.map_err(|e| e.at(self.span))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let b = match self.scalar("true or false")?.trim() {
            "true" | "yes" | "on" => true,
            "false" | "no" | "off" => false,
            _ => return Err(self.invalid("true or false")),
        };
        v.visit_bool::<Error>(b).map_err(|e| e.at(self.span))
    }

    parse_num!(
        deserialize_i8: i8 => visit_i8, "a whole number";
        deserialize_i16: i16 => visit_i16, "a whole number";
        deserialize_i32: i32 => visit_i32, "a whole number";
        deserialize_i64: i64 => visit_i64, "a whole number";
        deserialize_u8: u8 => visit_u8, "a whole number from 0 to 255";
        deserialize_u16: u16 => visit_u16, "a whole number from 0 to 65535";
        deserialize_u32: u32 => visit_u32, "a whole number";
        deserialize_u64: u64 => visit_u64, "a whole number";
        deserialize_f32: f32 => visit_f32, "a number";
        deserialize_f64: f64 => visit_f64, "a number"
    );

    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }
    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let s = self.scalar("a string")?;
        v.visit_str::<Error>(s).map_err(|e| e.at(self.span))
    }
    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }
    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }
    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match &self.kind {
            Kind::Scalar(s, false) if is_null(s) => v.visit_none::<Error>(),
            _ => v.visit_some(self),
        }
    }
    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match &self.kind {
            Kind::Scalar(s, false) if is_null(s) => v.visit_unit::<Error>(),
            _ => Err(self.invalid("nothing")),
        }
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(self, _: &'static str, v: V) -> Result<V::Value, Error> {
        self.deserialize_unit(v)
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, v: V) -> Result<V::Value, Error> {
        v.visit_newtype_struct(self)
    }
    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match &self.kind {
            Kind::Seq(items) => v.visit_seq(Items { items: items.iter() }).map_err(|e| e.at(self.span)),
            _ => Err(self.invalid("a list")),
        }
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, v: V) -> Result<V::Value, Error> {
        self.deserialize_seq(v)
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(self, _: &'static str, _: usize, v: V) -> Result<V::Value, Error> {
        self.deserialize_seq(v)
    }
    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match &self.kind {
            Kind::Map(entries) => {
                v.visit_map(Entries { span: None, entries: entries.iter(), value: None }).map_err(|e| e.at(self.span))
            }
            Kind::Scalar(s, false) if is_null(s) => {
                v.visit_map(Entries { span: None, entries: [].iter(), value: None }).map_err(|e| e.at(self.span))
            }
            _ => Err(self.invalid("a mapping")),
        }
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        if name == SPANNED_NAME {
            return v.visit_map(SpannedAccess { node: self, step: 0 });
        }
        let span = fields.contains(&SPAN_FIELD).then_some(self.span);
        match &self.kind {
            Kind::Map(entries) => {
                v.visit_map(Entries { span, entries: entries.iter(), value: None }).map_err(|e| e.at(self.span))
            }
            _ => Err(self.invalid("a mapping")),
        }
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        match &self.kind {
            Kind::Scalar(s, _) => {
                v.visit_enum(de::value::StrDeserializer::<Error>::new(s)).map_err(|e| e.at(self.span))
            }
            _ => Err(self.invalid("one of the listed words")),
        }
    }
    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }
    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_unit::<Error>()
    }
}

struct Items<'a> {
    items: std::slice::Iter<'a, YNode>,
}

impl<'de> SeqAccess<'de> for Items<'_> {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        match self.items.next() {
            Some(n) => seed.deserialize(n).map(Some).map_err(|e| e.at(n.span)),
            None => Ok(None),
        }
    }
}

/// A mapping's entries, preceded by its span when the struct asks for one.
struct Entries<'a> {
    span: Option<Span>,
    entries: std::slice::Iter<'a, (YNode, YNode)>,
    value: Option<&'a YNode>,
}

enum PendingValue<'a> {
    Span(Span),
    Node(&'a YNode),
}

impl<'de> MapAccess<'de> for Entries<'_> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        if self.span.is_some() {
            return seed.deserialize(SPAN_FIELD.into_deserializer()).map(Some);
        }
        match self.entries.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(k).map(Some).map_err(|e| e.at(k.span))
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let pending = match self.span.take() {
            Some(s) => PendingValue::Span(s),
            None => PendingValue::Node(self.value.take().expect("a key comes before its value")),
        };
        match pending {
            PendingValue::Span(s) => seed.deserialize(SpanDe(s)),
            PendingValue::Node(n) => seed.deserialize(n).map_err(|e| e.at(n.span)),
        }
    }
}

/// Hands a span to `Span`'s `Deserialize` as `(start, end)`.
struct SpanDe(Span);

impl<'de> de::Deserializer<'de> for SpanDe {
    type Error = Error;
    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_seq(de::value::SeqDeserializer::new([self.0.start, self.0.end].into_iter()))
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}

/// Feeds `Spanned<T>`: first `$span`, then `$value` (the node itself).
struct SpannedAccess<'a> {
    node: &'a YNode,
    step: u8,
}

impl<'de> MapAccess<'de> for SpannedAccess<'_> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        let key = match self.step {
            0 => "$span",
            1 => "$value",
            _ => return Ok(None),
        };
        seed.deserialize(key.into_deserializer()).map(Some)
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        self.step += 1;
        if self.step == 1 {
            seed.deserialize(SpanDe(self.node.span))
        } else {
            seed.deserialize(self.node).map_err(|e| e.at(self.node.span))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::span::Spanned;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct T {
        #[serde(rename = "__span", default)]
        span: Span,
        name: Spanned<String>,
        #[serde(default)]
        n: Option<u16>,
        #[serde(default)]
        list: Vec<Spanned<u32>>,
    }

    #[test]
    fn spans_and_values() {
        let src = "name: 2.0\nn: 7\nlist: [1, 22]\n";
        let t: T = from_str(src).unwrap();
        assert_eq!(t.name.value, "2.0");
        assert_eq!(&src[t.name.span.start..t.name.span.end], "2.0");
        assert_eq!(t.n, Some(7));
        assert_eq!(&src[t.list[1].span.start..t.list[1].span.end], "22");
        assert_eq!(t.span.start, 0);
    }

    #[test]
    fn errors_are_located_with_suggestions() {
        let src = "name: x\nnn: 7\n";
        let e = from_str::<T>(src).unwrap_err();
        assert_eq!(e.message, "unknown key `nn`");
        assert_eq!(e.help.as_deref(), Some("did you mean `n`?"));
        assert_eq!(&src[e.span.unwrap().start..e.span.unwrap().end], "nn");

        let src = "name: x\nn: 70000\n";
        let e = from_str::<T>(src).unwrap_err();
        assert_eq!(&src[e.span.unwrap().start..e.span.unwrap().end], "70000");

        // Past text that is not ASCII, a span is still in bytes (yaml-rust2 counts characters).
        let src = "name: réseau-à-l'étage\nn: 70000\n";
        let e = from_str::<T>(src).unwrap_err();
        assert_eq!(&src[e.span.unwrap().start..e.span.unwrap().end], "70000");

        let e = from_str::<T>("n: 1\n").unwrap_err();
        assert_eq!(e.message, "missing key `name`");
        assert!(from_str::<T>("name: [unclosed\n").is_err());
    }
}
