//! Projections: plain functions from a Stripe object (any API version's shape, see
//! docs/stripe-and-eventbridge-facts.md) to billing state items. They read only the fields they need and tolerate the rest.
//! Snapshot objects and objects fetched from the API go through the same functions.
//!
//! Table layout (`<prefix>-stripe-billing`, docs/architecture.md#tables):
//!
//! | item | pk | sk |
//! |---|---|---|
//! | customer profile | `CUSTOMER#cus_…` | `PROFILE` |
//! | subscription | `CUSTOMER#cus_…` | `SUBSCRIPTION#sub_…` |
//! | subscription schedule | `CUSTOMER#cus_…` | `SCHEDULE#sub_sched_…` |
//! | invoice, payment intent, charge, refund, dispute, invoice payment | `CUSTOMER#cus_…` (else the parent object) | `PAY#<created, 10 digits>#<object>#<id>` |
//! | payment method | `CUSTOMER#cus_…` (`UNFILED#pm_…` while no customer is known) | `PAYMENT_METHOD#pm_…` |
//! | discount, tax id | `CUSTOMER#cus_…` | `DISCOUNT#di_…`, `TAX_ID#txi_…` |
//!
//! A deletion known only from its stub (a thin `*.deleted` answered 404) of a tax id, discount
//! or invoice is an `UNFILED#…` marker, set by the consumer on the item already stored.
//!
//! Every item carries `object_id` (GSI `by_object_id`); profiles carry `user_id` from
//! `metadata.user_id` (GSI `by_user_id`), removed when the customer no longer has one. `PAY#` sort keys sort newest first with
//! `ScanIndexForward = false`.

use std::borrow::Cow;

use serde_json::{Map, Value};
use thiserror::Error;

use crate::family::Family;
use crate::model::{self, Id, Int, Kind, Metadata, PreviousAttributes, Scalar, StripeObject, Text};
use crate::vocabulary;

/// One attribute value of a state item, built straight from the typed object and written as
/// a DynamoDB attribute value by the store (no JSON tree in between). Strings borrow from
/// the event's bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr<'a> {
    Null,
    Bool(bool),
    Int(i64),
    /// A number outside `i64` or with a fraction (only from metadata), as JSON prints it.
    Number(serde_json::Number),
    Str(Cow<'a, str>),
    List(Vec<Attr<'a>>),
    Map(Vec<(Cow<'a, str>, Attr<'a>)>),
    /// No value: the attribute is removed from the stored item. For `user_id`, a GSI key
    /// that must be absent (never `NULL`) once the customer no longer has one.
    Removed,
}

impl<'a> Attr<'a> {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Attr::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The same value as JSON (tests, the in-memory store, the CLI).
    pub fn to_json(&self) -> Value {
        match self {
            Attr::Null => Value::Null,
            Attr::Bool(b) => Value::Bool(*b),
            Attr::Int(n) => Value::from(*n),
            Attr::Number(n) => Value::Number(n.clone()),
            Attr::Str(s) => Value::String(s.as_ref().to_owned()),
            Attr::List(items) => Value::Array(items.iter().map(Attr::to_json).collect()),
            Attr::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.as_ref().to_owned(), v.to_json()))
                    .collect(),
            ),
            Attr::Removed => Value::Null,
        }
    }

    /// The value with nothing borrowed (for stores that keep it).
    pub fn into_owned(self) -> Attr<'static> {
        match self {
            Attr::Null => Attr::Null,
            Attr::Bool(b) => Attr::Bool(b),
            Attr::Int(n) => Attr::Int(n),
            Attr::Number(n) => Attr::Number(n),
            Attr::Str(s) => Attr::Str(Cow::Owned(s.into_owned())),
            Attr::List(items) => Attr::List(items.into_iter().map(Attr::into_owned).collect()),
            Attr::Map(entries) => Attr::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned()))
                    .collect(),
            ),
            Attr::Removed => Attr::Removed,
        }
    }
}

