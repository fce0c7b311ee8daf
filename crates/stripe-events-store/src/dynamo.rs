//! The DynamoDB implementation of [`EventStore`].

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use serde_json::{Map, Value};
use stripe_events_core::project::WriteKind;
use stripe_events_core::vocabulary::{attr, RECORD_APPLIED, RECORD_STALE};

use crate::attr::{item_to_json, n, s};
use crate::record::{
    dedupe_updates, failure_cleared, failure_updates, state_updates, AttrUpdate, Op,
};
use crate::schema::{self, TableNames};
use crate::{
    filed_key, ties_with_stored, Commit, CommitOutcome, DeliveryAudit, EventStore, Prior,
    StoreError, VersionedWrite,
};

/// Attempts when concurrent transactions on the same item conflict (DynamoDB cancels one
/// with `TransactionConflict`); a later attempt then sees the winner's done mark.
const CONFLICT_ATTEMPTS: u32 = 6;

#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    tables: TableNames,
}

/// An update expression under construction, with every attribute name and value bound to a
/// placeholder (many Stripe field names are DynamoDB reserved words: `status`, `end`, …).
#[derive(Default)]
struct UpdateExpr {
    sets: Vec<String>,
    adds: Vec<String>,
    removes: Vec<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl UpdateExpr {
    fn name(&mut self, attr: &str) -> String {
        let placeholder = format!("#n{}", self.names.len());
        self.names.insert(placeholder.clone(), attr.to_owned());
        placeholder
    }

    fn value(&mut self, v: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), v);
        placeholder
    }

    fn set(&mut self, attr: &str, v: AttributeValue) {
        let (n, v) = (self.name(attr), self.value(v));
        self.sets.push(format!("{n} = {v}"));
    }

    fn set_if_absent(&mut self, attr: &str, v: AttributeValue) {
        let (n, v) = (self.name(attr), self.value(v));
        self.sets.push(format!("{n} = if_not_exists({n}, {v})"));
    }

    fn add(&mut self, attr: &str, v: AttributeValue) {
        let (n, v) = (self.name(attr), self.value(v));
        self.adds.push(format!("{n} {v}"));
    }

    fn apply(&mut self, updates: Vec<AttrUpdate<'_>>) {
        for u in updates {
            match u.op {
                Op::Set => self.set(u.name, u.value),
                Op::SetIfAbsent => self.set_if_absent(u.name, u.value),
                Op::Add => self.add(u.name, u.value),
                Op::Remove => {
                    let n = self.name(u.name);
                    self.removes.push(n);
                }
            }
        }
    }

    fn expression(&self) -> String {
        [
            ("SET", &self.sets),
            ("ADD", &self.adds),
            ("REMOVE", &self.removes),
        ]
        .into_iter()
        .filter(|(_, clauses)| !clauses.is_empty())
        .map(|(verb, clauses)| format!("{verb} {}", clauses.join(", ")))
        .collect::<Vec<_>>()
        .join(" ")
    }
}

/// The dedupe record's update: the audit of this delivery (when `record_delivery`) and the
/// done mark (when `done` names the outcome).
fn dedupe_update(a: &DeliveryAudit, record_delivery: bool, done: Option<&str>) -> UpdateExpr {
    let mut e = UpdateExpr::default();
    e.apply(dedupe_updates(a, record_delivery, done));
    e
}

fn not_done_condition(e: &mut UpdateExpr) -> String {
    format!("attribute_not_exists({})", e.name(attr::APPLIED_AT))
}

fn state_update(w: &VersionedWrite<'_>, a: &DeliveryAudit) -> UpdateExpr {
    let mut e = UpdateExpr::default();
    e.apply(state_updates(w, a));
    e
}

/// The ordering guard (see `stripe_events_core::version`): strictly newer versions only.
/// Unless `settle_ties`, a same-second version of the same rank fails it too, whichever way
/// its tiebreak falls (`Version::ties_with`; the old image then shows the tie). Markers are
/// unconditional. An item holding only a marker has no version yet.
fn newer_condition(
    e: &mut UpdateExpr,
    w: &VersionedWrite<'_>,
    settle_ties: bool,
) -> Option<String> {
    if w.write.kind == WriteKind::Marker {
        return None;
    }
    let version = e.name(attr::VERSION);
    let tiebreak = e.name(attr::VERSION_TIEBREAK);
    let v = e.value(n(w.version.at.unix_millis()));
    let t = e.value(s(&w.version.tiebreak));
    let same_second = match w.version.tie_prefix().filter(|_| !settle_ties) {
        Some(prefix) => {
            let p = e.value(s(prefix));
            format!("{tiebreak} < {t} AND NOT begins_with({tiebreak}, {p})")
        }
        None => format!("{tiebreak} < {t}"),
    };
    Some(format!(
        "attribute_not_exists({version}) OR {version} < {v} OR ({version} = {v} AND {same_second})"
    ))
}

