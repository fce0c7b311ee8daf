//! The `stripe-events` binary as an operator meets it, against moto and localstripe (through
//! `make test` / `infra/local/stack.sh run --`): one-line errors naming the fix, exit codes
//! (`stripe-events --help`), an idempotent `create-tables`, no Stripe key needed where Stripe
//! is never called, tables within 100 columns and no colour in pipes.

use std::process::{Command, Output};

use stripe_events_testkit::fixtures::repo_root as repo;

fn local_stack() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "needs the local stack: infra/local/stack.sh run -- cargo test -p stripe-events-cli"
    );
}

fn prefix(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("cli-{name}-{}-{nanos}", std::process::id())
}

/// Runs the binary with `--table-prefix prefix`, piped (not a terminal), without NO_COLOR.
fn cli(prefix: &str, args: &[&str], stripe_key: bool) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stripe-events"));
    cmd.current_dir(repo())
        .arg("--table-prefix")
        .arg(prefix)
        .args(args)
        .env_remove("NO_COLOR")
        .env_remove("TABLE_PREFIX");
    if !stripe_key {
        cmd.env_remove("STRIPE_API_KEY")
            .env_remove("STRIPE_API_KEY_SECRET_ARN");
    }
    cmd.output().expect("run stripe-events")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// Runs the binary with no AWS or Stripe settings at all: only argument checks can answer.
fn cli_without_environment(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stripe-events"));
    cmd.current_dir(repo()).args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") || k.starts_with("STRIPE_") || k == "TABLE_PREFIX" {
            cmd.env_remove(k);
        }
    }
    cmd.env("AWS_EC2_METADATA_DISABLED", "true");
    cmd.output().expect("run stripe-events")
}

