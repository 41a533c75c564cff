//! Unit tests: the request checks, the reserved numbers and the timestamps.

use serde_json::{Value, json};

use super::*;
use crate::play::input_body;

fn body(json: Value) -> CallRequestBody {
    serde_json::from_value(json).unwrap()
}

fn valid() -> Value {
    json!({
        "to": [{"type": "phone", "number": "447700900000"}],
        "from": {"type": "phone", "number": "447700900001"},
        "ncco": [{"action": "talk", "text": "Your code is 1, 2, 3, 4"}],
        "event_url": ["http://127.0.0.1:9000/event"]
    })
}

#[test]
fn a_valid_request_has_no_problems() {
    assert!(check_call_request(&body(valid())).is_empty());
}

#[test]
fn broken_requests_name_the_field() {
    let cases = [
        (
            "ncco",
            json!({"answer_url": ["https://example.com/answer"]}),
        ),
        (
            "to",
            json!({"to": [{"type": "phone", "number": "+447700900000"}]}),
        ),
        ("to", json!({"to": []})),
        ("from", json!({"random_from_number": true})),
        ("event_url", json!({"event_url": ["ftp://example.com"]})),
        ("ringing_timer", json!({"ringing_timer": 121})),
        ("length_timer", json!({"length_timer": 0})),
        ("machine_detection", json!({"machine_detection": "maybe"})),
    ];
    for (field, change) in cases {
        let mut request = valid();
        for (key, value) in change.as_object().unwrap() {
            request[key] = value.clone();
        }
        let problems = check_call_request(&body(request));
        assert!(
            problems.iter().any(|p| p.name == field),
            "{field}: {problems:?}"
        );
    }
}

#[test]
fn unknown_fields_are_refused() {
    let mut request = valid();
    request["ncco_url"] = json!("https://example.com");
    assert!(serde_json::from_value::<CallRequestBody>(request).is_err());
}

#[test]
fn reserved_numbers_choose_the_outcome() {
    for (number, default, chosen) in [
        ("447700900123", Outcome::Completed, Outcome::Completed),
        ("15550000486", Outcome::Completed, Outcome::Busy),
        ("15550000408", Outcome::Completed, Outcome::Unanswered),
        ("15550000500", Outcome::Completed, Outcome::Failed),
        ("447700900000", Outcome::Busy, Outcome::Busy),
    ] {
        assert_eq!(Outcome::for_number(number, default), chosen, "{number}");
    }
    assert_eq!(
        Outcome::Completed.statuses(),
        ["started", "ringing", "answered", "completed"]
    );
}

#[test]
fn reserved_numbers_choose_the_keypress_and_the_creation_answer() {
    let record = |to: &str| CallRecord {
        uuid: "u".into(),
        conversation_uuid: "CON-u".into(),
        to: to.into(),
        from: None,
        ncco: Value::Null,
        event_url: None,
        outcome: Outcome::for_number(to, Outcome::Completed),
        keypress: Keypress::for_number(to),
        creation: Creation::for_number(to),
        deliveries: Vec::new(),
        finished: false,
    };
    let pressed = |to: &str| input_body(&record(to))["dtmf"].clone();
    assert_eq!(
        pressed("447700900000"),
        json!({"digits": "1", "timed_out": false})
    );
    assert_eq!(
        pressed("447700900002"),
        json!({"digits": "2", "timed_out": false})
    );
    assert_eq!(
        pressed("447700900204"),
        json!({"digits": "", "timed_out": true})
    );
    for to in ["447700900002", "447700900204", "447700900504"] {
        assert_eq!(record(to).outcome, Outcome::Completed, "{to} is answered");
    }
    assert_eq!(
        Creation::for_number("447700900504"),
        Creation::GatewayTimeout
    );
    for to in [
        "447700900000",
        "447700900500",
        "447700900486",
        "447700900408",
    ] {
        assert_eq!(Creation::for_number(to), Creation::Created, "{to}");
        assert_eq!(Keypress::for_number(to), Keypress::One, "{to}");
    }
}

#[test]
fn timestamps_are_rfc3339_utc() {
    assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(format_rfc3339(1_800_000_000), "2027-01-15T08:00:00.000Z");
    assert_eq!(format_rfc3339(951_782_400), "2000-02-29T00:00:00.000Z");
}
