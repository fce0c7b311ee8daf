//! `setup`, `setup status` and `ping` against the local stack: moto (STS, EventBridge buses and
//! rules, CloudWatch Logs), and infra/local/fake_stripe_admin.py for Stripe's v2 event
//! destinations and the AWS-side partner sources (`ListEventSources`). Also runs the fake's
//! own contract test, which drives it with the official Stripe Python SDK.
//! Needs the local stack: `infra/local/stack.sh run -- cargo test -p stripe-events-cli`.

use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::{json, Value};
use stripe_events_cli::admin::StripeAdmin;
use stripe_events_cli::aws::Aws;
use stripe_events_cli::setup::{self, Payload, Stage};

use stripe_events_testkit::fixtures::repo_root as repo;

fn stack_var(k: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| {
        panic!("{k} is not set: run through `make test` (infra/local/stack.sh starts the fakes)")
    })
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// Held shared by every test that creates destinations in the fake, and exclusively by the
/// fake's contract test: it pages through every destination, and a destination created
/// between two of its pages shifts the next page (the fake pages newest first by offset).
static CREATING: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

async fn creating() -> tokio::sync::RwLockReadGuard<'static, ()> {
    CREATING.read().await
}

fn fresh_prefix() -> String {
    format!(
        "s{}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::SeqCst),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_micros())
            .unwrap_or(0)
    )
}

async fn clients() -> (StripeAdmin, Aws) {
    stack_var("STRIPE_ADMIN_API_BASE");
    let aws = Aws::from_env().await;
    let admin = StripeAdmin::from_env(&aws.sdk)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (admin, aws)
}