impl<'a> From<&Value> for Attr<'a> {
    fn from(v: &Value) -> Self {
        match v {
            Value::Null => Attr::Null,
            Value::Bool(b) => Attr::Bool(*b),
            Value::Number(n) => n
                .as_i64()
                .map_or_else(|| Attr::Number(n.clone()), Attr::Int),
            Value::String(s) => Attr::Str(Cow::Owned(s.clone())),
            Value::Array(items) => Attr::List(items.iter().map(Attr::from).collect()),
            Value::Object(m) => Attr::Map(
                m.iter()
                    .map(|(k, v)| (Cow::Owned(k.clone()), Attr::from(v)))
                    .collect(),
            ),
        }
    }
}

impl<'a> From<Value> for Attr<'a> {
    fn from(v: Value) -> Self {
        Attr::from(&v)
    }
}

impl<'a> From<&'a str> for Attr<'a> {
    fn from(s: &'a str) -> Self {
        Attr::Str(Cow::Borrowed(s))
    }
}

impl From<String> for Attr<'_> {
    fn from(s: String) -> Self {
        Attr::Str(Cow::Owned(s))
    }
}

impl From<bool> for Attr<'_> {
    fn from(b: bool) -> Self {
        Attr::Bool(b)
    }
}

impl From<i64> for Attr<'_> {
    fn from(n: i64) -> Self {
        Attr::Int(n)
    }
}

impl<'a, T: Into<Attr<'a>>> From<Option<T>> for Attr<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Attr::Null, Into::into)
    }
}

impl<'a> From<&'a Text<'_>> for Attr<'a> {
    fn from(t: &'a Text<'_>) -> Self {
        t.get().into()
    }
}

impl<'a> From<&'a Id<'_>> for Attr<'a> {
    fn from(t: &'a Id<'_>) -> Self {
        t.get().into()
    }
}

impl From<Int> for Attr<'_> {
    fn from(n: Int) -> Self {
        n.get().into()
    }
}

impl From<model::Flag> for Attr<'_> {
    fn from(f: model::Flag) -> Self {
        f.get().into()
    }
}

impl<'a> From<&'a Scalar<'_>> for Attr<'a> {
    fn from(s: &'a Scalar<'_>) -> Self {
        match s {
            Scalar::Null => Attr::Null,
            Scalar::Bool(b) => Attr::Bool(*b),
            Scalar::Int(n) => Attr::Int(*n),
            Scalar::UInt(n) => Attr::Number((*n).into()),
            Scalar::Float(f) => serde_json::Number::from_f64(*f).map_or(Attr::Null, Attr::Number),
            Scalar::Str(s) => Attr::Str(Cow::Borrowed(s)),
            Scalar::Nested(v) => Attr::from(v.as_ref()),
        }
    }
}

/// A state item's attributes, in the order the projection sets them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields<'a>(pub Vec<(Cow<'static, str>, Attr<'a>)>);

impl<'a> Fields<'a> {
    fn with_capacity(n: usize) -> Self {
        Fields(Vec::with_capacity(n))
    }

    /// Sets an attribute (replacing an earlier value of the same name).
    pub fn insert(&mut self, name: Cow<'static, str>, value: impl Into<Attr<'a>>) {
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
    }

    /// Sets a projection's attribute (each name once per projection, so no lookup).
    fn set(&mut self, name: &'static str, value: impl Into<Attr<'a>>) {
        self.0.push((Cow::Borrowed(name), value.into()));
    }

    pub fn get(&self, name: &str) -> Option<&Attr<'a>> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Attr<'a>)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v))
    }

    /// The attributes as a JSON object (tests, the in-memory store); removed ones are absent.
    pub fn to_json(&self) -> Map<String, Value> {
        self.0
            .iter()
            .filter(|(_, v)| *v != Attr::Removed)
            .map(|(k, v)| (k.as_ref().to_owned(), v.to_json()))
            .collect()
    }

    pub fn into_owned(self) -> Fields<'static> {
        Fields(
            self.0
                .into_iter()
                .map(|(k, v)| (k, v.into_owned()))
                .collect(),
        )
    }
}

