//! What an expression refers to: names through `Ref`, `Fn::GetAtt` and `Fn::Sub`, conditions
//! through `Fn::If` and `Condition`.

use std::collections::BTreeSet;

use serde_json::Value;

/// The names an expression refers to: parameters, resources and pseudo parameters through `Ref`,
/// `Fn::GetAtt` and `Fn::Sub`; and conditions through `Fn::If` and `Condition`.
#[derive(Default, Debug)]
pub struct References {
    /// Parameters, resources and pseudo parameters (`AWS::Region`, …).
    pub names: BTreeSet<String>,
    pub conditions: BTreeSet<String>,
}

impl References {
    /// Everything `value` refers to.
    pub fn of(value: &Value) -> Self {
        let mut references = Self::default();
        references.collect(value);
        references
    }

    /// Adds what `value` refers to.
    pub fn collect(&mut self, value: &Value) {
        match value {
            Value::Array(items) => items.iter().for_each(|item| self.collect(item)),
            Value::Object(object) => {
                for (key, argument) in object {
                    match (key.as_str(), argument) {
                        ("Ref", Value::String(name)) => {
                            self.names.insert(name.clone());
                        }
                        ("Condition", Value::String(name)) => {
                            self.conditions.insert(name.clone());
                        }
                        ("Fn::GetAtt", Value::Array(parts)) => {
                            if let Some(Value::String(resource)) = parts.first() {
                                self.names.insert(resource.clone());
                            }
                            parts.iter().skip(1).for_each(|part| self.collect(part));
                        }
                        ("Fn::Sub", Value::String(text)) => self.names.extend(sub_variables(text)),
                        ("Fn::Sub", Value::Array(parts)) => {
                            let locals: BTreeSet<&String> = parts
                                .get(1)
                                .and_then(Value::as_object)
                                .map(|locals| locals.keys().collect())
                                .unwrap_or_default();
                            if let Some(Value::String(text)) = parts.first() {
                                self.names.extend(
                                    sub_variables(text)
                                        .into_iter()
                                        .filter(|name| !locals.contains(name)),
                                );
                            }
                            parts.iter().skip(1).for_each(|part| self.collect(part));
                        }
                        ("Fn::If", Value::Array(parts)) => {
                            if let Some(Value::String(condition)) = parts.first() {
                                self.conditions.insert(condition.clone());
                            }
                            parts.iter().skip(1).for_each(|part| self.collect(part));
                        }
                        _ => self.collect(argument),
                    }
                }
            }
            _ => {}
        }
    }
}

/// `${Name}` and `${Resource.Attribute}` in an `Fn::Sub` string, as names; `${!Literal}` is text.
pub fn sub_variables(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let variable = &after[..end];
        if !variable.starts_with('!') {
            let name = variable.split('.').next().unwrap_or(variable).trim();
            names.push(name.to_owned());
        }
        rest = &after[end + 1..];
    }
    names
}

/// Every `Fn::Sub` text inside an expression, in order.
pub fn sub_texts(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items.iter().flat_map(sub_texts).collect(),
        Value::Object(object) => object
            .iter()
            .flat_map(|(key, argument)| match (key.as_str(), argument) {
                ("Fn::Sub", Value::String(text)) => vec![text.clone()],
                ("Fn::Sub", Value::Array(parts)) => parts
                    .first()
                    .and_then(Value::as_str)
                    .map(|text| vec![text.to_owned()])
                    .unwrap_or_default(),
                _ => sub_texts(argument),
            })
            .collect(),
        _ => Vec::new(),
    }
}
