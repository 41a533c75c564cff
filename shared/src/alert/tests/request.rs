use super::*;

#[test]
fn a_code_is_read_digit_by_digit_twice() {
    let ncco = build_ncco(
        &request(json!({"to": "447700900000", "code": "4821"})),
        "en-US",
        EVENT,
    )
    .unwrap();
    assert_eq!(
        ncco.to_json(),
        json!([{"action": "talk", "text": "Your code is 4, 8, 2, 1.",
                "language": "en-US", "loop": 2}])
    );
}

#[test]
fn text_is_read_as_given_once_in_the_requested_language() {
    let ncco = build_ncco(
        &request(json!({"to": "447700900000", "text": "Disk full on db-1", "language": "en-GB"})),
        "en-US",
        EVENT,
    )
    .unwrap();
    assert_eq!(
        ncco.to_json(),
        json!([{"action": "talk", "text": "Disk full on db-1", "language": "en-GB", "loop": 1}])
    );
}

#[test]
fn confirm_adds_barge_in_talks_and_a_one_digit_input_posting_to_our_event_url() {
    let ncco = build_ncco(
        &request(json!({"to": "447700900000", "code": "4821", "repeat": 3, "confirm": true})),
        "en-US",
        EVENT,
    )
    .unwrap();
    assert_eq!(
        ncco.to_json(),
        json!([
            {"action": "talk", "text": "Your code is 4, 8, 2, 1.", "language": "en-US",
             "loop": 3, "bargeIn": true},
            {"action": "talk", "text": CONFIRM_PROMPT, "language": "en-US", "bargeIn": true},
            {"action": "input", "type": ["dtmf"],
             "dtmf": {"maxDigits": 1, "timeOut": CONFIRM_WAIT_SECONDS},
             "eventUrl": [EVENT]}
        ])
    );
}

#[test]
fn the_call_goes_to_the_normalised_number_with_our_event_url() {
    let call = create_call_request(
        &request(json!({"to": "+44 7700 900000", "from": "447700900009", "text": "hi"})),
        &config(),
    )
    .unwrap();
    let body = serde_json::to_value(&call).unwrap();
    assert_eq!(
        body["to"],
        json!([{"type": "phone", "number": "447700900000"}])
    );
    assert_eq!(
        body["from"],
        json!({"type": "phone", "number": "447700900009"})
    );
    assert_eq!(body["event_url"], json!([EVENT]));
    assert!(body.get("random_from_number").is_none());
}

#[test]
fn without_from_the_configured_caller_id_is_used() {
    let call = create_call_request(
        &request(json!({"to": "447700900000", "text": "hi"})),
        &config(),
    )
    .unwrap();
    assert_eq!(call.from, CallerId::RandomLinkedNumber);
}

#[test]
fn boundaries_that_are_accepted() {
    for input in [
        json!({"to": "1234567", "code": "1234"}),
        json!({"to": "123456789012345", "code": "1234567890"}),
        json!({"to": "447700900000", "text": "é".repeat(MAX_TEXT_CHARACTERS)}),
        json!({"to": "447700900000", "text": "x", "repeat": 1, "confirm": false}),
        json!({"to": "447700900000", "text": "x", "repeat": MAX_REPEAT, "from": null}),
        json!({"to": "447700900000", "text": "x", "language": "cmn-CN"}),
    ] {
        assert!(AlertRequest::from_json(&input).is_ok(), "{input}");
    }
}

/// Each bad input, the field it must be blamed on.
fn invalid_inputs() -> Vec<(Value, &'static str)> {
    vec![
        (json!("447700900000"), "$"),
        (json!({"code": "4821"}), "to"),
        (json!({"to": "123456", "code": "4821"}), "to"),
        (json!({"to": "1234567890123456", "code": "4821"}), "to"),
        (json!({"to": "44-7700-900000", "code": "4821"}), "to"),
        (json!({"to": 447700900000u64, "code": "4821"}), "to"),
        (
            json!({"to": "447700900000", "from": "12", "code": "4821"}),
            "from",
        ),
        (
            json!({"to": "447700900000", "from": "sender", "code": "4821"}),
            "from",
        ),
        (json!({"to": "447700900000"}), "code"),
        (
            json!({"to": "447700900000", "code": "4821", "text": "hi"}),
            "text",
        ),
        (json!({"to": "447700900000", "code": "123"}), "code"),
        (json!({"to": "447700900000", "code": "12345678901"}), "code"),
        (json!({"to": "447700900000", "code": "48a1"}), "code"),
        (json!({"to": "447700900000", "code": 4821}), "code"),
        (json!({"to": "447700900000", "text": ""}), "text"),
        (json!({"to": "447700900000", "text": "   "}), "text"),
        (
            json!({"to": "447700900000", "text": "a".repeat(MAX_TEXT_CHARACTERS + 1)}),
            "text",
        ),
        (
            json!({"to": "447700900000", "text": "<speak></speak>"}),
            "text",
        ),
        (
            json!({"to": "447700900000", "text": "hi", "language": "English"}),
            "language",
        ),
        (
            json!({"to": "447700900000", "text": "hi", "language": 1}),
            "language",
        ),
        (
            json!({"to": "447700900000", "text": "hi", "repeat": 0}),
            "repeat",
        ),
        (
            json!({"to": "447700900000", "text": "hi", "repeat": 11}),
            "repeat",
        ),
        (
            json!({"to": "447700900000", "text": "hi", "repeat": 1.5}),
            "repeat",
        ),
        (
            json!({"to": "447700900000", "text": "hi", "confirm": "yes"}),
            "confirm",
        ),
        (
            json!({"to": "447700900000", "text": "hi", "txet": "typo"}),
            "txet",
        ),
    ]
}

#[test]
fn each_invalid_field_is_named() {
    for (input, field) in invalid_inputs() {
        // "<speak></speak>" passes the request check and is caught building the NCCO.
        let refused = match AlertRequest::from_json(&input) {
            Err(invalid) => invalid,
            Ok(request) => create_call_request(&request, &config()).unwrap_err(),
        };
        assert_eq!(refused.field, field, "{input}: {refused}");
        assert!(!refused.message.is_empty());
    }
}

#[test]
fn an_unknown_field_name_of_any_length_comes_back_cut_and_still_recognisable() {
    let name = format!("callback{}", "x".repeat(5 * 1024 * 1024));
    let mut input = json!({"to": "447700900000", "code": "4821"});
    input[name.as_str()] = json!("https://example.com");
    let payload = AlertError::from(refusal(input)).to_json();
    let field = payload["field"].as_str().unwrap();
    let message = payload["message"].as_str().unwrap();
    assert!(field.len() < 200, "{} bytes of field", field.len());
    assert!(message.len() < 200, "{} bytes of message", message.len());
    assert!(field.starts_with("callbackxxxx"), "{field}");
    assert!(
        field.ends_with(&format!("({} chars)", name.len())),
        "says how long the name was: {field}"
    );
    assert!(message.contains("not a known field"), "{message}");

    let mut input = json!({"to": "447700900000", "code": "4821"});
    input["bad\nname\u{1b}[31m"] = json!(1);
    assert_eq!(refusal(input).field, "bad\\nname\\u{1b}[31m");
}

#[test]
fn invalid_input_serialises_with_error_field_and_message() {
    let error = AlertError::from(refusal(json!({"to": "12", "code": "4821"})));
    let payload = error.to_json();
    assert_eq!(payload["error"], "invalid_input");
    assert_eq!(payload["field"], "to");
    assert!(
        payload["message"]
            .as_str()
            .unwrap()
            .contains("7 to 15 digits")
    );
}
