//! `vnx validate FILE...`

use std::path::PathBuf;

use serde::Serialize;

use crate::scenario::{self, span::line_col, Document, Loaded, Severity};

/// Check scenario files and `<modify_vnx>` documents.
///
/// Reads each file (VNX 2.0 XML or YAML), checks its structure and meaning, and prints every
/// problem with its file, line and column and how to fix it. Warnings (such as a filetree
/// source that does not exist yet) do not fail validation.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  vnx validate lab.xml\n  vnx validate --json examples/*.yaml\n  \
vnx validate --base tutorial_ubuntu_modify.xml add-h5.xml   (a modify document applied to its scenario)\n\n\
Exit codes: 0 every file is valid, 1 some file has errors or cannot be read.")]
pub struct Args {
    /// Scenario files or modify documents.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// For modify documents: apply them in order to this scenario and check the result.
    #[arg(long, value_name = "SCENARIO")]
    pub base: Option<PathBuf>,
    /// Print a JSON report on stdout instead of messages on stderr.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
pub struct FileReport {
    pub file: String,
    pub kind: &'static str,
    pub valid: bool,
    pub errors: usize,
    pub warnings: usize,
    pub diagnostics: Vec<JsonDiag>,
}

#[derive(Serialize)]
pub struct JsonDiag {
    pub severity: &'static str,
    pub code: &'static str,
    pub message: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub help: Option<String>,
}

/// The JSON form of one file's findings.
pub fn file_report(l: &Loaded) -> FileReport {
    let text = &l.report.source.text;
    FileReport {
        file: l.path.display().to_string(),
        kind: match &l.doc {
            Some(Document::Modify(_)) => "modify",
            Some(Document::Scenario(_)) => "scenario",
            None => "scenario",
        },
        valid: !l.report.has_errors(),
        errors: l.report.errors(),
        warnings: l.report.warnings(),
        diagnostics: l
            .report
            .diags
            .iter()
            .map(|d| {
                let lc = d.primary_span().map(|s| line_col(text, s.start));
                JsonDiag {
                    severity: if d.severity == Severity::Error { "error" } else { "warning" },
                    code: d.code,
                    message: d.message.clone(),
                    line: lc.map(|x| x.0),
                    column: lc.map(|x| x.1),
                    help: d.help.clone(),
                }
            })
            .collect(),
    }
}

pub fn run(a: Args) -> i32 {
    let color = super::color_stderr();
    let mut ok = true;
    let mut reports = Vec::new();
    // The scenario modify documents apply to, as it stands after each one.
    let mut base = match &a.base {
        None => None,
        Some(p) => match scenario::load(p) {
            Ok(l) => {
                if l.report.has_errors() {
                    eprint!("{}", l.report.render(color));
                    eprintln!("{}: the base scenario has errors", p.display());
                    return super::EXIT_ERROR;
                }
                match l.doc {
                    Some(Document::Scenario(s)) => Some(s),
                    _ => {
                        eprintln!("error: {} is not a scenario (it cannot be a --base)", p.display());
                        return super::EXIT_ERROR;
                    }
                }
            }
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", p.display());
                return super::EXIT_ERROR;
            }
        },
    };
    for path in &a.files {
        let mut loaded = match scenario::load(path) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", path.display());
                ok = false;
                continue;
            }
        };
        if let (Some(b), Some(Document::Modify(m)), false) = (&base, &loaded.doc, loaded.report.has_errors()) {
            match scenario::modify::apply(b, m) {
                Ok(result) => {
                    let cx = scenario::validate::Context::for_file(a.base.as_deref().unwrap_or(path));
                    let diags = scenario::validate::scenario(&result.scenario, &cx);
                    // Findings about the base scenario's own text are not this document's; keep those about the change.
                    loaded.report.diags.extend(diags.into_iter().filter(|d| d.is_error()).map(|mut d| {
                        d.message = format!("after applying: {}", d.message);
                        d.labels.clear();
                        d
                    }));
                    base = Some(result.scenario);
                }
                Err(d) => loaded.report.diags.push(d),
            }
        }
        let plugins = plugins_of(path, &loaded);
        for (i, l) in std::iter::once(&loaded).chain(plugins.iter()).enumerate() {
            ok &= !l.report.has_errors();
            if a.json {
                let mut r = file_report(l);
                if i > 0 {
                    r.kind = "plugin";
                }
                reports.push(r);
            } else {
                eprint!("{}", l.report.render(color));
                let r = &l.report;
                let status = if r.has_errors() { format!("{} error(s)", r.errors()) } else { "valid".to_string() };
                let warn = if r.warnings() > 0 { format!(", {} warning(s)", r.warnings()) } else { String::new() };
                println!("{}: {status}{warn}", l.path.display());
            }
        }
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&reports).expect("reports serialize"));
    }
    if ok {
        super::EXIT_OK
    } else {
        super::EXIT_ERROR
    }
}

/// The configuration files of a valid scenario's plugins, read as the planner will read them
/// (VNX's `dhcp` and `ospf`; others are the planner's refusal).
fn plugins_of(path: &std::path::Path, l: &Loaded) -> Vec<Loaded> {
    let Some(Document::Scenario(s)) = &l.doc else { return vec![] };
    if l.report.has_errors() {
        return vec![];
    }
    let dir = scenario::validate::Context::for_file(path).dir.unwrap_or_else(|| PathBuf::from("."));
    s.extensions
        .iter()
        .filter(|e| scenario::plugin::KNOWN.contains(&e.plugin.as_str()))
        .map(|e| {
            let conf = dir.join(&e.conf);
            match scenario::plugin::load(s, e, &dir) {
                Ok(p) => Loaded { path: conf, format: scenario::Format::Xml, doc: None, report: p.report },
                Err(why) => Loaded {
                    path: conf.clone(),
                    format: scenario::Format::Xml,
                    doc: None,
                    report: scenario::Report {
                        source: scenario::Source::new(conf.display().to_string(), ""),
                        diags: vec![scenario::Diag::error("vnx::plugin", why)],
                    },
                },
            }
        })
        .collect()
}
