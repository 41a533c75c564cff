//! Decoding a token's segments without copying more than the verdict needs.
//!
//! The claims are decoded the way `jsonwebtoken` decodes them (URL-safe base64 without padding,
//! then `serde_json`), but into a buffer on the stack, and their strings are borrowed from it:
//! only what the caller keeps is copied out. Segments too large for the stack buffer (never a
//! genuine Vonage token) are decoded onto the heap by the same engine, so the result never
//! depends on which buffer was used.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::Rejection;

/// Genuine claims decode to about 250 bytes; four times that stays on the stack.
const CLAIMS_ON_STACK: usize = 1024;

/// Decodes one base64url segment and hands the bytes to `read`: onto a stack buffer of `N` bytes
/// when they fit, onto the heap otherwise. Invalid base64 is [`Rejection::Malformed`].
pub(super) fn with_base64_decoded<const N: usize, T>(
    segment: &str,
    read: impl FnOnce(&[u8]) -> Result<T, Rejection>,
) -> Result<T, Rejection> {
    if base64::decoded_len_estimate(segment.len()) <= N {
        let mut buffer = [0u8; N];
        let length = URL_SAFE_NO_PAD
            .decode_slice(segment, &mut buffer)
            .map_err(|_| Rejection::Malformed)?;
        read(buffer.get(..length).ok_or(Rejection::Malformed)?)
    } else {
        let decoded = URL_SAFE_NO_PAD
            .decode(segment)
            .map_err(|_| Rejection::Malformed)?;
        read(&decoded)
    }
}

/// A compact JWS, `header.claims.signature`, split once into borrowed segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct CompactJws<'t> {
    pub whole: &'t str,
    pub header: &'t str,
    pub claims: &'t str,
    pub signature: &'t str,
    /// `header.claims`: what the signature covers.
    pub signing_input: &'t str,
}

impl<'t> CompactJws<'t> {
    /// Anything but exactly two dots is [`Rejection::Malformed`].
    pub fn split(whole: &'t str) -> Result<Self, Rejection> {
        let (signing_input, signature) = whole.rsplit_once('.').ok_or(Rejection::Malformed)?;
        let (header, claims) = signing_input.split_once('.').ok_or(Rejection::Malformed)?;
        if claims.contains('.') {
            return Err(Rejection::Malformed);
        }
        Ok(Self {
            whole,
            header,
            claims,
            signature,
            signing_input,
        })
    }
}

/// Decodes the claims segment and hands the parsed, still untyped claims to `read`. Claims that
/// are not a JSON object of the expected shape are [`Rejection::Malformed`].
pub(super) fn with_decoded_claims<T>(
    token: &CompactJws<'_>,
    read: impl for<'a> FnOnce(RawClaims<'a>) -> Result<T, Rejection>,
) -> Result<T, Rejection> {
    with_base64_decoded::<CLAIMS_ON_STACK, _>(token.claims, |json| {
        // Checked as UTF-8 once, whole: `serde_json` then reads it as text and does not check
        // each string again. Bytes that are not UTF-8 are malformed JSON either way.
        let json = std::str::from_utf8(json).map_err(|_| Rejection::Malformed)?;
        let raw = serde_json::from_str::<RawClaims<'_>>(json).map_err(|_| Rejection::Malformed)?;
        read(raw)
    })
}

/// The claims as sent, left untyped so that a wrong type (`"exp":"…"`, `"exp":null`) is seen and
/// refused rather than skipped as absent. Unknown claims are skipped without being kept.
#[derive(Deserialize)]
pub(super) struct RawClaims<'a> {
    #[serde(default, borrow, deserialize_with = "present")]
    pub iat: Option<ClaimValue<'a>>,
    #[serde(default, borrow, deserialize_with = "present")]
    pub exp: Option<ClaimValue<'a>>,
    #[serde(default, borrow, deserialize_with = "present")]
    pub nbf: Option<ClaimValue<'a>>,
    #[serde(default, borrow, deserialize_with = "present")]
    pub jti: Option<ClaimValue<'a>>,
    #[serde(default, borrow, deserialize_with = "present")]
    pub iss: Option<ClaimValue<'a>>,
    #[serde(default, borrow, deserialize_with = "present")]
    pub api_key: Option<ClaimValue<'a>>,
    #[serde(default, borrow, deserialize_with = "present")]
    pub application_id: Option<ClaimValue<'a>>,
    #[serde(default, borrow, deserialize_with = "present")]
    pub payload_hash: Option<ClaimValue<'a>>,
}

/// Keeps an explicit `null` as `Some(Other)`; only a claim that is absent becomes `None`.
fn present<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<ClaimValue<'de>>, D::Error> {
    ClaimValue::deserialize(deserializer).map(Some)
}

