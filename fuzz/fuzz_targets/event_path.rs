//! The functions' request path from the raw Lambda event: JSON bytes → `http::respond` (what
//! `http::run` does with each invocation: the checks on the raw event, `lambda_http`'s request,
//! the handler, the response as API Gateway reads it) with the event and the answer handlers.
//! The seeds are the API Gateway fixtures (payload 1.0 and 2.0), signed with the secret the
//! handlers' store holds and verified on a clock at their `iat`, so mutations start from requests
//! that are accepted. Invariants: no panic (with `panic = "abort"` a panic takes the instance
//! down), and every response's `statusCode` is one the README documents.
//!
//! Inputs stay JSON text, so a finding is an event one can read and replay, but half of the
//! mutations are made on the parsed event (see [`mutate_json`]): byte-level mutations of a 3 KB
//! event rarely produce an empty list or a header value of `"`, which lambda_http chokes on.
#![no_main]

use std::sync::{Arc, LazyLock};

use libfuzzer_sys::{fuzz_mutator, fuzz_target, fuzzer_mutate};
use serde_json::Value;
use vonage_voice_lambda::clock::ManualClock;
use vonage_voice_lambda::http::{HttpRequest, respond, serve_answer, serve_event};
use vonage_voice_lambda::secrets::{InMemorySecretStore, WebhookSecret};
use vonage_voice_lambda::settings::webhook::{AnswerConfig, EventConfig};
use vonage_voice_lambda::settings::{
    UNSIGNED_EVENT_STATUSES, WEBHOOK_MAX_BODY_BYTES, WEBHOOK_SECRET_ID,
};
use vonage_voice_lambda::state::MemoryReplayStore;
use vonage_voice_lambda::webhook::{AnswerHandler, EventHandler};
use vonage_voice_lambda_fuzz::{API_KEY, APPLICATION_ID, SECRET_ID, SIGNATURE_SECRET, SIGNED_AT};

/// 200 accepted or a duplicate answered as the first time, 400 an event the functions cannot
/// read, 401 refused, 413 a body over the limit, 503 unsigned where a signature is needed or the
/// secret unavailable.
const DOCUMENTED_STATUSES: [u64; 5] = [200, 400, 401, 413, 503];

/// Well under the 64 KiB default and under `-max_len`, so that 413 is within the fuzzer's reach
/// while genuine bodies (a few hundred bytes) pass.
const MAX_BODY_BYTES: &str = "2048";

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime starts")
});

static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    WebhookSecret::new(SIGNATURE_SECRET, API_KEY, Some(APPLICATION_ID.into())).to_json()
});

static EVENT_CONFIG: LazyLock<EventConfig> = LazyLock::new(|| {
    let settings = [
        (WEBHOOK_SECRET_ID, SECRET_ID),
        (UNSIGNED_EVENT_STATUSES, "input"),
        (WEBHOOK_MAX_BODY_BYTES, MAX_BODY_BYTES),
    ];
    EventConfig::from_settings(&settings).expect("valid settings")
});

static ANSWER_CONFIG: LazyLock<AnswerConfig> = LazyLock::new(|| {
    let settings = [
        (WEBHOOK_SECRET_ID, SECRET_ID),
        (WEBHOOK_MAX_BODY_BYTES, MAX_BODY_BYTES),
    ];
    AnswerConfig::from_settings(&settings).expect("valid settings")
});

fuzz_target!(|data: &[u8]| {
    let Ok(event) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    // Fresh handlers for every input, so that no replay cache or secret cache carries one input's
    // effect into the next and every crash reproduces from its input alone.
    let store = Arc::new(InMemorySecretStore::new().with_secret(SECRET_ID, DOCUMENT.as_str()));
    let clock = Arc::new(ManualClock::at(SIGNED_AT));
    let deliveries = Arc::new(MemoryReplayStore::default());
    let event_handler = Arc::new(EventHandler::new(
        &EVENT_CONFIG,
        store.clone(),
        deliveries.clone(),
        clock.clone(),
    ));
    let answer_handler = Arc::new(AnswerHandler::new(&ANSWER_CONFIG, store, deliveries, clock));

    let event_function = Arc::new(move |request: HttpRequest| {
        let handler = Arc::clone(&event_handler);
        async move { serve_event(&handler, request).await }
    });
    let answer_function = Arc::new(move |request: HttpRequest| {
        let handler = Arc::clone(&answer_handler);
        async move { serve_answer(&handler, request).await }
    });
    let context = lambda_http::Context::default;
    let responses = RUNTIME.block_on(async {
        [
            (
                "event",
                respond(
                    EVENT_CONFIG.webhook.request_limits(),
                    event.clone(),
                    context(),
                    event_function,
                )
                .await,
            ),
            (
                "answer",
                respond(
                    ANSWER_CONFIG.webhook.request_limits(),
                    event,
                    context(),
                    answer_function,
                )
                .await,
            ),
        ]
    });
    for (function, response) in responses {
        let status = response["statusCode"].as_u64();
        assert!(
            status.is_some_and(|status| DOCUMENTED_STATUSES.contains(&status)),
            "the {function} function answered {response}"
        );
    }
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    let mut rng = Rng(u64::from(seed) | 1 << 32);
    if rng.below(2) == 0 {
        return fuzzer_mutate(data, size, max_size);
    }
    let Ok(mut event) = serde_json::from_slice::<Value>(&data[..size]) else {
        return fuzzer_mutate(data, size, max_size);
    };
    mutate_json(&mut event, &mut rng);
    let mutated = event.to_string();
    if mutated.len() > max_size {
        return fuzzer_mutate(data, size, max_size);
    }
    data[..mutated.len()].copy_from_slice(mutated.as_bytes());
    mutated.len()
});

