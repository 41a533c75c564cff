//! Vonage Voice webhook payloads, parsed leniently.
//!
//! Vonage adds statuses and fields over time, so nothing here is a schema: a payload is kept whole
//! as a JSON object, and accessors read the few fields logs and decisions need. A field we do not
//! know, a status we have never seen, or a field of an unexpected type is never a reason to fail.

use serde_json::{Map, Value};

use crate::outcome::machine::CONFIRM_DIGIT;
use crate::vonage::ncco::{Action, Ncco, Talk};

/// What a callee who pressed 1 hears.
pub const CONFIRMED_REPLY: &str = "Thank you. Your confirmation is recorded. Goodbye.";
/// What a callee who pressed another key, or none, hears.
pub const NOT_CONFIRMED_REPLY: &str = "No confirmation was received. Goodbye.";

/// One answer or event webhook's parameters: the JSON body of a POST, or the query of a GET.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VoiceEvent {
    fields: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
/// Why an event body could not be read.
pub enum EventParseError {
    #[error("the body is not JSON (line {line}, column {column})")]
    /// The body is not JSON; only the position is kept.
    NotJson {
        /// The line where the JSON stops parsing.
        line: usize,
        /// The column where the JSON stops parsing.
        column: usize,
    },
    #[error("the body is JSON but not an object")]
    /// The body is JSON but not an object.
    NotAnObject,
}

impl VoiceEvent {
    /// Reads the webhook's parameters the way Vonage sends them: the query string for a GET (or a
    /// request without a body), the JSON body otherwise.
    pub fn from_request(
        method: &str,
        query: Option<&str>,
        body: &[u8],
    ) -> Result<Self, EventParseError> {
        let body_is_blank = body.iter().all(u8::is_ascii_whitespace);
        if method.eq_ignore_ascii_case("GET") || body_is_blank {
            return Ok(Self::from_query(query.unwrap_or_default()));
        }
        Self::from_json(body)
    }

    /// Reads a POSTed event's JSON body.
    pub fn from_json(body: &[u8]) -> Result<Self, EventParseError> {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(fields)) => Ok(Self { fields }),
            Ok(_) => Err(EventParseError::NotAnObject),
            Err(error) => Err(EventParseError::NotJson {
                line: error.line(),
                column: error.column(),
            }),
        }
    }

    /// The call's uuid as an unverified request claims it (`uuid`, else `call_uuid`), for logs
    /// before the verdict. A JSON body is read by `serde_json` keeping those two strings and
    /// skipping everything else, so an unverified body is never parsed into a tree; the whole
    /// request is parsed ([`Self::from_request`]) only once its token verified. A body that is
    /// not such an object claims nothing.
    pub fn claimed_call_uuid(method: &str, query: Option<&str>, body: &[u8]) -> Option<String> {
        #[derive(serde::Deserialize)]
        struct Claimed<'a> {
            #[serde(borrow, default)]
            uuid: Option<std::borrow::Cow<'a, str>>,
            #[serde(borrow, default)]
            call_uuid: Option<std::borrow::Cow<'a, str>>,
        }
        let body_is_blank = body.iter().all(u8::is_ascii_whitespace);
        if method.eq_ignore_ascii_case("GET") || body_is_blank {
            // As in `from_query`, a repeated name's last value counts.
            let (mut uuid, mut call_uuid) = (None, None);
            for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
                match name.as_ref() {
                    "uuid" => uuid = Some(value),
                    "call_uuid" => call_uuid = Some(value),
                    _ => {}
                }
            }
            return uuid.or(call_uuid).map(std::borrow::Cow::into_owned);
        }
        let claimed = serde_json::from_slice::<Claimed<'_>>(body).ok()?;
        claimed
            .uuid
            .or(claimed.call_uuid)
            .map(std::borrow::Cow::into_owned)
    }

    /// Query parameters as string fields, in order; a repeated name keeps its last value.
    pub fn from_query(query: &str) -> Self {
        let fields = form_urlencoded::parse(query.as_bytes())
            .map(|(name, value)| (name.into_owned(), Value::String(value.into_owned())))
            .collect();
        Self { fields }
    }

    /// The call's id. Most events carry `uuid`; `human`/`machine` carry `call_uuid` instead.
    pub fn call_uuid(&self) -> Option<&str> {
        self.text("uuid").or_else(|| self.text("call_uuid"))
    }

    /// The `conversation_uuid` field.
    pub fn conversation_uuid(&self) -> Option<&str> {
        self.text("conversation_uuid")
    }

    /// The `status` field.
    pub fn status(&self) -> Option<&str> {
        self.text("status")
    }

    /// What kind of event this is: its `status` when it has one, otherwise a name inferred from its
    /// shape, because some webhooks carry no status at all (`input` results, recordings,
    /// transfers, and the answer function's own `notify` progress marker). Unknown shapes are
    /// `"unknown"`. Compared with `UNSIGNED_EVENT_STATUSES`.
    pub fn kind(&self) -> &str {
        if let Some(status) = self.status() {
            return status;
        }
        if self.fields.contains_key("dtmf") || self.fields.contains_key("speech") {
            return "input";
        }
        if self.fields.contains_key("recording_url") {
            return "record";
        }
        if self.fields.contains_key(NOTIFY_MARKER) {
            return "notify";
        }
        self.text("type").unwrap_or("unknown")
    }

    /// The `direction` field.
    pub fn direction(&self) -> Option<&str> {
        self.text("direction")
    }

    /// The `timestamp` field.
    pub fn timestamp(&self) -> Option<&str> {
        self.text("timestamp")
    }

    /// The `start_time` field.
    pub fn start_time(&self) -> Option<&str> {
        self.text("start_time")
    }

    /// The `end_time` field.
    pub fn end_time(&self) -> Option<&str> {
        self.text("end_time")
    }

    /// The `from` field.
    pub fn from(&self) -> Option<&str> {
        self.text("from")
    }

    /// The `to` field.
    pub fn to(&self) -> Option<&str> {
        self.text("to")
    }

    /// A field as text, when it is a string; any other type reads as absent rather than failing.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(Value::as_str)
    }

    /// Every field as received, known or not.
    /// The keys pressed, for an `input` webhook.
    pub fn dtmf_digits(&self) -> Option<&str> {
        self.fields.get("dtmf")?.get("digits")?.as_str()
    }

    /// What the call should do next after an `input` webhook: Vonage waits for an NCCO in reply.
    /// A confirmed alert (the callee pressed 1) is thanked; anything else is told so. Other
    /// events need no reply.
    pub fn reply_ncco(&self) -> Option<Ncco> {
        if self.kind() != "input" {
            return None;
        }
        let text = match self.dtmf_digits() {
            Some(CONFIRM_DIGIT) => CONFIRMED_REPLY,
            _ => NOT_CONFIRMED_REPLY,
        };
        Ncco::new(vec![Action::Talk(Talk::new(text))]).ok()
    }

    /// Every field, as sent.
    pub fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }
}