fn to_update(
    table: &str,
    key: HashMap<String, AttributeValue>,
    e: UpdateExpr,
    condition: Option<String>,
    return_old: bool,
) -> Result<Update, StoreError> {
    let mut b = Update::builder()
        .table_name(table)
        .set_key(Some(key))
        .update_expression(e.expression())
        .set_condition_expression(condition)
        .set_expression_attribute_names(Some(e.names))
        .set_expression_attribute_values(Some(e.values));
    if return_old {
        b = b.return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    }
    b.build().map_err(StoreError::permanent)
}

impl DynamoStore {
    pub fn new(client: Client, tables: TableNames) -> Self {
        DynamoStore { client, tables }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn tables(&self) -> &TableNames {
        &self.tables
    }

    fn dedupe_key(&self, key: &str) -> HashMap<String, AttributeValue> {
        HashMap::from([(schema::DEDUPE_PK.to_owned(), s(key))])
    }

    fn state_key(w: &VersionedWrite<'_>) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (schema::BILLING_PK.to_owned(), s(&w.write.pk)),
            (schema::BILLING_SK.to_owned(), s(&w.write.sk)),
        ])
    }

    /// One transaction: the done mark plus every remaining write.
    async fn try_commit(
        &self,
        c: &Commit<'_>,
        writes: &[VersionedWrite<'_>],
    ) -> Result<(), SdkError<TransactWriteItemsError, aws_smithy_runtime_api::http::Response>> {
        let mut items = Vec::with_capacity(writes.len() + 1);
        let mut e = dedupe_update(&c.audit, !c.delivery_recorded, Some(RECORD_APPLIED));
        let cond = not_done_condition(&mut e);
        let dedupe = to_update(
            &self.tables.dedupe,
            self.dedupe_key(&c.audit.key),
            e,
            Some(cond),
            true,
        );
        // A builder error here is a programming error; surface it as a construction failure.
        let dedupe = dedupe.map_err(|err| SdkError::construction_failure(err.to_string()))?;
        items.push(TransactWriteItem::builder().update(dedupe).build());
        for w in writes {
            let mut e = state_update(w, &c.audit);
            let cond = newer_condition(&mut e, w, c.settle_ties);
            let u = to_update(&self.tables.billing, Self::state_key(w), e, cond, true)
                .map_err(|err| SdkError::construction_failure(err.to_string()))?;
            items.push(TransactWriteItem::builder().update(u).build());
        }
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map(|_| ())
    }

    /// After a duplicate is recognised from the record's old image (`ALL_OLD`): records the
    /// delivery only when it adds a path to the audit (a partner delivery after a webhook one).
    /// A retry by a path already recorded would change no `seen_<path>`, which is what the
    /// migration audit reads, so it costs no second round trip. Without an old image (not
    /// expected) the delivery is recorded, as before.
    async fn record_if_new_path(
        &self,
        audit: &DeliveryAudit,
        delivery_recorded: bool,
        old: Option<&HashMap<String, AttributeValue>>,
    ) -> Result<(), StoreError> {
        if delivery_recorded {
            return Ok(());
        }
        if old.is_some_and(|o| o.contains_key(audit.path.seen_attr())) {
            // The path delivered now (a duplicate needs nothing more): a failure its earlier
            // attempt left (`failed_<path>`) no longer stands. One call, only then.
            if old.is_some_and(|o| o.contains_key(audit.path.failed_attr())) {
                self.update_dedupe(audit, failure_cleared(audit)).await?;
            }
            return Ok(());
        }
        // Conditional on the path still being new: concurrent duplicates by one new path all
        // see an old image without it, and only the first may add it (and count it).
        let mut e = dedupe_update(audit, true, None);
        let cond = format!("attribute_not_exists({})", e.name(audit.path.seen_attr()));
        let result = self.conditional_dedupe_update(audit, e, cond).send().await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match err.as_service_error() {
                // Another delivery by this path recorded it meanwhile.
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(()),
                _ => Err(StoreError::from_sdk(err)),
            },
        }
    }

    /// An unconditional `UpdateItem` of the dedupe record of `audit`.
    async fn update_dedupe(
        &self,
        audit: &DeliveryAudit,
        updates: Vec<AttrUpdate<'_>>,
    ) -> Result<(), StoreError> {
        let mut e = UpdateExpr::default();
        e.apply(updates);
        let expression = e.expression();
        // An update with no value placeholder (a lone REMOVE) must not send an empty map.
        let values = (!e.values.is_empty()).then_some(e.values);
        self.client
            .update_item()
            .table_name(&self.tables.dedupe)
            .set_key(Some(self.dedupe_key(&audit.key)))
            .update_expression(expression)
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(values)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        Ok(())
    }

    /// An `UpdateItem` of the dedupe record of `audit`: expression `e`, under `condition`.
    fn conditional_dedupe_update(
        &self,
        audit: &DeliveryAudit,
        e: UpdateExpr,
        condition: String,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.tables.dedupe)
            .set_key(Some(self.dedupe_key(&audit.key)))
            .update_expression(e.expression())
            .condition_expression(condition)
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
    }

    /// Marks an event done without state writes (all of them were stale), recording the
    /// delivery unless already recorded. `AlreadyDone` when another delivery got there first.
    async fn mark_done(
        &self,
        audit: &DeliveryAudit,
        delivery_recorded: bool,
        outcome: &'static str,
    ) -> Result<Prior, StoreError> {
        let mut e = dedupe_update(audit, !delivery_recorded, Some(outcome));
        let cond = not_done_condition(&mut e);
        let result = self
            .conditional_dedupe_update(audit, e, cond)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Prior::New),
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(f)) => {
                    self.record_if_new_path(audit, delivery_recorded, f.item())
                        .await?;
                    Ok(Prior::AlreadyDone)
                }
                _ => Err(StoreError::from_sdk(err)),
            },
        }
    }

    // ---- reads, for the operator CLI and tests ----

    pub async fn dedupe_record(&self, key: &str) -> Result<Option<Map<String, Value>>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.dedupe)
            .set_key(Some(self.dedupe_key(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        Ok(out.item().map(item_to_json))
    }

    pub async fn state_item(
        &self,
        pk: &str,
        sk: &str,
    ) -> Result<Option<Map<String, Value>>, StoreError> {
        let key = HashMap::from([
            (schema::BILLING_PK.to_owned(), s(pk)),
            (schema::BILLING_SK.to_owned(), s(sk)),
        ]);
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.billing)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        Ok(out.item().map(item_to_json))
    }

    /// Every item of one partition (a customer's profile, subscriptions, payments, …).
    pub async fn partition(&self, pk: &str) -> Result<Vec<Map<String, Value>>, StoreError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.tables.billing)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", schema::BILLING_PK)
                .expression_attribute_values(":pk", s(pk))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(StoreError::from_sdk)?;
            out.extend(page.items().iter().map(item_to_json));
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(out);
            }
        }
    }

    /// Items whose GSI key `attribute` (of index `index`) equals `value`.
    pub async fn by_index(
        &self,
        index: &str,
        attribute: &str,
        value: &str,
    ) -> Result<Vec<Map<String, Value>>, StoreError> {
        let page = self
            .client
            .query()
            .table_name(&self.tables.billing)
            .index_name(index)
            .key_condition_expression("#k = :v")
            .expression_attribute_names("#k", attribute)
            .expression_attribute_values(":v", s(value))
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        Ok(page.items().iter().map(item_to_json).collect())
    }

    /// Every item of the billing table (tests and small tables only: a full scan).
    pub async fn state_items(&self) -> Result<Vec<Map<String, Value>>, StoreError> {
        self.scan_all(&self.tables.billing, true).await
    }

    /// Every dedupe/audit record (for the migration audit).
    pub async fn dedupe_records(&self) -> Result<Vec<Map<String, Value>>, StoreError> {
        self.scan_all(&self.tables.dedupe, false).await
    }

    /// Every item of `table`, page by page.
    async fn scan_all(
        &self,
        table: &str,
        consistent_read: bool,
    ) -> Result<Vec<Map<String, Value>>, StoreError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(table)
                .set_consistent_read(consistent_read.then_some(true))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(StoreError::from_sdk)?;
            out.extend(page.items().iter().map(item_to_json));
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(out);
            }
        }
    }
}

