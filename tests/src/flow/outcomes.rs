//! Step 6 of the flow: the alert's outcome read back through alert-status, and the events the
//! event function published on moto's EventBridge, read back through a rule to a queue.

use std::collections::BTreeMap;

use serde_json::Value;
use vonage_voice_lambda::observe::logging::capped_to;

/// What the flow read back about its alert.
#[derive(Clone, Debug, PartialEq)]
pub struct OutcomeObservation {
    /// alert-status's reply for the alert's id.
    pub status: Value,
    /// The events read back from the queue, or why none could be read.
    pub events: Result<Vec<Value>, String>,
}

/// The confirmed alert must read back `completed` and `confirmed` (with its time), and its
/// changes must have been published, the last of them `completed` and `confirmed`. A change may
/// reach the bus twice (an attempt cut at its timeout after EventBridge took it is tried again,
/// as the README says), but only as itself: two different changes under one `version` fail.
pub fn outcome_problems(alert_id: &str, observed: Option<&OutcomeObservation>) -> Vec<String> {
    let Some(observed) = observed else {
        return vec!["the alert's outcome was not read back".into()];
    };
    let mut problems = Vec::new();
    let status = &observed.status;
    let shown = || capped_to(&status.to_string(), 300);
    if status["state"] != "completed" || status["confirmation"] != "confirmed" {
        problems.push(format!(
            "alert-status did not read back a completed, confirmed alert: {}",
            shown()
        ));
    } else if !status["confirmation_at"].is_i64() {
        problems.push(format!(
            "alert-status gave no confirmation time: {}",
            shown()
        ));
    }
    let events = match &observed.events {
        Ok(events) => events,
        Err(problem) => {
            problems.push(format!(
                "the EventBridge events could not be read: {problem}"
            ));
            return problems;
        }
    };
    let ours: Vec<&Value> = events
        .iter()
        .filter(|event| event["detail"]["alert_id"] == alert_id)
        .collect();
    if ours.is_empty() {
        problems.push(format!(
            "no EventBridge event was read back for alert {alert_id} ({} other events)",
            events.len()
        ));
        return problems;
    }
    let mut by_version: BTreeMap<u64, &Value> = BTreeMap::new();
    for event in &ours {
        let detail = &event["detail"];
        let Some(version) = detail["version"].as_u64() else {
            problems.push(format!(
                "an event without a version: {}",
                capped_to(&detail.to_string(), 300)
            ));
            continue;
        };
        if let Some(first) = by_version.insert(version, detail)
            && first != detail
        {
            problems.push(format!(
                "two different changes published as version {version}: {} and {}",
                capped_to(&first.to_string(), 300),
                capped_to(&detail.to_string(), 300)
            ));
        }
    }
    let last = ours
        .iter()
        .max_by_key(|event| event["detail"]["version"].as_u64().unwrap_or_default());
    let last_is_confirmed = last.is_some_and(|event| {
        event["detail"]["state"] == "completed" && event["detail"]["confirmation"] == "confirmed"
    });
    if !last_is_confirmed {
        problems.push(format!(
            "the last event published is not completed and confirmed: {}",
            last.map(|event| capped_to(&event["detail"].to_string(), 300))
                .unwrap_or_default()
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(state: &str, confirmation: &str, version: u64) -> Value {
        json!({"source": "vonage-voice-lambda.alerts", "detail-type": "Alert state changed",
               "detail": {"alert_id": "a", "state": state, "confirmation": confirmation,
                          "version": version}})
    }

    fn good() -> OutcomeObservation {
        OutcomeObservation {
            status: json!({"state": "completed", "confirmation": "confirmed",
                           "confirmation_at": 1_800_000_000}),
            events: Ok(vec![
                event("ringing", "none", 2),
                event("answered", "none", 3),
                event("answered", "confirmed", 4),
                event("completed", "confirmed", 5),
            ]),
        }
    }

    #[test]
    fn a_confirmed_alert_with_each_change_published_once_passes() {
        assert_eq!(outcome_problems("a", Some(&good())), Vec::<String>::new());
    }

    #[test]
    fn a_change_published_again_as_itself_passes() {
        let mut run = good();
        if let Ok(events) = &mut run.events {
            events.push(event("completed", "confirmed", 5));
            events.push(event("answered", "none", 3));
        }
        assert_eq!(outcome_problems("a", Some(&run)), Vec::<String>::new());
    }

    #[test]
    fn a_missing_or_wrong_outcome_two_changes_under_one_version_or_a_missing_event_fails() {
        assert_eq!(outcome_problems("a", None).len(), 1);
        let mut run = good();
        run.status = json!({"error": "not_found"});
        assert_eq!(outcome_problems("a", Some(&run)).len(), 1);
        let mut run = good();
        if let Ok(events) = &mut run.events {
            events.push(event("ringing", "none", 3));
        }
        let problems = outcome_problems("a", Some(&run));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("two different changes published as version 3"));
        let mut run = good();
        run.events = Ok(vec![event("answered", "none", 3)]);
        assert_eq!(outcome_problems("a", Some(&run)).len(), 1);
        let mut run = good();
        run.events = Ok(Vec::new());
        assert!(outcome_problems("a", Some(&run))[0].starts_with("no EventBridge event"));
        let mut run = good();
        run.events = Err("no queue".into());
        assert_eq!(outcome_problems("a", Some(&run)).len(), 1);
    }
}
