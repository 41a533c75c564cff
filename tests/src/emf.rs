//! Reading a function's log as CloudWatch Embedded Metric Format: every line with an `_aws`
//! member is checked against the EMF specification (the rules CloudWatch applies before it
//! extracts anything), and the metrics it carries are summed by name and dimensions.
//!
//! The rules: `_aws` is an object with `Timestamp` (a non-negative integer of milliseconds) and
//! `CloudWatchMetrics`, an array of directives; each directive has a `Namespace` (1 to 255
//! characters), `Dimensions` (an array of dimension sets, each an array of at most 30 names) and
//! `Metrics` (at most 100 definitions, each a `Name` of 1 to 255 characters and, if present, a
//! `Unit` CloudWatch knows and a `StorageResolution` of 1 or 60). Every dimension a set names is
//! a string member of the root; every metric named is a number, or an array of at most 100
//! numbers, at the root.

use serde_json::Value;

/// The units CloudWatch accepts (`MetricDatum.Unit`).
pub const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// One metric value found in an EMF document.
#[derive(Clone, Debug, PartialEq)]
pub struct Datum {
    pub namespace: String,
    pub name: String,
    pub unit: Option<String>,
    /// The dimension set it was emitted with, names and values, sorted by name.
    pub dimensions: Vec<(String, String)>,
    /// Its values (one for a counter, several for a histogram).
    pub values: Vec<f64>,
}

/// Checks one parsed log line against the EMF rules and returns its data; `Ok(None)` for a line
/// that is not EMF (no `_aws` member).
pub fn parse(line: &Value) -> Result<Option<Vec<Datum>>, String> {
    let Some(aws) = line.get("_aws") else {
        return Ok(None);
    };
    let aws = aws.as_object().ok_or("_aws is not an object")?;
    if !aws.get("Timestamp").is_some_and(Value::is_u64) {
        return Err(format!(
            "_aws.Timestamp is not a millisecond count: {aws:?}"
        ));
    }
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .ok_or("_aws.CloudWatchMetrics is not an array")?;
    let mut data = Vec::new();
    for directive in directives {
        let namespace = directive["Namespace"]
            .as_str()
            .filter(|namespace| (1..=255).contains(&namespace.len()))
            .ok_or_else(|| format!("a directive without a valid Namespace: {directive}"))?;
        let sets = directive["Dimensions"]
            .as_array()
            .ok_or_else(|| format!("Dimensions is not an array: {directive}"))?;
        let mut dimension_sets = Vec::new();
        for set in sets {
            let names = set
                .as_array()
                .filter(|names| names.len() <= 30)
                .ok_or_else(|| format!("a dimension set is not an array of ≤ 30: {set}"))?;
            let mut dimensions = Vec::new();
            for name in names {
                let name = name
                    .as_str()
                    .ok_or_else(|| format!("a dimension name is not a string: {name}"))?;
                let value = line[name]
                    .as_str()
                    .ok_or_else(|| format!("dimension {name} is not a string at the root"))?;
                dimensions.push((name.to_owned(), value.to_owned()));
            }
            dimensions.sort();
            dimension_sets.push(dimensions);
        }
        let metrics = directive["Metrics"]
            .as_array()
            .filter(|metrics| metrics.len() <= 100)
            .ok_or_else(|| format!("Metrics is not an array of ≤ 100: {directive}"))?;
        for metric in metrics {
            let name = metric["Name"]
                .as_str()
                .filter(|name| (1..=255).contains(&name.len()))
                .ok_or_else(|| format!("a metric without a valid Name: {metric}"))?;
            let unit = match metric.get("Unit") {
                None => None,
                Some(unit) => Some(
                    unit.as_str()
                        .filter(|unit| UNITS.contains(unit))
                        .ok_or_else(|| format!("{name}: unit {unit} is not a CloudWatch unit"))?
                        .to_owned(),
                ),
            };
            if let Some(resolution) = metric.get("StorageResolution")
                && resolution != 1
                && resolution != 60
            {
                return Err(format!("{name}: StorageResolution {resolution}"));
            }
            let values = match &line[name] {
                Value::Number(number) => vec![number.as_f64().ok_or("not a number")?],
                Value::Array(values) if values.len() <= 100 => values
                    .iter()
                    .map(|value| value.as_f64().ok_or_else(|| format!("{name}: {value}")))
                    .collect::<Result<_, _>>()?,
                other => {
                    return Err(format!(
                        "metric {name} is not a number at the root: {other}"
                    ));
                }
            };
            for dimensions in &dimension_sets {
                data.push(Datum {
                    namespace: namespace.to_owned(),
                    name: name.to_owned(),
                    unit: unit.clone(),
                    dimensions: dimensions.clone(),
                    values: values.clone(),
                });
            }
        }
    }
    Ok(Some(data))
}

/// Every datum in `lines`, each EMF line checked; panics naming the first line that breaks a
/// rule.
pub fn data(lines: &[Value]) -> Vec<Datum> {
    lines
        .iter()
        .filter_map(|line| {
            parse(line).unwrap_or_else(|problem| panic!("not valid EMF: {problem}: {line}"))
        })
        .flatten()
        .collect()
}

/// The sum of `name`'s values with exactly `dimensions` (in any order).
pub fn total(data: &[Datum], name: &str, dimensions: &[(&str, &str)]) -> f64 {
    let mut wanted: Vec<(String, String)> = dimensions
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    wanted.sort();
    data.iter()
        .filter(|datum| datum.name == name && datum.dimensions == wanted)
        .flat_map(|datum| datum.values.iter())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_rules_are_applied() {
        let good = json!({"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "N",
            "Dimensions": [["F"]], "Metrics": [{"Name": "M", "Unit": "Count"}]}]}, "F": "f", "M": 2});
        let data = parse(&good).unwrap().unwrap();
        assert_eq!(total(&data, "M", &[("F", "f")]), 2.0);
        assert_eq!(parse(&json!({"level": "INFO"})).unwrap(), None);
        let mut no_dimension = good.clone();
        no_dimension.as_object_mut().unwrap().remove("F");
        assert!(parse(&no_dimension).is_err());
        let mut bad_unit = good.clone();
        bad_unit["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = json!("Calls");
        assert!(parse(&bad_unit).is_err());
        let mut text_value = good.clone();
        text_value["M"] = json!("2");
        assert!(parse(&text_value).is_err());
        let mut no_timestamp = good;
        no_timestamp["_aws"]["Timestamp"] = json!("now");
        assert!(parse(&no_timestamp).is_err());
    }
}
