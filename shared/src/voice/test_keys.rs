//! A throwaway RSA key pair and signer for unit tests.

use super::*;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::KeyPair;
use base64::Engine;
use std::sync::OnceLock;

/// A throwaway 2048-bit key pair made once per test run: (PKCS#8 private PEM, SPKI public PEM).
pub(crate) fn test_key_pair() -> &'static (String, String) {
    static KEYS: OnceLock<(String, String)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .expect("aws-lc generates an RSA key");
        let private = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair)
            .expect("the key has a PKCS#8 form");
        let public = AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(pair.public_key())
            .expect("the public key has an X.509 form");
        (
            pem("PRIVATE KEY", private.as_ref()),
            pem("PUBLIC KEY", public.as_ref()),
        )
    })
}

pub(crate) fn pem(label: &str, der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|chunk| std::str::from_utf8(chunk).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

pub(crate) fn test_signer() -> ApplicationJwtSigner {
    ApplicationJwtSigner::from_pem("aaaaaaaa-bbbb-cccc-dddd-0123456789ab", &test_key_pair().0)
        .unwrap()
}
