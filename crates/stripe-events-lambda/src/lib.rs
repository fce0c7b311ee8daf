//! Start-up pieces shared by every Lambda binary (the three consumers and the webhook):
//!
//! - [`init_logging`]: one log line per event, JSON unless `AWS_LAMBDA_LOG_FORMAT` is `Text`
//!   ([`log_format`]), level from `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else `info`
//!   ([`level_directive`]); the targets that would print raw payloads, headers or secrets are
//!   capped at `info` whatever the level asked for. [`init_logging_with`] is the same for the
//!   operator CLI (stderr, its own default level).
//! - [`aws_sdk_config`]: the AWS SDK configuration with connect and per-attempt timeouts, so
//!   a service that accepts the connection and never answers fails fast and is retried; the
//!   HTTP client of [`http`] (TLS set up on the first call, one root store per process) and,
//!   when the environment holds them (always in Lambda), the environment's credentials
//!   without the rest of the default chain (which builds an STS client at load).
//! - [`deadline_of`]: the invocation's deadline as an [`Instant`], minus a margin to log and
//!   answer.
//! - [`emf::MetricSet`]: the CloudWatch EMF line each function prints per invocation, its
//!   directive serialized once per process; [`emf_level`] is the level the line carries.

pub mod emf;
pub mod http;

use std::time::{Duration, Instant};

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use tracing::Metadata;
use tracing_subscriber::filter::{filter_fn, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

/// Every binary that links this crate (the Lambdas, the CLI, the benchmarks) allocates with
/// mimalloc instead of glibc's malloc, whose free-list work was a third of the handler's
/// cost outside the JSON parse. Built without transparent huge pages (`no_thp` in the
/// workspace manifest): with them a consumer's peak RSS doubled, 8.4 → 16 MiB. (Not in this
/// crate's own unit tests: they link it a second time through the test kit, and a program has
/// one global allocator.)
#[cfg(not(test))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Targets that log whole invocations (lambda_runtime at `debug`/`trace` prints the event,
/// including a webhook's `Stripe-Signature` and body), HTTP frames or TLS secrets. Their
/// events above `info` are dropped before any other filter is consulted.
pub const CAPPED_TARGETS: [&str; 9] = [
    "lambda_runtime",
    "lambda_runtime_api_client",
    "hyper",
    "hyper_util",
    "h2",
    "rustls",
    "aws_smithy_runtime",
    "aws_smithy_http",
    "aws_sigv4",
];

/// True when an event of this target and level may be logged at all.
pub fn allowed(target: &str, level: &tracing::Level) -> bool {
    let capped = CAPPED_TARGETS.iter().any(|t| {
        target == *t
            || target
                .strip_prefix(t)
                .is_some_and(|rest| rest.starts_with("::"))
    });
    !capped || *level <= tracing::Level::INFO
}

/// The filter directive: `AWS_LAMBDA_LOG_LEVEL` (Lambda's advanced logging controls), then
/// `RUST_LOG`, then `default` (the Lambdas: [`LAMBDA_LOGS`]`.default_directive`, `info`).
pub fn level_directive(var: impl Fn(&str) -> Option<String>, default: &str) -> String {
    if let Some(level) = var("AWS_LAMBDA_LOG_LEVEL").filter(|v| !v.trim().is_empty()) {
        // Lambda's names; FATAL has no tracing level and means "errors only".
        return match level.trim().to_ascii_uppercase().as_str() {
            "TRACE" => "trace",
            "DEBUG" => "debug",
            "WARN" => "warn",
            "ERROR" | "FATAL" => "error",
            _ => "info",
        }
        .to_owned();
    }
    var("RUST_LOG")
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// A level directive as `RUST_LOG` writes it, without span or field filters: a default level
/// and `target=level` pairs (`info`, `warn,stripe_events_consumer=debug`). tracing's
/// `EnvFilter`, which also reads those filters, links a regex engine into every Lambda for a
/// syntax no one needs on a billing function. `None` when it does not parse, or when it holds
/// a span or field filter (`[span{field=value}]`): read as a target name, that would switch
/// every other line off.
pub fn parse_directive(directive: &str) -> Option<Targets> {
    if directive.contains(['[', ']', '{', '}']) {
        return None;
    }
    directive.trim().parse().ok()
}

/// Every target at `level` and above: the filter when no directive reads, and in tests.
pub fn at_level(level: tracing::Level) -> Targets {
    Targets::new().with_default(level)
}

/// How a log line is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line, the event's fields at the top level, with `timestamp` and
    /// `level` (CloudWatch Logs Insights; Lambda's log-level filtering with its JSON format).
    Json,
    /// Plain text: `<timestamp> <LEVEL> <message> <field>=<value> …`, no colour.
    Text,
}

/// The line format: `AWS_LAMBDA_LOG_FORMAT` (Lambda sets it from the function's log format,
/// `JSON` or `Text`) = `Text`, any case: [`LogFormat::Text`]; `JSON`, unset or anything else:
/// [`LogFormat::Json`].
pub fn log_format(var: impl Fn(&str) -> Option<String>) -> LogFormat {
    match var("AWS_LAMBDA_LOG_FORMAT") {
        Some(v) if v.trim().eq_ignore_ascii_case("text") => LogFormat::Text,
        _ => LogFormat::Json,
    }
}

/// What differs between the binaries that log: the level when neither `AWS_LAMBDA_LOG_LEVEL`
/// nor `RUST_LOG` is set (also used when the directive does not parse), and the stream.
#[derive(Debug, Clone, Copy)]
pub struct LogSetup {
    /// A [`Targets`] directive.
    pub default_directive: &'static str,
    /// stderr instead of stdout.
    pub stderr: bool,
}

/// The Lambdas: `info`, on stdout (Lambda sends both streams to CloudWatch Logs).
pub const LAMBDA_LOGS: LogSetup = LogSetup {
    default_directive: "info",
    stderr: false,
};

/// The subscriber every binary installs: `filter` (see [`level_directive`]), then the caps of
/// [`allowed`], lines in `format` to `writer`.
pub fn subscriber<W>(
    format: LogFormat,
    filter: Targets,
    writer: W,
) -> impl tracing::Subscriber + Send + Sync + 'static
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    // Events only: the lines carry no span data (`with_current_span(false)`,
    // `with_span_list(false)`; the text format would print the spans in scope), so spans
    // (lambda_runtime opens one per invocation) are disabled at their callsite instead of
    // being recorded and formatted for nothing.
    let caps =
        filter_fn(|meta: &Metadata<'_>| meta.is_event() && allowed(meta.target(), meta.level()));
    let lines: Box<dyn Layer<Registry> + Send + Sync> = match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_target(false)
            .with_ansi(false)
            .with_writer(writer)
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_target(false)
            .with_ansi(false)
            .with_writer(writer)
            .boxed(),
    };
    tracing_subscriber::registry().with(lines.with_filter(filter).with_filter(caps))
}

