//! The JSON Schema of every JSON output, generated from the Rust types with schemars.
//! docs/schemas/NAME.json holds each; tests/ux_schemas.rs regenerates them and fails when
//! one is stale (`HOSTPERF_WRITE_SCHEMAS=1 cargo test --test ux_schemas` rewrites them),
//! and validates real output of every command against them.

use schemars::{JsonSchema, Schema, SchemaGenerator, generate::SchemaSettings};

use super::doc::*;

fn schema<T: JsonSchema>(title: &str) -> Schema {
    let mut generator = SchemaGenerator::new(SchemaSettings::draft2020_12());
    let mut schema = generator.root_schema_for::<T>();
    schema.insert("title".into(), title.into());
    schema
}

/// (file name without `.json`, what prints it, schema), for every JSON output.
pub fn all() -> Vec<(&'static str, &'static str, Schema)> {
    vec![
        (
            "plan",
            "hostperf plan -o json",
            schema::<PlanDoc<'static>>("hostperf plan"),
        ),
        (
            "apply",
            "hostperf apply [--dry-run] -o json",
            schema::<ApplyDoc>("hostperf apply"),
        ),
        (
            "check",
            "hostperf check -o json",
            schema::<crate::check::CheckReport>("hostperf check"),
        ),
        (
            "rollback",
            "hostperf rollback -o json",
            schema::<RollbackDoc>("hostperf rollback"),
        ),
        (
            "rollback-list",
            "hostperf rollback --list -o json",
            schema::<SnapshotListDoc>("hostperf rollback --list"),
        ),
        (
            "rollback-forget",
            "hostperf rollback --forget ID -o json",
            schema::<ForgetDoc>("hostperf rollback --forget"),
        ),
        (
            "show",
            "hostperf show -o json",
            schema::<ShowDoc>("hostperf show"),
        ),
        (
            "profiles",
            "hostperf profiles -o json",
            schema::<ProfilesDoc>("hostperf profiles"),
        ),
        (
            "profiles-show",
            "hostperf profiles show NAME -o json",
            schema::<ProfileShowSchema>("hostperf profiles show"),
        ),
        (
            "profiles-diff",
            "hostperf profiles diff A B -o json",
            schema::<ProfilesDiffDoc>("hostperf profiles diff"),
        ),
        (
            "status",
            "hostperf status -o json",
            schema::<crate::status::Status>("hostperf status"),
        ),
        (
            "recommend",
            "hostperf recommend -o json",
            schema::<RecommendDoc<'static>>("hostperf recommend"),
        ),
        (
            "diagnose",
            "hostperf diagnose -o json",
            schema::<crate::diagnose::model::Report>("hostperf diagnose"),
        ),
        (
            "bench",
            "hostperf bench -o json",
            schema::<crate::bench::model::Report>("hostperf bench"),
        ),
        (
            "probe",
            "hostperf probe URL -o json",
            schema::<crate::probe::model::ProbeReport>("hostperf probe"),
        ),
    ]
}

/// The schema as written to docs/schemas/NAME.json: pretty, with a final newline.
pub fn text(schema: &Schema) -> String {
    let mut text = serde_json::to_string_pretty(schema).expect("schemas serialize");
    text.push('\n');
    text
}
