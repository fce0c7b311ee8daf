//! The lifecycle scenarios (`scenarios/mod.rs`) on `MemoryStore`, in process: needs no local
//! stack. `scenarios_moto.rs` runs the same functions on DynamoDB.

mod scenarios;

use stripe_events_store::MemoryStore;

async fn fresh() -> MemoryStore {
    MemoryStore::new()
}

#[tokio::test]
async fn lifecycle_converges_in_every_order() {
    scenarios::lifecycle_in_every_order(fresh, false).await;
}

#[tokio::test]
async fn lifecycle_in_one_second_converges_in_every_order() {
    scenarios::lifecycle_in_every_order(fresh, true).await;
}

#[tokio::test]
async fn duplicates_by_both_paths_apply_once() {
    scenarios::duplicates_by_both_paths(fresh).await;
}

#[tokio::test]
async fn thin_and_snapshot_of_one_change_apply_once() {
    scenarios::thin_and_snapshot_of_one_change(fresh).await;
}

#[tokio::test]
async fn stale_older_event_changes_nothing() {
    scenarios::stale_older_event(fresh).await;
}
