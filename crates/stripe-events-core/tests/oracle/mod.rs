//! The projections as they were before the typed model, walking `serde_json::Value`: the
//! oracle the typed projections are compared with on every fixture (`typed_model.rs`).
#![allow(dead_code)]

use serde_json::{json, Map, Value};
use thiserror::Error;

/// One billing state item to write: its key and the attributes the projection sets.
#[derive(Debug, Clone, PartialEq)]
pub struct StateWrite {
    pub pk: String,
    pub sk: String,
    pub fields: Map<String, Value>,
    pub kind: WriteKind,
}

/// The partition of an item whose owner the event does not name (`UNFILED#<object id>`).
pub const UNFILED_PK_PREFIX: &str = "UNFILED#";

impl StateWrite {
    /// The event does not say whose item this is (a detached payment method fetched for a
    /// thin event): it belongs where the object is already stored, if anywhere.
    pub fn is_unfiled(&self) -> bool {
        self.pk.starts_with(UNFILED_PK_PREFIX)
    }

    pub fn object_id(&self) -> Option<&str> {
        self.fields.get("object_id").and_then(Value::as_str)
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

#[derive(Debug, Clone, PartialEq)]
pub enum Projection {
    Items(Vec<StateWrite>),
    /// The family owns the type but there is nothing to store (e.g. an upcoming invoice).
    Ignored(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[allow(dead_code)]
pub enum ProjectError {
    #[error("{object_type} object lacks `{field}`")]
    MissingField {
        object_type: &'static str,
        field: &'static str,
    },
}

/// Projects a Stripe object for an event of `base_type` (no `v1.` prefix).
/// `previous` is the snapshot's `data.previous_attributes` when present.
pub fn project(
    base_type: &str,
    object: &Value,
    previous: Option<&Value>,
) -> Result<Projection, ProjectError> {
    let object_type = str_at(object, "object").unwrap_or("");
    let Some(id) = str_at(object, "id").filter(|id| !id.is_empty()) else {
        return Ok(Projection::Ignored(
            "object has no id (e.g. an upcoming invoice)",
        ));
    };
    let deleted_event = base_type.ends_with(".deleted");
    let item = match object_type {
        "subscription" => subscription(id, object)?,
        "subscription_schedule" => schedule(id, object)?,
        "invoice" => invoice(id, object),
        "payment_intent" => payment_intent(id, object),
        "charge" => charge(id, object),
        kind @ ("refund" | "dispute") => charge_child(kind, id, object),
        "invoice_payment" => invoice_payment(id, object),
        "customer" => customer(id, object, deleted_event),
        "payment_method" => payment_method(id, object, previous),
        "discount" => discount(id, object, deleted_event),
        "tax_id" => tax_id(id, object, deleted_event),
        _ => return Ok(Projection::Ignored("object type not stored")),
    };
    Ok(Projection::Items(vec![item]))
}

fn subscription(id: &str, o: &Value) -> Result<StateWrite, ProjectError> {
    let customer = id_at(o, "customer").ok_or(ProjectError::MissingField {
        object_type: "subscription",
        field: "customer",
    })?;
    let items: Vec<&Value> = o
        .pointer("/items/data")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let item_rows: Vec<Value> = items
        .iter()
        .map(|it| {
            // 2018+ items carry `price`; older accounts render only `plan`.
            let price = it.get("price").filter(|p| p.is_object());
            let plan = it.get("plan").filter(|p| p.is_object());
            let priced = price.or(plan);
            json!({
                "id": str_at(it, "id"),
                "price_id": price.and_then(|p| str_at(p, "id")),
                "plan_id": plan.and_then(|p| str_at(p, "id")),
                "product_id": priced.and_then(|p| id_at(p, "product")),
                "quantity": it.get("quantity").and_then(Value::as_i64),
            })
        })
        .collect();
    // API 2025-03-31 moved the period onto the items; older versions have it on the object.
    let period_start = int_at(o, "current_period_start").or_else(|| {
        items
            .iter()
            .filter_map(|i| int_at(i, "current_period_start"))
            .min()
    });
    let period_end = int_at(o, "current_period_end").or_else(|| {
        items
            .iter()
            .filter_map(|i| int_at(i, "current_period_end"))
            .max()
    });
    let legacy_plan = o
        .get("plan")
        .filter(|p| p.is_object())
        .and_then(|p| str_at(p, "id"));
    let pause = o.get("pause_collection").filter(|p| p.is_object());
    let mut f = Map::new();
    f.insert("object_type".into(), json!("subscription"));
    f.insert("object_id".into(), json!(id));
    f.insert("customer_id".into(), json!(customer));
    f.insert("status".into(), json!(str_at(o, "status")));
    f.insert("items".into(), Value::Array(item_rows));
    f.insert("plan_id".into(), json!(legacy_plan));
    f.insert("current_period_start".into(), json!(period_start));
    f.insert("current_period_end".into(), json!(period_end));
    f.insert("trial_start".into(), json!(int_at(o, "trial_start")));
    f.insert("trial_end".into(), json!(int_at(o, "trial_end")));
    f.insert("cancel_at".into(), json!(int_at(o, "cancel_at")));
    f.insert(
        "cancel_at_period_end".into(),
        json!(o
            .get("cancel_at_period_end")
            .and_then(Value::as_bool)
            .unwrap_or(false)),
    );
    f.insert("canceled_at".into(), json!(int_at(o, "canceled_at")));
    f.insert("ended_at".into(), json!(int_at(o, "ended_at")));
    f.insert(
        "pause_behavior".into(),
        json!(pause.and_then(|p| str_at(p, "behavior"))),
    );
    f.insert(
        "pause_resumes_at".into(),
        json!(pause.and_then(|p| int_at(p, "resumes_at"))),
    );
    f.insert("latest_invoice".into(), json!(id_at(o, "latest_invoice")));
    f.insert("schedule_id".into(), json!(id_at(o, "schedule")));
    f.insert("metadata".into(), metadata(o));
    Ok(StateWrite {
        pk: customer_pk(customer),
        sk: format!("SUBSCRIPTION#{id}"),
        fields: f,
        kind: WriteKind::Versioned,
    })
}

fn schedule(id: &str, o: &Value) -> Result<StateWrite, ProjectError> {
    let customer = id_at(o, "customer").ok_or(ProjectError::MissingField {
        object_type: "subscription_schedule",
        field: "customer",
    })?;
    let phases = o.get("phases").and_then(Value::as_array).map(Vec::len);
    let mut f = Map::new();
    f.insert("object_type".into(), json!("subscription_schedule"));
    f.insert("object_id".into(), json!(id));
    f.insert("customer_id".into(), json!(customer));
    f.insert("status".into(), json!(str_at(o, "status")));
    f.insert("subscription_id".into(), json!(id_at(o, "subscription")));
    f.insert("end_behavior".into(), json!(str_at(o, "end_behavior")));
    f.insert("phase_count".into(), json!(phases));
    f.insert(
        "current_phase_end".into(),
        json!(o.get("current_phase").and_then(|p| int_at(p, "end_date"))),
    );
    f.insert("canceled_at".into(), json!(int_at(o, "canceled_at")));
    f.insert("completed_at".into(), json!(int_at(o, "completed_at")));
    f.insert("released_at".into(), json!(int_at(o, "released_at")));
    Ok(StateWrite {
        pk: customer_pk(customer),
        sk: format!("SCHEDULE#{id}"),
        fields: f,
        kind: WriteKind::Versioned,
    })
}

fn invoice(id: &str, o: &Value) -> StateWrite {
    // API 2025-03-31 moved `subscription` under `parent.subscription_details`.
    let subscription = id_at(o, "subscription").or_else(|| {
        o.pointer("/parent/subscription_details/subscription")
            .and_then(as_id)
    });
    let mut f = payment_common("invoice", id, o);
    f.insert("status".into(), json!(str_at(o, "status")));
    f.insert("number".into(), json!(str_at(o, "number")));
    f.insert("amount_due".into(), json!(int_at(o, "amount_due")));
    f.insert("amount_paid".into(), json!(int_at(o, "amount_paid")));
    f.insert(
        "amount_remaining".into(),
        json!(int_at(o, "amount_remaining")),
    );
    f.insert("total".into(), json!(int_at(o, "total")));
    f.insert("subscription_id".into(), json!(subscription));
    f.insert("billing_reason".into(), json!(str_at(o, "billing_reason")));
    f.insert("period_start".into(), json!(int_at(o, "period_start")));
    f.insert("period_end".into(), json!(int_at(o, "period_end")));
    f.insert("attempt_count".into(), json!(int_at(o, "attempt_count")));
    f.insert(
        "next_payment_attempt".into(),
        json!(int_at(o, "next_payment_attempt")),
    );
    f.insert(
        "hosted_invoice_url".into(),
        json!(str_at(o, "hosted_invoice_url")),
    );
    pay_item("invoice", id, o, f, None)
}

fn payment_intent(id: &str, o: &Value) -> StateWrite {
    let error = o.get("last_payment_error").filter(|e| e.is_object());
    let mut f = payment_common("payment_intent", id, o);
    f.insert("status".into(), json!(str_at(o, "status")));
    f.insert("amount".into(), json!(int_at(o, "amount")));
    f.insert(
        "amount_received".into(),
        json!(int_at(o, "amount_received")),
    );
    f.insert(
        "last_error_code".into(),
        json!(error.and_then(|e| str_at(e, "code"))),
    );
    f.insert(
        "last_decline_code".into(),
        json!(error.and_then(|e| str_at(e, "decline_code"))),
    );
    f.insert("latest_charge".into(), json!(id_at(o, "latest_charge")));
    pay_item("payment_intent", id, o, f, None)
}

fn charge(id: &str, o: &Value) -> StateWrite {
    let mut f = payment_common("charge", id, o);
    f.insert("status".into(), json!(str_at(o, "status")));
    f.insert("amount".into(), json!(int_at(o, "amount")));
    f.insert(
        "amount_refunded".into(),
        json!(int_at(o, "amount_refunded")),
    );
    f.insert("refunded".into(), json!(bool_at(o, "refunded")));
    f.insert("failure_code".into(), json!(str_at(o, "failure_code")));
    f.insert("disputed".into(), json!(bool_at(o, "disputed")));
    // Older API versions expand `dispute` on the charge.
    f.insert("dispute_id".into(), json!(id_at(o, "dispute")));
    f.insert(
        "payment_intent_id".into(),
        json!(id_at(o, "payment_intent")),
    );
    pay_item("charge", id, o, f, None)
}

/// Refunds and disputes: the same fields, filed under the charge they belong to.
fn charge_child(kind: &str, id: &str, o: &Value) -> StateWrite {
    let mut f = payment_common(kind, id, o);
    f.insert("status".into(), json!(str_at(o, "status")));
    f.insert("amount".into(), json!(int_at(o, "amount")));
    f.insert("reason".into(), json!(str_at(o, "reason")));
    f.insert("charge_id".into(), json!(id_at(o, "charge")));
    f.insert(
        "payment_intent_id".into(),
        json!(id_at(o, "payment_intent")),
    );
    let parent = id_at(o, "charge").map(|c| format!("CHARGE#{c}"));
    pay_item(kind, id, o, f, parent)
}

fn invoice_payment(id: &str, o: &Value) -> StateWrite {
    let mut f = payment_common("invoice_payment", id, o);
    f.insert("status".into(), json!(str_at(o, "status")));
    f.insert("amount_paid".into(), json!(int_at(o, "amount_paid")));
    f.insert(
        "amount_requested".into(),
        json!(int_at(o, "amount_requested")),
    );
    f.insert("invoice_id".into(), json!(id_at(o, "invoice")));
    f.insert(
        "payment_intent_id".into(),
        json!(o.pointer("/payment/payment_intent").and_then(as_id)),
    );
    let parent = id_at(o, "invoice").map(|i| format!("INVOICE#{i}"));
    pay_item("invoice_payment", id, o, f, parent)
}

fn payment_common(object_type: &str, id: &str, o: &Value) -> Map<String, Value> {
    let mut f = Map::new();
    f.insert("object_type".into(), json!(object_type));
    f.insert("object_id".into(), json!(id));
    f.insert("customer_id".into(), json!(id_at(o, "customer")));
    f.insert("currency".into(), json!(str_at(o, "currency")));
    f.insert("created".into(), json!(int_at(o, "created")));
    f
}

/// Payment-side items live in the customer's partition when the object names a customer,
/// else under their parent object (a refund under its charge, …), else under themselves.
fn pay_item(
    object_type: &str,
    id: &str,
    o: &Value,
    fields: Map<String, Value>,
    parent_pk: Option<String>,
) -> StateWrite {
    let pk = id_at(o, "customer")
        .map(customer_pk)
        .or(parent_pk)
        .unwrap_or_else(|| format!("{}#{id}", object_type.to_ascii_uppercase()));
    let created = int_at(o, "created").unwrap_or(0).max(0);
    StateWrite {
        pk,
        sk: format!("PAY#{created:010}#{object_type}#{id}"),
        fields,
        kind: WriteKind::Versioned,
    }
}

fn customer(id: &str, o: &Value, deleted_event: bool) -> StateWrite {
    let mut f = Map::new();
    f.insert("object_type".into(), json!("customer"));
    f.insert("object_id".into(), json!(id));
    f.insert("customer_id".into(), json!(id));
    // Only deletions write `deleted`, so no later-arriving older update can clear it.
    if deleted_event || bool_at(o, "deleted") == Some(true) {
        f.insert("deleted".into(), json!(true));
    }
    // A deleted stub (`{id, object, deleted}`) has nothing else: keep the last known profile.
    let stub = o.get("email").is_none() && o.get("name").is_none() && o.get("created").is_none();
    if !stub {
        f.insert("email".into(), json!(str_at(o, "email")));
        f.insert("name".into(), json!(str_at(o, "name")));
        f.insert("delinquent".into(), json!(bool_at(o, "delinquent")));
        let default_pm = o
            .pointer("/invoice_settings/default_payment_method")
            .and_then(as_id)
            .or_else(|| id_at(o, "default_source"));
        f.insert("default_payment_method".into(), json!(default_pm));
        f.insert("metadata".into(), metadata(o));
        if let Some(user) = o.pointer("/metadata/user_id").and_then(Value::as_str) {
            f.insert("user_id".into(), json!(user));
        }
    }
    StateWrite {
        pk: customer_pk(id),
        sk: "PROFILE".into(),
        fields: f,
        kind: if stub {
            WriteKind::Marker
        } else {
            WriteKind::Versioned
        },
    }
}

fn payment_method(id: &str, o: &Value, previous: Option<&Value>) -> StateWrite {
    let customer = id_at(o, "customer");
    // A detached method names its former customer only in `previous_attributes`; a fetched
    // one (thin event) not at all: its write is unfiled and the consumer files it where the
    // method is already stored (`StateWrite::is_unfiled`).
    let owner = customer.or_else(|| previous.and_then(|p| id_at(p, "customer")));
    let card = o.get("card").filter(|c| c.is_object());
    let mut f = Map::new();
    f.insert("object_type".into(), json!("payment_method"));
    f.insert("object_id".into(), json!(id));
    if let Some(owner) = owner {
        f.insert("customer_id".into(), json!(owner));
    }
    f.insert("attached".into(), json!(customer.is_some()));
    f.insert("type".into(), json!(str_at(o, "type")));
    f.insert("brand".into(), json!(card.and_then(|c| str_at(c, "brand"))));
    f.insert("last4".into(), json!(card.and_then(|c| str_at(c, "last4"))));
    f.insert(
        "exp_month".into(),
        json!(card.and_then(|c| int_at(c, "exp_month"))),
    );
    f.insert(
        "exp_year".into(),
        json!(card.and_then(|c| int_at(c, "exp_year"))),
    );
    StateWrite {
        pk: owner
            .map(customer_pk)
            .unwrap_or_else(|| format!("{UNFILED_PK_PREFIX}{id}")),
        sk: format!("PAYMENT_METHOD#{id}"),
        fields: f,
        kind: WriteKind::Versioned,
    }
}

fn discount(id: &str, o: &Value, deleted_event: bool) -> StateWrite {
    let coupon = o
        .pointer("/source/coupon")
        .and_then(as_id)
        .or_else(|| id_at(o, "coupon"));
    let customer = id_at(o, "customer");
    let mut f = Map::new();
    f.insert("object_type".into(), json!("discount"));
    f.insert("object_id".into(), json!(id));
    f.insert("customer_id".into(), json!(customer));
    f.insert("coupon_id".into(), json!(coupon));
    f.insert("promotion_code".into(), json!(id_at(o, "promotion_code")));
    f.insert("subscription_id".into(), json!(id_at(o, "subscription")));
    f.insert("start".into(), json!(int_at(o, "start")));
    f.insert("end".into(), json!(int_at(o, "end")));
    if deleted_event {
        f.insert("deleted".into(), json!(true));
    }
    StateWrite {
        pk: customer
            .map(customer_pk)
            .unwrap_or_else(|| format!("DISCOUNT#{id}")),
        sk: format!("DISCOUNT#{id}"),
        fields: f,
        kind: WriteKind::Versioned,
    }
}

fn tax_id(id: &str, o: &Value, deleted_event: bool) -> StateWrite {
    let customer = id_at(o, "customer").or_else(|| o.pointer("/owner/customer").and_then(as_id));
    let mut f = Map::new();
    f.insert("object_type".into(), json!("tax_id"));
    f.insert("object_id".into(), json!(id));
    f.insert("customer_id".into(), json!(customer));
    f.insert("type".into(), json!(str_at(o, "type")));
    f.insert("value".into(), json!(str_at(o, "value")));
    f.insert("country".into(), json!(str_at(o, "country")));
    f.insert(
        "verification_status".into(),
        json!(o.pointer("/verification/status").and_then(Value::as_str)),
    );
    if deleted_event {
        f.insert("deleted".into(), json!(true));
    }
    StateWrite {
        pk: customer
            .map(customer_pk)
            .unwrap_or_else(|| format!("TAX_ID#{id}")),
        sk: format!("TAX_ID#{id}"),
        fields: f,
        kind: WriteKind::Versioned,
    }
}

pub fn customer_pk(customer_id: &str) -> String {
    format!("CUSTOMER#{customer_id}")
}

fn metadata(o: &Value) -> Value {
    match o.get("metadata") {
        Some(Value::Object(m)) => Value::Object(m.clone()),
        _ => Value::Object(Map::new()),
    }
}

fn str_at<'a>(o: &'a Value, key: &str) -> Option<&'a str> {
    o.get(key).and_then(Value::as_str)
}

fn int_at(o: &Value, key: &str) -> Option<i64> {
    o.get(key).and_then(Value::as_i64)
}

fn bool_at(o: &Value, key: &str) -> Option<bool> {
    o.get(key).and_then(Value::as_bool)
}

/// A Stripe reference: an id string, or an expanded object with an `id`.
fn as_id(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s),
        Value::Object(o) => o.get("id").and_then(Value::as_str),
        _ => None,
    }
}

fn id_at<'a>(o: &'a Value, key: &str) -> Option<&'a str> {
    o.get(key).and_then(as_id)
}