/// One billing state item to write: its key and the attributes the projection sets.
#[derive(Debug, Clone, PartialEq)]
pub struct StateWrite<'a> {
    pub pk: String,
    pub sk: String,
    pub fields: Fields<'a>,
    pub kind: WriteKind,
}

/// The partition of an item whose owner the event does not name (`UNFILED#<object id>`).
pub const UNFILED_PK_PREFIX: &str = vocabulary::UNFILED_PK_PREFIX;

impl<'a> StateWrite<'a> {
    /// The event does not say whose item this is (a detached payment method fetched for a
    /// thin event, a deletion stub's marker): it belongs where the object is already stored,
    /// if anywhere.
    pub fn is_unfiled(&self) -> bool {
        self.pk.starts_with(UNFILED_PK_PREFIX)
    }

    pub fn object_id(&self) -> Option<&str> {
        self.fields.get("object_id").and_then(Attr::as_str)
    }

    /// The attributes as JSON, for tests and reads.
    pub fn fields_json(&self) -> Map<String, Value> {
        self.fields.to_json()
    }

    pub fn into_owned(self) -> StateWrite<'static> {
        StateWrite {
            pk: self.pk,
            sk: self.sk,
            fields: self.fields.into_owned(),
            kind: self.kind,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    /// Replaces the projected fields when the event is newer than the stored version.
    Versioned,
    /// A sticky marker (a deletion known only from a stub): its fields are set whatever the
    /// order, without touching the version, so the last full state is kept and a late, older
    /// full event still lands beneath the marker.
    Marker,
}

/// Why an object without an id is not stored.
pub const OBJECT_WITHOUT_ID: &str = "object has no id (e.g. an upcoming invoice)";

#[derive(Debug, Clone, PartialEq)]
pub enum Projection<'a> {
    Items(Vec<StateWrite<'a>>),
    /// The family owns the type but there is nothing to store (e.g. an upcoming invoice).
    Ignored(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProjectError {
    #[error("{object_type} object lacks `{field}`")]
    MissingField {
        object_type: &'static str,
        field: &'static str,
    },
    /// A deletion stub (`{id, object, deleted}`: Stripe answered 404 for a thin `*.deleted`)
    /// of a kind whose owner only its full object names.
    #[error(
        "Stripe no longer serves the {object_type} and its deletion stub names no owner to mark"
    )]
    StubWithoutOwner { object_type: String },
}

/// Whether this family's Lambda stores events of this (base, `v1.`-less) type.
pub fn handles(family: Family, base_type: &str) -> bool {
    Family::of_event_type(base_type) == family && family != Family::None
}

/// Projects a Stripe object given as JSON (tests, tools): reads it into the typed model and
/// projects that, exactly as the handler does with the event's bytes. The items own their
/// attributes.
pub fn project(
    base_type: &str,
    object: &Value,
    previous: Option<&Value>,
) -> Result<Projection<'static>, ProjectError> {
    // Through its text, as the handler reads bytes (the model reads keys that precede
    // `object` from the raw input).
    let text = object.to_string();
    let Ok(object) = serde_json::from_str::<StripeObject>(&text) else {
        return Ok(Projection::Ignored(OBJECT_WITHOUT_ID));
    };
    let previous_text = previous.map(Value::to_string);
    let previous = previous_text
        .as_deref()
        .and_then(|p| serde_json::from_str::<PreviousAttributes>(p).ok());
    project_object(base_type, &object, previous.as_ref()).map(Projection::into_owned_items)
}

