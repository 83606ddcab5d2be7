//! VNX 2.0 XML: read into the model (through a spanned element tree) and write back.

pub mod read;
pub mod tree;
pub mod write;

use super::diag::Diag;
use super::Document;

pub use write::{modify_to_xml, scenario_to_xml};

/// Reads a `<vnx>` scenario or a `<modify_vnx>` document. The document is returned even when
/// there are errors (with what could be read), so that callers can show every finding.
pub fn read(src: &str) -> (Option<Document>, Vec<Diag>) {
    let root = match tree::parse(src) {
        Ok(r) => r,
        Err(d) => return (None, vec![d]),
    };
    let mut cx = read::Cx::default();
    let doc = match root.name.as_str() {
        "vnx" => Document::Scenario(read::scenario(&mut cx, &root)),
        "modify_vnx" => Document::Modify(read::modify(&mut cx, &root)),
        other => {
            let d = Diag::error("vnx::unknown-element", format!("<{other}> is not a scenario"))
                .at(root.name_span, "unknown root element")
                .help("a scenario starts with <vnx>; a change document with <modify_vnx>");
            return (None, vec![d]);
        }
    };
    (Some(doc), cx.diags)
}
