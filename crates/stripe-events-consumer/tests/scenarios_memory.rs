//! The lifecycle scenarios (`scenarios/mod.rs`) on `MemoryStore`, in process: needs no local
//! stack. `scenarios_moto.rs` runs the same functions on DynamoDB.

mod scenarios;

use stripe_events_store::MemoryStore;

async fn fresh() -> MemoryStore {
    MemoryStore::new()
}

scenarios::scenario_tests!(fresh);