/// The payload key the answer function's `notify` action sends, so the event function can tell
/// that request apart from Vonage's own events (it has no `status`).
pub const NOTIFY_MARKER: &str = "notify";

#[cfg(test)]
mod tests {
    #[test]
    fn the_claimed_call_uuid_is_the_one_the_parsed_request_would_give() {
        let requests: [(&str, Option<&str>, &[u8]); 7] = [
            (
                "POST",
                None,
                br#"{"uuid":"u-1","status":"answered","call_uuid":"c-1"}"#,
            ),
            (
                "POST",
                None,
                br#"{"status":"human","call_uuid":"c-2","nested":{"uuid":"x"}}"#,
            ),
            (
                "POST",
                None,
                br#"{"uuid":"u-\u0033","list":[1,[2,{"a":null}]]}"#,
            ),
            ("POST", None, br#"{"status":"ringing"}"#),
            ("GET", Some("status=started&uuid=u-4&uuid=u-5"), b""),
            ("GET", Some("call_uuid=c-6&to=447700900000"), b""),
            ("POST", Some("uuid=q-7"), b"  "),
        ];
        for (method, query, body) in requests {
            let parsed = super::VoiceEvent::from_request(method, query, body).expect("parses");
            assert_eq!(
                super::VoiceEvent::claimed_call_uuid(method, query, body).as_deref(),
                parsed.call_uuid(),
                "{method} {query:?} {}",
                String::from_utf8_lossy(body)
            );
        }
        for not_an_event in [&b"[1,2]"[..], b"\"uuid\"", b"{\"uuid\":", b"{\"uuid\":5}"] {
            assert_eq!(
                super::VoiceEvent::claimed_call_uuid("POST", None, not_an_event),
                None
            );
        }
    }

    use super::*;

    #[test]
    fn keeps_unknown_fields_and_statuses() {
        let body = br#"{"uuid":"u-1","status":"teleported","direction":"inbound","brand_new":{"x":1},"timestamp":"2027-01-15T08:00:00.000Z"}"#;
        let event = VoiceEvent::from_json(body).unwrap();
        assert_eq!(event.call_uuid(), Some("u-1"));
        assert_eq!(event.status(), Some("teleported"));
        assert_eq!(event.kind(), "teleported");
        assert_eq!(event.direction(), Some("inbound"));
        assert_eq!(event.timestamp(), Some("2027-01-15T08:00:00.000Z"));
        assert_eq!(event.fields()["brand_new"], serde_json::json!({"x": 1}));
    }

    #[test]
    fn human_and_machine_events_carry_call_uuid() {
        let event = VoiceEvent::from_json(
            br#"{"call_uuid":"c-9","status":"machine","sub_state":"beep_start"}"#,
        )
        .unwrap();
        assert_eq!(event.call_uuid(), Some("c-9"));
        assert_eq!(event.kind(), "machine");
    }

    #[test]
    fn unexpected_types_read_as_absent_instead_of_failing() {
        let event = VoiceEvent::from_json(
            br#"{"uuid":42,"status":null,"direction":["in"],"duration":"12"}"#,
        )
        .unwrap();
        assert_eq!(event.call_uuid(), None);
        assert_eq!(event.status(), None);
        assert_eq!(event.direction(), None);
        assert_eq!(event.text("duration"), Some("12"));
        assert_eq!(event.kind(), "unknown");
    }

    #[test]
    fn completed_events_expose_their_times() {
        let event = VoiceEvent::from_json(
            br#"{"uuid":"u","status":"completed","start_time":"2027-01-15T08:00:00.000Z","end_time":"2027-01-15T08:00:09.000Z","duration":"9","price":"0.0013","rate":"0.0085"}"#,
        )
        .unwrap();
        assert_eq!(event.start_time(), Some("2027-01-15T08:00:00.000Z"));
        assert_eq!(event.end_time(), Some("2027-01-15T08:00:09.000Z"));
    }

    #[test]
    fn statusless_webhooks_get_a_kind_from_their_shape() {
        let kind = |json: &str| {
            VoiceEvent::from_json(json.as_bytes())
                .unwrap()
                .kind()
                .to_owned()
        };
        assert_eq!(kind(r#"{"uuid":"u","dtmf":{"digits":"1"}}"#), "input");
        assert_eq!(kind(r#"{"uuid":"u","speech":{"results":[]}}"#), "input");
        assert_eq!(
            kind(r#"{"recording_url":"https://x","recording_uuid":"r"}"#),
            "record"
        );
        assert_eq!(
            kind(r#"{"type":"transfer","conversation_uuid_to":"c"}"#),
            "transfer"
        );
        assert_eq!(kind(r#"{"notify":"greeting_played"}"#), "notify");
        assert_eq!(kind(r#"{"status":"input","dtmf":{}}"#), "input");
    }

    #[test]
    fn get_webhooks_are_read_from_the_query_in_order() {
        let event = VoiceEvent::from_request(
            "GET",
            Some("to=447700900000&from=447700900001&uuid=u%2D1&conversation_uuid=CON-1"),
            b"",
        )
        .unwrap();
        assert_eq!(event.call_uuid(), Some("u-1"));
        assert_eq!(event.to(), Some("447700900000"));
        let names: Vec<&str> = event.fields().keys().map(String::as_str).collect();
        assert_eq!(names, ["to", "from", "uuid", "conversation_uuid"]);
    }

    #[test]
    fn a_post_without_a_body_falls_back_to_the_query() {
        let event = VoiceEvent::from_request("POST", Some("uuid=u-2"), b"  ").unwrap();
        assert_eq!(event.call_uuid(), Some("u-2"));
    }

    #[test]
    fn bodies_that_are_not_objects_are_refused_with_a_position_only() {
        assert_eq!(
            VoiceEvent::from_request("POST", None, b"[1,2]"),
            Err(EventParseError::NotAnObject)
        );
        let error = VoiceEvent::from_json(b"{\"uuid\": sec").unwrap_err();
        assert!(matches!(error, EventParseError::NotJson { line: 1, .. }));
        assert!(!error.to_string().contains("sec"), "{error}");
    }

    #[test]
    fn an_input_webhook_gets_an_ncco_in_reply_and_other_events_none() {
        let confirmed = VoiceEvent::from_json(
            br#"{"uuid":"u","dtmf":{"digits":"1","timed_out":false},"speech":{"results":[]}}"#,
        )
        .unwrap();
        assert_eq!(confirmed.dtmf_digits(), Some("1"));
        let reply = confirmed.reply_ncco().unwrap().to_json();
        assert_eq!(reply[0]["action"], "talk");
        assert!(
            reply[0]["text"]
                .as_str()
                .unwrap()
                .contains("confirmation is recorded")
        );

        let timed_out =
            VoiceEvent::from_json(br#"{"uuid":"u","dtmf":{"digits":"","timed_out":true}}"#)
                .unwrap();
        let reply = timed_out.reply_ncco().unwrap().to_json();
        assert!(
            reply[0]["text"]
                .as_str()
                .unwrap()
                .starts_with("No confirmation")
        );

        let answered = VoiceEvent::from_json(br#"{"uuid":"u","status":"answered"}"#).unwrap();
        assert_eq!(answered.reply_ncco(), None);
    }
}
