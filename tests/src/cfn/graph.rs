//! Dependencies among a template's resources, SAM's implicit edges included, and their cycles.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::functions::merge_globals;
use super::references::References;
use super::{resources_of_type, section};

/// Who depends on whom among the resources: explicit references and `DependsOn`, plus the edge
/// SAM adds when it expands an API event: the API's definition names the function it invokes,
/// so the API depends on every function routed through it.
pub fn dependency_graph(template: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let resources = section(template, "Resources");
    let globals = &template["Globals"]["Function"];
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (logical_id, resource) in resources {
        let properties = if resource["Type"] == "AWS::Serverless::Function" {
            merge_globals(globals, &resource["Properties"])
        } else {
            resource["Properties"].clone()
        };
        // A function's Events become resources of their own (routes, permissions, schedules)
        // that depend on the function; they give the function itself no dependency.
        let own_properties = match properties {
            Value::Object(mut properties) if resource["Type"] == "AWS::Serverless::Function" => {
                properties.remove("Events");
                Value::Object(properties)
            }
            other => other,
        };
        let mut depends_on: BTreeSet<String> = References::of(&own_properties)
            .names
            .into_iter()
            .filter(|name| resources.contains_key(name))
            .collect();
        match &resource["DependsOn"] {
            Value::String(name) => {
                depends_on.insert(name.clone());
            }
            Value::Array(names) => {
                depends_on.extend(names.iter().filter_map(Value::as_str).map(str::to_owned))
            }
            _ => {}
        }
        graph
            .entry(logical_id.clone())
            .or_default()
            .extend(depends_on);
    }
    for (function_id, resource) in resources_of_type(template, "AWS::Serverless::Function") {
        let events = resource["Properties"]["Events"].as_object();
        for event in events.into_iter().flat_map(|events| events.values()) {
            let api = match event["Type"].as_str() {
                Some("HttpApi") => &event["Properties"]["ApiId"],
                Some("Api") => &event["Properties"]["RestApiId"],
                _ => continue,
            };
            if let Some(api_id) = api["Ref"].as_str() {
                graph
                    .entry(api_id.to_owned())
                    .or_default()
                    .insert(function_id.clone());
            }
        }
    }
    graph
}

/// A dependency cycle, as the resources along it, if there is one.
pub fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(position) = path.iter().position(|seen| seen == node) {
            let mut cycle = path[position..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}
