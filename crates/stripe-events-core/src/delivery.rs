use crate::family::{base_event_type, Family};
use crate::model::{PreviousAttributes, StripeObject};
use crate::timestamp::Timestamp;

/// Who put the event in front of us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourcePath {
    /// A Stripe partner event source (`aws.partner/stripe.com/ed_…`).
    Partner { destination_id: String },
    /// Our webhook Lambda, forwarding a verified webhook onto the custom bus.
    Webhook,
    /// A Stripe event with no envelope (tests, replays, backfill).
    Bare,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryPath {
    pub source: SourcePath,
    /// Set when the EventBridge event arrived inside an SQS record.
    pub sqs_message_id: Option<String>,
}

impl DeliveryPath {
    pub fn name(&self) -> &'static str {
        match self.source {
            SourcePath::Partner { .. } => "partner",
            SourcePath::Webhook => "webhook",
            SourcePath::Bare => "bare",
        }
    }

    pub fn destination_id(&self) -> Option<&str> {
        match &self.source {
            SourcePath::Partner { destination_id } => Some(destination_id),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadStyle {
    /// A full v1 `Event` with `data.object`.
    Snapshot,
    /// A v2 event notification (`object: "v2.core.event"`, `related_object`).
    ThinV2,
    /// The legacy thin reference: `data.object` holding only `id` and `object`.
    ThinReference,
}

impl PayloadStyle {
    pub fn as_str(self) -> &'static str {
        match self {
            PayloadStyle::Snapshot => "snapshot",
            PayloadStyle::ThinV2 => "thin_v2",
            PayloadStyle::ThinReference => "thin_reference",
        }
    }

    pub fn is_thin(self) -> bool {
        !matches!(self, PayloadStyle::Snapshot)
    }
}

/// The Stripe object an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    /// Stripe's object name: `subscription`, `invoice`, `customer`, …
    pub object_type: String,
    pub id: String,
    /// The API path given by a v2 thin notification (`/v1/subscriptions/sub_…`).
    pub url: Option<String>,
}

/// One Stripe event as delivered once by one path. The snapshot's object borrows from the
/// invocation's bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery<'a> {
    pub path: DeliveryPath,
    pub style: PayloadStyle,
    pub event_id: String,
    /// The type as in the payload (thin v2 types keep their `v1.` prefix here).
    pub event_type: String,
    pub family: Family,
    pub created: Timestamp,
    pub livemode: bool,
    pub api_version: Option<String>,
    /// `None` only for events of no family: v2 events such as
    /// `v2.core.event_destination.ping` name no object.
    pub object: Option<ObjectRef>,
    /// Thin v2: the id of the snapshot event describing the same change.
    pub snapshot_event: Option<String>,
    /// Thin v2: the connected account, sent back as the `Stripe-Context` header.
    pub stripe_context: Option<String>,
    /// v1 events of a connected account (Connect): the event's `account`, sent as the
    /// `Stripe-Account` header when the object is fetched (a legacy thin reference, a
    /// revalidated type, a same-second tie): without it Stripe answers 404.
    pub stripe_account: Option<String>,
    /// EventBridge's own id: a fresh UUID per delivery, never a dedupe key.
    pub envelope_id: Option<String>,
    pub replay_name: Option<String>,
    /// Snapshot events: the object from `data.object`, as the typed model reads it.
    pub data_object: Option<Box<StripeObject<'a>>>,
    /// `data.previous_attributes` (e.g. the customer a payment method was detached from).
    pub previous_attributes: Option<PreviousAttributes<'a>>,
}

impl Delivery<'_> {
    /// The v1 type used for classification and projection (`v1.` prefix removed).
    pub fn base_type(&self) -> &str {
        base_event_type(&self.event_type)
    }

    /// The dedupe key: the snapshot id; for thin, `snapshot_event` when present so the snapshot
    /// and thin deliveries of one change share a key.
    pub fn dedupe_key(&self) -> &str {
        self.snapshot_event.as_deref().unwrap_or(&self.event_id)
    }

    /// `{consumer}#{key}`: each consumer applies an event once, independently of the others.
    pub fn consumer_dedupe_key(&self, consumer: Family) -> String {
        // Built by hand: `format!` costs ten times as many instructions, once per event.
        let (consumer, key) = (consumer.as_str(), self.dedupe_key());
        let mut out = String::with_capacity(consumer.len() + 1 + key.len());
        out.push_str(consumer);
        out.push('#');
        out.push_str(key);
        out
    }

    /// The audit's name for the way this delivery arrived.
    pub fn audit_path(&self) -> crate::vocabulary::AuditPath {
        use crate::vocabulary::AuditPath;
        match (&self.path.source, self.style) {
            (SourcePath::Webhook, _) => AuditPath::Webhook,
            (SourcePath::Partner { .. }, PayloadStyle::Snapshot) => AuditPath::PartnerSnapshot,
            (SourcePath::Partner { .. }, _) => AuditPath::PartnerThin,
            (SourcePath::Bare, _) => AuditPath::Direct,
        }
    }

    /// The id of the object the event is about (empty when it names none).
    pub fn object_id(&self) -> &str {
        self.object.as_ref().map_or("", |o| o.id.as_str())
    }

    /// `customer.deleted`, `customer.subscription.deleted`, …
    pub fn is_deletion(&self) -> bool {
        self.base_type().ends_with(".deleted")
    }
}

/// The audit paths, in display order.
pub const AUDIT_PATHS: [crate::vocabulary::AuditPath; 4] = crate::vocabulary::AuditPath::ALL;