impl EventStore for DynamoStore {
    async fn locate(
        &self,
        object_id: &str,
        sk: Option<&str>,
    ) -> Result<Option<(String, String)>, StoreError> {
        let page = self
            .client
            .query()
            .table_name(&self.tables.billing)
            .index_name(schema::OBJECT_INDEX)
            .key_condition_expression("#k = :v")
            .expression_attribute_names("#k", schema::OBJECT_INDEX_KEY)
            .expression_attribute_values(":v", s(object_id))
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        let keys = page.items().iter().filter_map(|item| {
            let pk = item.get(schema::BILLING_PK)?.as_s().ok()?;
            let sk = item.get(schema::BILLING_SK)?.as_s().ok()?;
            Some((pk.as_str(), sk.as_str()))
        });
        Ok(filed_key(keys, sk))
    }

    async fn record_delivery(&self, audit: &DeliveryAudit) -> Result<Prior, StoreError> {
        let e = dedupe_update(audit, true, None);
        let out = self
            .client
            .update_item()
            .table_name(&self.tables.dedupe)
            .set_key(Some(self.dedupe_key(&audit.key)))
            .update_expression(e.expression())
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        let done = out
            .attributes()
            .is_some_and(|old| old.contains_key(attr::APPLIED_AT));
        Ok(if done { Prior::AlreadyDone } else { Prior::New })
    }

