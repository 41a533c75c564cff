//! Vonage's side of the webhook contract: how long Vonage waits for each webhook
//! (`connect_timeout`, `socket_timeout`) and where it goes when one fails
//! (`fallback_answer_url`), checked against the functions.
//!
//! Vonage gives up on a webhook after its socket timeout, tries again (one or two more attempts,
//! depending on which of Vonage's pages is read), then calls the fallback answer URL. A function
//! that may run longer than the socket timeout answers a request Vonage has already abandoned,
//! and its retry meets a busy function; a fallback URL outside the stack sends the call to
//! something this stack neither verifies nor logs.

use std::fmt;
use std::time::Duration;

use serde_json::Value;

/// The answer function's timeout (`Timeout` in `template.yaml`, which a template test holds to
/// this value).
pub const ANSWER_FUNCTION_TIMEOUT: Duration = Duration::from_secs(3);
/// The event function's timeout (`Timeout` in `template.yaml`).
pub const EVENT_FUNCTION_TIMEOUT: Duration = Duration::from_secs(6);

/// Vonage's defaults when a webhook object gives no timeout (Applications API spec).
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 1000;
/// Vonage's answer webhook socket timeout when the application sets none.
pub const DEFAULT_ANSWER_SOCKET_TIMEOUT_MS: u64 = 5000;
/// Vonage's event webhook socket timeout when the application sets none.
pub const DEFAULT_EVENT_SOCKET_TIMEOUT_MS: u64 = 10000;
/// Vonage's fallback answer webhook socket timeout when the application sets none.
pub const DEFAULT_FALLBACK_SOCKET_TIMEOUT_MS: u64 = 5000;

/// One webhook's address and how long Vonage waits for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookTiming {
    /// `answer_url`, `event_url` or `fallback_answer_url`.
    pub name: &'static str,
    /// The webhook's URL, when set.
    pub address: Option<String>,
    /// How long Vonage waits to connect, in milliseconds.
    pub connect_timeout_ms: u64,
    /// How long Vonage waits for the answer, in milliseconds.
    pub socket_timeout_ms: u64,
    /// True when the application gives no `socket_timeout` and Vonage's default applies.
    pub socket_timeout_defaulted: bool,
}

impl WebhookTiming {
    fn of(application: &Value, name: &'static str, default_socket_ms: u64) -> Self {
        let webhook = application.pointer(&format!("/capabilities/voice/webhooks/{name}"));
        let field = |field: &str| webhook.and_then(|webhook| webhook.get(field));
        let millis = |name: &str| field(name).and_then(Value::as_u64);
        Self {
            name,
            address: field("address")
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|address| !address.is_empty())
                .map(str::to_owned),
            connect_timeout_ms: millis("connect_timeout").unwrap_or(DEFAULT_CONNECT_TIMEOUT_MS),
            socket_timeout_ms: millis("socket_timeout").unwrap_or(default_socket_ms),
            socket_timeout_defaulted: millis("socket_timeout").is_none(),
        }
    }
}

impl fmt::Display for WebhookTiming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let defaulted = if self.socket_timeout_defaulted {
            " (Vonage's default)"
        } else {
            ""
        };
        write!(
            f,
            "{}: {}, connect_timeout {} ms, socket_timeout {} ms{defaulted}",
            self.name,
            self.address.as_deref().unwrap_or("(not set)"),
            self.connect_timeout_ms,
            self.socket_timeout_ms
        )
    }
}

/// What is wrong with Vonage's side of the contract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContractProblem {
    /// The function serving `webhook` may run longer than Vonage waits for it.
    FunctionOutlastsSocket {
        /// `answer` or `event`.
        webhook: &'static str,
        /// The function's timeout in the template, in milliseconds.
        function_timeout_ms: u64,
        /// Vonage's socket timeout for the webhook, in milliseconds.
        socket_timeout_ms: u64,
    },
    /// `fallback_answer_url` is not on the stack's origin (scheme, host and port of the answer
    /// URL the stack expects).
    FallbackOutsideStack {
        /// The fallback URL as the application has it.
        address: String,
        /// The origin the stack's answer URL has.
        stack_origin: String,
    },
}

impl fmt::Display for ContractProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContractProblem::FunctionOutlastsSocket {
                webhook,
                function_timeout_ms,
                socket_timeout_ms,
            } => write!(
                f,
                "{webhook}: the function may run {function_timeout_ms} ms, longer than the \
                 {socket_timeout_ms} ms Vonage waits (socket_timeout) before it retries"
            ),
            ContractProblem::FallbackOutsideStack {
                address,
                stack_origin,
            } => write!(
                f,
                "fallback_answer_url is {address}, outside this stack ({stack_origin})"
            ),
        }
    }
}