/// xorshift64*: enough to pick mutations deterministically from libFuzzer's seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as usize % bound.max(1)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Values API Gateway would never send but a hostile or careless caller of the function URL or
/// the Lambda API can: characters URIs and hosts refuse, empty things, odd schemes.
const ODD_STRINGS: [&str; 16] = [
    "", " ", "\"", "a b", "ht tp", "[", "]", "%", "%zz", "#", "?", "/", "\u{0}", "\u{7f}",
    "\u{e9}", "x:99999",
];

/// Keys the handlers or lambda_http read, at any level.
const KEYS: [&str; 20] = [
    "version",
    "rawPath",
    "rawQueryString",
    "httpMethod",
    "path",
    "headers",
    "multiValueHeaders",
    "queryStringParameters",
    "multiValueQueryStringParameters",
    "requestContext",
    "domainName",
    "stage",
    "body",
    "isBase64Encoded",
    "cookies",
    "host",
    "Host",
    "x-forwarded-proto",
    "X-Forwarded-Proto",
    "authorization",
];

/// One structural change at a node picked uniformly from the whole event.
fn mutate_json(event: &mut Value, rng: &mut Rng) {
    let count = count_nodes(event);
    let target = rng.below(count);
    let mut seen = 0;
    if let Some(node) = nth_node(event, target, &mut seen) {
        mutate_node(node, rng);
    }
}

fn count_nodes(value: &Value) -> usize {
    1 + match value {
        Value::Array(items) => items.iter().map(count_nodes).sum(),
        Value::Object(fields) => fields.values().map(count_nodes).sum(),
        _ => 0,
    }
}

fn nth_node<'a>(value: &'a mut Value, target: usize, seen: &mut usize) -> Option<&'a mut Value> {
    if *seen == target {
        return Some(value);
    }
    *seen += 1;
    match value {
        Value::Array(items) => items
            .iter_mut()
            .find_map(|item| nth_node(item, target, seen)),
        Value::Object(fields) => fields
            .values_mut()
            .find_map(|field| nth_node(field, target, seen)),
        _ => None,
    }
}

fn mutate_node(node: &mut Value, rng: &mut Rng) {
    match (rng.below(4), node) {
        (0, node) => {
            *node = match rng.below(7) {
                0 => Value::Null,
                1 => Value::Bool(rng.below(2) == 0),
                2 => Value::from(rng.below(1000)),
                3 => Value::Array(Vec::new()),
                4 => Value::Object(serde_json::Map::new()),
                5 => Value::Array(vec![Value::from(rng.pick(&ODD_STRINGS))]),
                _ => Value::from(rng.pick(&ODD_STRINGS)),
            }
        }
        (_, Value::String(text)) => {
            let odd = rng.pick(&ODD_STRINGS);
            *text = match rng.below(3) {
                0 => odd.to_owned(),
                1 => {
                    let mut at = rng.below(text.len() + 1);
                    while !text.is_char_boundary(at) {
                        at -= 1;
                    }
                    format!("{}{odd}{}", &text[..at], &text[at..])
                }
                _ => {
                    let mut bytes = text.clone().into_bytes();
                    let size = bytes.len();
                    bytes.resize(size * 2 + 16, 0);
                    let new_size = fuzzer_mutate(&mut bytes, size, size + 16);
                    String::from_utf8_lossy(&bytes[..new_size]).into_owned()
                }
            };
        }
        (_, Value::Array(items)) => match rng.below(3) {
            0 => items.clear(),
            1 if !items.is_empty() => {
                items.remove(rng.below(items.len()));
            }
            _ => items.push(Value::from(rng.pick(&ODD_STRINGS))),
        },
        (_, Value::Object(fields)) => match rng.below(3) {
            0 if !fields.is_empty() => {
                let at = rng.below(fields.len());
                if let Some(name) = fields.keys().nth(at).cloned() {
                    fields.shift_remove(&name);
                }
            }
            1 => {
                let value = match rng.below(3) {
                    0 => Value::from(rng.pick(&ODD_STRINGS)),
                    1 => Value::Array(vec![Value::from(rng.pick(&ODD_STRINGS))]),
                    _ => Value::Object(serde_json::Map::new()),
                };
                fields.insert(rng.pick(&KEYS).to_owned(), value);
            }
            _ => {
                // The same field under another case, as a second header of that name.
                let at = rng.below(fields.len());
                if let Some((name, value)) = fields.iter().nth(at) {
                    let (name, value) = (name.to_ascii_uppercase(), value.clone());
                    fields.insert(name, value);
                }
            }
        },
        (_, node) => *node = Value::from(rng.pick(&ODD_STRINGS)),
    }
}
