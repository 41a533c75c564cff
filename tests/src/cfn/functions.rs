//! The template's functions, as SAM deploys them: `Globals.Function` merged into each.

use serde_json::{Map, Value};

use super::long_form::is_intrinsic;
use super::resources_of_type;

/// One `AWS::Serverless::Function` with `Globals.Function` merged in the way SAM merges it.
pub struct Function {
    pub logical_id: String,
    /// `Metadata.BuildProperties.Binary`: the workspace binary `sam build` builds it from.
    pub binary: String,
    /// `Properties`, with `Globals.Function` merged in.
    pub properties: Value,
    pub metadata: Value,
}

impl Function {
    /// `Environment.Variables`.
    ///
    /// # Panics
    /// When the function has none.
    pub fn environment(&self) -> &Map<String, Value> {
        self.properties["Environment"]["Variables"]
            .as_object()
            .unwrap_or_else(|| panic!("{} has no environment variables", self.logical_id))
    }
}

/// Every `AWS::Serverless::Function`, as SAM will deploy it.
///
/// # Panics
/// When a function names no binary, or the template declares none.
pub fn functions(template: &Value) -> Vec<Function> {
    let globals = &template["Globals"]["Function"];
    let functions: Vec<Function> = resources_of_type(template, "AWS::Serverless::Function")
        .into_iter()
        .map(|(logical_id, resource)| {
            let binary = resource["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .unwrap_or_else(|| panic!("{logical_id} has no Metadata.BuildProperties.Binary"))
                .to_owned();
            Function {
                logical_id: logical_id.clone(),
                binary,
                properties: merge_globals(globals, &resource["Properties"]),
                metadata: resource["Metadata"].clone(),
            }
        })
        .collect();
    assert!(!functions.is_empty(), "template.yaml declares no function");
    functions
}

/// The function built from `binary`.
///
/// # Panics
/// When there is none.
pub fn function<'a>(functions: &'a [Function], binary: &str) -> &'a Function {
    functions
        .iter()
        .find(|function| function.binary == binary)
        .unwrap_or_else(|| panic!("template.yaml has no function built from the binary {binary}"))
}

/// SAM's Globals rule: maps merge key by key, lists add up, and anything else the resource sets wins.
pub fn merge_globals(global: &Value, local: &Value) -> Value {
    match (global, local) {
        (Value::Object(global), Value::Object(local)) if !is_intrinsic(local) => {
            let mut merged = global.clone();
            for (key, value) in local {
                let value = match global.get(key) {
                    Some(global_value) => merge_globals(global_value, value),
                    None => value.clone(),
                };
                merged.insert(key.clone(), value);
            }
            Value::Object(merged)
        }
        (Value::Array(global), Value::Array(local)) => {
            Value::Array(global.iter().chain(local).cloned().collect())
        }
        (_, Value::Null) => global.clone(),
        _ => local.clone(),
    }
}

/// Every statement of a function's inline policies.
pub fn policy_statements(function: &Function) -> Vec<&Value> {
    function.properties["Policies"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|policy| policy["Statement"].as_array().into_iter().flatten())
        .collect()
}

/// A statement's `Action`, as a list whether the template wrote one action or several.
pub fn statement_actions(statement: &Value) -> Vec<Value> {
    match &statement["Action"] {
        Value::Array(actions) => actions.clone(),
        action => vec![action.clone()],
    }
}
