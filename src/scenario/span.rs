//! Source positions. Every position in the scenario model keeps the byte range it was read
//! from, so that validation, planning and apply errors can point at the file, line and column.
//!
//! Spans never take part in equality: two models are equal when they *say* the same thing,
//! whichever file and layout they were read from (that is what the XML → YAML → XML round trip
//! compares).

use std::fmt;
use std::ops::Deref;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A byte range in the scenario source. `Span::default()` (0..0) means "no source", as for
/// models built in code.
#[derive(Clone, Copy, Debug, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

impl PartialEq for Span {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for Span {}

/// Consistent with equality: every span is equal to every other, so none adds to a hash.
impl std::hash::Hash for Span {
    fn hash<H: std::hash::Hasher>(&self, _: &mut H) {}
}

impl From<Span> for miette::SourceSpan {
    fn from(s: Span) -> Self {
        (s.start, s.end.saturating_sub(s.start)).into()
    }
}

/// The YAML reader fills spans by handing `(start, end)` to this impl; every other
/// deserializer leaves them at their default.
impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (start, end) = <(usize, usize)>::deserialize(d)?;
        Ok(Span { start, end })
    }
}

/// The name under which struct-level spans travel through serde (see `yaml::de`).
pub const SPAN_FIELD: &str = "__span";
/// The struct name that asks the spanned YAML deserializer for a value with its span.
pub const SPANNED_NAME: &str = "$vnx::Spanned";
pub(crate) const SPANNED_FIELDS: &[&str] = &["$span", "$value"];

/// A value and where it was written.
#[derive(Clone, Default, Eq)]
pub struct Spanned<T> {
    pub span: Span,
    pub value: T,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Spanned { span, value }
    }
    /// A value that comes from no file (built in code).
    pub fn bare(value: T) -> Self {
        Spanned { span: Span::default(), value }
    }
}

impl<T> From<T> for Spanned<T> {
    fn from(value: T) -> Self {
        Spanned::bare(value)
    }
}

impl<T> Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: PartialEq> PartialEq for Spanned<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: std::hash::Hash> std::hash::Hash for Spanned<T> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.value.hash(h)
    }
}

impl<T: fmt::Debug> fmt::Debug for Spanned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

impl<T: fmt::Display> fmt::Display for Spanned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

impl<T: Serialize> Serialize for Spanned<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_struct(SPANNED_NAME, SPANNED_FIELDS, SpannedVisitor(std::marker::PhantomData))
    }
}

struct SpannedVisitor<T>(std::marker::PhantomData<T>);

macro_rules! forward_scalar {
    ($($f:ident: $t:ty => $d:ident),*) => {$(
        fn $f<E: de::Error>(self, v: $t) -> Result<Self::Value, E> {
            Ok(Spanned::bare(T::deserialize(de::value::$d::<E>::new(v))?))
        }
    )*};
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for SpannedVisitor<T> {
    type Value = Spanned<T>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut span = Span::default();
        let mut value = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "$span" => span = map.next_value()?,
                "$value" => value = Some(map.next_value()?),
                _ => return Err(de::Error::unknown_field(&key, SPANNED_FIELDS)),
            }
        }
        let value = value.ok_or_else(|| de::Error::missing_field("$value"))?;
        Ok(Spanned { span, value })
    }
    // Deserializers other than ours (serde_json in tests, say) hand over plain scalars.
    forward_scalar!(visit_str: &str => StrDeserializer, visit_u64: u64 => U64Deserializer,
        visit_i64: i64 => I64Deserializer, visit_bool: bool => BoolDeserializer,
        visit_f64: f64 => F64Deserializer);
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        self.visit_str(&v)
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for Spanned<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(g)
    }
    fn inline_schema() -> bool {
        T::inline_schema()
    }
}

/// Line and column (both 1-based) of a byte offset, for messages outside miette.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let before = &src[..offset.min(src.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(before.len(), |i| before.len() - i - 1) + 1;
    (line, col)
}
