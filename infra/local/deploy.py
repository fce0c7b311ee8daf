"""Update one Lambda function's code from its package (what `make deploy FUNCTION=<fn>` runs,
through deploy.sh). boto3 from .venv; honours AWS_ENDPOINT_URL (moto locally) and the
standard AWS credential/region chain (default region us-east-2).

    deploy.py FN [ZIP]

FN is subscription|payment|customer|webhook; the function is ${PREFIX:-ai-nexus-dev}-stripe-FN;
ZIP defaults to target/lambda/FN/bootstrap.zip. Before uploading it checks that the zip holds
an executable ELF `bootstrap` for the function's architecture (an x86_64 package on an arm64
function would fail at every invocation with Runtime.InvalidEntrypoint). After the update it
waits for LastUpdateStatus=Successful and checks that the CodeSha256 Lambda returns equals
base64(sha256(zip)). Exit 0 only when it does; the last line is
    deploy: <function> CodeSha256=<value> ok
"""

import base64
import hashlib
import os
import stat
import sys
import time
import zipfile

ELF_MACHINES = {0x3E: "x86_64", 0xB7: "arm64"}
FUNCTIONS = ("subscription", "payment", "customer", "webhook")


def fail(msg, code=1):
    print(f"deploy: error: {msg}", file=sys.stderr)
    sys.exit(code)


def bootstrap_arch(zip_path):
    """The architecture of the zip's `bootstrap` (x86_64 / arm64), or an error text."""
    try:
        with zipfile.ZipFile(zip_path) as z:
            try:
                info = z.getinfo("bootstrap")
            except KeyError:
                return None, "the zip has no `bootstrap` at its root"
            mode = info.external_attr >> 16
            if not (mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)):
                return None, "`bootstrap` in the zip is not executable"
            with z.open(info) as f:
                head = f.read(20)
    except zipfile.BadZipFile as e:
        return None, f"not a zip file: {e}"
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return None, "`bootstrap` is not an ELF executable"
    order = "little" if head[5] == 1 else "big"
    machine = int.from_bytes(head[18:20], order)
    arch = ELF_MACHINES.get(machine)
    if arch is None:
        return None, f"`bootstrap` is for ELF machine {machine:#x}, not x86_64 or arm64"
    return arch, None


def main(argv):
    if len(argv) not in (2, 3) or argv[1] not in FUNCTIONS:
        fail(f"usage: deploy.sh <{'|'.join(FUNCTIONS)}> [ZIP]", 2)
    fn = argv[1]
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    zip_path = argv[2] if len(argv) == 3 else os.path.join(repo, "target", "lambda", fn, "bootstrap.zip")
    if not os.path.isfile(zip_path):
        fail(f"{zip_path} not found: run `make package` (infra/local/package.sh {fn}) first")
    name = f"{os.environ.get('PREFIX') or 'ai-nexus-dev'}-stripe-{fn}"

    with open(zip_path, "rb") as f:
        code = f.read()
    want = base64.b64encode(hashlib.sha256(code).digest()).decode()
    zip_arch, why = bootstrap_arch(zip_path)
    if zip_arch is None:
        fail(f"{zip_path}: {why}")

    import boto3  # the .venv has it (moto, checkov); imported late so usage errors are fast
    from botocore.exceptions import BotoCoreError, ClientError

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-2"
    kwargs = {"region_name": region}
    if os.environ.get("AWS_ENDPOINT_URL"):
        kwargs["endpoint_url"] = os.environ["AWS_ENDPOINT_URL"]
    client = boto3.client("lambda", **kwargs)
    where = kwargs.get("endpoint_url", f"AWS {region}")
    try:
        current = client.get_function_configuration(FunctionName=name)
        fn_archs = current.get("Architectures") or ["x86_64"]
        if zip_arch not in fn_archs:
            fail(
                f"{zip_path} is {zip_arch} but {name} runs on {'/'.join(fn_archs)}; "
                f"package for {fn_archs[0]} (infra/local/package.sh, PACKAGE_ARCH)"
            )
        print(
            f"deploy: updating {name} ({where}) with {os.path.relpath(zip_path, repo)}"
            f" ({len(code)} bytes, {zip_arch}, sha256 {want})",
            file=sys.stderr,
        )
        out = client.update_function_code(FunctionName=name, ZipFile=code, Publish=False)
        got = out.get("CodeSha256")
        # Wait for the update to finish (immediate in moto; seconds in AWS).
        deadline = time.monotonic() + 120
        status = out.get("LastUpdateStatus", "Successful")
        while status == "InProgress" and time.monotonic() < deadline:
            time.sleep(1)
            conf = client.get_function_configuration(FunctionName=name)
            status, got = conf.get("LastUpdateStatus", "Successful"), conf.get("CodeSha256", got)
        if status != "Successful":
            fail(f"{name}: LastUpdateStatus {status}")
    except (ClientError, BotoCoreError) as e:
        fail(f"{name}: {e}")
    if got != want:
        fail(f"{name}: Lambda reports CodeSha256={got}, the zip's is {want}")
    print(f"deploy: {name} CodeSha256={got} ok")


if __name__ == "__main__":
    main(sys.argv)
