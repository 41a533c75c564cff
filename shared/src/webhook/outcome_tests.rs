//! The event handler moving alert outcomes: only verified, first-seen events of our calls, each
//! change published once, a failing bus never failing the webhook.

use std::sync::Arc;

use super::tests::{Fixture, accepted_event, event_body, post, signed_body};
use super::{EventHandler, Outcome, Outcomes};
use crate::outcome::{
    AlertRecord, AlertStore, AskedMessage, CallState, Confirmation, MemoryAlertStore,
    MemoryPublisher, NewAlert, OutcomeConfig, Publisher,
};

struct Alerts {
    store: Arc<MemoryAlertStore>,
    bus: Arc<MemoryPublisher>,
    publisher: Arc<Publisher>,
}

impl Alerts {
    async fn with_alert(bus: MemoryPublisher) -> Self {
        let store = Arc::new(MemoryAlertStore::default());
        let record = AlertRecord::placed(&NewAlert {
            alert_id: "alert-1",
            call_uuid: "call-ours",
            to: "447700900123",
            message: AskedMessage::Code,
            confirm_requested: true,
            requested_at: 1_800_000_000,
        });
        store.create(&record, 1_900_000_000).await.unwrap();
        let bus = Arc::new(bus);
        let publisher = Arc::new(Publisher::new(Arc::clone(&bus)));
        Self {
            store,
            bus,
            publisher,
        }
    }

    fn handler(&self, fixture: &Fixture) -> EventHandler {
        fixture.event_handler(&["input"]).with_outcomes(Outcomes {
            alerts: self.store.clone(),
            publisher: Arc::clone(&self.publisher),
            config: OutcomeConfig::default(),
        })
    }

    async fn record(&self) -> AlertRecord {
        self.store
            .by_call("call-ours")
            .await
            .unwrap()
            .unwrap()
            .record
    }
}

fn input(uuid: &str, digits: &str) -> Vec<u8> {
    format!(r#"{{"uuid":"{uuid}","dtmf":{{"digits":"{digits}","timed_out":false}},"timestamp":"2027-01-15T08:00:09.000Z"}}"#).into_bytes()
}

#[tokio::test]
async fn verified_events_of_our_call_move_its_alert_and_each_change_is_published_once() {
    let fixture = Fixture::new();
    let alerts = Alerts::with_alert(MemoryPublisher::default()).await;
    let (one, two) = (alerts.handler(&fixture), alerts.handler(&fixture));
    let answered = event_body("call-ours", "answered", "2027-01-15T08:00:04.000Z");
    assert_eq!(
        one.handle(&signed_body(&answered, "e-1")).await,
        accepted_event()
    );
    // Vonage's retry, re-signed, at the other instance: a duplicate, nothing applied again.
    assert!(matches!(
        two.handle(&signed_body(&answered, "e-2")).await,
        Outcome::Duplicate { .. }
    ));
    let ringing = event_body("call-ours", "ringing", "2027-01-15T08:00:01.000Z");
    assert_eq!(
        two.handle(&signed_body(&ringing, "e-3")).await,
        accepted_event()
    );
    let Outcome::Accepted { ncco: Some(reply) } = one
        .handle(&signed_body(&input("call-ours", "1"), "e-4"))
        .await
    else {
        panic!("an input is answered with an NCCO");
    };
    assert!(
        reply.to_json()[0]["text"]
            .as_str()
            .unwrap()
            .contains("recorded")
    );
    let completed = event_body("call-ours", "completed", "2027-01-15T08:00:12.000Z");
    two.handle(&signed_body(&completed, "e-5")).await;

    let record = alerts.record().await;
    assert_eq!(record.state, CallState::Completed);
    assert_eq!(record.confirmation, Confirmation::Confirmed);
    assert_eq!(
        record.timeline.len(),
        4,
        "ringing late is kept, the duplicate is not"
    );
    let published: Vec<(CallState, Confirmation)> = alerts
        .bus
        .events()
        .iter()
        .map(|event| (event.state, event.confirmation))
        .collect();
    assert_eq!(
        published,
        [
            (CallState::Answered, Confirmation::None),
            (CallState::Answered, Confirmation::Confirmed),
            (CallState::Completed, Confirmation::Confirmed),
        ],
        "the late ringing changed nothing and published nothing"
    );
}

#[tokio::test(start_paused = true)]
async fn events_of_other_calls_and_unsigned_ones_touch_nothing() {
    let fixture = Fixture::new();
    let alerts = Alerts::with_alert(MemoryPublisher::default()).await;
    let handler = alerts.handler(&fixture);
    let theirs = event_body("call-theirs", "answered", "2027-01-15T08:00:04.000Z");
    assert_eq!(
        handler.handle(&signed_body(&theirs, "t-1")).await,
        accepted_event()
    );
    // An unsigned input, accepted because `input` is listed, is not verified: no confirmation.
    let unsigned = handler.handle(&post(&input("call-ours", "1"), None)).await;
    assert!(matches!(unsigned, Outcome::Accepted { ncco: Some(_) }));
    let record = alerts.record().await;
    assert_eq!(record.state, CallState::Placed);
    assert_eq!(record.confirmation, Confirmation::None);
    assert!(record.timeline.is_empty());
    assert!(alerts.bus.events().is_empty());
    assert_eq!(
        alerts.store.by_call("call-theirs").await.unwrap(),
        None,
        "no record is made for a call that is not ours"
    );
}

#[tokio::test]
async fn a_refusing_bus_is_counted_and_the_webhook_still_accepted() {
    let fixture = Fixture::new();
    let alerts = Alerts::with_alert(MemoryPublisher::refusing()).await;
    let handler = alerts.handler(&fixture);
    let busy = event_body("call-ours", "busy", "2027-01-15T08:00:04.000Z");
    assert_eq!(
        handler.handle(&signed_body(&busy, "b-1")).await,
        accepted_event()
    );
    assert_eq!(
        alerts.record().await.state,
        CallState::Busy,
        "recorded all the same"
    );
    assert_eq!(alerts.publisher.failures(), 1);
}

#[tokio::test(start_paused = true)]
async fn an_outbound_event_that_comes_before_send_alert_wrote_the_record_is_applied() {
    let fixture = Fixture::new();
    let alerts = Alerts::with_alert(MemoryPublisher::default()).await;
    let handler = alerts.handler(&fixture);
    let late = AlertRecord::placed(&NewAlert {
        alert_id: "alert-2",
        call_uuid: "call-late",
        to: "447700900999",
        message: AskedMessage::Text,
        confirm_requested: false,
        requested_at: 1_800_000_000,
    });
    let store = alerts.store.clone();
    // send-alert writes the record while the event function is already looking for it.
    let writer = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        store.create(&late, 1_900_000_000).await.unwrap();
    });
    let ringing = event_body("call-late", "ringing", "2027-01-15T08:00:01.000Z");
    assert_eq!(
        handler.handle(&signed_body(&ringing, "l-1")).await,
        accepted_event()
    );
    writer.await.unwrap();
    let record = alerts
        .store
        .by_call("call-late")
        .await
        .unwrap()
        .unwrap()
        .record;
    assert_eq!(record.state, CallState::Ringing);
    assert_eq!(alerts.bus.events().len(), 1);
}
