//! The payment Lambda's built binary over the Lambda Runtime API against moto.

use stripe_events_testkit::binary as consumer_binary;

#[tokio::test]
async fn binary_serves_the_runtime_api_against_moto() {
    let store = consumer_binary::applies_dedupes_and_acknowledges(
        env!("CARGO_BIN_EXE_payment"),
        "payment",
        "partner-snapshot/invoice-paid.json",
    )
    .await;
    let items = store
        .partition("CUSTOMER#cus_NffrFeUfNV2Hib")
        .await
        .expect("read state");
    let invoice = items
        .iter()
        .find(|i| i["object_id"] == "in_1TWGdnLkdIwHu7ixxlpdSpc9")
        .unwrap_or_else(|| panic!("invoice item written by the binary: {items:?}"));
    assert_eq!(invoice["status"], "paid");
    assert_eq!(invoice["last_event_id"], "evt_1TCTs9LkdIwHu7ixPJniydJW");
}
