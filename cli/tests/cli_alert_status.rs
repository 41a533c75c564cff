//! `alert-status` against moto's DynamoDB over HTTP: an alert read by its id and by its call,
//! exit 1 for an unknown one, exit 2 for bad usage.

mod common;

use integration_tests::{MotoServer, create_state_table, moto_loader};
use serde_json::Value;
use vonage_voice_lambda::aws;
use vonage_voice_lambda::outcome::{
    AlertRecord, AlertStore, AskedMessage, CallEvent, NewAlert, record_event,
};
use vonage_voice_lambda::state::StateConfig;

const TABLE: &str = "cli-state";

fn cli(args: &[&str], moto: &MotoServer) -> (i32, String, String) {
    let endpoint = moto.endpoint();
    let mut env = common::moto_env(&endpoint).to_vec();
    env.push(("STATE_TABLE_NAME", TABLE));
    common::run(args, &env, &[])
}

#[tokio::test]
async fn alert_status_reads_an_alert_by_id_or_call_and_exits_1_for_an_unknown_one() {
    let moto = MotoServer::start();
    let sdk = moto_loader(&moto.endpoint()).load().await;
    create_state_table(&aws_sdk_dynamodb::Client::new(&sdk), TABLE).await;
    let config = StateConfig {
        table_name: TABLE.into(),
        timeout: std::time::Duration::from_secs(2),
    };
    let store = aws::state_store(&sdk, &config);
    let record = AlertRecord::placed(&NewAlert {
        alert_id: "disk-full-db-1",
        call_uuid: "call-cli-1",
        to: "447700900123",
        message: AskedMessage::Text,
        confirm_requested: true,
        requested_at: 1_800_000_000,
    });
    store.create(&record, 2_000_000_000).await.unwrap();
    for event in [
        CallEvent::status("answered", "2027-01-15T08:00:04.000Z"),
        CallEvent::input(Some("1"), "2027-01-15T08:00:09.000Z"),
        CallEvent::status("completed", "2027-01-15T08:00:12.000Z"),
    ] {
        record_event(&store, "call-cli-1", &event, 1_800_000_010, |_| {
            2_000_000_000
        })
        .await
        .unwrap();
    }

    let (code, by_id, stderr) = cli(&["alert-status", "--alert-id", "disk-full-db-1"], &moto);
    assert_eq!(code, 0, "{by_id}{stderr}");
    let status: Value = serde_json::from_str(&by_id).expect("JSON on stdout");
    assert_eq!(status["state"], "completed");
    assert_eq!(status["confirmation"], "confirmed");
    assert_eq!(status["confirmed"], true);
    assert_eq!(status["confirmation_at"], 1_800_000_010);
    assert_eq!(status["timeline"].as_array().map(Vec::len), Some(3));
    let (code, by_call, _) = cli(&["alert-status", "--call-uuid", "call-cli-1"], &moto);
    assert_eq!((code, by_call), (0, by_id));

    let (code, unknown, _) = cli(&["alert-status", "--alert-id", "nope"], &moto);
    assert_eq!(code, 1, "{unknown}");
    let unknown: Value = serde_json::from_str(&unknown).expect("JSON on stdout");
    assert_eq!(unknown["error"], "not_found");

    let (code, _, stderr) = cli(&["alert-status"], &moto);
    assert_eq!(code, 2, "{stderr}");
}