impl Projection<'_> {
    fn into_owned_items(self) -> Projection<'static> {
        match self {
            Projection::Items(items) => {
                Projection::Items(items.into_iter().map(StateWrite::into_owned).collect())
            }
            Projection::Ignored(why) => Projection::Ignored(why),
        }
    }
}

/// Projects a typed Stripe object for an event of `base_type` (no `v1.` prefix).
/// `previous` is the snapshot's `data.previous_attributes` when present.
pub fn project_object<'a>(
    base_type: &str,
    object: &'a StripeObject<'_>,
    previous: Option<&'a PreviousAttributes<'_>>,
) -> Result<Projection<'a>, ProjectError> {
    let Some(id) = object.id().filter(|id| !id.is_empty()) else {
        return Ok(Projection::Ignored(OBJECT_WITHOUT_ID));
    };
    let deleted_event = base_type.ends_with(".deleted");
    if object.is_deleted_stub() {
        if let Some(marker) = owner_unknown_deletion(&object.kind, id) {
            return Ok(Projection::Items(vec![marker]));
        }
        if !matches!(object.kind, Kind::Customer(_)) {
            return Err(ProjectError::StubWithoutOwner {
                object_type: object.object_type().unwrap_or("object").to_owned(),
            });
        }
    }
    let item = match &object.kind {
        Kind::Subscription(o) => subscription(id, o)?,
        Kind::SubscriptionSchedule(o) => schedule(id, o)?,
        Kind::Invoice(o) => invoice(id, o, deleted_event),
        Kind::PaymentIntent(o) => payment_intent(id, o),
        Kind::Charge(o) => charge(id, o),
        Kind::Refund(o) => charge_child("refund", id, o),
        Kind::Dispute(o) => charge_child("dispute", id, o),
        Kind::InvoicePayment(o) => invoice_payment(id, o),
        Kind::Customer(o) => customer(id, o, deleted_event),
        Kind::PaymentMethod(o) => payment_method(id, o, previous),
        Kind::Discount(o) => discount(id, o, deleted_event),
        Kind::TaxId(o) => tax_id(id, o, deleted_event),
        Kind::Other(_) => return Ok(Projection::Ignored("object type not stored")),
    };
    Ok(Projection::Items(vec![item]))
}

fn subscription<'a>(
    id: &'a str,
    o: &'a model::Subscription<'_>,
) -> Result<StateWrite<'a>, ProjectError> {
    let customer = o.customer.get().ok_or(ProjectError::MissingField {
        object_type: "subscription",
        field: "customer",
    })?;
    let items: &[model::SubscriptionItem<'_>] = o
        .items
        .get()
        .and_then(|i| i.data.0.as_deref())
        .unwrap_or_default();
    let item_rows: Vec<Attr<'a>> = items
        .iter()
        .map(|it| {
            let price = it.price.get();
            let plan = it.plan.get();
            let priced = price.or(plan);
            // Keys in JSON object order (sorted), as the stored map always was.
            Attr::Map(vec![
                (Cow::Borrowed("id"), Attr::from(&it.id)),
                (
                    Cow::Borrowed("plan_id"),
                    plan.and_then(|p| p.id.get()).into(),
                ),
                (
                    Cow::Borrowed("price_id"),
                    price.and_then(|p| p.id.get()).into(),
                ),
                (
                    Cow::Borrowed("product_id"),
                    priced.and_then(|p| p.product.get()).into(),
                ),
                (Cow::Borrowed("quantity"), it.quantity.into()),
            ])
        })
        .collect();
    // API 2025-03-31 moved the period onto the items; older versions have it on the object.
    let period_start = o.current_period_start.get().or_else(|| {
        items
            .iter()
            .filter_map(|i| i.current_period_start.get())
            .min()
    });
    let period_end = o.current_period_end.get().or_else(|| {
        items
            .iter()
            .filter_map(|i| i.current_period_end.get())
            .max()
    });
    let legacy_plan = o.plan.get().and_then(|p| p.id.get());
    let pause = o.pause_collection.get();
    let mut f = Fields::with_capacity(21);
    f.set("object_type", "subscription");
    f.set("object_id", id);
    f.set("customer_id", customer);
    f.set("status", &o.status);
    f.set("items", Attr::List(item_rows));
    f.set("plan_id", legacy_plan);
    f.set("current_period_start", period_start);
    f.set("current_period_end", period_end);
    f.set("trial_start", o.trial_start);
    f.set("trial_end", o.trial_end);
    f.set("cancel_at", o.cancel_at);
    f.set(
        "cancel_at_period_end",
        o.cancel_at_period_end.get().unwrap_or(false),
    );
    f.set("canceled_at", o.canceled_at);
    f.set("ended_at", o.ended_at);
    f.set("pause_behavior", pause.and_then(|p| p.behavior.get()));
    f.set("pause_resumes_at", pause.and_then(|p| p.resumes_at.get()));
    f.set("latest_invoice", &o.latest_invoice);
    f.set("schedule_id", &o.schedule);
    f.set("metadata", metadata(o.metadata.as_ref()));
    Ok(StateWrite {
        pk: customer_pk(customer),
        sk: vocabulary::subscription_sk(id),
        fields: f,
        kind: WriteKind::Versioned,
    })
}