/// The Lambdas' logging: [`init_logging_with`] [`LAMBDA_LOGS`].
pub fn init_logging() {
    init_logging_with(LAMBDA_LOGS);
}

/// Installs [`subscriber`] with the format of [`log_format`] and the level of
/// [`level_directive`], read from this process's environment. A second call (tests) keeps the
/// first subscriber.
pub fn init_logging_with(setup: LogSetup) {
    let var = |k: &str| std::env::var(k).ok();
    let format = log_format(var);
    let directive = level_directive(var, setup.default_directive);
    let filter = parse_directive(&directive)
        .or_else(|| parse_directive(setup.default_directive))
        .unwrap_or_else(|| at_level(tracing::Level::INFO));
    let _ = if setup.stderr {
        subscriber(format, filter, std::io::stderr).try_init()
    } else {
        subscriber(format, filter, std::io::stdout).try_init()
    };
}

/// Lambda's application log levels, least severe first
/// (<https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html>).
pub const LAMBDA_LOG_LEVELS: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];

/// The `level` an EMF line carries so Lambda's log-level filtering never drops it.
///
/// With the JSON log format and an application log level, Lambda keeps a JSON line only if
/// its `"level"` is at least that level, and treats a line whose `level` is missing or invalid
/// (or whose `timestamp` is not RFC 3339) as `INFO`. A bare EMF document would be dropped at
/// `WARN`, and with it every metric. So the line is labelled with the configured application
/// level itself (`AWS_LAMBDA_LOG_LEVEL`): the lowest level that passes, never louder than it
/// needs to be (a fixed `FATAL` would show up in every search for fatal errors). Unset or
/// unknown: `INFO`, Lambda's default application level.
pub fn emf_level(app_log_level: Option<&str>) -> &'static str {
    app_log_level
        .map(str::trim)
        .and_then(|l| {
            LAMBDA_LOG_LEVELS
                .into_iter()
                .find(|known| known.eq_ignore_ascii_case(l))
        })
        .unwrap_or("INFO")
}

