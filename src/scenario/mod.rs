//! The scenario language: the typed model of a lab's desired state, its XML and YAML forms,
//! validation and `<modify_vnx>` change documents.
//!
//! Boundaries: this layer reads files (the scenario and, for validation, the existence of
//! the files it names) and nothing else. It never touches the kernel, libvirt or the state
//! database. Everything a user wrote keeps its span, and every finding is a [`Diag`].

pub mod diag;
pub mod fuzz;
pub mod limits;
pub mod linkcond;
pub mod model;
pub mod modify;
pub mod plugin;
pub mod span;
pub mod validate;
pub mod values;
pub mod xml;
pub mod yaml;

use std::path::{Path, PathBuf};

pub use diag::{Diag, Report, Severity, Source};
pub use model::*;
pub use span::{Span, Spanned};

/// The two written forms of a scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Xml,
    Yaml,
}

impl Format {
    /// By extension first, then by the first character (`<` is XML).
    pub fn detect(path: &Path, text: &str) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some("yaml") | Some("yml") => Format::Yaml,
            Some("xml") => Format::Xml,
            _ if text.trim_start().starts_with('<') => Format::Xml,
            _ => Format::Yaml,
        }
    }
}

/// What a scenario file holds.
#[derive(Clone, Debug, PartialEq)]
pub enum Document {
    Scenario(Scenario),
    Modify(ModifyDoc),
}

/// A file read and checked: the document (when it could be read), the findings, and what
/// validation needs to resolve relative paths.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub path: PathBuf,
    pub format: Format,
    pub doc: Option<Document>,
    pub report: Report,
}

/// Reads a document from text without looking at the file system.
pub fn parse(text: &str, format: Format) -> (Option<Document>, Vec<Diag>) {
    match format {
        Format::Xml => xml::read(text),
        Format::Yaml => match yaml::read(text) {
            Ok(s) => (Some(Document::Scenario(s)), vec![]),
            Err(d) => (None, vec![d]),
        },
    }
}

/// Reads and validates a scenario (or modify document) file.
pub fn load(path: &Path) -> std::io::Result<Loaded> {
    Ok(load_str(path, limits::read_to_string(path)?))
}

/// As [`load`], with the text already read (`path` still names it and anchors relative paths).
pub fn load_str(path: &Path, text: String) -> Loaded {
    let format = Format::detect(path, &text);
    let (doc, mut diags) = parse(&text, format);
    // Semantic checks only make sense on a structurally sound document.
    if !diags.iter().any(Diag::is_error) {
        let cx = validate::Context::for_file(path);
        match &doc {
            Some(Document::Scenario(s)) => diags.extend(validate::scenario(s, &cx)),
            Some(Document::Modify(m)) => diags.extend(validate::modify_doc(m, &cx)),
            None => {}
        }
    }
    let source = Source::new(path.display().to_string(), text);
    Loaded { path: path.to_path_buf(), format, doc, report: Report { source, diags } }
}

/// Writes a scenario in the given form.
pub fn write(sc: &Scenario, format: Format) -> String {
    match format {
        Format::Xml => xml::scenario_to_xml(sc),
        Format::Yaml => yaml::to_yaml(sc),
    }
}
