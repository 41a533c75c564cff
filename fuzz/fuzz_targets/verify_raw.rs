//! The verifier on raw Authorization values: each input is the one value of a POST carrying
//! `ANSWERED`, checked at `SIGNED_AT` with the default policy. The seeds are genuine tokens over
//! that body. Invariants: no panic, and anything accepted passes the oracle in `lib.rs`.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use vonage_voice_lambda::vonage::verify::{
    CandidateSecrets, SignatureSecret, VerificationPolicy, WebhookRequest, verify,
};
use vonage_voice_lambda_fuzz::{ANSWERED, SIGNATURE_SECRET, SIGNED_AT, check_accepted};

const LABELLED: [(&str, &str); 1] = [("current", SIGNATURE_SECRET)];

static CANDIDATES: LazyLock<CandidateSecrets> = LazyLock::new(|| {
    let secret = SignatureSecret::new(LABELLED[0].0, LABELLED[0].1).expect("not empty");
    CandidateSecrets::new(vec![secret]).expect("one candidate")
});

fuzz_target!(|authorization: &[u8]| {
    let values = [authorization];
    let request = WebhookRequest {
        authorization: &values,
        method: "POST",
        query: None,
        body: ANSWERED,
    };
    let policy = VerificationPolicy::default();
    if let Ok(verified) = verify(&request, &CANDIDATES, SIGNED_AT, &policy)
        && let Err(why) = check_accepted(&request, &LABELLED, SIGNED_AT, &policy, &verified)
    {
        panic!("accepted a request that is not genuine: {why}\n{verified:?}");
    }
});