/// One claim's value, as far as the checks care.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ClaimValue<'a> {
    /// A JSON number as whole seconds: fractional seconds are legal in a NumericDate and are
    /// rounded down; integers beyond `i64` saturate, as `serde_json::Number::as_f64` then `as`
    /// would.
    Seconds(i64),
    /// A JSON string, borrowed unless it held escapes.
    Text(Cow<'a, str>),
    /// `null`, a boolean, an array or an object: the wrong type for every claim read here.
    Other,
}

impl<'de> Deserialize<'de> for ClaimValue<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ClaimVisitor)
    }
}

struct ClaimVisitor;

impl<'de> Visitor<'de> for ClaimVisitor {
    type Value = ClaimValue<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        Ok(ClaimValue::Seconds(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        Ok(ClaimValue::Seconds(
            i64::try_from(value).unwrap_or(i64::MAX),
        ))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
        // `as` saturates; JSON has no NaN or infinity.
        Ok(ClaimValue::Seconds(value.floor() as i64))
    }

    fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Self::Value, E> {
        Ok(ClaimValue::Text(Cow::Borrowed(value)))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        Ok(ClaimValue::Text(Cow::Owned(value.to_owned())))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Self::Value, E> {
        Ok(ClaimValue::Text(Cow::Owned(value)))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(ClaimValue::Other)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(ClaimValue::Other)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(ClaimValue::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Self::Value, A::Error> {
        while items.next_element::<IgnoredAny>()?.is_some() {}
        Ok(ClaimValue::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<Self::Value, A::Error> {
        while entries.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(ClaimValue::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(json: &str) -> ClaimValue<'_> {
        serde_json::from_str(json).expect("a JSON value")
    }

    #[test]
    fn numbers_become_whole_seconds_rounded_down_and_saturating() {
        assert_eq!(claim("1700000000"), ClaimValue::Seconds(1_700_000_000));
        assert_eq!(claim("-5"), ClaimValue::Seconds(-5));
        assert_eq!(claim("1700000000.9"), ClaimValue::Seconds(1_700_000_000));
        assert_eq!(claim("-0.5"), ClaimValue::Seconds(-1));
        assert_eq!(claim("18446744073709551615"), ClaimValue::Seconds(i64::MAX));
        assert_eq!(claim("1e300"), ClaimValue::Seconds(i64::MAX));
        assert_eq!(claim("-1e300"), ClaimValue::Seconds(i64::MIN));
    }

    #[test]
    fn strings_are_borrowed_unless_they_hold_escapes() {
        assert!(matches!(
            claim(r#""Vonage""#),
            ClaimValue::Text(Cow::Borrowed("Vonage"))
        ));
        match claim(r#""Von\u0061ge""#) {
            ClaimValue::Text(Cow::Owned(text)) => assert_eq!(text, "Vonage"),
            other => panic!("expected an owned string, got {other:?}"),
        }
    }

    #[test]
    fn every_other_json_type_is_other_and_fully_consumed() {
        for json in ["null", "true", "[1,[2,{}]]", r#"{"a":{"b":[null]}}"#] {
            assert_eq!(claim(json), ClaimValue::Other, "{json}");
        }
    }

    #[test]
    fn a_token_splits_into_three_segments_or_is_malformed() {
        let token = CompactJws::split("aaa.bbbb.cc").expect("three segments");
        assert_eq!(
            (
                token.header,
                token.claims,
                token.signature,
                token.signing_input
            ),
            ("aaa", "bbbb", "cc", "aaa.bbbb")
        );
        assert_eq!(CompactJws::split("..").map(|t| t.claims), Ok(""));
        for malformed in ["", "a", "a.b", "a.b.c.d", "...", "a..b.c"] {
            assert_eq!(
                CompactJws::split(malformed),
                Err(Rejection::Malformed),
                "{malformed}"
            );
        }
    }

    #[test]
    fn segments_decode_the_same_on_the_stack_and_on_the_heap() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
        let encoded = URL_SAFE_NO_PAD.encode(&bytes);
        let on_heap = with_base64_decoded::<8, _>(&encoded, |decoded| Ok(decoded.to_vec()));
        let on_stack = with_base64_decoded::<4096, _>(&encoded, |decoded| Ok(decoded.to_vec()));
        assert_eq!(on_heap, Ok(bytes.clone()));
        assert_eq!(on_stack, Ok(bytes));
        let too_long_and_invalid = format!("{}!", "A".repeat(40));
        for invalid in ["a", "ab=", "a+b/", "ab.c", too_long_and_invalid.as_str()] {
            assert_eq!(
                with_base64_decoded::<8, _>(invalid, |_| Ok(())),
                Err(Rejection::Malformed),
                "{invalid}"
            );
            assert_eq!(
                with_base64_decoded::<4096, _>(invalid, |_| Ok(())),
                Err(Rejection::Malformed),
                "{invalid}"
            );
        }
    }
}
