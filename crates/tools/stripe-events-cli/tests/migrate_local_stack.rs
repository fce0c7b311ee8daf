//! `migrate status | cutover | rollback` against the local stack: audit records written the way
//! the consumers write them (moto DynamoDB), the Stripe webhook endpoint in
//! infra/local/fake_stripe_admin.py, which maps `enabled_events` onto localstripe's own webhook
//! configuration, and the webhook Lambda's handler (signature verified with the endpoint's
//! secret, forwarded to a recording bus) on 127.0.0.1, where localstripe delivers.
//! Needs the local stack: `infra/local/stack.sh run -- cargo test -p stripe-events-cli`.

use std::process::{Command, Output};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::{json, Value};
use stripe_events_cli::admin::StripeAdmin;
use stripe_events_cli::migrate::{cut_over, read_log};
use stripe_events_core::vocabulary::{dedupe_key, AuditPath};
use stripe_events_core::{Family, Timestamp};
use stripe_events_store::{dynamodb_client, DeliveryAudit, DynamoStore, EventStore, TableNames};
use stripe_events_testkit::stack::{fresh_tables, local_endpoint, sdk_config_for};
use stripe_events_testkit::stripe::LocalStripe;
use stripe_events_webhook::{
    ApiGatewayV2httpRequest, BusEntry, ForwardError, Forwarder, SecretStore, WebhookHandler,
    WebhookSecrets,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use stripe_events_testkit::fixtures::repo_root as repo;

/// Every Stripe event the webhook Lambda's handler verified and forwarded: (type,
/// data.object.id).
type Received = Arc<Mutex<Vec<(String, String)>>>;

/// Records what the webhook handler puts on the bus.
struct RecordingBus(Received);

impl Forwarder for RecordingBus {
    async fn put(&self, entry: &BusEntry) -> Result<Option<String>, ForwardError> {
        let detail: Value = serde_json::from_str(&entry.detail).unwrap_or_default();
        let t = detail["type"].as_str().unwrap_or_default().to_owned();
        let id = detail["data"]["object"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if let Ok(mut s) = self.0.lock() {
            s.push((t, id));
        }
        Ok(None)
    }
}

/// The webhook Lambda's handler, served over HTTP on 127.0.0.1 as API Gateway would invoke
/// it. Its signing secret is only known once the endpoint exists (Stripe returns it on
/// create), so requests before `handler` is set are answered 503 and Stripe retries.
type Handler = Arc<OnceLock<WebhookHandler<RecordingBus>>>;

async fn receiver() -> (String, Received, Handler) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let url = format!(
        "http://{}/stripe/webhook",
        listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    let seen: Received = Arc::default();
    let handler: Handler = Arc::default();
    let served = Arc::clone(&handler);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let handler = Arc::clone(&served);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                let request = loop {
                    let Ok(n) = stream.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let Some(head) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let text = String::from_utf8_lossy(&buf[..head]).into_owned();
                    let mut lines = text.lines();
                    let start: Vec<&str> = lines.next().unwrap_or_default().split(' ').collect();
                    let headers: serde_json::Map<String, Value> = lines
                        .filter_map(|l| l.split_once(':'))
                        .map(|(k, v)| (k.trim().to_ascii_lowercase(), json!(v.trim())))
                        .collect();
                    let len = headers
                        .get("content-length")
                        .and_then(Value::as_str)
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if buf.len() >= head + 4 + len {
                        let body = String::from_utf8_lossy(&buf[head + 4..head + 4 + len]);
                        let (method, path) = (start.first().copied(), start.get(1).copied());
                        break json!({
                            "version": "2.0", "rawPath": path, "headers": headers,
                            "requestContext": {"http": {"method": method, "path": path}},
                            "body": body, "isBase64Encoded": false,
                        });
                    }
                };
                // Read as lambda_runtime reads the invocation: a payload that is not an
                // ApiGatewayV2httpRequest never reaches the handler (API Gateway answers 500).
                let request = serde_json::from_value::<ApiGatewayV2httpRequest>(request);
                let status = match (handler.get(), request) {
                    (Some(h), Ok(request)) => {
                        let now = Timestamp::now().unix_seconds();
                        h.process(&request, now, None).await.response().status_code
                    }
                    (Some(_), Err(_)) => 500,
                    (None, _) => 503,
                };
                let wire = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let _ = stream.write_all(wire.as_bytes()).await;
            });
        }
    });
    (url, seen, handler)
}