/// Bad arguments are exit 2 with one line naming the flag, checked before the environment
/// (no AWS, no Stripe key here): a script can tell "I called it wrong" from "it could not run".
#[test]
fn bad_arguments_exit_2_before_anything_runs() {
    for (args, flag) in [
        (&["migrate", "cutover", "--family", "bogus"][..], "bogus"),
        (&["migrate", "cutover"][..], "--types"),
        (&["migrate", "rollback"][..], "--types"),
        (
            &[
                "migrate",
                "cutover",
                "--types",
                "invoice.paid",
                "--window",
                "1y",
            ][..],
            "--window",
        ),
        (
            &["migrate", "status", "--window", "yesterday"][..],
            "--window",
        ),
        (
            &["migrate", "status", "--window", "2026-01-01"][..],
            "--window",
        ),
        (&["ping", "--wait", "forever"][..], "--wait"),
        (&["setup", "--wait", "10"][..], "--wait"),
        (&["audit", "--grace", "2026-01-01"][..], "--grace"),
    ] {
        let out = cli_without_environment(args);
        let (stdout, stderr) = text(&out);
        assert_eq!(code(&out), 2, "{args:?}: {stdout}{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(flag), "{args:?} names {flag}: {stderr}");
    }
}

#[test]
fn create_tables_twice_and_commands_without_a_stripe_key() {
    local_stack();
    let p = prefix("twice");
    let first = cli(&p, &["create-tables"], false);
    assert_eq!(code(&first), 0, "{:?}", text(&first));
    assert!(text(&first).0.starts_with("created "));
    let second = cli(&p, &["create-tables"], false);
    assert_eq!(code(&second), 0, "{:?}", text(&second));
    assert!(
        text(&second).0.contains("already exist"),
        "{:?}",
        text(&second)
    );

    // Unknown customer and unknown user: the same code, one line each, no Stripe key.
    let customer = cli(&p, &["state", "cus_nobody"], false);
    let user = cli(&p, &["state", "--user", "user_nobody"], false);
    for out in [&customer, &user] {
        let (stdout, stderr) = text(out);
        assert_eq!(code(out), 6, "{stdout}{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("--table-prefix"), "{stderr}");
    }
    // No records: said so, not a table of zero misses that reads as a green light.
    let audit = cli(&p, &["audit", "--since", "24h"], false);
    assert_eq!(code(&audit), 0, "{:?}", text(&audit));
    assert!(
        text(&audit).0.contains("no audit records in that window"),
        "{:?}",
        text(&audit)
    );
    let status = cli(&p, &["migrate", "status"], false);
    assert_eq!(code(&status), 0, "{:?}", text(&status));
}

#[test]
fn missing_tables_say_create_tables_and_name_the_prefixes_there() {
    local_stack();
    let good = prefix("here");
    assert_eq!(code(&cli(&good, &["create-tables"], false)), 0);
    let wrong = prefix("typo");
    for args in [
        &["state", "cus_1"][..],
        &["audit"][..],
        &["replay", "fixtures/bare"][..],
    ] {
        let out = cli(&wrong, args, true);
        let (stdout, stderr) = text(&out);
        assert_eq!(code(&out), 1, "{args:?}: {stdout}{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains("create-tables"), "{stderr}");
        assert!(
            stderr.contains(&good),
            "names the existing prefix: {stderr}"
        );
        assert!(stderr.len() < 600, "short: {stderr}");
    }
}

#[test]
fn replay_exit_codes_reports_skipped_files_and_fits_100_columns() {
    local_stack();
    let p = prefix("replay");
    assert_eq!(code(&cli(&p, &["create-tables"], false)), 0);
    let dir = std::env::temp_dir().join(format!("{p}-inputs"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let notes = dir.join("notes.txt");
    std::fs::write(&notes, "not an event").expect("write");
    std::fs::copy(
        repo().join("fixtures/partner-snapshot/invoice-paid.json"),
        dir.join("invoice-paid.json"),
    )
    .expect("copy");

    // A non-JSON file named on the command line: replayed, unreadable, non-zero.
    let out = cli(&p, &["replay", notes.to_str().unwrap_or_default()], true);
    assert_eq!(code(&out), 5, "{:?}", text(&out));
    assert!(text(&out).0.contains("unreadable"));

    // A folder: the .txt is reported as skipped, the event applies.
    let out = cli(&p, &["replay", dir.to_str().unwrap_or_default()], true);
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stdout}{stderr}");
    assert!(
        stderr.contains("skipped 1 file") && stderr.contains("notes.txt"),
        "{stderr}"
    );
    assert!(stdout.contains("Stripe API calls: 0"), "{stdout}");

    // Every fixture: failed_permanent and unreadable inputs among them, so 5; piped output
    // has no colour and fits in 100 columns; --wide prints full ids.
    let out = cli(
        &p,
        &["replay", "fixtures/partner-snapshot", "fixtures/invalid"],
        true,
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 5, "{stdout}{stderr}");
    assert!(!stdout.contains('\u{1b}') && !stderr.contains('\u{1b}'));
    for line in stdout.lines() {
        assert!(line.chars().count() <= 100, "{line}");
    }
    let wide = cli(&p, &["--wide", "replay", "fixtures/partner-snapshot"], true);
    assert!(text(&wide).0.lines().any(|l| l.chars().count() > 100));

    // Arguments are checked before anything runs.
    let out = cli(
        &p,
        &["backfill", "--since", "1d", "--types", "invoice.payed"],
        true,
    );
    assert_eq!(code(&out), 2, "{:?}", text(&out));
    assert!(text(&out).1.contains("invoice.paid"));
    let out = cli(
        &p,
        &["migrate", "cutover", "--types", "v1.invoice.payed"],
        true,
    );
    assert_eq!(code(&out), 2, "{:?}", text(&out));
    let out = cli(&p, &["audit", "--since", "soon"], true);
    assert_eq!(code(&out), 2, "{:?}", text(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn state_prints_periods_as_rfc3339() {
    local_stack();
    let p = prefix("state");
    assert_eq!(code(&cli(&p, &["create-tables"], false)), 0);
    let out = cli(
        &p,
        &[
            "replay",
            "fixtures/partner-snapshot/subscription-created.json",
        ],
        true,
    );
    assert_eq!(code(&out), 0, "{:?}", text(&out));
    let fixture: serde_json::Value = serde_json::from_slice(
        &std::fs::read(repo().join("fixtures/partner-snapshot/subscription-created.json"))
            .expect("fixture"),
    )
    .expect("json");
    let customer = fixture["detail"]["data"]["object"]["customer"]
        .as_str()
        .expect("customer id")
        .to_owned();
    let out = cli(&p, &["state", &customer], false);
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stdout}{stderr}");
    let period = stdout
        .lines()
        .find(|l| l.starts_with("sub_"))
        .unwrap_or_else(|| panic!("a subscription row: {stdout}"));
    assert!(
        period.contains("T") && period.contains('Z'),
        "period end in RFC 3339: {period}"
    );
}

/// Two customers with the same app user id: `state --user --json` prints one JSON document (an
/// array of the customers' objects), which a script can parse, not two documents back to back.
#[test]
fn state_by_user_as_json_is_one_document() {
    local_stack();
    let p = prefix("user-json");
    assert_eq!(code(&cli(&p, &["create-tables"], false)), 0);
    let fixture: serde_json::Value = serde_json::from_slice(
        &std::fs::read(repo().join("fixtures/partner-snapshot/customer-created.json"))
            .expect("fixture"),
    )
    .expect("json");
    let user = format!("user_{p}");
    let dir = std::env::temp_dir().join(format!("{p}-events"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for n in 1..=2 {
        let mut event = fixture.clone();
        event["id"] = format!("eb-{p}-{n}").into();
        event["detail"]["id"] = format!("evt_{n}{}", std::process::id()).into();
        event["detail"]["data"]["object"]["id"] =
            format!("cus_{n}json{}", std::process::id()).into();
        event["detail"]["data"]["object"]["metadata"]["user_id"] = user.clone().into();
        std::fs::write(dir.join(format!("customer-{n}.json")), event.to_string()).expect("write");
    }
    let replay = cli(&p, &["replay", dir.to_str().unwrap_or_default()], true);
    assert_eq!(code(&replay), 0, "{:?}", text(&replay));

    let out = cli(&p, &["state", "--user", &user, "--json"], false);
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stdout}{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("one JSON document: {e}\n{stdout}"));
    let customers: Vec<&str> = doc
        .as_array()
        .unwrap_or_else(|| panic!("an array: {doc}"))
        .iter()
        .filter_map(|c| c["customer_id"].as_str())
        .collect();
    assert_eq!(customers.len(), 2, "{doc}");
    assert!(doc[0]["entitlement"]["entitled"].is_boolean(), "{doc}");
    assert_eq!(doc[0]["profile"]["user_id"], user.as_str(), "{doc}");
    let _ = std::fs::remove_dir_all(&dir);
}
