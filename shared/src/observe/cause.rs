//! An error's cause, kept whole for `source()` and shown by its text.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

use super::error_chain;

/// What went wrong underneath an error of ours: the text it is shown with, and, when it came from
/// another library, that library's error, which [`Error::source`] hands on. Two causes are equal
/// when their texts are, so the errors holding one can still be compared and cloned.
#[derive(Clone)]
pub struct Cause {
    text: String,
    error: Option<Arc<dyn Error + Send + Sync>>,
}

impl Cause {
    /// An error with its causes as the text ([`error_chain`]), the error kept as the source.
    pub fn of(error: impl Error + Send + Sync + 'static) -> Self {
        Self::described(error_chain(&error), error)
    }

    /// `text` for an error that says it (a code and message taken from it, say), the error kept
    /// as the source.
    pub fn described(text: impl Into<String>, error: impl Error + Send + Sync + 'static) -> Self {
        Self {
            text: text.into(),
            error: Some(Arc::new(error)),
        }
    }

    /// The text shown.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// A reason with no error underneath it.
impl From<String> for Cause {
    fn from(text: String) -> Self {
        Self { text, error: None }
    }
}

/// A reason with no error underneath it.
impl From<&str> for Cause {
    fn from(text: &str) -> Self {
        Self::from(text.to_owned())
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

impl PartialEq for Cause {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Cause {}

impl Error for Cause {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.error
            .as_deref()
            .map(|error| error as &(dyn Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("inner")]
    struct Inner;

    #[test]
    fn the_error_is_kept_and_the_chain_shown_once() {
        let cause = Cause::of(Outer(Inner));
        assert_eq!(cause.to_string(), "outer: inner");
        assert_eq!(
            cause.source().map(ToString::to_string).as_deref(),
            Some("outer")
        );
        assert_eq!(error_chain(&cause), "outer: inner");
    }

    #[test]
    fn a_reason_has_no_source_and_compares_by_text() {
        let reason = Cause::from("down");
        assert!(reason.source().is_none());
        assert_eq!(reason, Cause::described("down", Inner));
        assert_eq!(format!("{reason:?}"), "\"down\"");
    }
}