fn schedule<'a>(
    id: &'a str,
    o: &'a model::SubscriptionSchedule<'_>,
) -> Result<StateWrite<'a>, ProjectError> {
    let customer = o.customer.get().ok_or(ProjectError::MissingField {
        object_type: "subscription_schedule",
        field: "customer",
    })?;
    let mut f = Fields::with_capacity(11);
    f.set("object_type", "subscription_schedule");
    f.set("object_id", id);
    f.set("customer_id", customer);
    f.set("status", &o.status);
    f.set("subscription_id", &o.subscription);
    f.set("end_behavior", &o.end_behavior);
    f.set(
        "phase_count",
        o.phases.0.map(|n| i64::try_from(n).unwrap_or(i64::MAX)),
    );
    f.set(
        "current_phase_end",
        o.current_phase.get().and_then(|p| p.end_date.get()),
    );
    f.set("canceled_at", o.canceled_at);
    f.set("completed_at", o.completed_at);
    f.set("released_at", o.released_at);
    Ok(StateWrite {
        pk: customer_pk(customer),
        sk: vocabulary::schedule_sk(id),
        fields: f,
        kind: WriteKind::Versioned,
    })
}

fn invoice<'a>(id: &'a str, o: &'a model::Invoice<'_>, deleted_event: bool) -> StateWrite<'a> {
    // API 2025-03-31 moved `subscription` under `parent.subscription_details`.
    let subscription = o.subscription.get().or_else(|| {
        o.parent
            .get()
            .and_then(|p| p.subscription_details.get())
            .and_then(|d| d.subscription.get())
    });
    let mut f = payment_common("invoice", id, &o.customer, &o.currency, o.created, 17);
    f.set("status", &o.status);
    f.set("number", &o.number);
    f.set("amount_due", o.amount_due);
    f.set("amount_paid", o.amount_paid);
    f.set("amount_remaining", o.amount_remaining);
    f.set("total", o.total);
    f.set("subscription_id", subscription);
    f.set("billing_reason", &o.billing_reason);
    f.set("period_start", o.period_start);
    f.set("period_end", o.period_end);
    f.set("attempt_count", o.attempt_count);
    f.set("next_payment_attempt", o.next_payment_attempt);
    f.set("hosted_invoice_url", &o.hosted_invoice_url);
    // `invoice.deleted` carries the draft as it was: without this it would read as live.
    if deleted_event {
        f.set(vocabulary::attr::DELETED, true);
    }
    pay_item("invoice", id, &o.customer, o.created, f, None)
}