fn received(r: &Received, typ: &str, object: &str) -> bool {
    r.lock()
        .map(|s| s.iter().any(|(t, o)| t == typ && o == object))
        .unwrap_or(false)
}

async fn wait_for(r: &Received, typ: &str, object: &str, secs: u64) -> bool {
    for _ in 0..secs * 10 {
        if received(r, typ, object) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

fn cli(prefix: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stripe-events"))
        .arg("--table-prefix")
        .arg(prefix)
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("run stripe-events: {e}"))
}

fn out(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The audit of one delivery, as the consumers build it.
fn audit_of(family: Family, typ: &str, id: &str, path: AuditPath) -> DeliveryAudit {
    let now = Timestamp::now();
    DeliveryAudit {
        key: dedupe_key(family, id),
        consumer: family,
        event_id: id.to_owned(),
        event_type: typ.to_owned(),
        object_id: format!("obj_{id}"),
        event_created: now,
        path,
        received_at: now,
        expires_at: now.unix_seconds() + 86_400,
    }
}

/// One delivery recorded the way the consumers record it.
async fn deliver(store: &DynamoStore, family: Family, typ: &str, id: &str, path: AuditPath) {
    store
        .record_delivery(&audit_of(family, typ, id, path))
        .await
        .unwrap_or_else(|e| panic!("record_delivery: {e}"));
}

async fn endpoint_events(admin: &StripeAdmin, id: &str) -> Vec<String> {
    let ep = admin
        .v1_get(&format!("/v1/webhook_endpoints/{id}"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    ep["enabled_events"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn cutover_is_gated_logged_reversible_and_stops_webhook_delivery() {
    let Setup {
        db,
        tables,
        prefix,
        admin,
    } = setup().await;
    let store = DynamoStore::new(db.clone(), tables.clone());
    let localstripe = LocalStripe::from_env().unwrap_or_else(|e| panic!("{e}"));

    // The webhook endpoint Stripe delivers to (registered in localstripe by the fake).
    let (url, seen, handler) = receiver().await;
    let mut form = vec![("url".to_owned(), url.clone())];
    for t in ["customer.created", "customer.updated", "invoice.paid"] {
        form.push(("enabled_events[]".into(), t.into()));
    }
    let ep = admin
        .v1_post("/v1/webhook_endpoints", &form)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ep_id = ep["id"].as_str().unwrap_or_default().to_owned();
    let secret = ep["secret"].as_str().unwrap_or_default();
    let secrets = WebhookSecrets::parse(secret).unwrap_or_else(|e| panic!("{e}"));
    let webhook = WebhookHandler::new(
        SecretStore::fixed(secrets),
        300,
        RecordingBus(Arc::clone(&seen)),
    );
    assert!(handler.set(webhook).is_ok(), "set once");

    // Before: localstripe delivers customer.created to the endpoint.
    let c1 = localstripe
        .post("/v1/customers", &[("email", "before@example.com")])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let c1 = c1["id"].as_str().unwrap_or_default().to_owned();
    assert!(
        wait_for(&seen, "customer.created", &c1, 5).await,
        "webhook delivers before"
    );

    // The audit: customer.created on both paths (ready), invoice.paid missed by the partner.
    let tag = std::process::id();
    for i in 0..3 {
        let id = format!("evt_cc_{tag}_{i}");
        deliver(
            &store,
            Family::Customer,
            "customer.created",
            &id,
            AuditPath::Webhook,
        )
        .await;
        deliver(
            &store,
            Family::Customer,
            "customer.created",
            &id,
            AuditPath::PartnerSnapshot,
        )
        .await;
    }
    let paid = format!("evt_ip_{tag}");
    deliver(
        &store,
        Family::Payment,
        "invoice.paid",
        &paid,
        AuditPath::PartnerThin,
    )
    .await;
    deliver(
        &store,
        Family::Payment,
        "invoice.paid",
        &paid,
        AuditPath::Webhook,
    )
    .await;
    deliver(
        &store,
        Family::Payment,
        "invoice.paid",
        &format!("{paid}_b"),
        AuditPath::Webhook,
    )
    .await;

    let status = cli(&prefix, &["migrate", "status", "--webhook-url", &url]);
    let text = out(&status);
    assert!(status.status.success(), "{text}");
    assert!(
        text.contains("ready to cut over: stripe-events migrate cutover --types customer.created"),
        "{text}"
    );

    // A ready type is cut over.
    let ok = cli(
        &prefix,
        &[
            "migrate",
            "cutover",
            "--types",
            "customer.created",
            "--webhook-url",
            &url,
            "--operator",
            "tester",
        ],
    );
    assert!(ok.status.success(), "{}", out(&ok));
    assert_eq!(
        endpoint_events(&admin, &ep_id).await,
        ["customer.updated", "invoice.paid"]
    );

    // An unready one is refused and nothing changes.
    let refused = cli(
        &prefix,
        &[
            "migrate",
            "cutover",
            "--types",
            "invoice.paid",
            "--webhook-url",
            &url,
        ],
    );
    let text = out(&refused);
    assert_eq!(refused.status.code(), Some(4), "{text}");
    assert!(text.contains("refused invoice.paid"), "{text}");
    assert!(text.contains("1 event delivered by webhook only"), "{text}");
    assert_eq!(
        endpoint_events(&admin, &ep_id).await,
        ["customer.updated", "invoice.paid"]
    );

    // After the cut-over localstripe no longer delivers customer.created by webhook, but still
    // delivers the types left on the endpoint.
    let c2 = localstripe
        .post("/v1/customers", &[("email", "after@example.com")])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let c2 = c2["id"].as_str().unwrap_or_default().to_owned();
    localstripe
        .post(
            &format!("/v1/customers/{c2}"),
            &[("description", "updated")],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        wait_for(&seen, "customer.updated", &c2, 5).await,
        "other types still delivered"
    );
    assert!(
        !received(&seen, "customer.created", &c2),
        "cut-over type no longer delivered"
    );

    // --force cuts over an unready type; rollback restores it.
    let forced = cli(
        &prefix,
        &[
            "migrate",
            "cutover",
            "--types",
            "invoice.paid",
            "--force",
            "--webhook-url",
            &url,
            "--operator",
            "tester",
        ],
    );
    assert!(forced.status.success(), "{}", out(&forced));
    assert!(out(&forced).contains("cut over invoice.paid (forced)"));
    assert_eq!(endpoint_events(&admin, &ep_id).await, ["customer.updated"]);
    let back = cli(
        &prefix,
        &[
            "migrate",
            "rollback",
            "--types",
            "invoice.paid",
            "--webhook-url",
            &url,
            "--operator",
            "tester",
        ],
    );
    assert!(back.status.success(), "{}", out(&back));
    assert_eq!(
        endpoint_events(&admin, &ep_id).await,
        ["customer.updated", "invoice.paid"]
    );

    // The log in DynamoDB: who, when, which types, the evidence.
    let log = read_log(&db, &tables)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let steps: Vec<(&str, Vec<String>)> = log
        .iter()
        .map(|e| (e.action.as_str(), e.types.clone()))
        .collect();
    assert_eq!(
        steps,
        [
            ("cutover", vec!["customer.created".to_owned()]),
            ("cutover", vec!["invoice.paid".to_owned()]),
            ("rollback", vec!["invoice.paid".to_owned()]),
        ]
    );
    assert!(log
        .iter()
        .all(|e| e.who.starts_with("tester") && e.endpoint_id == ep_id));
    assert_eq!(log[0].evidence["customer.created"]["both"], 3);
    assert_eq!(log[0].evidence["customer.created"]["ready"], true);
    assert_eq!(log[1].forced, ["invoice.paid"]);
    assert_eq!(log[1].evidence["invoice.paid"]["webhook_only"], 1);
    assert_eq!(
        cut_over(&log).keys().cloned().collect::<Vec<_>>(),
        ["customer.created"]
    );

    let status = cli(&prefix, &["migrate", "status", "--webhook-url", &url]);
    let text = out(&status);
    assert!(text.contains("migration log:"), "{text}");
    assert!(text.contains("cut over 20"), "{text}");

    // Every handled type cut over: the endpoint is disabled and status prints the switches.
    let rest = cli(
        &prefix,
        &[
            "migrate",
            "cutover",
            "--types",
            "customer.updated,invoice.paid",
            "--force",
            "--webhook-url",
            &url,
        ],
    );
    assert!(rest.status.success(), "{}", out(&rest));
    assert!(
        out(&rest).contains("every handled type is cut over"),
        "{}",
        out(&rest)
    );
    let status = cli(&prefix, &["migrate", "status", "--webhook-url", &url]);
    let text = out(&status);
    assert!(
        text.contains(
            "webhook_rules_enabled = { subscription = false, payment = false, customer = false }"
        ),
        "{text}"
    );
    // The apply it prints keeps the partner sources' tfvars: dev.tfvars alone turns partner
    // events off and deletes the partner buses.
    assert!(
        text.contains(
            "terraform -chdir=infra apply -var-file=envs/dev.tfvars -var-file=envs/partner-sources.tfvars"
        ),
        "{text}"
    );
}

/// What the tests below share: moto's tables under a fresh prefix, and the Stripe fake.
struct Setup {
    db: aws_sdk_dynamodb::Client,
    tables: TableNames,
    prefix: String,
    admin: StripeAdmin,
}

async fn setup() -> Setup {
    let endpoint = local_endpoint().unwrap_or_else(|e| panic!("{e}"));
    let sdk = sdk_config_for(&endpoint).await;
    let db = dynamodb_client(&sdk, None);
    let tables: TableNames = fresh_tables(&db).await.unwrap_or_else(|e| panic!("{e}"));
    let prefix = tables
        .dedupe
        .strip_suffix("-stripe-events")
        .unwrap_or_else(|| panic!("{tables:?}"))
        .to_owned();
    let admin = StripeAdmin::from_env(&sdk)
        .await
        .unwrap_or_else(|e| panic!("{e} (run through make test)"));
    Setup {
        db,
        tables,
        prefix,
        admin,
    }
}

/// A webhook endpoint in the Stripe fake (nothing listens at its URL); its id.
async fn webhook_endpoint(admin: &StripeAdmin, url: &str, events: &[&str]) -> String {
    let mut form = vec![("url".to_owned(), url.to_owned())];
    for t in events {
        form.push(("enabled_events[]".into(), (*t).into()));
    }
    let ep = admin
        .v1_post("/v1/webhook_endpoints", &form)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    ep["id"].as_str().unwrap_or_default().to_owned()
}

async fn endpoint_status(admin: &StripeAdmin, id: &str) -> String {
    let ep = admin
        .v1_get(&format!("/v1/webhook_endpoints/{id}"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    ep["status"].as_str().unwrap_or_default().to_owned()
}

/// `stripe-events migrate <action> --types <types> --webhook-url <url> <extra…>`.
fn migrate(prefix: &str, action: &str, types: &str, url: &str, extra: &[&str]) -> Output {
    let mut args = vec!["migrate", action, "--types", types, "--webhook-url", url];
    args.extend(extra);
    cli(prefix, &args)
}

fn stderr_line(o: &Output) -> String {
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    stderr
}

/// Stripe disables an endpoint whose deliveries keep failing (or a person does): that is
/// not "every type cut over". Status says so, cutover and rollback refuse (exit 1, one line)
/// and the endpoint keeps its `*`.
#[tokio::test]
async fn an_endpoint_disabled_in_stripe_is_reported_and_left_alone() {
    let s = setup().await;
    let url = format!("http://127.0.0.1:9/{}/disabled", s.prefix);
    let id = webhook_endpoint(&s.admin, &url, &["*"]).await;
    s.admin
        .v1_post(
            &format!("/v1/webhook_endpoints/{id}"),
            &[("disabled".into(), "true".into())],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let status = cli(&s.prefix, &["migrate", "status", "--webhook-url", &url]);
    let text = out(&status);
    assert!(status.status.success(), "{text}");
    assert!(
        text.contains(&format!("{id} is DISABLED in Stripe")),
        "{text}"
    );
    assert!(
        !text.contains("every type the families handle is cut over"),
        "{text}"
    );
    assert!(!text.contains("delete webhook endpoint"), "{text}");

    for action in ["cutover", "rollback"] {
        let o = migrate(&s.prefix, action, "invoice.paid", &url, &[]);
        assert_eq!(o.status.code(), Some(1), "{action}: {}", out(&o));
        let line = stderr_line(&o);
        assert!(line.contains("is disabled in Stripe"), "{action}: {line}");
        assert!(line.contains("nothing was changed"), "{action}: {line}");
    }
    assert_eq!(endpoint_events(&s.admin, &id).await, ["*"]);
    assert_eq!(endpoint_status(&s.admin, &id).await, "disabled");
    assert!(read_log(&s.db, &s.tables)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .is_empty());
}

/// A type put back on the endpoint after its cut-over (in the Dashboard, say): the endpoint
/// wins. The row says enabled and flags the log's disagreement; the type is offered again.
#[tokio::test]
async fn a_type_put_back_outside_migrate_shows_as_enabled_with_the_drift() {
    let s = setup().await;
    let store = DynamoStore::new(s.db.clone(), s.tables.clone());
    let url = format!("http://127.0.0.1:9/{}/drift", s.prefix);
    let id = webhook_endpoint(&s.admin, &url, &["invoice.paid", "customer.updated"]).await;
    let evt = format!("evt_drift_{}", std::process::id());
    for path in [AuditPath::Webhook, AuditPath::PartnerSnapshot] {
        deliver(&store, Family::Payment, "invoice.paid", &evt, path).await;
    }
    let cut = migrate(&s.prefix, "cutover", "invoice.paid", &url, &[]);
    assert!(cut.status.success(), "{}", out(&cut));
    let readd: Vec<(String, String)> = ["invoice.paid", "customer.updated"]
        .iter()
        .map(|t| ("enabled_events[]".to_owned(), (*t).to_owned()))
        .collect();
    s.admin
        .v1_post(&format!("/v1/webhook_endpoints/{id}"), &readd)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let status = cli(&s.prefix, &["migrate", "status", "--webhook-url", &url]);
    let text = out(&status);
    assert!(status.status.success(), "{text}");
    let row = text
        .lines()
        .find(|l| l.starts_with("invoice.paid "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        row.contains("enabled (DRIFT: log says cut over 20"),
        "{row}"
    );
    assert!(
        text.contains("ready to cut over: stripe-events migrate cutover --types invoice.paid"),
        "{text}"
    );
}

/// The log's table is checked before Stripe is touched: a cut-over never changes the
/// endpoint and then fails to log it, and the failure is one line naming the fix.
#[tokio::test]
async fn cutover_checks_the_log_table_before_changing_stripe() {
    let s = setup().await;
    s.db.delete_table()
        .table_name(&s.tables.billing)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let url = format!("http://127.0.0.1:9/{}/nolog", s.prefix);
    let id = webhook_endpoint(&s.admin, &url, &["invoice.paid", "customer.updated"]).await;
    let o = migrate(&s.prefix, "cutover", "invoice.paid", &url, &["--force"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let line = stderr_line(&o);
    assert!(line.contains(&s.tables.billing), "{line}");
    assert!(line.contains("create-tables"), "{line}");
    assert_eq!(
        endpoint_events(&s.admin, &id).await,
        ["invoice.paid", "customer.updated"],
        "Stripe unchanged"
    );
}

/// `migrate status` fails like `audit`: one line naming `create-tables` or the prefix for a
/// missing table, one line for missing AWS credentials (no provider-chain dump).
#[test]
fn status_failures_are_one_line() {
    local_endpoint().unwrap_or_else(|e| panic!("{e}"));
    let missing = cli(
        &format!("absent-{}", std::process::id()),
        &["migrate", "status"],
    );
    assert_eq!(missing.status.code(), Some(1), "{}", out(&missing));
    let line = stderr_line(&missing);
    assert!(line.contains("create-tables"), "{line}");
    assert!(line.contains("--table-prefix"), "{line}");

    let home = std::env::temp_dir().join(format!("no-aws-home-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap_or_else(|e| panic!("{e}"));
    let no_credentials = Command::new(env!("CARGO_BIN_EXE_stripe-events"))
        .args(["migrate", "status"])
        .current_dir(repo())
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env("HOME", &home)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap_or_else(|e| panic!("run stripe-events: {e}"));
    assert_eq!(
        no_credentials.status.code(),
        Some(1),
        "{}",
        out(&no_credentials)
    );
    let _ = std::fs::remove_dir_all(&home);
    let line = stderr_line(&no_credentials);
    assert!(line.contains("no AWS credentials"), "{line}");
}

#[test]
fn cutover_without_a_known_endpoint_names_the_flag() {
    let o = cli(
        "nope",
        &[
            "migrate",
            "cutover",
            "--types",
            "invoice.paid",
            "--webhook-url",
            "https://example.invalid/x",
        ],
    );
    let text = out(&o);
    assert!(!o.status.success());
    assert!(
        text.contains("no Stripe webhook endpoint has the URL"),
        "{text}"
    );
    assert!(text.contains("--webhook-url"), "{text}");
}

/// A partner delivery recorded and then failed (a thin event whose fetch got 404) does not
/// prove the partner path: the event counts as `partner failed`, the type is not ready, the
/// cut-over is refused, and `audit` lists the event. Webhooks stay on.
#[tokio::test]
async fn a_type_whose_partner_deliveries_failed_is_not_ready() {
    let s = setup().await;
    let store = DynamoStore::new(s.db.clone(), s.tables.clone());
    let url = format!("http://127.0.0.1:9/{}/partner-failed", s.prefix);
    let id = webhook_endpoint(&s.admin, &url, &["customer.updated"]).await;
    let evt = format!("evt_pf_{}", std::process::id());
    deliver(
        &store,
        Family::Customer,
        "customer.updated",
        &evt,
        AuditPath::PartnerThin,
    )
    .await;
    store
        .record_failure(&audit_of(
            Family::Customer,
            "customer.updated",
            &evt,
            AuditPath::PartnerThin,
        ))
        .await
        .unwrap_or_else(|e| panic!("record_failure: {e}"));
    deliver(
        &store,
        Family::Customer,
        "customer.updated",
        &evt,
        AuditPath::Webhook,
    )
    .await;

    let status = cli(&s.prefix, &["migrate", "status", "--webhook-url", &url]);
    let text = out(&status);
    assert!(status.status.success(), "{text}");
    let row = text
        .lines()
        .find(|l| l.starts_with("customer.updated "))
        .unwrap_or_else(|| panic!("{text}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    // event type, family, both, webhook only, partner only, partner failed, …, ready
    assert_eq!(cells[2..6], ["0", "0", "0", "1"], "{row}");
    assert!(row.contains(" no "), "not ready: {row}");

    let cut = migrate(&s.prefix, "cutover", "customer.updated", &url, &[]);
    assert_eq!(cut.status.code(), Some(4), "{}", out(&cut));
    assert!(
        out(&cut).contains("partner delivery failed"),
        "{}",
        out(&cut)
    );
    assert_eq!(endpoint_events(&s.admin, &id).await, ["customer.updated"]);

    let audit = cli(&s.prefix, &["audit", "--grace", "0s"]);
    let text = out(&audit);
    assert!(
        text.contains(
            "failed on the partner path (latest delivery failed, older than the grace period; the consumer logs say why): 1"
        ),
        "{text}"
    );
    assert!(text.contains(&evt), "{text}");
    assert_eq!(audit.status.code(), Some(7), "not proven: {text}");
    // The same as one JSON document, for scripts gating the cut-over.
    let json = cli(&s.prefix, &["audit", "--json", "--grace", "0s"]);
    assert_eq!(json.status.code(), Some(7));
    let doc: Value =
        serde_json::from_slice(&json.stdout).unwrap_or_else(|e| panic!("{e}: {}", out(&json)));
    assert_eq!(
        doc["failed_on_partner"][0]["key"],
        dedupe_key(Family::Customer, &evt).as_str()
    );
    assert_eq!(doc["types"][0]["partner_failed"], 1, "{doc:#}");
    assert_eq!(doc["missed_by_partner"], json!([]));
}
