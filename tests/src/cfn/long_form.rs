//! CloudFormation's short tags rewritten into the long JSON form.

use serde_json::{Map, Value, json};

/// The YAML value with every CloudFormation short tag rewritten into its long JSON form.
pub fn long_form(value: serde_yaml_ng::Value) -> Value {
    use serde_yaml_ng::Value as Yaml;
    match value {
        Yaml::Null => Value::Null,
        Yaml::Bool(flag) => Value::Bool(flag),
        Yaml::Number(number) => {
            if let Some(integer) = number.as_i64() {
                json!(integer)
            } else if let Some(unsigned) = number.as_u64() {
                json!(unsigned)
            } else {
                json!(number.as_f64())
            }
        }
        Yaml::String(text) => Value::String(text),
        Yaml::Sequence(items) => Value::Array(items.into_iter().map(long_form).collect()),
        Yaml::Mapping(mapping) => Value::Object(
            mapping
                .into_iter()
                .map(|(key, value)| (mapping_key(key), long_form(value)))
                .collect(),
        ),
        Yaml::Tagged(tagged) => intrinsic(&tagged.tag.to_string(), long_form(tagged.value)),
    }
}

/// A YAML mapping key as a JSON object key.
fn mapping_key(key: serde_yaml_ng::Value) -> String {
    match key {
        serde_yaml_ng::Value::String(text) => text,
        serde_yaml_ng::Value::Number(number) => number.to_string(),
        serde_yaml_ng::Value::Bool(flag) => flag.to_string(),
        other => panic!("template.yaml has a mapping key that is not a scalar: {other:?}"),
    }
}

/// A short tag (`!Ref`, `!GetAtt`, `!Sub`, …) and its argument, in the long form.
fn intrinsic(tag: &str, argument: Value) -> Value {
    let name = tag.trim_start_matches('!');
    match name {
        "Ref" => json!({ "Ref": argument }),
        "Condition" => json!({ "Condition": argument }),
        // The short form's "Resource.Attribute" string is the long form's two-element list.
        "GetAtt" => {
            let argument = match argument {
                Value::String(dotted) => {
                    let (resource, attribute) = dotted
                        .split_once('.')
                        .unwrap_or_else(|| panic!("!GetAtt {dotted} names no attribute"));
                    json!([resource, attribute])
                }
                other => other,
            };
            json!({ "Fn::GetAtt": argument })
        }
        "And" | "Base64" | "Cidr" | "Equals" | "FindInMap" | "GetAZs" | "If" | "ImportValue"
        | "Join" | "Length" | "Not" | "Or" | "Select" | "Split" | "Sub" | "ToJsonString"
        | "Transform" => {
            let mut long = Map::new();
            long.insert(format!("Fn::{name}"), argument);
            Value::Object(long)
        }
        other => panic!("template.yaml uses the tag !{other}, which CloudFormation does not know"),
    }
}

/// An object that is one intrinsic function (`Ref`, `Condition`, `Fn::…`), not a plain map.
pub fn is_intrinsic(object: &Map<String, Value>) -> bool {
    object.len() == 1
        && object
            .keys()
            .all(|key| key == "Ref" || key == "Condition" || key.starts_with("Fn::"))
}