fn payment_intent<'a>(id: &'a str, o: &'a model::PaymentIntent<'_>) -> StateWrite<'a> {
    let error = o.last_payment_error.get();
    let mut f = payment_common(
        "payment_intent",
        id,
        &o.customer,
        &o.currency,
        o.created,
        11,
    );
    f.set("status", &o.status);
    f.set("amount", o.amount);
    f.set("amount_received", o.amount_received);
    f.set("last_error_code", error.and_then(|e| e.code.get()));
    f.set(
        "last_decline_code",
        error.and_then(|e| e.decline_code.get()),
    );
    f.set("latest_charge", &o.latest_charge);
    pay_item("payment_intent", id, &o.customer, o.created, f, None)
}

fn charge<'a>(id: &'a str, o: &'a model::Charge<'_>) -> StateWrite<'a> {
    let mut f = payment_common("charge", id, &o.customer, &o.currency, o.created, 13);
    f.set("status", &o.status);
    f.set("amount", o.amount);
    f.set("amount_refunded", o.amount_refunded);
    f.set("refunded", o.refunded);
    f.set("failure_code", &o.failure_code);
    f.set("disputed", o.disputed);
    // Older API versions expand `dispute` on the charge.
    f.set("dispute_id", &o.dispute);
    f.set("payment_intent_id", &o.payment_intent);
    pay_item("charge", id, &o.customer, o.created, f, None)
}

/// Refunds and disputes: the same fields, filed under the charge they belong to.
fn charge_child<'a>(
    kind: &'static str,
    id: &'a str,
    o: &'a model::ChargeChild<'_>,
) -> StateWrite<'a> {
    let mut f = payment_common(kind, id, &o.customer, &o.currency, o.created, 10);
    f.set("status", &o.status);
    f.set("amount", o.amount);
    f.set("reason", &o.reason);
    f.set("charge_id", &o.charge);
    f.set("payment_intent_id", &o.payment_intent);
    let parent = o.charge.get().map(|c| vocabulary::object_pk("charge", c));
    pay_item(kind, id, &o.customer, o.created, f, parent)
}

fn invoice_payment<'a>(id: &'a str, o: &'a model::InvoicePayment<'_>) -> StateWrite<'a> {
    let mut f = payment_common(
        "invoice_payment",
        id,
        &o.customer,
        &o.currency,
        o.created,
        10,
    );
    f.set("status", &o.status);
    f.set("amount_paid", o.amount_paid);
    f.set("amount_requested", o.amount_requested);
    f.set("invoice_id", &o.invoice);
    f.set(
        "payment_intent_id",
        o.payment.get().and_then(|p| p.payment_intent.get()),
    );
    let parent = o.invoice.get().map(|i| vocabulary::object_pk("invoice", i));
    pay_item("invoice_payment", id, &o.customer, o.created, f, parent)
}

fn payment_common<'a>(
    object_type: &'static str,
    id: &'a str,
    customer: &'a Id<'_>,
    currency: &'a Text<'_>,
    created: Int,
    capacity: usize,
) -> Fields<'a> {
    let mut f = Fields::with_capacity(capacity);
    f.set("object_type", object_type);
    f.set("object_id", id);
    f.set("customer_id", customer);
    f.set("currency", currency);
    f.set("created", created);
    f
}

/// Payment-side items live in the customer's partition when the object names a customer,
/// else under their parent object (a refund under its charge, …), else under themselves.
fn pay_item<'a>(
    object_type: &str,
    id: &str,
    customer: &Id<'_>,
    created: Int,
    fields: Fields<'a>,
    parent_pk: Option<String>,
) -> StateWrite<'a> {
    let pk = customer
        .get()
        .map(customer_pk)
        .or(parent_pk)
        .unwrap_or_else(|| vocabulary::object_pk(object_type, id));
    let created = created.get().unwrap_or(0).max(0);
    StateWrite {
        pk,
        sk: vocabulary::pay_sk(created, object_type, id),
        fields,
        kind: WriteKind::Versioned,
    }
}

