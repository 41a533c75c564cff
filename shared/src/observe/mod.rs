//! What the functions tell the operator: JSON logs with correlation ids ([`logging`]) and
//! CloudWatch metrics in Embedded Metric Format ([`metrics`]).

pub mod logging;
pub mod metrics;
