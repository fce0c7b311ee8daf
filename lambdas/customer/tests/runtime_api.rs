//! The customer Lambda's built binary over the Lambda Runtime API against moto.

use stripe_events_testkit::binary as consumer_binary;

#[tokio::test]
async fn binary_serves_the_runtime_api_against_moto() {
    let store = consumer_binary::applies_dedupes_and_acknowledges(
        env!("CARGO_BIN_EXE_customer"),
        "customer",
        "partner-snapshot/customer-updated.json",
    )
    .await;
    let profile = store
        .state_item("CUSTOMER#cus_NffrFeUfNV2Hib", "PROFILE")
        .await
        .expect("read state")
        .expect("profile item written by the binary");
    assert_eq!(profile["email"], "jenny.rosen@example.com");
    assert_eq!(profile["last_event_id"], "evt_1Tzqu6LkdIwHu7ixfXWWl4Gt");
}
