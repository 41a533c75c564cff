use super::*;
use serde_json::json;

#[test]
fn talk_and_input_serialise_with_vonage_field_names() {
    let mut talk = Talk::new("Press 1 to confirm");
    talk.barge_in = Some(true);
    talk.repeat = Some(2);
    talk.level = Some(0.5);
    talk.language = Some("en-GB".into());
    let ncco = Ncco::new(vec![
        Action::Talk(talk),
        Action::Input(Input::dtmf(1, 5, "https://example.com/event")),
    ])
    .unwrap();
    assert_eq!(
        serde_json::to_value(&ncco).unwrap(),
        json!([
            {"action": "talk", "text": "Press 1 to confirm", "language": "en-GB",
             "loop": 2, "level": 0.5, "bargeIn": true},
            {"action": "input", "type": ["dtmf"], "dtmf": {"maxDigits": 1, "timeOut": 5},
             "eventUrl": ["https://example.com/event"]}
        ])
    );
}

#[test]
fn plain_talk_carries_only_what_was_set() {
    let ncco = Ncco::new(vec![Action::Talk(Talk::new("Disk full"))]).unwrap();
    assert_eq!(
        ncco.to_json(),
        json!([{"action": "talk", "text": "Disk full"}])
    );
}

#[test]
fn empty_ncco_is_refused() {
    assert_eq!(Ncco::new(vec![]), Err(NccoError::Empty));
}

#[test]
fn text_of_1500_characters_is_accepted_and_1501_refused() {
    let ok = Talk::new("é".repeat(MAX_TALK_CHARACTERS));
    assert!(Ncco::new(vec![Action::Talk(ok)]).is_ok());
    let long = Talk::new("a".repeat(MAX_TALK_CHARACTERS + 1));
    assert_eq!(
        Ncco::new(vec![Action::Talk(long)]),
        Err(NccoError::TextTooLong {
            index: 0,
            length: 1501
        })
    );
}

#[test]
fn ssml_tags_do_not_count_against_the_limit() {
    let text = format!("<speak>{}</speak>", "a".repeat(MAX_TALK_CHARACTERS));
    assert!(Ncco::new(vec![Action::Talk(Talk::new(text))]).is_ok());
}

#[test]
fn empty_text_is_refused() {
    assert_eq!(
        Ncco::new(vec![Action::Talk(Talk::new(""))]),
        Err(NccoError::EmptyText { index: 0 })
    );
}

#[test]
fn level_outside_minus_one_to_one_is_refused() {
    for level in [-1.0, 0.0, 1.0] {
        let mut talk = Talk::new("hi");
        talk.level = Some(level);
        assert!(Ncco::new(vec![Action::Talk(talk)]).is_ok(), "{level}");
    }
    for level in [-1.01, 1.01, f32::NAN] {
        let mut talk = Talk::new("hi");
        talk.level = Some(level);
        assert_eq!(
            Ncco::new(vec![Action::Talk(talk)]),
            Err(NccoError::LevelOutOfRange { index: 0 }),
            "{level}"
        );
    }
}

#[test]
fn barge_in_needs_a_following_input() {
    let mut talk = Talk::new("hi");
    talk.barge_in = Some(true);
    assert_eq!(
        Ncco::new(vec![Action::Talk(talk.clone())]),
        Err(NccoError::BargeInWithoutInput { index: 0 })
    );
    // Further talks may sit between the barge-in talk and its input.
    let ok = Ncco::new(vec![
        Action::Talk(talk),
        Action::Talk(Talk::new("again")),
        Action::Input(Input::dtmf(1, 5, "https://e.example/event")),
    ]);
    assert!(ok.is_ok());
}

#[test]
fn barge_in_false_needs_nothing_after_it() {
    let mut talk = Talk::new("hi");
    talk.barge_in = Some(false);
    assert!(Ncco::new(vec![Action::Talk(talk)]).is_ok());
}

#[test]
fn input_ranges_are_checked() {
    let no_type = Input {
        kinds: vec![],
        ..Input::dtmf(1, 5, "https://e.example")
    };
    assert_eq!(
        Ncco::new(vec![Action::Input(no_type)]),
        Err(NccoError::InputWithoutType { index: 0 })
    );
    assert_eq!(
        Ncco::new(vec![Action::Input(Input::dtmf(0, 5, "https://e.example"))]),
        Err(NccoError::MaxDigitsOutOfRange { index: 0 })
    );
    assert_eq!(
        Ncco::new(vec![Action::Input(Input::dtmf(21, 5, "https://e.example"))]),
        Err(NccoError::MaxDigitsOutOfRange { index: 0 })
    );
    assert_eq!(
        Ncco::new(vec![Action::Input(Input::dtmf(1, 11, "https://e.example"))]),
        Err(NccoError::TimeOutOutOfRange { index: 0 })
    );
}

#[test]
fn notify_serialises_with_vonage_field_names_and_needs_one_url() {
    let mut payload = Map::new();
    payload.insert("notify".into(), "greeting_played".into());
    let ncco = Ncco::new(vec![
        Action::Talk(Talk::new("Hello")),
        Action::Notify(Notify::post(payload.clone(), "https://e.example/event")),
    ])
    .unwrap();
    assert_eq!(
        ncco.to_json(),
        json!([
            {"action": "talk", "text": "Hello"},
            {"action": "notify", "payload": {"notify": "greeting_played"},
             "eventUrl": ["https://e.example/event"], "eventMethod": "POST"}
        ])
    );
    for urls in [
        vec![],
        vec!["not a url".to_owned()],
        vec!["ftp://e.example".to_owned()],
    ] {
        let notify = Notify {
            payload: payload.clone(),
            target: EventTarget {
                event_url: urls,
                event_method: None,
            },
        };
        assert_eq!(
            Ncco::new(vec![Action::Notify(notify)]),
            Err(NccoError::NotifyUrl { index: 0 })
        );
    }
}

#[test]
fn an_ncco_reads_back_from_its_json_only_when_valid() {
    let mut talk = Talk::new("Press 1");
    talk.barge_in = Some(true);
    let ncco = Ncco::new(vec![
        Action::Talk(talk),
        Action::Input(Input::dtmf(1, 5, "https://e.example/event")),
    ])
    .unwrap();
    assert_eq!(
        serde_json::from_value::<Ncco>(ncco.to_json()).unwrap(),
        ncco
    );
    for invalid in [
        json!([]),
        json!([{"action": "talk", "text": ""}]),
        json!([{"action": "teleport"}]),
        json!({"action": "talk", "text": "hi"}),
    ] {
        assert!(
            serde_json::from_value::<Ncco>(invalid.clone()).is_err(),
            "{invalid}"
        );
    }
}

#[test]
fn codes_are_spoken_digit_by_digit() {
    assert_eq!(code_as_spoken_digits("4821").unwrap(), "4, 8, 2, 1");
    assert_eq!(code_as_spoken_digits("0").unwrap(), "0");
    assert_eq!(code_as_spoken_digits("12a4"), Err(NccoError::CodeNotDigits));
    assert_eq!(code_as_spoken_digits(""), Err(NccoError::CodeNotDigits));
    assert_eq!(code_as_spoken_digits("١٢٣"), Err(NccoError::CodeNotDigits));
}
