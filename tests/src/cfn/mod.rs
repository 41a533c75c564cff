//! CloudFormation and SAM templates read the way SAM reads them, for the template suite
//! (`tests/tests/template.rs`): what the stack declares, not what one YAML spelling of it says.
//!
//! - [`parse_template`] turns the YAML into one JSON value; CloudFormation's short tags (`!Ref`,
//!   `!Sub`, `!If`, …) arrive from the YAML parser as tagged values and are rewritten into the
//!   long form (`{"Ref": …}`, `{"Fn::Sub": …}`) by [`long_form`], so every check sees one shape
//!   whichever form the template uses;
//! - [`functions`] lists each `AWS::Serverless::Function` with `Globals.Function` merged in as SAM
//!   merges it ([`merge_globals`]);
//! - [`References`] collects the names and conditions an expression refers to, through `Ref`,
//!   `Fn::GetAtt`, `Fn::Sub` (its `${…}` variables: [`sub_variables`]) and `Fn::If`;
//! - [`dependency_graph`] and [`find_cycle`] find a dependency cycle once the edges SAM adds when
//!   it expands an API event are counted, which cfn-lint cannot see before the transform;
//! - [`workspace_binaries`] lists the bin targets `sam build` can build, by package folder.
//!
//! This is test support: a template that breaks what these functions expect is a failed check,
//! so they panic with a message naming what is missing rather than return errors.

mod functions;
mod graph;
mod long_form;
mod references;
mod workspace;

use serde_json::{Map, Value};

use crate::repo_root;

pub use functions::{
    Function, function, functions, merge_globals, policy_statements, statement_actions,
};
pub use graph::{dependency_graph, find_cycle};
pub use long_form::{is_intrinsic, long_form};
pub use references::{References, sub_texts, sub_variables};
pub use workspace::{canonical, workspace_binaries};

/// `template.yaml` at the repository's root, as text.
///
/// # Panics
/// When the file cannot be read.
pub fn template_text() -> String {
    let path = repo_root().join("template.yaml");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{} cannot be read: {error}", path.display()))
}

/// A template's text as one JSON value, short tags in their long form ([`long_form`]).
///
/// # Panics
/// When the text is not YAML, or uses a tag CloudFormation does not know.
pub fn parse_template(text: &str) -> Value {
    let yaml: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(text).expect("template.yaml is well-formed YAML");
    long_form(yaml)
}

/// `template.yaml`, read and parsed.
pub fn template() -> Value {
    parse_template(&template_text())
}

/// A top-level section (`Resources`, `Parameters`, `Outputs`, …) as a map.
///
/// # Panics
/// When the template has no such section.
pub fn section<'a>(template: &'a Value, name: &str) -> &'a Map<String, Value> {
    template[name]
        .as_object()
        .unwrap_or_else(|| panic!("template.yaml has no {name} section"))
}

/// The resources of one `Type` (`AWS::Serverless::Function`, …), with their logical ids.
pub fn resources_of_type<'a>(template: &'a Value, kind: &str) -> Vec<(&'a String, &'a Value)> {
    section(template, "Resources")
        .iter()
        .filter(|(_, resource)| resource["Type"] == kind)
        .collect()
}
