//! One of each rejection, for the tests that must cover them all.

use super::Rejection;

impl Rejection {
    /// One rejection of each kind (a claim's name where the kind takes one).
    pub fn one_of_each() -> [Rejection; 19] {
        [
            Rejection::MissingToken,
            Rejection::MultipleAuthorization,
            Rejection::NotBearer,
            Rejection::EmptyToken,
            Rejection::TokenTooLarge,
            Rejection::Malformed,
            Rejection::Algorithm,
            Rejection::CriticalHeader,
            Rejection::Signature,
            Rejection::ClaimType("iat"),
            Rejection::MissingClaim("iat"),
            Rejection::Expired,
            Rejection::NotYetValid,
            Rejection::Stale,
            Rejection::Future,
            Rejection::Issuer,
            Rejection::Account("api_key"),
            Rejection::PayloadHashMalformed,
            Rejection::BodyMismatch,
        ]
    }
}
