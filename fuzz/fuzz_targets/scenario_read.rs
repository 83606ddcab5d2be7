//! Fuzzes the scenario readers: whatever the bytes, reading XML or YAML, validating and
//! rendering the diagnostics must not panic, and what reads without error must survive
//! write → read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vnx::scenario::{self, Document, Format};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for format in [Format::Xml, Format::Yaml] {
        let path = std::path::Path::new(if format == Format::Xml { "fuzz.xml" } else { "fuzz.yaml" });
        let loaded = scenario::load_str(path, text.to_string());
        // Rendering checks that every span lies inside the text, on character boundaries.
        let _ = loaded.report.render(false);
        if loaded.report.has_errors() {
            continue;
        }
        if let Some(Document::Scenario(s)) = loaded.doc {
            for out in [Format::Xml, Format::Yaml] {
                let written = scenario::write(&s, out);
                let (doc, diags) = scenario::parse(&written, out);
                assert!(!diags.iter().any(|d| d.is_error()), "{out:?} rewrite has errors: {diags:?}\n{written}");
                assert_eq!(doc, Some(Document::Scenario(s.clone())), "{out:?} rewrite changed the model");
            }
        }
    }
});
