//! Diagnostics: what the readers and the validator say about a scenario file.
//!
//! A `Diag` is one finding (error or warning) with a code, a message, an optional located
//! label and a help text that says how to fix it. `Report` ties a list of them to the file they
//! are about and renders them through miette, so every message names file, line and column.

use std::fmt;
use std::sync::Arc;

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode};

use super::span::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// One finding about a scenario.
#[derive(Clone, Debug)]
pub struct Diag {
    pub severity: Severity,
    /// A stable identifier, e.g. `vnx::unknown-net`, for scripts and documentation.
    pub code: &'static str,
    pub message: String,
    /// Where, with a short label; the primary label first.
    pub labels: Vec<(Span, String)>,
    pub help: Option<String>,
}

impl Diag {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Diag { severity: Severity::Error, code, message: message.into(), labels: vec![], help: None }
    }
    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Diag { severity: Severity::Warning, ..Diag::error(code, message) }
    }
    pub fn at(mut self, span: Span, label: impl Into<String>) -> Self {
        self.labels.push((span, label.into()));
        self
    }
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
    pub fn primary_span(&self) -> Option<Span> {
        self.labels.first().map(|(s, _)| *s)
    }
}

/// Findings that say the same of several places, said once: equal ones, or ones alike but
/// for a node's name (written "node `NAME`" in the message), become one that names every node
/// ("nodes `h1`, `h2`") and shows the first place only (a snippet per place would print the
/// file between them), saying how many more there are. Order is the first finding's. Messages
/// that name a node are worded so that either form reads well.
pub fn said_once(diags: Vec<Diag>) -> Vec<Diag> {
    // The message with its node's name taken out (the shape), and the name.
    fn split(message: &str) -> (String, Option<String>) {
        let Some(start) = message.find("node `").map(|i| i + "node `".len()) else {
            return (message.to_string(), None);
        };
        let Some(len) = message[start..].find('`') else { return (message.to_string(), None) };
        let shape = format!("{}{}", &message[..start - "node `".len()], &message[start + len + 1..]);
        (shape, Some(message[start..start + len].to_string()))
    }
    let mut out: Vec<(String, Vec<String>, usize, Diag)> = Vec::new();
    for d in diags {
        let (shape, name) = split(&d.message);
        let alike = out
            .iter_mut()
            .find(|(s, _, _, o)| *s == shape && o.code == d.code && o.severity == d.severity && o.help == d.help);
        match alike {
            Some((_, names, more, _)) => {
                names.extend(name);
                *more += 1;
            }
            None => out.push((shape, name.into_iter().collect(), 0, d)),
        }
    }
    out.into_iter()
        .map(|(_, names, more, mut d)| {
            if let (true, Some((_, label))) = (more > 0, d.labels.first_mut()) {
                let what = if names.len() > 1 { ", one at each node named" } else { " like it" };
                *label = format!("{label} (and {more} more{what})");
            }
            if names.len() > 1 {
                d.message =
                    d.message.replacen(&format!("node `{}`", names[0]), &format!("nodes `{}`", names.join("`, `")), 1);
            }
            d
        })
        .collect()
}

/// The suggestion for a misspelt name: the closest candidate, when it is close enough.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&word.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// A scenario source: its name (a path, as the user typed it) and its text.
#[derive(Clone, Debug)]
pub struct Source {
    pub name: String,
    pub text: Arc<str>,
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<Arc<str>>) -> Self {
        Source { name: name.into(), text: text.into() }
    }
}

/// Diagnostics about one source, renderable with miette.
#[derive(Clone, Debug)]
pub struct Report {
    pub source: Source,
    pub diags: Vec<Diag>,
}

impl Report {
    pub fn has_errors(&self) -> bool {
        self.diags.iter().any(Diag::is_error)
    }
    pub fn errors(&self) -> usize {
        self.diags.iter().filter(|d| d.is_error()).count()
    }
    pub fn warnings(&self) -> usize {
        self.diags.len() - self.errors()
    }

    /// The diagnostics as miette renders them. `color` is for terminals; tests and pipes
    /// get plain text.
    pub fn render(&self, color: bool) -> String {
        let theme = if color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
        let handler = GraphicalReportHandler::new_themed(theme).with_width(100);
        let src = NamedSource::new(self.source.name.clone(), self.source.text.to_string());
        let mut out = String::new();
        for d in &self.diags {
            let one = OneDiag { diag: d, src: &src };
            let _ = handler.render_report(&mut out, &one);
        }
        out
    }
}

/// Adapter: one `Diag` with its source, as a miette `Diagnostic`.
struct OneDiag<'a> {
    diag: &'a Diag,
    src: &'a NamedSource<String>,
}

impl fmt::Debug for OneDiag<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.diag.fmt(f)
    }
}
impl fmt::Display for OneDiag<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diag.message)
    }
}
impl std::error::Error for OneDiag<'_> {}

impl Diagnostic for OneDiag<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.diag.code))
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diag.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.diag.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        if self.diag.labels.is_empty() {
            None
        } else {
            Some(self.src)
        }
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.diag.labels.is_empty() {
            return None;
        }
        Some(Box::new(self.diag.labels.iter().enumerate().map(|(i, (span, label))| {
            let text = if label.is_empty() { None } else { Some(label.clone()) };
            if i == 0 {
                LabeledSpan::new_primary_with_span(text, *span)
            } else {
                LabeledSpan::new_with_span(text, *span)
            }
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(d: Diag, at: usize) -> Diag {
        d.at(Span::new(at, at + 1), "here")
    }

    #[test]
    fn a_finding_about_several_nodes_is_said_once() {
        let rootfs = |n: &str, i| at(Diag::warning("vnx::rootfs", format!("root `/r` (of node `{n}`) is missing")), i);
        let dhcp = |i| at(Diag::error("vnx::dhcp", "DHCP on an `ns` node is not supported yet"), i);
        let other = at(Diag::warning("vnx::rootfs", "root `/s` (of node `h9`) is missing"), 9);
        let out = said_once(vec![rootfs("h1", 1), dhcp(2), rootfs("h2", 3), other.clone(), dhcp(4), rootfs("r1", 5)]);
        let messages: Vec<&str> = out.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "root `/r` (of nodes `h1`, `h2`, `r1`) is missing",
                "DHCP on an `ns` node is not supported yet",
                "root `/s` (of node `h9`) is missing"
            ]
        );
        // Spans never compare (see span.rs): their starts do.
        let labels = |d: &Diag| d.labels.iter().map(|(s, l)| (s.start, l.clone())).collect::<Vec<_>>();
        assert_eq!(labels(&out[0]), [(1, "here (and 2 more, one at each node named)".to_string())]);
        assert_eq!(labels(&out[1]), [(2, "here (and 1 more like it)".to_string())]);
        assert_eq!(labels(&out[2]), labels(&other));
    }
}
