//! `infra/local/deploy.sh` (what `make deploy FUNCTION=…` runs) against moto's Lambda API:
//! it updates `${PREFIX}-stripe-subscription`, prints the CodeSha256 Lambda returns, and that
//! value, read back here with the Rust SDK, is base64(sha256(zip)). A package for the wrong
//! architecture is refused and leaves the code unchanged. The zips are tiny (an ELF header
//! as `bootstrap`): the deploy path is what is tested, not a release build. Needs the local
//! stack (`make test`) and .venv (boto3).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Architecture, FunctionCode, Runtime};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use stripe_events_testkit::fixtures::repo_root as repo;
use stripe_events_testkit::stack::{local_endpoint, sdk_config_for};

fn python() -> PathBuf {
    repo().join(".venv/bin/python")
}

/// Writes `bootstrap`-only zips (x86_64 and arm64 ELF headers plus a marker, mode 0755) and
/// creates the IAM role moto requires for CreateFunction; returns the role ARN.
fn setup(dir: &Path) -> String {
    let script = r#"
import io, os, sys, zipfile, boto3
d = sys.argv[1]
def write(name, machine, marker):
    head = b"\x7fELF\x02\x01\x01" + b"\0" * 9 + b"\x02\x00" + machine + b"\x01\0\0\0" + b"\0" * 44
    info = zipfile.ZipInfo("bootstrap")
    info.external_attr = 0o100755 << 16
    with zipfile.ZipFile(os.path.join(d, name), "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(info, head + marker)
write("v1.zip", b"\x3e\x00", b"v1")
write("v2.zip", b"\x3e\x00", b"v2")
write("arm64.zip", b"\xb7\x00", b"v3")
iam = boto3.client("iam", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-2")
doc = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
try:
    print(iam.create_role(RoleName="deploy-test", AssumeRolePolicyDocument=doc)["Role"]["Arn"])
except iam.exceptions.EntityAlreadyExistsException:
    print(iam.get_role(RoleName="deploy-test")["Role"]["Arn"])
"#;
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(dir)
        .output()
        .expect("run .venv/bin/python");
    assert!(out.status.success(), "setup: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn text(out: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn deploy(prefix: &str, zip: &Path) -> Output {
    Command::new(repo().join("infra/local/deploy.sh"))
        .args(["subscription"])
        .arg(zip)
        .env("PREFIX", prefix)
        .output()
        .expect("run deploy.sh")
}

fn sha256_b64(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("read zip");
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&bytes))
}

#[tokio::test]
async fn deploy_updates_code_and_checks_code_sha256() {
    let endpoint = local_endpoint().unwrap_or_else(|e| panic!("{e}"));
    let lambda = aws_sdk_lambda::Client::new(&sdk_config_for(&endpoint).await);
    let dir = std::env::temp_dir().join(format!("deploy-moto-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let role = setup(&dir);
    let prefix = format!(
        "t{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    );
    let name = format!("{prefix}-stripe-subscription");
    let v1 = std::fs::read(dir.join("v1.zip")).expect("v1");
    lambda
        .create_function()
        .function_name(&name)
        .runtime(Runtime::Providedal2023)
        .architectures(Architecture::X8664)
        .handler("bootstrap")
        .role(role)
        .code(FunctionCode::builder().zip_file(Blob::new(v1)).build())
        .send()
        .await
        .expect("create function in moto");
    let code_sha = |name: String| {
        let lambda = lambda.clone();
        async move {
            lambda
                .get_function()
                .function_name(name)
                .send()
                .await
                .expect("get function")
                .configuration()
                .and_then(|c| c.code_sha256())
                .expect("CodeSha256")
                .to_owned()
        }
    };
    assert_eq!(
        code_sha(name.clone()).await,
        sha256_b64(&dir.join("v1.zip"))
    );

    // The update: deploy.sh prints the returned CodeSha256, which matches the zip.
    let v2 = dir.join("v2.zip");
    let out = deploy(&prefix, &v2);
    assert!(out.status.success(), "{}", text(&out));
    let want = sha256_b64(&v2);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().last(),
        Some(format!("deploy: {name} CodeSha256={want} ok").as_str()),
        "{}",
        text(&out)
    );
    assert_eq!(code_sha(name.clone()).await, want, "read back after deploy");

    // An arm64 package on this x86_64 function is refused before any upload.
    let out = deploy(&prefix, &dir.join("arm64.zip"));
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is arm64 but"),
        "{}",
        text(&out)
    );
    assert_eq!(code_sha(name.clone()).await, want, "code unchanged");

    // A function that does not exist: a clear failure, not a success line.
    let out = deploy(&format!("{prefix}-missing"), &v2);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ResourceNotFound"),
        "{}",
        text(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