/// [`emf_level`] of this process's `AWS_LAMBDA_LOG_LEVEL`, read once.
pub fn process_emf_level() -> &'static str {
    static LEVEL: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();
    LEVEL.get_or_init(|| emf_level(std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref()))
}

/// Lambda's documented rule for a JSON application log line under application level
/// `app_level` (for tests of what reaches CloudWatch): a missing or unknown `level`, or a
/// `timestamp` that is not RFC 3339, counts as `INFO`; the line is kept when its level is at
/// least `app_level`. Not JSON: not kept.
pub fn lambda_keeps(line: &str, app_level: &str) -> bool {
    let rank = |l: &str| {
        LAMBDA_LOG_LEVELS
            .iter()
            .position(|k| k.eq_ignore_ascii_case(l))
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
        return false;
    };
    let timestamp_ok = v["timestamp"].as_str().is_some_and(|t| {
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).is_ok()
    });
    let level = v["level"]
        .as_str()
        .and_then(rank)
        .filter(|_| timestamp_ok)
        .unwrap_or(2);
    level >= rank(app_level).unwrap_or(2)
}

/// Connect timeout: a reachable AWS endpoint connects in milliseconds.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// One attempt of one call; the SDK retries a timed-out attempt within the operation.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
/// A whole call with its retries. Calls inside an invocation are also bounded by its
/// deadline ([`deadline_of`]); this bounds calls at cold start (Secrets Manager).
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(8);

/// The standard AWS configuration (environment, `AWS_ENDPOINT_URL`, …) with bounded waits,
/// the lazy HTTP client ([`http::sdk_http_client`]) and, when `AWS_ACCESS_KEY_ID` is set
/// (Lambda sets it with the secret key and session token), the environment's credentials only.
pub async fn aws_sdk_config() -> SdkConfig {
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).http_client(http::sdk_http_client());
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
        loader = loader.credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        );
    }
    loader
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        )
        .load()
        .await
}

/// Time kept back from the Lambda deadline to log and answer after the last call.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(500);

