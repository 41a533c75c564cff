//! What the functions tell the operator: JSON logs with correlation ids ([`logging`]),
//! CloudWatch metrics in Embedded Metric Format ([`metrics`]) and a span around every call to
//! another service ([`remote`]).

mod cause;
pub mod logging;
pub mod metrics;
pub mod remote;

pub use cause::Cause;

/// An error with its causes, each cause once (a cause whose text is already shown is skipped):
/// for a transport error, "error sending request … : tcp connect error: Connection refused",
/// which is what an operator needs to tell DNS from TLS from a refused port.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
