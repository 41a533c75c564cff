#!/usr/bin/env bash
# Checks template.yaml the way a user's `sam build` meets it, without AWS and without the network:
#   1. `sam validate --lint`: SAM's own checks, then cfn-lint on the template as written;
#   2. cfn-lint on the template after SAM's transform. Only the transformed template shows SAM's
#      implicit edges (an HttpApi event makes the API depend on its function), so a circular
#      dependency such as a route function naming its own API is caught here, not in step 1;
#   3. `sam build`: a release arm64 `bootstrap` per function through cargo-lambda and zig;
# then prints each bootstrap's size and zipped size, and fails if one is not an arm64 executable
# or zips to more than the 5 MB we aim for.
#
# Slow the first time (release builds with fat LTO); cargo reuses its work on later runs.
set -euo pipefail
cd "$(dirname "$0")/.."

export SAM_CLI_TELEMETRY=0
# The validators only need a region to name the partition; no call leaves this machine.
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-$AWS_REGION}"
# Crates come from ~/.cargo and Cargo.lock; a build that wants the network is a bug to see.
export CARGO_NET_OFFLINE=true

# Inside .aws-sam (gitignored) but apart from .aws-sam/build, which `sam deploy` ships.
build_dir="${SAM_CHECK_BUILD_DIR:-.aws-sam/check/build}"
max_zip_bytes="${SAM_CHECK_MAX_ZIP_BYTES:-5242880}"

say() { printf '==> %s\n' "$*"; }

say "sam validate --lint"
sam validate --lint --template-file template.yaml

say "cfn-lint on the SAM-transformed template (circular dependencies)"
transformed="$(mktemp --suffix=.json)"
trap 'rm -f "$transformed"' EXIT
python3 - template.yaml >"$transformed" <<'PY'
import json
import sys

from boto3.session import Session
from samcli.yamlhelper import yaml_parse
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

with open(sys.argv[1], encoding="utf-8") as source:
    template = yaml_parse(source.read())
# The translator wants deployable code locations; the local paths are `sam build`'s business.
for resource in template.get("Resources", {}).values():
    if resource.get("Type") == "AWS::Serverless::Function":
        resource.setdefault("Properties", {})["CodeUri"] = "s3://placeholder-bucket/code.zip"
translated = Translator(
    managed_policy_map=None, sam_parser=Parser(), plugins=[], boto_session=Session()
).translate(sam_template=template, parameter_values={}, get_managed_policy_map=dict)
json.dump(translated, sys.stdout, indent=1)
PY
cfn-lint --template "$transformed" --regions "$AWS_REGION"

# No --cached: SAM's cache keys on each function's CodeUri folder and would miss a change in
# shared/; cargo's own incremental build is the cache that matters. --no-beta-features: the
# rust-cargolambda build method is generally available, and this keeps sam from ever prompting.
say "sam build into $build_dir"
sam build --template-file template.yaml --build-dir "$build_dir" --no-beta-features

say "bootstrap sizes"
python3 - "$build_dir" "$max_zip_bytes" <<'PY'
import os
import sys
import tempfile
import zipfile

from samcli.yamlhelper import yaml_parse

build_dir, max_zip_bytes = sys.argv[1], int(sys.argv[2])
with open(os.path.join(build_dir, "template.yaml"), encoding="utf-8") as built:
    resources = yaml_parse(built.read())["Resources"]
functions = {
    name: resource["Properties"]["CodeUri"]
    for name, resource in resources.items()
    if resource["Type"] == "AWS::Serverless::Function"
}
AARCH64 = 183  # ELF e_machine
problems = []
print(f"{'function':<22} {'bootstrap':>12} {'zipped':>12}")
for name, code_uri in sorted(functions.items()):
    bootstrap = os.path.join(build_dir, code_uri, "bootstrap")
    if not os.path.isfile(bootstrap):
        problems.append(f"{name}: no bootstrap at {bootstrap}")
        continue
    with open(bootstrap, "rb") as binary:
        header = binary.read(20)
    if header[:4] != b"\x7fELF" or int.from_bytes(header[18:20], "little") != AARCH64:
        problems.append(f"{name}: {bootstrap} is not an arm64 ELF executable")
    if not os.access(bootstrap, os.X_OK):
        problems.append(f"{name}: {bootstrap} is not executable")
    with tempfile.TemporaryDirectory() as scratch:
        archive = os.path.join(scratch, "function.zip")
        # The same deflate `python3 -m zipfile -c` and `sam deploy` use.
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
            zipped.write(bootstrap, "bootstrap")
        zipped_bytes = os.path.getsize(archive)
    raw_bytes = os.path.getsize(bootstrap)
    print(f"{name:<22} {raw_bytes / 1048576:>9.2f} MB {zipped_bytes / 1048576:>9.2f} MB")
    if zipped_bytes > max_zip_bytes:
        problems.append(f"{name}: zips to {zipped_bytes} bytes, over the {max_zip_bytes} we aim for")
if not functions:
    problems.append("the built template has no functions")
for problem in problems:
    print(f"FAIL {problem}", file=sys.stderr)
sys.exit(1 if problems else 0)
PY
say "SAM check passed"