/// The invocation's deadline (`context.deadline`, epoch milliseconds) as an `Instant`,
/// minus [`DEADLINE_MARGIN`].
pub fn deadline_of(context: &lambda_runtime::Context) -> Instant {
    let now_ms = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    let remaining_ms = (context.deadline as i64).saturating_sub(now_ms);
    let remaining = Duration::from_millis(remaining_ms.max(0) as u64);
    Instant::now() + remaining.saturating_sub(DEADLINE_MARGIN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn payload_logging_targets_are_capped_at_info() {
        assert!(!allowed("lambda_runtime", &Level::DEBUG));
        assert!(!allowed("lambda_runtime::layers::trace", &Level::TRACE));
        assert!(!allowed("hyper_util::client::legacy", &Level::DEBUG));
        assert!(!allowed("aws_smithy_runtime::client::http", &Level::TRACE));
        assert!(allowed("lambda_runtime", &Level::INFO));
        assert!(allowed("lambda_runtime", &Level::ERROR));
        // Our own targets and look-alike names are not capped.
        assert!(allowed("webhook::handler", &Level::TRACE));
        assert!(allowed("hyperion", &Level::TRACE));
    }

    #[test]
    fn lambda_log_level_wins_over_rust_log() {
        assert_eq!(level_directive(env(&[]), "info"), "info");
        assert_eq!(
            level_directive(env(&[("RUST_LOG", "debug")]), "info"),
            "debug"
        );
        assert_eq!(
            level_directive(
                env(&[("RUST_LOG", "debug"), ("AWS_LAMBDA_LOG_LEVEL", "WARN")]),
                "info"
            ),
            "warn"
        );
        assert_eq!(
            level_directive(env(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")]), "info"),
            "error"
        );
        // Blank values count as unset; the default is the caller's (the CLI's is quieter).
        assert_eq!(
            level_directive(
                env(&[("AWS_LAMBDA_LOG_LEVEL", " "), ("RUST_LOG", "")]),
                "warn,aws_config=error"
            ),
            "warn,aws_config=error"
        );
        assert_eq!(
            level_directive(env(&[("AWS_LAMBDA_LOG_LEVEL", "debug")]), "warn"),
            "debug"
        );
    }

    #[test]
    fn directives_set_levels_per_target_and_refuse_what_they_cannot_read() {
        let enabled = |directive: &str, target: &str, level: Level| {
            parse_directive(directive).map(|t| t.would_enable(target, &level))
        };
        assert_eq!(enabled("info", "webhook", Level::INFO), Some(true));
        assert_eq!(enabled("INFO", "webhook", Level::DEBUG), Some(false));
        assert_eq!(
            enabled(
                "warn,stripe_events_consumer=debug",
                "stripe_events_consumer",
                Level::DEBUG
            ),
            Some(true)
        );
        assert_eq!(
            enabled("warn,stripe_events_consumer=debug", "webhook", Level::INFO),
            Some(false)
        );
        assert_eq!(enabled("off", "webhook", Level::ERROR), Some(false));
        // Not read (the default level applies instead): span and field filters, bad levels.
        assert!(parse_directive("info,[invocation{request_id=r1}]=debug").is_none());
        assert!(parse_directive("stripe_events_core=loud").is_none());
    }

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn text_only_when_lambda_says_text() {
        assert_eq!(log_format(env(&[])), LogFormat::Json);
        assert_eq!(
            log_format(env(&[("AWS_LAMBDA_LOG_FORMAT", "JSON")])),
            LogFormat::Json
        );
        assert_eq!(
            log_format(env(&[("AWS_LAMBDA_LOG_FORMAT", "Text")])),
            LogFormat::Text
        );
        assert_eq!(
            log_format(env(&[("AWS_LAMBDA_LOG_FORMAT", "TEXT")])),
            LogFormat::Text
        );
        // Unknown values keep the JSON lines.
        assert_eq!(
            log_format(env(&[("AWS_LAMBDA_LOG_FORMAT", "yaml")])),
            LogFormat::Json
        );
    }

    fn lines_of(format: LogFormat) -> String {
        let out = stripe_events_testkit::logs::Captured::default();
        let writer = out.clone();
        let subscriber = subscriber(format, at_level(Level::INFO), move || writer.clone());
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("invocation", request_id = "r1");
            let _entered = span.enter();
            tracing::info!(outcome = "applied", "event handled");
            tracing::debug!("below the level");
            tracing::debug!(target: "lambda_runtime", "capped");
        });
        out.text()
    }

    #[test]
    fn json_and_text_lines() {
        let json = lines_of(LogFormat::Json);
        assert_eq!(json.lines().count(), 1, "{json}");
        let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["outcome"], "applied");
        assert_eq!(v["message"], "event handled");
        assert!(
            v.get("span").is_none() && v.get("target").is_none(),
            "{json}"
        );
        assert!(lambda_keeps(json.trim(), "INFO"));

        let text = lines_of(LogFormat::Text);
        assert_eq!(text.lines().count(), 1, "{text}");
        let line = text.trim();
        assert!(!line.starts_with('{') && !line.contains('\x1b'), "{line}");
        assert!(line.contains(" INFO "), "{line}");
        assert!(line.contains("event handled outcome=\"applied\""), "{line}");
        assert!(
            !line.contains("invocation"),
            "spans are not printed: {line}"
        );
    }

    #[test]
    fn deadline_keeps_a_margin() {
        let mut context = lambda_runtime::Context::default();
        let now_ms = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as u64;
        context.deadline = now_ms + 10_000;
        let left = deadline_of(&context).saturating_duration_since(Instant::now());
        assert!(left <= Duration::from_millis(9_500), "{left:?}");
        assert!(left >= Duration::from_millis(8_000), "{left:?}");
        context.deadline = now_ms.saturating_sub(5_000);
        assert!(deadline_of(&context) <= Instant::now());
    }
}