/// The application's webhook timings and fallback, and what is wrong with them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contract {
    /// The answer webhook's timings.
    pub answer: WebhookTiming,
    /// The event webhook's timings.
    pub event: WebhookTiming,
    /// `None` when the application has no `fallback_answer_url` address.
    pub fallback: Option<WebhookTiming>,
    /// What does not fit the stack; empty when it all fits.
    pub problems: Vec<ContractProblem>,
}

impl Contract {
    /// Reads `application` against the functions' timeouts; `stack_answer_url` (the answer URL
    /// the stack expects, else the one the application has) gives the stack's origin.
    pub fn evaluate(application: &Value, stack_answer_url: Option<&str>) -> Self {
        let answer = WebhookTiming::of(application, "answer_url", DEFAULT_ANSWER_SOCKET_TIMEOUT_MS);
        let event = WebhookTiming::of(application, "event_url", DEFAULT_EVENT_SOCKET_TIMEOUT_MS);
        let fallback = Some(WebhookTiming::of(
            application,
            "fallback_answer_url",
            DEFAULT_FALLBACK_SOCKET_TIMEOUT_MS,
        ))
        .filter(|fallback| fallback.address.is_some());
        let mut problems = Vec::new();
        let mut outlasts = |timing: &WebhookTiming, function: Duration| {
            let function_timeout_ms = u64::try_from(function.as_millis()).unwrap_or(u64::MAX);
            if function_timeout_ms > timing.socket_timeout_ms {
                problems.push(ContractProblem::FunctionOutlastsSocket {
                    webhook: timing.name,
                    function_timeout_ms,
                    socket_timeout_ms: timing.socket_timeout_ms,
                });
            }
        };
        outlasts(&answer, ANSWER_FUNCTION_TIMEOUT);
        outlasts(&event, EVENT_FUNCTION_TIMEOUT);
        let stack_origin = stack_answer_url
            .or(answer.address.as_deref())
            .and_then(origin);
        if let (Some(fallback), Some(stack_origin)) = (&fallback, stack_origin) {
            let address = fallback.address.clone().unwrap_or_default();
            if origin(&address).as_deref() == Some(stack_origin.as_str()) {
                // The stack's answer function serves it: Vonage must wait for that one too.
                outlasts(fallback, ANSWER_FUNCTION_TIMEOUT);
            } else {
                problems.push(ContractProblem::FallbackOutsideStack {
                    address,
                    stack_origin,
                });
            }
        }
        Self {
            answer,
            event,
            fallback,
            problems,
        }
    }

    /// True when nothing in the contract needs fixing.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// `scheme://host[:port]` of an absolute URL, lower-cased; `None` for anything else.
fn origin(address: &str) -> Option<String> {
    let url = url::Url::parse(address).ok()?;
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn application(webhooks: Value) -> Value {
        json!({"capabilities": {"voice": {"webhooks": webhooks}}})
    }

    #[test]
    fn vonages_defaults_apply_when_the_application_gives_no_timeouts() {
        let contract = Contract::evaluate(
            &application(json!({"answer_url": {"address": "https://a.example/answer"}})),
            None,
        );
        assert_eq!(contract.answer.socket_timeout_ms, 5000);
        assert!(contract.answer.socket_timeout_defaulted);
        assert_eq!(contract.event.socket_timeout_ms, 10000);
        assert_eq!(contract.answer.connect_timeout_ms, 1000);
        assert_eq!(contract.fallback, None);
        assert!(contract.is_ok(), "{:?}", contract.problems);
    }

    #[test]
    fn a_socket_timeout_below_the_functions_timeout_is_a_problem() {
        let contract = Contract::evaluate(
            &application(json!({
                "answer_url": {"address": "https://a.example/answer", "socket_timeout": 2000},
                "event_url": {"address": "https://a.example/event", "socket_timeout": 6000}
            })),
            None,
        );
        assert_eq!(
            contract.problems,
            [ContractProblem::FunctionOutlastsSocket {
                webhook: "answer_url",
                function_timeout_ms: 3000,
                socket_timeout_ms: 2000
            }]
        );
    }

    #[test]
    fn a_fallback_outside_the_stack_is_a_problem_and_one_inside_is_timed_too() {
        let outside = Contract::evaluate(
            &application(json!({
                "fallback_answer_url": {"address": "https://elsewhere.example/fallback"}
            })),
            Some("https://a.example/answer"),
        );
        assert_eq!(
            outside.problems,
            [ContractProblem::FallbackOutsideStack {
                address: "https://elsewhere.example/fallback".into(),
                stack_origin: "https://a.example".into()
            }]
        );
        let inside = Contract::evaluate(
            &application(json!({
                "fallback_answer_url": {"address": "https://A.example/answer", "socket_timeout": 1000}
            })),
            Some("https://a.example/answer"),
        );
        assert_eq!(
            inside.problems,
            [ContractProblem::FunctionOutlastsSocket {
                webhook: "fallback_answer_url",
                function_timeout_ms: 3000,
                socket_timeout_ms: 1000
            }]
        );
    }
}