/// Test control of the fake: how long until a source appears in this AWS account (None: never).
async fn source_delay(admin: &StripeAdmin, account: &str, seconds: Option<f64>) {
    admin
        .v2_post(
            &format!("/_fake/accounts/{account}"),
            &json!({ "source_delay_seconds": seconds }),
        )
        .await
        .unwrap_or_else(|e| panic!("fake control: {e}"));
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

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// infra/local/apply_partner_local.py: what `terraform apply` creates, in moto.
fn apply_local(args: &[&str]) {
    let out = Command::new(repo().join(".venv/bin/python"))
        .arg(repo().join("infra/local/apply_partner_local.py"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("apply_partner_local.py: {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn fake_is_held_to_stripe_shapes_by_the_official_python_sdk() {
    let _alone = CREATING.blocking_write();
    stack_var("STRIPE_ADMIN_API_BASE");
    let out = Command::new(repo().join(".venv/bin/python"))
        .arg(repo().join("infra/local/test_fake_stripe_admin.py"))
        .output()
        .unwrap_or_else(|e| panic!("python: {e}"));
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("OK"), "{stderr}");
    assert!(!stderr.contains("skipped"), "{stderr}");
}

#[tokio::test]
async fn setup_twice_makes_one_pair_and_writes_the_tfvars() {
    let _creating = creating().await;
    let (admin, _) = clients().await;
    let prefix = fresh_prefix();
    let (first, tfvars) = setup_cli(&prefix, 1, &[]);
    let (out1, err1) = text(&first);
    assert!(first.status.success(), "{out1}\n{err1}");
    assert_eq!(out1.matches("created ").count(), 2, "{out1}");
    // Just created: 7 days to associate, the most AWS gives (not 8).
    let pending: Vec<&str> = out1.lines().filter(|l| l.contains("PENDING")).collect();
    assert_eq!(pending.len(), 2, "{out1}");
    assert!(
        pending.iter().all(|l| l.trim_end().ends_with(" 7")),
        "{out1}"
    );
    let (second, _) = setup_cli(&prefix, 1, &[]);
    let (out2, err2) = text(&second);
    assert!(second.status.success(), "{out2}\n{err2}");
    assert_eq!(out2.matches("reusing ").count(), 2, "{out2}");
    assert!(!out2.contains("created "), "{out2}");
    assert!(out2.contains("terraform -chdir=infra apply"), "{out2}");
    assert!(out2.contains("PENDING"), "{out2}");

    // What Stripe holds: exactly one snapshot and one thin destination of ours.
    let all = admin
        .list_destinations()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ours: Vec<&Value> = all
        .iter()
        .filter(|d| d["metadata"]["deployment"] == prefix.as_str())
        .collect();
    assert_eq!(ours.len(), 2, "{ours:?}");
    let snapshot = ours
        .iter()
        .find(|d| d["event_payload"] == "snapshot")
        .unwrap_or_else(|| panic!("no snapshot destination"));
    assert_eq!(snapshot["snapshot_api_version"], "2025-09-30.clover");
    assert_eq!(
        snapshot["amazon_eventbridge"]["aws_account_id"], "123456789012",
        "STS account"
    );
    assert_eq!(
        snapshot["enabled_events"].as_array().map(Vec::len),
        Some(Payload::Snapshot.wanted_events().len())
    );
    let written = std::fs::read_to_string(&tfvars).unwrap_or_else(|e| panic!("{e}"));
    let sid = snapshot["id"].as_str().unwrap_or_default();
    assert!(
        written.contains(&format!(
            "stripe_partner_event_source_name             = \"aws.partner/stripe.com/{sid}\""
        )),
        "{written}"
    );
    assert!(written.contains("enable_stripe_partner_events                 = true"));
    assert!(written
        .contains("additional_stripe_partner_event_source_names = [\"aws.partner/stripe.com/ed_"));
}

#[tokio::test]
async fn a_source_that_never_appears_ends_the_wait_with_a_clear_error() {
    let _creating = creating().await;
    let (admin, _) = clients().await;
    let account = "210987654321";
    source_delay(&admin, account, None).await;
    let prefix = fresh_prefix();
    let tf = std::env::temp_dir().join(format!("{prefix}.tfvars"));
    let started = std::time::Instant::now();
    let out = cli(
        &prefix,
        &[
            "setup",
            "--aws-account-id",
            account,
            "--aws-region",
            "us-east-2",
            "--wait",
            "2s",
            "--poll",
            "200ms",
            "--tfvars-out",
            &tf.display().to_string(),
        ],
    );
    let (_, err) = text(&out);
    assert!(!out.status.success());
    assert!(started.elapsed().as_secs() < 20, "bounded wait");
    assert!(err.contains("did not appear within 2s"), "{err}");
    assert!(
        err.contains("210987654321"),
        "names the account to check: {err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(!tf.exists(), "no tfvars without sources");
}

#[tokio::test]
async fn status_names_the_next_action_at_each_stage() {
    let _creating = creating().await;
    let (admin, aws) = clients().await;
    // 1. nothing
    let prefix = fresh_prefix();
    let s = setup::status(&admin, &aws, &prefix)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.stage, Stage::Nothing);
    assert!(s.verdict.contains("stripe-events setup"), "{}", s.verdict);

    // 2. destinations only (their sources never appear in this account)
    let never = "100000000002";
    source_delay(&admin, never, None).await;
    setup::ensure_destinations(&admin, &prefix, never, "us-east-2")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let s = setup::status(&admin, &aws, &prefix)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.stage, Stage::DestinationsOnly, "{}", s.verdict);

    // 3. sources pending (moto's own account, the fake's default delay)
    let prefix = fresh_prefix();
    let dests: Vec<_> = setup::ensure_destinations(&admin, &prefix, "123456789012", "us-east-2")
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|(d, _)| d)
        .collect();
    let ready = setup::wait_for_sources(
        &admin,
        &aws,
        &dests,
        std::time::Duration::from_secs(30),
        std::time::Duration::from_millis(200),
        |_| {},
    )
    .await
    .unwrap_or_else(|m| panic!("sources missing: {m:?}"));
    let s = setup::status(&admin, &aws, &prefix)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.stage, Stage::SourcesPending, "{}", s.verdict);
    assert!(s.verdict.contains("terraform apply"), "{}", s.verdict);
    assert!(s.verdict.contains("days left"), "{}", s.verdict);
    let sources: Vec<&str> = ready.iter().map(|r| r.source.name.as_str()).collect();

    // 4. buses associated, partner rules disabled
    let mut args = vec![prefix.as_str(), "partner"];
    args.extend(&sources);
    args.extend([
        "--rules",
        "disabled",
        "--log-group",
        "/aws/events/stripe-billing-status",
    ]);
    apply_local(&args);
    let s = setup::status(&admin, &aws, &prefix)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.stage, Stage::BusAssociated, "{}", s.verdict);
    assert!(s.rows.iter().all(|r| r.bus_present));
    let rendered = setup::render_status(&s, 0);
    assert!(rendered.contains("DISABLED"), "{rendered}");

    // 5. rules enabled (and the webhook rules reported)
    let last = args.len() - 3;
    args[last] = "enabled";
    apply_local(&args);
    apply_local(&[prefix.as_str(), "webhook"]);
    let s = setup::status(&admin, &aws, &prefix)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.stage, Stage::RulesEnabled, "{}", s.verdict);
    assert!(s.verdict.contains("stripe-events ping"), "{}", s.verdict);
    assert!(s
        .webhook_rules
        .iter()
        .all(|(_, st)| st.as_deref() == Some("ENABLED")));

    // The command prints the table and the verdict.
    let out = cli(&prefix, &["setup", "status"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("verdict: partner path live"), "{stdout}");
    assert!(stdout.contains("70 events enabled"), "{stdout}");

    // A source AWS deleted (never associated within 7 days) disables the destination.
    let prefix = fresh_prefix();
    let dests: Vec<_> = setup::ensure_destinations(&admin, &prefix, "123456789012", "us-east-2")
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|(d, _)| d)
        .collect();
    setup::wait_for_sources(
        &admin,
        &aws,
        &dests,
        std::time::Duration::from_secs(30),
        std::time::Duration::from_millis(200),
        |_| {},
    )
    .await
    .unwrap_or_else(|m| panic!("sources missing: {m:?}"));
    admin
        .v2_post(
            &format!("/_fake/sources/{}/expire", dests[0].id),
            &json!({}),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let s = setup::status(&admin, &aws, &prefix)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.stage, Stage::Broken, "{}", s.verdict);
    assert!(
        s.verdict.contains("no_aws_event_source_exists"),
        "{}",
        s.verdict
    );
}