fn customer<'a>(id: &'a str, o: &'a model::Customer<'_>, deleted_event: bool) -> StateWrite<'a> {
    let mut f = Fields::with_capacity(10);
    f.set("object_type", "customer");
    f.set("object_id", id);
    f.set("customer_id", id);
    // Only deletions write `deleted`, so no later-arriving older update can clear it.
    if deleted_event || o.deleted.get() == Some(true) {
        f.set(vocabulary::attr::DELETED, true);
    }
    // A deleted stub (`{id, object, deleted}`) has nothing else: keep the last known profile.
    let stub = o.is_stub();
    if !stub {
        f.set("email", o.email.as_ref().and_then(Text::get));
        f.set("name", o.name.as_ref().and_then(Text::get));
        f.set("delinquent", o.delinquent);
        let default_pm = o
            .invoice_settings
            .get()
            .and_then(|s| s.default_payment_method.get())
            .or_else(|| o.default_source.get());
        f.set("default_payment_method", default_pm);
        f.set("metadata", metadata(o.metadata.as_ref()));
        let user = o
            .metadata
            .as_ref()
            .and_then(|m| m.get("user_id"))
            .and_then(|v| match v {
                Scalar::Str(s) => Some(s.as_ref()),
                _ => None,
            });
        // Removed when absent: a user the customer no longer names must leave `by_user_id`.
        match user {
            Some(user) => f.set("user_id", user),
            None => f.set("user_id", Attr::Removed),
        }
    }
    StateWrite {
        pk: customer_pk(id),
        sk: vocabulary::PROFILE_SK.into(),
        fields: f,
        kind: if stub {
            WriteKind::Marker
        } else {
            WriteKind::Versioned
        },
    }
}

/// The deletion of an object filed under its owner, known only from its stub (a thin
/// `*.deleted` whose fetch answered 404): the stub names no owner, so the marker is unfiled
/// and the consumer sets it on the item where the object is stored, or drops it when there
/// is none. An invoice's sort key depends on its `created`, which the stub lacks: empty,
/// taken from the item found.
fn owner_unknown_deletion<'a>(kind: &Kind<'_>, id: &'a str) -> Option<StateWrite<'a>> {
    let (object_type, sk) = match kind {
        Kind::TaxId(_) => ("tax_id", vocabulary::tax_id_sk(id)),
        Kind::Discount(_) => ("discount", vocabulary::discount_sk(id)),
        Kind::Invoice(_) => ("invoice", String::new()),
        _ => return None,
    };
    let mut f = Fields::with_capacity(3);
    f.set("object_type", object_type);
    f.set("object_id", id);
    f.set(vocabulary::attr::DELETED, true);
    Some(StateWrite {
        pk: vocabulary::unfiled_pk(id),
        sk,
        fields: f,
        kind: WriteKind::Marker,
    })
}

// Owned attributes (a few short strings) so the signature stays plain. The Terraform test
// finds `fn payment_method(` and `fn owner_unknown_deletion` as the builders of unfiled
// partitions (their families query by_object_id).
fn payment_method(
    id: &str,
    o: &model::PaymentMethod<'_>,
    previous: Option<&PreviousAttributes<'_>>,
) -> StateWrite<'static> {
    let owned = |s: Option<&str>| s.map(str::to_owned);
    let customer = o.customer.get();
    // A detached method names its former customer only in `previous_attributes`; a fetched
    // one (thin event) not at all: its write is unfiled and the consumer files it where the
    // method is already stored (`StateWrite::is_unfiled`).
    let owner = customer.or_else(|| previous.and_then(|p| p.customer.get()));
    let card = o.card.get();
    let mut f = Fields::with_capacity(9);
    f.set("object_type", "payment_method");
    f.set("object_id", id.to_owned());
    if let Some(owner) = owner {
        f.set("customer_id", owner.to_owned());
    }
    f.set("attached", customer.is_some());
    f.set("type", owned(o.kind.get()));
    f.set("brand", owned(card.and_then(|c| c.brand.get())));
    f.set("last4", owned(card.and_then(|c| c.last4.get())));
    f.set("exp_month", card.and_then(|c| c.exp_month.get()));
    f.set("exp_year", card.and_then(|c| c.exp_year.get()));
    StateWrite {
        pk: owner
            .map(customer_pk)
            .unwrap_or_else(|| vocabulary::unfiled_pk(id)),
        sk: vocabulary::payment_method_sk(id),
        fields: f,
        kind: WriteKind::Versioned,
    }
}

