//! The names every crate shares, defined once: billing-table keys (partition and sort-key
//! builders and prefixes), the attribute names the store writes and the CLI reads, the dedupe
//! key, and the audit's delivery paths ([`AuditPath`]). The table layout they build is the
//! table at the top of `project.rs`.

use std::fmt;
use std::str::FromStr;

use crate::family::Family;

// ---- billing table: partition keys ----

/// `CUSTOMER#cus_…`: the partition holding everything of one customer.
pub const CUSTOMER_PK_PREFIX: &str = "CUSTOMER#";
/// `UNFILED#<object id>`: an item whose owner the event does not name.
pub const UNFILED_PK_PREFIX: &str = "UNFILED#";

/// The partition of a customer's items.
pub fn customer_pk(customer_id: &str) -> String {
    format!("{CUSTOMER_PK_PREFIX}{customer_id}")
}

/// The partition of an item no customer is known for yet.
pub fn unfiled_pk(object_id: &str) -> String {
    format!("{UNFILED_PK_PREFIX}{object_id}")
}

/// The partition of an item filed under its own or its parent object when it names no
/// customer: `<OBJECT TYPE>#<id>` (`CHARGE#ch_…`, `INVOICE#in_…`, `DISCOUNT#di_…`, …).
pub fn object_pk(object_type: &str, id: &str) -> String {
    format!("{}#{id}", object_type.to_ascii_uppercase())
}

/// The customer id of a customer partition key (`None` for other partitions).
pub fn customer_of_pk(pk: &str) -> Option<&str> {
    pk.strip_prefix(CUSTOMER_PK_PREFIX)
}

// ---- billing table: sort keys ----

/// The customer profile's sort key.
pub const PROFILE_SK: &str = "PROFILE";
pub const SUBSCRIPTION_SK_PREFIX: &str = "SUBSCRIPTION#";
pub const SCHEDULE_SK_PREFIX: &str = "SCHEDULE#";
/// Invoices, payment intents, charges, refunds, disputes, invoice payments: newest last in
/// key order (`PAY#<created, 10 digits>#<object>#<id>`).
pub const PAY_SK_PREFIX: &str = "PAY#";
pub const PAYMENT_METHOD_SK_PREFIX: &str = "PAYMENT_METHOD#";
pub const DISCOUNT_SK_PREFIX: &str = "DISCOUNT#";
pub const TAX_ID_SK_PREFIX: &str = "TAX_ID#";

pub fn subscription_sk(id: &str) -> String {
    format!("{SUBSCRIPTION_SK_PREFIX}{id}")
}

pub fn schedule_sk(id: &str) -> String {
    format!("{SCHEDULE_SK_PREFIX}{id}")
}

/// `PAY#<created, 10 digits>#<object>#<id>`, so a customer's payments sort by creation.
pub fn pay_sk(created_unix: i64, object_type: &str, id: &str) -> String {
    format!("{PAY_SK_PREFIX}{created_unix:010}#{object_type}#{id}")
}

pub fn payment_method_sk(id: &str) -> String {
    format!("{PAYMENT_METHOD_SK_PREFIX}{id}")
}

pub fn discount_sk(id: &str) -> String {
    format!("{DISCOUNT_SK_PREFIX}{id}")
}

pub fn tax_id_sk(id: &str) -> String {
    format!("{TAX_ID_SK_PREFIX}{id}")
}

// ---- dedupe table ----

/// `{consumer}#{key}`: each consumer applies an event once, independently of the others.
pub fn dedupe_key(consumer: Family, key: &str) -> String {
    format!("{}#{key}", consumer.as_str())
}

/// Attribute names of the two tables, as the store writes them and the CLI reads them.
pub mod attr {
    /// Key attributes (both tables' partition key, the billing table's sort key).
    pub const PK: &str = "pk";
    pub const SK: &str = "sk";

    // Dedupe/audit record.
    pub const CONSUMER: &str = "consumer";
    /// The base (`v1.`-less) event type; also on state items as `last_event_type`.
    pub const EVENT_TYPE: &str = "event_type";
    pub const EVENT_CREATED: &str = "event_created";
    /// Every event id delivered under the key (a string set: a thin id differs from its
    /// snapshot's).
    pub const EVENT_IDS: &str = "event_ids";
    pub const FIRST_SEEN: &str = "first_seen";
    pub const LAST_SEEN: &str = "last_seen";
    /// Recorded deliveries, all paths together (`count_<path>` per path).
    pub const DELIVERIES: &str = "deliveries";
    /// The done mark (ms); its presence makes every later delivery a duplicate.
    pub const APPLIED_AT: &str = "applied_at";
    /// [`super::RECORD_APPLIED`] or [`super::RECORD_STALE`].
    pub const OUTCOME: &str = "outcome";
    /// DynamoDB TTL (unix seconds).
    pub const EXPIRES_AT: &str = "expires_at";

    // State items.
    /// Every state item (GSI `by_object_id`); also on the dedupe record.
    pub const OBJECT_ID: &str = "object_id";
    pub const OBJECT_TYPE: &str = "object_type";
    pub const CUSTOMER_ID: &str = "customer_id";
    /// Profiles: `metadata.user_id` (GSI `by_user_id`).
    pub const USER_ID: &str = "user_id";
    pub const STATUS: &str = "status";
    /// `true` once the object is deleted (a marker: only ever set).
    pub const DELETED: &str = "deleted";
    /// The version the item was written from (ms) and its same-second tiebreak.
    pub const VERSION: &str = "version";
    pub const VERSION_TIEBREAK: &str = "version_tiebreak";
    pub const LAST_EVENT_ID: &str = "last_event_id";
    pub const LAST_EVENT_TYPE: &str = "last_event_type";
    /// The commit clock (ms).
    pub const UPDATED_AT: &str = "updated_at";
}

