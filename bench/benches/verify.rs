//! One full verification of a signed event (about 300 bytes of body) next to the raw crypto floor:
//! HMAC-SHA256 over the token's signing input with a key prepared once, plus SHA-256 of the body,
//! both by aws-lc, which no verifier can beat.

use std::hint::black_box;

use aws_lc_rs::{digest, hmac};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use vonage_voice_lambda::vonage::sign::WebhookSigner;
use vonage_voice_lambda::vonage::verify::{
    CandidateSecrets, SignatureSecret, VerificationPolicy, WebhookRequest, verify,
};

const SECRET: &str = "benchmark-signature-secret-0123456789abcdef";
const NOW: i64 = 1_800_000_000;
const BODY: &[u8] = br#"{"headers":{},"from":"447700900001","to":"447700900000","uuid":"aaaaaaaa-bbbb-cccc-dddd-0123456789ab","conversation_uuid":"CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab","status":"answered","direction":"outbound","timestamp":"2027-01-15T08:00:00.000Z","network":"23410","rate":"0.01400000","price":"0.00023333"}"#;

fn benches(c: &mut Criterion) {
    assert!(
        (280..=320).contains(&BODY.len()),
        "body is {} bytes",
        BODY.len()
    );
    let signer = WebhookSigner::new(SECRET, "a1b2c3d", None).expect("a usable secret");
    let token = signer
        .sign_body(BODY, NOW, "c5ba8f24-1a14-4c10-bfdf-3fbe8ce511b5")
        .expect("a signed token");
    let authorization = format!("Bearer {token}");
    let values = [authorization.as_bytes()];
    let request = WebhookRequest {
        authorization: &values,
        method: "POST",
        query: None,
        body: BODY,
    };
    let secrets = CandidateSecrets::new(vec![
        SignatureSecret::new("AWSCURRENT", SECRET).expect("a usable secret"),
    ])
    .expect("one candidate");
    let policy = VerificationPolicy::default();
    assert!(verify(&request, &secrets, NOW, &policy).is_ok());

    let (signing_input, signature) = token.rsplit_once('.').expect("three segments");
    let signature = URL_SAFE_NO_PAD.decode(signature).expect("base64 signature");

    let mut group = c.benchmark_group("verify_event");
    group.bench_function("full_verification", |b| {
        b.iter(|| verify(black_box(&request), &secrets, NOW, &policy))
    });
    let key = hmac::Key::new(hmac::HMAC_SHA256, SECRET.as_bytes());
    group.bench_function("crypto_floor", |b| {
        b.iter(|| {
            let mac_ok =
                hmac::verify(&key, black_box(signing_input.as_bytes()), &signature).is_ok();
            let digest = digest::digest(&digest::SHA256, black_box(BODY));
            (mac_ok, digest)
        })
    });
    group.finish();
}

criterion_group!(verification, benches);
criterion_main!(verification);
