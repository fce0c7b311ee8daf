//! The subscription Lambda's built binary over the Lambda Runtime API against moto.

use stripe_events_testkit::binary as consumer_binary;

#[tokio::test]
async fn binary_serves_the_runtime_api_against_moto() {
    let store = consumer_binary::applies_dedupes_and_acknowledges(
        env!("CARGO_BIN_EXE_subscription"),
        "subscription",
        "partner-snapshot/subscription-created.json",
    )
    .await;
    let sub = store
        .state_item(
            "CUSTOMER#cus_NffrFeUfNV2Hib",
            "SUBSCRIPTION#sub_1TOA9VLkdIwHu7ixcfCo8bCC",
        )
        .await
        .expect("read state")
        .expect("subscription item written by the binary");
    assert_eq!(sub["status"], "active");
    assert_eq!(sub["last_event_id"], "evt_1T8DMpLkdIwHu7ixUnEaM32W");
}
