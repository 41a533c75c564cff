// Times Vonage's Node SDK verifying one signed webhook, for `make bench`.
//
// Usage: node bench/sdk_verify_bench.cjs FIXTURE.json [--batches N] [--batch-ms MS]
//
// FIXTURE.json holds {"token", "secret", "body"} written by the Rust bench harness, so this
// script, the Python one and the Rust verifier all check the same token and body. One operation
// is what a Node webhook would do with the SDK: `verifySignature(token, secret)` from
// `@vonage/jwt` plus a SHA-256 of the body with node:crypto (the SDK leaves the body hash to the
// caller).
//
// Prints one JSON object: the median, min and max nanoseconds per operation over the batches, and
// the batch size. Batches first run untimed so V8 has optimised the code being timed. Exits
// non-zero if the SDK does not accept the token.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { verifySignature } = require('@vonage/jwt');

function option(name, fallback) {
  const index = process.argv.indexOf(name);
  return index > 0 ? Number(process.argv[index + 1]) : fallback;
}

function operation(token, secret, body) {
  const accepted = verifySignature(token, secret);
  const digest = crypto.createHash('sha256').update(body).digest('hex');
  return [accepted, digest];
}

function timeBatch(count, token, secret, body) {
  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i += 1) {
    operation(token, secret, body);
  }
  return Number(process.hrtime.bigint() - started);
}

// How many operations fill one batch: doubling until a run takes a tenth of a batch.
function iterationsFor(batchNs, token, secret, body) {
  for (let count = 1; ; count *= 2) {
    const elapsed = timeBatch(count, token, secret, body);
    if (elapsed * 10 >= batchNs) {
      return Math.max(1, Math.floor((count * batchNs) / Math.max(elapsed, 1)));
    }
  }
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function packageVersion(name) {
  // The package's `exports` hides its package.json, so it is found by walking up from the entry.
  for (let folder = path.dirname(require.resolve(name)); folder !== path.dirname(folder); folder = path.dirname(folder)) {
    const manifest = path.join(folder, 'package.json');
    if (fs.existsSync(manifest)) {
      const parsed = JSON.parse(fs.readFileSync(manifest, 'utf8'));
      if (parsed.name === name) {
        return parsed.version;
      }
    }
  }
  return 'unknown';
}

function main() {
  const fixturePath = process.argv[2];
  if (!fixturePath) {
    throw new Error('usage: node bench/sdk_verify_bench.cjs FIXTURE.json [--batches N] [--batch-ms MS]');
  }
  const batches = option('--batches', 15);
  const batchNs = option('--batch-ms', 200) * 1e6;
  const fixture = JSON.parse(fs.readFileSync(fixturePath, 'utf8'));
  const { token, secret } = fixture;
  const body = Buffer.from(fixture.body, 'utf8');

  const [accepted, digest] = operation(token, secret, body);
  if (!accepted) {
    throw new Error('the Node SDK rejected the fixture token');
  }
  const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
  if (digest !== claims.payload_hash) {
    throw new Error("the body's SHA-256 does not match the token's payload_hash");
  }

  const count = iterationsFor(batchNs, token, secret, body);
  // Untimed batches: V8 tiers the hot path up before the timed ones start.
  for (let i = 0; i < 3; i += 1) {
    timeBatch(count, token, secret, body);
  }
  const perOperation = [];
  for (let i = 0; i < batches; i += 1) {
    perOperation.push(timeBatch(count, token, secret, body) / count);
  }

  process.stdout.write(`${JSON.stringify({
    implementation: 'Vonage Node SDK (@vonage/jwt verifySignature + node:crypto sha256)',
    sdk_version: packageVersion('@vonage/jwt'),
    jsonwebtoken_version: packageVersion('jsonwebtoken'),
    runtime: `Node ${process.version}`,
    iterations_per_batch: count,
    batches: perOperation.length,
    median_ns: median(perOperation),
    min_ns: Math.min(...perOperation),
    max_ns: Math.max(...perOperation),
  })}\n`);
}

main();
