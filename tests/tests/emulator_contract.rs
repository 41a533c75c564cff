//! The local Voice emulator refuses what Vonage's published spec refuses: the same requests go to
//! Prism serving `voice.v1.yml` (which validates them against the spec) and to the emulator, and
//! both must agree. The Prism contract suite stays the proof that our own requests match the spec;
//! this one keeps the emulator from accepting calls that Vonage would not.

mod voice_support;

use integration_tests::Prism;
use serde_json::{Value, json};
use voice_support::{APPLICATION_ID, test_key, voice_spec_with_full_paths};
use vonage_voice_emulator::{EmulatorConfig, Outcome};
use vonage_voice_lambda::voice::ApplicationJwtSigner;
use vonage_voice_lambda::vonage::sign::WebhookSigner;

async fn start_emulator() -> String {
    let config = EmulatorConfig {
        application_id: APPLICATION_ID.to_owned(),
        public_key_pem: test_key().public_pem.clone(),
        signer: WebhookSigner::new("emulator-contract-secret", "a1b2c3d", None).expect("signer"),
        default_outcome: Outcome::Completed,
        event_interval: std::time::Duration::ZERO,
        send_events: true,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let address = listener.local_addr().expect("bound");
    tokio::spawn(vonage_voice_emulator::serve(listener, config));
    format!("http://{address}")
}

/// A fresh application JWT from the application's own key.
fn application_token() -> vonage_voice_lambda::voice::ApplicationJwt {
    ApplicationJwtSigner::from_pem(APPLICATION_ID, &test_key().private_pem)
        .expect("key loads")
        .sign_now()
        .expect("signs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_emulator_and_the_spec_agree_on_what_a_create_call_may_be() {
    let prism = Prism::start(&voice_spec_with_full_paths());
    let emulator = start_emulator().await;
    let token = application_token();
    let http = reqwest::Client::new();
    let post = |base: &str, body: &Value| {
        http.post(format!("{base}/v1/calls"))
            .bearer_auth(token.expose())
            .json(body)
            .send()
    };
    let ncco = json!([{"action": "talk", "text": "Disk full on db-1"}]);

    // No event_url: the emulator would otherwise try to deliver events to it.
    let well_formed = json!({
        "to": [{"type": "phone", "number": "447700900000"}],
        "from": {"type": "phone", "number": "447700900001"},
        "ncco": ncco,
    });
    for base in [prism.base_url(), emulator.clone()] {
        let response = post(&base, &well_formed).await.expect("answers");
        assert_eq!(response.status(), 201, "{base} refused a well-formed call");
        let created: Value = response.json().await.expect("JSON");
        assert!(created["uuid"].is_string(), "{base}: {created}");
    }

    let refused_by_the_spec = [
        (
            "`to` is not an array",
            json!({"to": {"type": "phone", "number": "447700900000"}, "random_from_number": true, "ncco": ncco}),
        ),
        (
            "`to` is missing",
            json!({"random_from_number": true, "ncco": ncco}),
        ),
        (
            "both `ncco` and `answer_url`",
            json!({"to": [{"type": "phone", "number": "447700900000"}], "random_from_number": true,
                   "ncco": ncco, "answer_url": ["https://hooks.example.com/answer"]}),
        ),
        (
            "a number too short",
            json!({"to": [{"type": "phone", "number": "12345"}], "random_from_number": true, "ncco": ncco}),
        ),
    ];
    for (what, body) in &refused_by_the_spec {
        let by_prism = post(&prism.base_url(), body)
            .await
            .expect("answers")
            .status();
        assert_eq!(by_prism, 422, "the spec was expected to refuse {what}");
        let by_emulator = post(&emulator, body).await.expect("answers");
        let status = by_emulator.status();
        let problem: Value = by_emulator.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 400, "the emulator accepted {what}: {problem}");
    }

    for base in [prism.base_url(), emulator.clone()] {
        let unauthenticated = http
            .post(format!("{base}/v1/calls"))
            .json(&well_formed)
            .send()
            .await
            .expect("answers");
        assert_eq!(
            unauthenticated.status(),
            401,
            "{base} took a call without a token"
        );
    }
}

#[tokio::test]
async fn the_emulator_refuses_a_token_signed_by_another_key() {
    let emulator = start_emulator().await;
    let other_key =
        aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("key");
    let other_pem = pem::encode(&pem::Pem::new(
        "PRIVATE KEY",
        aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&other_key)
            .expect("PKCS#8")
            .as_ref()
            .to_vec(),
    ));
    let forged = ApplicationJwtSigner::from_pem(APPLICATION_ID, &other_pem)
        .expect("loads")
        .sign_now()
        .expect("signs");
    let response = reqwest::Client::new()
        .post(format!("{emulator}/v1/calls"))
        .bearer_auth(forged.expose())
        .json(
            &json!({"to": [{"type": "phone", "number": "447700900000"}], "random_from_number": true,
                      "ncco": [{"action": "talk", "text": "hi"}]}),
        )
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 401);
}

/// `…0504` changes the answer, not the checks: a request Vonage would refuse is refused as
/// before, and a valid one is placed (the emulator lists it) yet answered 504, which send-alert
/// must read as an outcome it cannot know.
#[tokio::test]
async fn a_gateway_timeout_number_places_the_call_and_answers_504_after_the_checks() {
    let emulator = start_emulator().await;
    let token = application_token();
    let http = reqwest::Client::new();
    let to = json!([{"type": "phone", "number": "447700900504"}]);
    let valid = json!({"to": to, "random_from_number": true,
                       "ncco": [{"action": "talk", "text": "Disk full on db-1"}]});
    let refused = json!({"to": to, "random_from_number": true,
                         "ncco": [{"action": "talk", "text": "hi"}],
                         "answer_url": ["https://hooks.example.com/answer"]});
    let post = |body: &Value, authorised: bool| {
        let request = http.post(format!("{emulator}/v1/calls")).json(body);
        if authorised {
            request.bearer_auth(token.expose()).send()
        } else {
            request.send()
        }
    };
    assert_eq!(post(&valid, false).await.expect("answers").status(), 401);
    assert_eq!(post(&refused, true).await.expect("answers").status(), 400);
    let calls = || async {
        http.get(format!("{emulator}/_emulator/calls"))
            .send()
            .await
            .expect("answers")
            .json::<Vec<Value>>()
            .await
            .expect("JSON")
    };
    assert!(calls().await.is_empty(), "a refused request placed no call");

    let timed_out = post(&valid, true).await.expect("answers");
    assert_eq!(timed_out.status(), 504);
    let problem: Value = timed_out.json().await.expect("a problem body");
    assert_eq!(problem["title"], "Gateway Timeout", "{problem}");
    assert!(
        problem.get("uuid").is_none(),
        "no call uuid is given: {problem}"
    );
    let placed = calls().await;
    assert_eq!(placed.len(), 1, "{placed:?}");
    assert_eq!(placed[0]["to"], "447700900504");
    assert_eq!(placed[0]["creation"], "gateway_timeout");
}