#[tokio::test]
async fn ping_is_found_in_the_log_group_only_through_an_associated_source() {
    let _creating = creating().await;
    let (_admin, _aws) = clients().await;
    let prefix = fresh_prefix();
    let (out, tf) = setup_cli(&prefix, 1, &[]);
    assert!(out.status.success(), "{:?}", text(&out));
    let snapshot_source = snapshot_source(&tf);
    let group = format!("/aws/events/{prefix}");
    // Only the snapshot destination's source is associated.
    apply_local(&[&prefix, "partner", &snapshot_source, "--log-group", &group]);
    let found = cli(
        &prefix,
        &[
            "ping",
            "--log-group",
            &group,
            "--wait",
            "15s",
            "--poll",
            "200ms",
        ],
    );
    let (stdout, stderr) = text(&found);
    assert!(found.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("logged in"), "{stdout}");

    let lost = cli(
        &prefix,
        &[
            "ping",
            "--destination",
            "thin",
            "--log-group",
            &group,
            "--wait",
            "2s",
            "--poll",
            "200ms",
        ],
    );
    let (_, stderr) = text(&lost);
    assert!(!lost.status.success());
    assert!(stderr.contains("did not reach"), "{stderr}");
    assert!(
        stderr.contains("stripe-events setup status"),
        "names the fix: {stderr}"
    );

    let none = cli(&fresh_prefix(), &["ping", "--wait", "1s"]);
    let (_, stderr) = text(&none);
    assert!(!none.status.success());
    assert!(
        stderr.contains("run `stripe-events setup` first"),
        "{stderr}"
    );
}

/// `setup --wait 30s --poll 200ms --tfvars-out <dir>/<prefix>-<n>.tfvars` plus `extra`.
fn setup_cli(prefix: &str, n: u32, extra: &[&str]) -> (Output, std::path::PathBuf) {
    let tf = std::env::temp_dir().join(format!("{prefix}-{n}.tfvars"));
    let tf_arg = tf.display().to_string();
    let mut args = vec![
        "setup",
        "--wait",
        "30s",
        "--poll",
        "200ms",
        "--tfvars-out",
        &tf_arg,
    ];
    args.extend(extra);
    (cli(prefix, &args), tf)
}

