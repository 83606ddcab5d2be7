//! `vnx schema`

/// Print the JSON Schema of the YAML scenario form.
///
/// The same schema is kept in the repository as `schemas/vnx-scenario.schema.json`; editors
/// can use it to complete and check YAML scenarios. The XML Schema is `schemas/vnx.xsd`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// The JSON Schema of the YAML form, as pretty JSON.
pub fn yaml_schema() -> String {
    let schema = schemars::schema_for!(crate::scenario::Scenario);
    serde_json::to_string_pretty(&schema).expect("schema serializes") + "\n"
}

pub fn run(_: Args) -> i32 {
    print!("{}", yaml_schema());
    super::EXIT_OK
}
