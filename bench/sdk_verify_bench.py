"""Times Vonage's Python SDK verifying one signed webhook, for `make bench`.

Usage: python3 bench/sdk_verify_bench.py FIXTURE.json [--batches N] [--batch-ms MS]

FIXTURE.json holds {"token", "secret", "body"} written by the Rust bench harness, so this script,
the Node one and the Rust verifier all check the same token and body. One operation is what a
Python webhook would do with the SDK: `vonage_jwt.verify_jwt.verify_signature(token, secret)`
plus `hashlib.sha256(body).hexdigest()` (the SDK leaves the body hash to the caller).

Prints one JSON object: the median, min and max nanoseconds per operation over the batches, and
the batch size. Exits non-zero if the SDK does not accept the token, so a broken fixture fails
the suite instead of timing a rejection.
"""
import argparse
import base64
import hashlib
import json
import platform
import statistics
import sys
import time
from importlib import metadata

from vonage_jwt.verify_jwt import verify_signature


def claims_of(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def operation(token, secret, body):
    accepted = verify_signature(token, secret)
    digest = hashlib.sha256(body).hexdigest()
    return accepted, digest


def iterations_for(batch_ns, token, secret, body):
    """How many operations fill one batch: doubling until a run takes a tenth of a batch."""
    count = 1
    while True:
        started = time.perf_counter_ns()
        for _ in range(count):
            operation(token, secret, body)
        elapsed = time.perf_counter_ns() - started
        if elapsed * 10 >= batch_ns:
            return max(1, count * batch_ns // max(elapsed, 1))
        count *= 2


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("fixture")
    parser.add_argument("--batches", type=int, default=15)
    parser.add_argument("--batch-ms", type=float, default=200.0)
    args = parser.parse_args()

    with open(args.fixture, encoding="utf-8") as source:
        fixture = json.load(source)
    token, secret = fixture["token"], fixture["secret"]
    body = fixture["body"].encode("utf-8")

    accepted, digest = operation(token, secret, body)
    if not accepted:
        sys.exit("the Python SDK rejected the fixture token")
    if digest != claims_of(token)["payload_hash"]:
        sys.exit("the body's SHA-256 does not match the token's payload_hash")

    batch_ns = int(args.batch_ms * 1_000_000)
    count = iterations_for(batch_ns, token, secret, body)
    per_operation = []
    for _ in range(args.batches):
        started = time.perf_counter_ns()
        for _ in range(count):
            operation(token, secret, body)
        per_operation.append((time.perf_counter_ns() - started) / count)

    json.dump(
        {
            "implementation": "Vonage Python SDK (vonage-jwt verify_signature + hashlib.sha256)",
            "sdk_version": metadata.version("vonage-jwt"),
            "pyjwt_version": metadata.version("PyJWT"),
            "runtime": f"Python {platform.python_version()}",
            "iterations_per_batch": count,
            "batches": len(per_operation),
            "median_ns": statistics.median(per_operation),
            "min_ns": min(per_operation),
            "max_ns": max(per_operation),
        },
        sys.stdout,
    )
    print()


if __name__ == "__main__":
    main()
