//! Vonage's OpenAPI specs as data, and the JSON Schema of an operation's request body, so fakes
//! and contract tests check what we send against Vonage's own definition.

use serde_json::Value;

use crate::vonage_spec;

/// One of Vonage's spec files (`../shared/vonage-specs/<file>`), parsed.
pub fn read_vonage_spec(file: &str) -> Value {
    let path = vonage_spec(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{} cannot be read: {error}", path.display()));
    serde_yaml_ng::from_str(&text)
        .unwrap_or_else(|error| panic!("{} is not YAML: {error}", path.display()))
}

/// The JSON Schema of one operation's JSON request body.
pub struct RequestBodySchema {
    validator: jsonschema::Validator,
}

impl RequestBodySchema {
    /// Takes the request schema of `method` on `path` in `spec` and compiles it with the spec's
    /// `components` beside it, so its `#/components/schemas/…` references resolve as they do in
    /// the spec.
    pub fn of(spec: &Value, path: &str, method: &str) -> Self {
        let escaped_path = path.replace('~', "~0").replace('/', "~1");
        let pointer =
            format!("/paths/{escaped_path}/{method}/requestBody/content/application~1json/schema");
        let mut schema = spec
            .pointer(&pointer)
            .cloned()
            .unwrap_or_else(|| panic!("the spec has no JSON request body for {method} {path}"));
        schema["components"] = spec["components"].clone();
        // OpenAPI 3.0 schema objects are JSON Schema draft 4 with extra annotations.
        let validator = jsonschema::draft4::new(&schema).unwrap_or_else(|error| {
            panic!("the request schema of {method} {path} does not compile: {error}")
        });
        Self { validator }
    }

    /// Every way `body` breaks the schema, as `path: message`; empty when it conforms.
    pub fn violations(&self, body: &Value) -> Vec<String> {
        self.validator
            .iter_errors(body)
            .map(|error| format!("{}: {error}", error.instance_path()))
            .collect()
    }
}