/// The snapshot destination's source (`aws.partner/stripe.com/ed_…`) in the written tfvars.
fn snapshot_source(tf: &std::path::Path) -> String {
    let tfvars = std::fs::read_to_string(tf).unwrap_or_default();
    tfvars
        .lines()
        .find(|l| l.starts_with("stripe_partner_event_source_name"))
        .and_then(|l| l.split('"').nth(1))
        .unwrap_or_else(|| panic!("{tfvars}"))
        .to_owned()
}

/// The one line on stderr of a failed command.
fn failure_line(o: &Output) -> String {
    let (stdout, stderr) = text(o);
    assert_eq!(o.status.code(), Some(1), "{stdout}\n{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    stderr
}

/// A re-run must not reuse a destination whose partner source AWS deleted (never associated
/// within 7 days): its tfvars would name a source that is gone.
#[tokio::test]
async fn setup_refuses_a_destination_whose_source_was_deleted() {
    let _creating = creating().await;
    let (admin, _) = clients().await;
    let prefix = fresh_prefix();
    let (first, tf) = setup_cli(&prefix, 1, &[]);
    assert!(first.status.success(), "{:?}", text(&first));
    let source = snapshot_source(&tf);
    let snapshot = source.trim_start_matches("aws.partner/stripe.com/");
    admin
        .v2_post(&format!("/_fake/sources/{snapshot}/expire"), &json!({}))
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let (again, tf2) = setup_cli(&prefix, 2, &[]);
    let line = failure_line(&again);
    assert!(line.contains(snapshot), "{line}");
    assert!(line.contains("was deleted"), "{line}");
    assert!(line.contains("re-run `stripe-events setup`"), "{line}");
    assert!(!tf2.exists(), "no tfvars naming a deleted source");
}

/// Destinations found for another AWS account or region are not reused silently: the error
/// says what Stripe holds and both ways out, and nothing is created.
#[tokio::test]
async fn setup_refuses_destinations_for_another_account_or_region() {
    let _creating = creating().await;
    let (admin, _) = clients().await;
    let prefix = fresh_prefix();
    let (first, _) = setup_cli(&prefix, 1, &[]);
    assert!(first.status.success(), "{:?}", text(&first));

    for (n, asked, holds, wants) in [
        (
            2,
            ["--aws-account-id", "210987654321"],
            "sends to AWS account 123456789012, region us-east-2 (what Stripe holds)",
            "not to account 210987654321",
        ),
        (
            3,
            ["--aws-region", "eu-west-1"],
            "region us-east-2 (what Stripe holds)",
            "region eu-west-1 as asked",
        ),
    ] {
        let (out, tf) = setup_cli(&prefix, n, &asked);
        let line = failure_line(&out);
        assert!(line.contains(holds), "{asked:?}: {line}");
        assert!(line.contains(wants), "{asked:?}: {line}");
        assert!(!tf.exists());
    }

    let all = admin
        .list_destinations()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ours = all
        .iter()
        .filter(|d| d["metadata"]["deployment"] == prefix.as_str())
        .count();
    assert_eq!(ours, 2, "no new destinations");
}

/// An AWS JSON endpoint on 127.0.0.1 that answers each request (one per connection) with
/// `answer(request body)`: status and JSON body. Its URL.
fn fake_aws(answer: impl Fn(&str) -> (u16, String) + Send + 'static) -> String {
    use std::io::{Read, Write};
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let url = format!(
        "http://{}",
        listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let mut body_at = None;
            while let Ok(n) = stream.read(&mut chunk) {
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_ascii_lowercase();
                if let Some(head) = text.find("\r\n\r\n") {
                    let len = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if buf.len() >= head + 4 + len {
                        body_at = Some(head + 4);
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            let request = body_at
                .map(|at| String::from_utf8_lossy(&buf[at..]).into_owned())
                .unwrap_or_default();
            let (status, body) = answer(&request);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

/// ListEventSources refused (no permission): setup stops at once with AWS's error, instead of
/// waiting the whole --wait and then blaming Stripe.
#[test]
fn list_event_sources_access_denied_fails_at_once() {
    let _creating = CREATING.blocking_read();
    stack_var("STRIPE_ADMIN_API_BASE");
    let prefix = fresh_prefix();
    let tf = std::env::temp_dir().join(format!("{prefix}.tfvars"));
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_stripe-events"))
        .args([
            "--table-prefix",
            &prefix,
            "setup",
            "--wait",
            "20s",
            "--poll",
            "200ms",
        ])
        .arg("--tfvars-out")
        .arg(&tf)
        .env(
            "EVENT_SOURCES_ENDPOINT_URL",
            fake_aws(|_| {
                (400, r#"{"__type":"AccessDeniedException","message":"User: arn:aws:iam::123456789012:user/ci is not authorized to perform: events:ListEventSources"}"#.into())
            }),
        )
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("run stripe-events: {e}"));
    let line = failure_line(&out);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "failed fast, not after the 20s wait: {:?}",
        started.elapsed()
    );
    assert!(line.contains("AccessDeniedException"), "{line}");
    assert!(line.contains("events:ListEventSources"), "{line}");
    assert!(
        !line.contains("did not appear"),
        "not blamed on Stripe: {line}"
    );
    assert!(!tf.exists());
}

/// FilterLogEvents may answer a page with no events and a `nextToken` while it scans the
/// group's streams: ping follows the tokens, within its wait, instead of reading only the
/// first page (which here never holds the ping, so ping would time out).
#[tokio::test]
async fn ping_follows_filter_log_events_pages() {
    let _creating = creating().await;
    let prefix = fresh_prefix();
    let (out, _) = setup_cli(&prefix, 1, &[]);
    assert!(out.status.success(), "{:?}", text(&out));
    // CloudWatch Logs: the first page of every search is empty with a token; the next page
    // holds an event with what was searched for (the ping's event id).
    let logs = fake_aws(|request| {
        let v: Value = serde_json::from_str(request).unwrap_or_default();
        let needle = v["filterPattern"]
            .as_str()
            .unwrap_or_default()
            .trim_matches('"');
        let body = if v.get("nextToken").is_some() {
            json!({"events": [{"eventId": "1", "timestamp": 1, "ingestionTime": 1,
                "logStreamName": "s", "message": format!("{{\"id\":\"{needle}\"}}")}]})
        } else {
            json!({"events": [], "nextToken": "page-2", "searchedLogStreams": []})
        };
        (200, body.to_string())
    });
    let found = Command::new(env!("CARGO_BIN_EXE_stripe-events"))
        .args([
            "--table-prefix",
            &prefix,
            "ping",
            "--wait",
            "10s",
            "--poll",
            "200ms",
        ])
        .env("AWS_ENDPOINT_URL", logs)
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("run stripe-events: {e}"));
    let (stdout, stderr) = text(&found);
    assert!(found.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("logged in"), "{stdout}");
}

/// The Stripe key from a Secrets Manager secret holding JSON `{"api_key": …}`, which the
/// consumers accept: the setup, ping and migrate commands accept it the same way.
#[tokio::test]
async fn the_stripe_key_may_be_a_json_secret_as_for_the_consumers() {
    let (_, aws) = clients().await;
    let key = stack_var("STRIPE_API_KEY");
    let secret = aws_sdk_secretsmanager::Client::new(&aws.sdk)
        .create_secret()
        .name(format!("{}-stripe-key", fresh_prefix()))
        .secret_string(json!({ "api_key": key }).to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("create secret: {e}"));
    let arn = secret.arn().unwrap_or_default();
    let out = Command::new(env!("CARGO_BIN_EXE_stripe-events"))
        .args(["--table-prefix", &fresh_prefix(), "setup", "status"])
        .env_remove("STRIPE_API_KEY")
        .env("STRIPE_API_KEY_SECRET_ARN", arn)
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("run stripe-events: {e}"));
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("verdict: no Stripe destinations"),
        "{stdout}"
    );
}
