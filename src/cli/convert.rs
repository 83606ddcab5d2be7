//! `vnx convert FILE --to yaml|xml`

use std::path::PathBuf;

use crate::scenario::{self, Document, Format};

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum To {
    Yaml,
    Xml,
}

/// Write a scenario in the other form (VNX 2.0 XML ↔ YAML) to stdout.
///
/// The scenario is read and validated first; a file with errors is not converted. Comments
/// and layout are not kept: the output is the scenario's model, written canonically.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  vnx convert tutorial_lxc_ubuntu.xml --to yaml > tutorial.yaml\n  vnx convert lab.yaml --to xml"
)]
pub struct Args {
    /// The scenario file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The form to write.
    #[arg(long, value_enum)]
    pub to: To,
}

pub fn run(a: Args) -> i32 {
    let loaded = match scenario::load(&a.file) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", a.file.display());
            return super::EXIT_ERROR;
        }
    };
    eprint!("{}", loaded.report.render(super::color_stderr()));
    if loaded.report.has_errors() {
        eprintln!("{}: not converted, fix the errors above first", a.file.display());
        return super::EXIT_ERROR;
    }
    match (&loaded.doc, a.to) {
        (Some(Document::Scenario(s)), To::Yaml) => print!("{}", scenario::write(s, Format::Yaml)),
        (Some(Document::Scenario(s)), To::Xml) => print!("{}", scenario::write(s, Format::Xml)),
        (Some(Document::Modify(m)), To::Xml) => print!("{}", scenario::xml::modify_to_xml(m)),
        (Some(Document::Modify(_)), To::Yaml) => {
            eprintln!("error: modify documents have no YAML form; edit the YAML scenario and apply it instead");
            return super::EXIT_ERROR;
        }
        (None, _) => return super::EXIT_ERROR,
    }
    super::EXIT_OK
}
