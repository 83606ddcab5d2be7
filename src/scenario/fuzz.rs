//! The property the fuzz target (`fuzz/`, nightly, libFuzzer) and its stable twin
//! (`tests/fuzz_corpus.rs`) check on any bytes: reading XML or YAML, validating and rendering
//! the diagnostics never panic, overflow the stack or grow without bound (the limits in
//! [`super::limits`]), and what reads without error survives write → read in both forms.

use super::{Document, Format};

/// Checks the property on one input; panics when it does not hold.
pub fn check_one(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if text.len() as u64 > super::limits::MAX_FILE_BYTES {
        return; // never read: `limits::read_to_string` refuses it
    }
    for format in [Format::Xml, Format::Yaml] {
        let path = std::path::Path::new(if format == Format::Xml { "fuzz.xml" } else { "fuzz.yaml" });
        let loaded = super::load_str(path, text.to_string());
        // Rendering checks that every span lies inside the text, on character boundaries.
        let _ = loaded.report.render(false);
        if loaded.report.has_errors() {
            continue;
        }
        if let Some(Document::Scenario(s)) = loaded.doc {
            for out in [Format::Xml, Format::Yaml] {
                let written = super::write(&s, out);
                let (doc, diags) = super::parse(&written, out);
                assert!(!diags.iter().any(|d| d.is_error()), "{out:?} rewrite has errors: {diags:?}\n{written}");
                assert_eq!(doc, Some(Document::Scenario(s.clone())), "{out:?} rewrite changed the model");
            }
        }
    }
}
