"""Runs Vonage's Python SDK verifier over a batch of tokens.

Reads a JSON array of {"token", "secret"} on stdin; writes a JSON array of verdicts: "accept",
"reject" (bad signature) or "error" (the SDK raised: any other failure).
"""
import json
import sys

from vonage_jwt.verify_jwt import verify_signature


def verdict(case):
    try:
        return "accept" if verify_signature(case["token"], case["secret"]) else "reject"
    except Exception:  # the SDK wraps every non-signature failure in its own error
        return "error"


json.dump([verdict(case) for case in json.load(sys.stdin)], sys.stdout)