/// The dedupe record's `outcome` once the event's writes applied.
pub const RECORD_APPLIED: &str = "applied";
/// The dedupe record's `outcome` when every write was older than the stored state.
pub const RECORD_STALE: &str = "stale";

// ---- audit paths ----

/// The way one delivery arrived, as the migration audit records it (`seen_<path>`,
/// `count_<path>` on the dedupe record).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AuditPath {
    /// Our webhook Lambda forwarded it.
    Webhook,
    /// A partner event source, snapshot payload.
    PartnerSnapshot,
    /// A partner event source, thin payload (v2 or the legacy reference).
    PartnerThin,
    /// No envelope: replays, backfills, tests.
    Direct,
}

impl AuditPath {
    /// In display order.
    pub const ALL: [AuditPath; 4] = [
        AuditPath::Webhook,
        AuditPath::PartnerSnapshot,
        AuditPath::PartnerThin,
        AuditPath::Direct,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditPath::Webhook => "webhook",
            AuditPath::PartnerSnapshot => "partner_snapshot",
            AuditPath::PartnerThin => "partner_thin",
            AuditPath::Direct => "direct",
        }
    }

    /// The attribute holding this path's first arrival (ms): `seen_<path>`.
    pub fn seen_attr(self) -> &'static str {
        match self {
            AuditPath::Webhook => "seen_webhook",
            AuditPath::PartnerSnapshot => "seen_partner_snapshot",
            AuditPath::PartnerThin => "seen_partner_thin",
            AuditPath::Direct => "seen_direct",
        }
    }

    /// The attribute counting this path's recorded deliveries: `count_<path>`.
    pub fn count_attr(self) -> &'static str {
        match self {
            AuditPath::Webhook => "count_webhook",
            AuditPath::PartnerSnapshot => "count_partner_snapshot",
            AuditPath::PartnerThin => "count_partner_thin",
            AuditPath::Direct => "count_direct",
        }
    }

    /// The attribute holding when (ms) this path's latest delivery failed after it was
    /// recorded (its object fetched from Stripe: a thin event, a revalidated type, a tie, and
    /// the fetch or the commit failed): `failed_<path>`. The path's next delivery (recorded,
    /// or a duplicate) removes it, so it stays only while the path's last attempt failed. The
    /// migration audit does not count such a path as delivering.
    pub fn failed_attr(self) -> &'static str {
        match self {
            AuditPath::Webhook => "failed_webhook",
            AuditPath::PartnerSnapshot => "failed_partner_snapshot",
            AuditPath::PartnerThin => "failed_partner_thin",
            AuditPath::Direct => "failed_direct",
        }
    }

    /// Either partner path.
    pub fn is_partner(self) -> bool {
        matches!(self, AuditPath::PartnerSnapshot | AuditPath::PartnerThin)
    }

    /// `webhook`, `partner_snapshot`, `partner_thin` or `direct`.
    pub fn parse(s: &str) -> Option<AuditPath> {
        AuditPath::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl fmt::Display for AuditPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An audit path name that is none of [`AuditPath::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownAuditPath(pub String);

impl fmt::Display for UnknownAuditPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown audit path {:?} (webhook, partner_snapshot, partner_thin, direct)",
            self.0
        )
    }
}

impl std::error::Error for UnknownAuditPath {}

impl FromStr for AuditPath {
    type Err = UnknownAuditPath;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AuditPath::parse(s).ok_or_else(|| UnknownAuditPath(s.to_owned()))
    }
}

impl PartialEq<str> for AuditPath {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for AuditPath {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_paths_round_trip_and_name_their_attributes() {
        for p in AuditPath::ALL {
            assert_eq!(p.as_str().parse::<AuditPath>(), Ok(p));
            assert_eq!(p.seen_attr(), format!("seen_{p}"));
            assert_eq!(p.count_attr(), format!("count_{p}"));
            assert_eq!(p.failed_attr(), format!("failed_{p}"));
        }
        assert_eq!(
            AuditPath::ALL.map(AuditPath::as_str),
            ["webhook", "partner_snapshot", "partner_thin", "direct"]
        );
        assert!("partner".parse::<AuditPath>().is_err());
        assert!("".parse::<AuditPath>().is_err());
    }

    #[test]
    fn keys_are_built_as_the_table_layout_says() {
        assert_eq!(customer_pk("cus_1"), "CUSTOMER#cus_1");
        assert_eq!(customer_of_pk("CUSTOMER#cus_1"), Some("cus_1"));
        assert_eq!(customer_of_pk("UNFILED#pm_1"), None);
        assert_eq!(unfiled_pk("pm_1"), "UNFILED#pm_1");
        assert_eq!(object_pk("charge", "ch_1"), "CHARGE#ch_1");
        assert_eq!(pay_sk(42, "invoice", "in_1"), "PAY#0000000042#invoice#in_1");
        assert!(pay_sk(9, "charge", "ch_1") < pay_sk(10, "charge", "ch_0"));
        assert_eq!(subscription_sk("sub_1"), "SUBSCRIPTION#sub_1");
        assert_eq!(dedupe_key(Family::Payment, "evt_1"), "payment#evt_1");
    }
}