    async fn record_failure(&self, audit: &DeliveryAudit) -> Result<(), StoreError> {
        self.update_dedupe(audit, failure_updates(audit)).await
    }

    async fn commit(&self, c: &Commit<'_>) -> Result<CommitOutcome, StoreError> {
        let mut writes = c.writes.clone();
        if writes.is_empty() {
            return self
                .mark_done(&c.audit, c.delivery_recorded, RECORD_APPLIED)
                .await
                .map(|p| match p {
                    Prior::New => CommitOutcome::Applied,
                    Prior::AlreadyDone => CommitOutcome::Duplicate,
                });
        }
        for attempt in 0..CONFLICT_ATTEMPTS {
            let err = match self.try_commit(c, &writes).await {
                Ok(()) => return Ok(CommitOutcome::Applied),
                Err(err) => err,
            };
            let reasons = match &err {
                SdkError::ServiceError(se) => match se.err() {
                    TransactWriteItemsError::TransactionCanceledException(t) => {
                        t.cancellation_reasons().to_vec()
                    }
                    _ => return Err(StoreError::from_sdk(err)),
                },
                _ => return Err(StoreError::from_sdk(err)),
            };
            let code = |i: usize| reasons.get(i).and_then(|r| r.code()).unwrap_or("None");
            if code(0) == "ConditionalCheckFailed" {
                let old = reasons.first().and_then(|r| r.item());
                self.record_if_new_path(&c.audit, c.delivery_recorded, old)
                    .await?;
                return Ok(CommitOutcome::Duplicate);
            }
            if (0..reasons.len()).any(|i| code(i) == "TransactionConflict") {
                tokio::time::sleep(Duration::from_millis(5 << attempt)).await;
                continue;
            }
            let stale: Vec<usize> = (1..reasons.len())
                .filter(|&i| code(i) == "ConditionalCheckFailed")
                .collect();
            // Item i+1 is write i; its old image shows whether it was refused by a tie.
            let tied = stale.iter().any(|&i| {
                let old = reasons.get(i).and_then(|r| r.item());
                writes
                    .get(i - 1)
                    .is_some_and(|w| ties_with_stored(w, c.settle_ties, old))
            });
            if tied {
                return Ok(CommitOutcome::Tied);
            }
            if stale.is_empty() {
                let codes: Vec<&str> = (0..reasons.len()).map(code).collect();
                let message = format!("transaction cancelled: {codes:?}");
                // A write DynamoDB refuses as such (an item over 400 KB, a local index's
                // collection full) fails the same way on every retry; throttling does not.
                let refused = codes
                    .iter()
                    .any(|c| matches!(*c, "ValidationError" | "ItemCollectionSizeLimitExceeded"));
                return Err(if refused {
                    StoreError::Permanent(message)
                } else {
                    StoreError::Transient(message)
                });
            }
            // Drop the writes the guard refused (item i+1 is write i) and retry the rest.
            writes = writes
                .into_iter()
                .enumerate()
                .filter(|(i, _)| !stale.contains(&(i + 1)))
                .map(|(_, w)| w)
                .collect();
            if writes.is_empty() {
                return self
                    .mark_done(&c.audit, c.delivery_recorded, RECORD_STALE)
                    .await
                    .map(|p| match p {
                        Prior::New => CommitOutcome::Stale,
                        Prior::AlreadyDone => CommitOutcome::Duplicate,
                    });
            }
        }
        Err(StoreError::Transient(
            "transaction conflicts persisted; retry the event".into(),
        ))
    }
}
