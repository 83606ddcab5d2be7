//! The YAML form of a scenario: the same model as the XML, with the model's field names as
//! keys. Read through a spanned deserializer (`de`) so errors are located; written with
//! serde_yaml.

pub mod de;

use super::diag::Diag;
use super::model::Scenario;
use super::span::Span;

/// Reads a scenario from YAML text.
pub fn read(src: &str) -> Result<Scenario, Diag> {
    de::from_str::<Scenario>(src).map_err(|e| {
        let span = e.span.unwrap_or_default();
        let span = if span.is_empty() && span.start < src.len() { Span::new(span.start, span.start + 1) } else { span };
        let d = Diag::error("vnx::yaml", e.message).at(span, "here");
        d.help(e.help.unwrap_or_else(|| {
            "correct this value; the README describes the YAML form and `vnx schema` prints every key".into()
        }))
    })
}

/// Writes a scenario as YAML.
pub fn to_yaml(sc: &Scenario) -> String {
    serde_yaml::to_string(sc).expect("the scenario model always serializes")
}