fn discount<'a>(id: &'a str, o: &'a model::Discount<'_>, deleted_event: bool) -> StateWrite<'a> {
    let coupon = o
        .source
        .get()
        .and_then(|s| s.coupon.get())
        .or_else(|| o.coupon.get());
    let customer = o.customer.get();
    let mut f = Fields::with_capacity(10);
    f.set("object_type", "discount");
    f.set("object_id", id);
    f.set("customer_id", customer);
    f.set("coupon_id", coupon);
    f.set("promotion_code", &o.promotion_code);
    f.set("subscription_id", &o.subscription);
    f.set("start", o.start);
    f.set("end", o.end);
    if deleted_event {
        f.set(vocabulary::attr::DELETED, true);
    }
    StateWrite {
        pk: customer
            .map(customer_pk)
            .unwrap_or_else(|| vocabulary::object_pk("discount", id)),
        sk: vocabulary::discount_sk(id),
        fields: f,
        kind: WriteKind::Versioned,
    }
}

fn tax_id<'a>(id: &'a str, o: &'a model::TaxId<'_>, deleted_event: bool) -> StateWrite<'a> {
    let customer = o
        .customer
        .get()
        .or_else(|| o.owner.get().and_then(|w| w.customer.get()));
    let mut f = Fields::with_capacity(9);
    f.set("object_type", "tax_id");
    f.set("object_id", id);
    f.set("customer_id", customer);
    f.set("type", &o.kind);
    f.set("value", &o.value);
    f.set("country", &o.country);
    f.set(
        "verification_status",
        o.verification.get().and_then(|v| v.status.get()),
    );
    if deleted_event {
        f.set(vocabulary::attr::DELETED, true);
    }
    StateWrite {
        pk: customer
            .map(customer_pk)
            .unwrap_or_else(|| vocabulary::object_pk("tax_id", id)),
        sk: vocabulary::tax_id_sk(id),
        fields: f,
        kind: WriteKind::Versioned,
    }
}

pub use crate::vocabulary::customer_pk;

/// `metadata` as stored: the object's entries (an empty map when there is none).
fn metadata<'a>(m: Option<&'a Metadata<'_>>) -> Attr<'a> {
    Attr::Map(
        m.map(|m| {
            m.0.iter()
                .map(|(k, v)| (Cow::Borrowed(k.as_ref()), Attr::from(v)))
                .collect()
        })
        .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deletion_stub_of_a_kind_filed_by_its_owner_says_so() {
        let stub = StripeObject::deleted_stub("subscription", "sub_gone");
        let err = project_object("customer.subscription.deleted", &stub, None)
            .expect_err("no owner to file it under");
        assert!(
            err.to_string()
                .contains("no longer serves the subscription"),
            "{err}"
        );
        // Kinds whose marker is filed where the object is stored: an unfiled marker.
        let stub = StripeObject::deleted_stub("tax_id", "txi_gone");
        let Ok(Projection::Items(items)) = project_object("customer.tax_id.deleted", &stub, None)
        else {
            panic!("a marker")
        };
        assert!(items[0].is_unfiled() && items[0].kind == WriteKind::Marker);
    }
}
