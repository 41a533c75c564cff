//! Webhook verification: ours, ours as it was before (`jsonwebtoken::decode` per request), the
//! crypto floor, and Vonage's Python and Node SDKs, all on the same token and body, timed the same
//! way (batches sized to a fixed length, median ns per operation over the batches), in this one
//! run. Criterion's figures for the same body (bench/benches/verify.rs) are read alongside as a
//! cross-check.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;

use aws_lc_rs::{digest, hmac};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use integration_tests::repo_root;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use vonage_voice_lambda::clock::{Clock as _, SystemClock};
use vonage_voice_lambda::vonage::sign::WebhookSigner;
use vonage_voice_lambda::vonage::verify::{
    CandidateSecrets, SignatureSecret, VerificationPolicy, WebhookRequest, bearer_token, verify,
};

use crate::stats::{Summary, monotonic_ns};
use crate::{Plan, allocations, previous_verifier};

/// The event body of bench/benches/verify.rs (an `answered` event with its pricing fields, about
/// 300 bytes), so criterion's figures are for the same hashing work.
pub const BODY: &str = r#"{"headers":{},"from":"447700900001","to":"447700900000","uuid":"aaaaaaaa-bbbb-cccc-dddd-0123456789ab","conversation_uuid":"CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab","status":"answered","direction":"outbound","timestamp":"2027-01-15T08:00:00.000Z","network":"23410","rate":"0.01400000","price":"0.00023333"}"#;
const API_KEY: &str = "a1b2c3d";

/// One verifier's timing.
#[derive(Debug, Serialize, Deserialize)]
pub struct Timing {
    pub implementation: String,
    #[serde(default)]
    pub sdk_version: Option<String>,
    #[serde(default)]
    pub runtime: Option<String>,
    pub iterations_per_batch: u64,
    pub batches: usize,
    pub median_ns: f64,
    pub min_ns: f64,
    pub max_ns: f64,
}

/// Criterion's median and its 95% interval, and the fastest and slowest sample, in ns.
#[derive(Debug, Serialize)]
pub struct CriterionFigure {
    pub name: String,
    pub median_ns: f64,
    pub median_ci_ns: (f64, f64),
    pub min_ns: f64,
    pub max_ns: f64,
}

#[derive(Debug, Serialize)]
pub struct VerificationResults {
    pub token_bytes: usize,
    pub body_bytes: usize,
    pub ours: Timing,
    /// This crate's verifier as it was before the allocation and parsing work (commit e55dd26).
    pub previous: Timing,
    pub jsonwebtoken_baseline: Timing,
    pub crypto_floor: Timing,
    pub python_sdk: Timing,
    pub node_sdk: Timing,
    /// Heap allocations per accepted verification, counted on the measuring thread.
    pub allocations: Allocations,
    /// The non-cryptographic steps of an accepted verification, each timed alone.
    pub stages: Vec<Stage>,
    pub criterion_full_verification: CriterionFigure,
    pub criterion_crypto_floor: CriterionFigure,
    pub criterion_dir: PathBuf,
}

impl VerificationResults {
    pub fn python_ratio(&self) -> f64 {
        self.python_sdk.median_ns / self.ours.median_ns
    }

    pub fn node_ratio(&self) -> f64 {
        self.node_sdk.median_ns / self.ours.median_ns
    }
}

struct Fixture {
    token: String,
    secret: String,
    issued_at: i64,
}

impl Fixture {
    /// Signed now: PyJWT refuses a token whose `iat` is in the future.
    fn generate() -> Result<Self, String> {
        let secret = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let issued_at = SystemClock.unix_seconds();
        let signer =
            WebhookSigner::new(&secret, API_KEY, None).map_err(|error| error.to_string())?;
        let token = signer
            .sign_body(
                BODY.as_bytes(),
                issued_at,
                &uuid::Uuid::new_v4().to_string(),
            )
            .map_err(|error| error.to_string())?;
        Ok(Self {
            token,
            secret,
            issued_at,
        })
    }
}

/// How many operations fill one batch of `batch_ns`: doubling until a run takes a tenth of it.
/// The same scheme as bench/sdk_verify_bench.*.
fn calibrate(batch_ns: f64, operation: &mut dyn FnMut()) -> u64 {
    let mut count: u64 = 1;
    loop {
        let elapsed = batch(count, operation) * count as f64;
        if elapsed * 10.0 >= batch_ns {
            return ((count as f64 * batch_ns / elapsed.max(1.0)) as u64).max(1);
        }
        count *= 2;
    }
}

/// Nanoseconds per operation over `count` operations.
fn batch(count: u64, operation: &mut dyn FnMut()) -> f64 {
    let started = monotonic_ns();
    for _ in 0..count {
        operation();
    }
    (monotonic_ns() - started) as f64 / count as f64
}

/// One implementation's batches, gathered round by round.
struct Samples {
    implementation: String,
    sdk_version: Option<String>,
    runtime: Option<String>,
    iterations_per_batch: u64,
    per_batch_ns: Vec<f64>,
}

impl Samples {
    fn in_process(implementation: &str, iterations_per_batch: u64) -> Self {
        Self {
            implementation: implementation.to_owned(),
            sdk_version: None,
            runtime: Some(rustc_version()),
            iterations_per_batch,
            per_batch_ns: Vec::new(),
        }
    }

    fn from_script() -> Self {
        Self {
            implementation: String::new(),
            sdk_version: None,
            runtime: None,
            iterations_per_batch: 0,
            per_batch_ns: Vec::new(),
        }
    }

    /// Keeps one batch a script timed, and what the script says about itself.
    fn record(&mut self, timing: Timing) {
        self.per_batch_ns.push(timing.median_ns);
        self.implementation = timing.implementation;
        self.sdk_version = timing.sdk_version;
        self.runtime = timing.runtime;
        self.iterations_per_batch = timing.iterations_per_batch;
    }

    fn timing(self) -> Result<Timing, String> {
        let summary = Summary::of(&self.per_batch_ns)
            .ok_or_else(|| format!("no batches of {}", self.implementation))?;
        Ok(Timing {
            implementation: self.implementation,
            sdk_version: self.sdk_version,
            runtime: self.runtime,
            iterations_per_batch: self.iterations_per_batch,
            batches: summary.samples,
            median_ns: summary.median,
            min_ns: summary.min,
            max_ns: summary.max,
        })
    }
}

fn rustc_version() -> String {
    Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .map(|version| version.trim().to_owned())
        .unwrap_or_else(|| "rustc".to_owned())
}

/// One batch of a Vonage SDK, timed by its script in a fresh interpreter.
fn run_sdk_batch(
    plan: &Plan,
    program: &str,
    script: &Path,
    fixture: &Path,
) -> Result<Timing, String> {
    let output = Command::new(program)
        .arg(script)
        .arg(fixture)
        .args(["--batches", "1"])
        .args(["--batch-ms", &plan.verify_batch_ms.to_string()])
        .current_dir(repo_root())
        .output()
        .map_err(|error| format!("{program} did not run ({error}); run `make install`"))?;
    if !output.status.success() {
        return Err(format!(
            "{} failed ({}): {}",
            script.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    serde_json::from_slice(&output.stdout).map_err(|error| {
        format!(
            "{} printed no timing ({error}): {}",
            script.display(),
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// Criterion's result for `verify_event/<name>`, if `cargo bench` has written one.
fn criterion_figure(dir: &Path, name: &str) -> Option<CriterionFigure> {
    let folder = dir.join("verify_event").join(name).join("new");
    let read = |file: &str| -> Option<serde_json::Value> {
        serde_json::from_str(&std::fs::read_to_string(folder.join(file)).ok()?).ok()
    };
    let estimates = read("estimates.json")?;
    let sample = read("sample.json")?;
    let median = &estimates["median"];
    let per_iteration: Vec<f64> = sample["iters"]
        .as_array()?
        .iter()
        .zip(sample["times"].as_array()?)
        .filter_map(|(iterations, time)| Some(time.as_f64()? / iterations.as_f64()?))
        .collect();
    let spread = Summary::of(&per_iteration)?;
    Some(CriterionFigure {
        name: format!("verify_event/{name}"),
        median_ns: median["point_estimate"].as_f64()?,
        median_ci_ns: (
            median["confidence_interval"]["lower_bound"].as_f64()?,
            median["confidence_interval"]["upper_bound"].as_f64()?,
        ),
        min_ns: spread.min,
        max_ns: spread.max,
    })
}

/// Times the five rows in rounds: in each round every one of them runs one batch, so
/// all five are sampled across the same stretch of time on a machine whose speed comes and goes.
/// One step of a verification, timed alone in batches like the rows above: median ns per call.
#[derive(Debug, Serialize)]
pub struct Stage {
    pub what: &'static str,
    pub median_ns: f64,
}

/// Times the steps a verification takes besides the cryptography, on the fixture's token, each
/// with the crates the verifier uses, so the report can say where the time beyond the floor goes.
fn stages(plan: &Plan, authorization: &str) -> Result<Vec<Stage>, String> {
    let values = [authorization.as_bytes()];
    let token = bearer_token(&values).map_err(|rejection| rejection.reason().to_owned())?;
    let (signing_input, signature) = token.rsplit_once('.').ok_or("no signature segment")?;
    let (_, claims) = signing_input.split_once('.').ok_or("no claims segment")?;
    let claims_json = URL_SAFE_NO_PAD
        .decode(claims)
        .map_err(|error| error.to_string())?;
    let payload_hash = serde_json::from_slice::<serde_json::Value>(&claims_json)
        .map_err(|error| error.to_string())?["payload_hash"]
        .as_str()
        .ok_or("no payload_hash")?
        .to_owned();
    let mut stack = [0u8; 1024];
    if URL_SAFE_NO_PAD.decode_slice(signature, &mut stack).is_err()
        || serde_json::from_slice::<serde::de::IgnoredAny>(&claims_json).is_err()
        || hex::decode_to_slice(&payload_hash, &mut [0u8; 32]).is_err()
    {
        return Err("a verification step refused the fixture's token".into());
    }
    let mut split = || {
        let token = bearer_token(black_box(&values)).unwrap_or_default();
        let parts = token
            .rsplit_once('.')
            .and_then(|(input, signature)| Some((input.split_once('.')?, signature)));
        black_box(parts);
    };
    let mut decode = || {
        let mut buffer = [0u8; 1024];
        let signature = URL_SAFE_NO_PAD.decode_slice(black_box(signature), &mut buffer);
        let claims = URL_SAFE_NO_PAD.decode_slice(black_box(claims), &mut buffer);
        let _ = black_box((signature, claims, buffer));
    };
    let mut parse = || {
        black_box(serde_json::from_slice::<serde::de::IgnoredAny>(black_box(
            &claims_json,
        )))
        .ok();
    };
    let mut hex_decode = || {
        let mut digest = [0u8; 32];
        black_box(hex::decode_to_slice(black_box(&payload_hash), &mut digest)).ok();
    };
    let mut steps: [(&'static str, &mut dyn FnMut()); 4] = [
        (
            "take the bearer token from the header and split it (UTF-8 check, trim, two dots)",
            &mut split,
        ),
        (
            "base64-decode the signature and the claims onto the stack (`base64`)",
            &mut decode,
        ),
        (
            "parse the claims' JSON (`serde_json`, keeping nothing)",
            &mut parse,
        ),
        ("hex-decode `payload_hash` (`hex`)", &mut hex_decode),
    ];
    let batch_ns = plan.verify_batch_ms * 1_000_000.0;
    let mut result = Vec::with_capacity(steps.len());
    for (what, operation) in &mut steps {
        let count = calibrate(batch_ns, *operation);
        let per_batch: Vec<f64> = (0..plan.verify_batches)
            .map(|_| batch(count, *operation))
            .collect();
        result.push(Stage {
            what,
            median_ns: Summary::of(&per_batch).ok_or("no stage timings")?.median,
        });
    }
    Ok(result)
}

/// Heap allocations per call of each in-process verifier.
#[derive(Debug, Serialize)]
pub struct Allocations {
    pub ours: f64,
    pub previous: f64,
    pub jsonwebtoken_baseline: f64,
    pub crypto_floor: f64,
}

pub fn measure(plan: &Plan, out_dir: &Path) -> Result<VerificationResults, String> {
    let fixture = Fixture::generate()?;
    let fixture_path = out_dir.join("verify-fixture.json");
    let document = json!({"token": fixture.token, "secret": fixture.secret, "body": BODY});
    std::fs::write(&fixture_path, document.to_string())
        .map_err(|error| format!("{}: {error}", fixture_path.display()))?;

    let authorization = format!("Bearer {}", fixture.token);
    let values = [authorization.as_bytes()];
    let request = WebhookRequest {
        authorization: &values,
        method: "POST",
        query: None,
        body: BODY.as_bytes(),
    };
    let secrets = CandidateSecrets::new(vec![
        SignatureSecret::new("AWSCURRENT", &fixture.secret).map_err(|error| error.to_string())?,
    ])
    .map_err(|error| error.to_string())?;
    let policy = VerificationPolicy::default();
    verify(&request, &secrets, fixture.issued_at, &policy)
        .map_err(|rejection| format!("our verifier refused the fixture: {}", rejection.reason()))?;
    let mut ours_operation = || {
        let _ = black_box(verify(
            black_box(&request),
            &secrets,
            fixture.issued_at,
            &policy,
        ));
    };

    let previous_key = hmac::Key::new(hmac::HMAC_SHA256, fixture.secret.as_bytes());
    if !previous_verifier::header_is_hs256(&fixture.token)
        || previous_verifier::verify(&request, &previous_key, "AWSCURRENT", fixture.issued_at)
            .is_none()
    {
        return Err("the previous verifier does not verify the fixture".into());
    }
    let mut previous_operation = || {
        let _ = black_box(previous_verifier::verify(
            black_box(&request),
            &previous_key,
            "AWSCURRENT",
            fixture.issued_at,
        ));
    };

    // How this crate verified before: `jsonwebtoken::decode`, which builds the HMAC key from the
    // secret's bytes and parses the claims twice on every call, after `decode_header`, with the
    // body hashed by `sha2`.
    let decoding_key =
        DecodingKey::from_secret(fixture.secret.as_bytes()).map_err(|error| error.to_string())?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    let baseline = || -> bool {
        let Ok(header) = jsonwebtoken::decode_header(black_box(&fixture.token)) else {
            return false;
        };
        let Ok(data) = jsonwebtoken::decode::<serde_json::Value>(
            black_box(&fixture.token),
            &decoding_key,
            &validation,
        ) else {
            return false;
        };
        let mut claimed = [0u8; 32];
        let hex_digest = data.claims["payload_hash"].as_str().unwrap_or_default();
        let digest: [u8; 32] = Sha256::digest(black_box(BODY.as_bytes())).into();
        header.alg == Algorithm::HS256
            && data.claims["iss"] == "Vonage"
            && hex::decode_to_slice(hex_digest, &mut claimed).is_ok()
            && bool::from(digest.ct_eq(&claimed))
    };
    if !baseline() {
        return Err("the jsonwebtoken baseline does not verify the fixture".into());
    }
    let mut baseline_operation = || {
        black_box(baseline());
    };

    // HMAC-SHA256 over the signing input with a key prepared once, plus SHA-256 of the body, both
    // by aws-lc: the work no verifier can skip.
    let (signing_input, signature) = fixture
        .token
        .rsplit_once('.')
        .ok_or("the token has no signature")?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|error| error.to_string())?;
    let floor_key = hmac::Key::new(hmac::HMAC_SHA256, fixture.secret.as_bytes());
    let floor = || {
        let mac_ok =
            hmac::verify(&floor_key, black_box(signing_input.as_bytes()), &signature).is_ok();
        let digest = digest::digest(&digest::SHA256, black_box(BODY.as_bytes()));
        (mac_ok, digest)
    };
    if !floor().0 {
        return Err("the crypto floor does not verify the fixture".into());
    }
    let mut floor_operation = || {
        black_box(floor());
    };

    let batch_ns = plan.verify_batch_ms * 1_000_000.0;
    const ALLOCATION_CALLS: u32 = 1_000;
    let allocations = Allocations {
        ours: allocations::per_call(ALLOCATION_CALLS, &mut ours_operation),
        previous: allocations::per_call(ALLOCATION_CALLS, &mut previous_operation),
        jsonwebtoken_baseline: allocations::per_call(ALLOCATION_CALLS, &mut baseline_operation),
        crypto_floor: allocations::per_call(ALLOCATION_CALLS, &mut floor_operation),
    };
    let ours_count = calibrate(batch_ns, &mut ours_operation);
    let previous_count = calibrate(batch_ns, &mut previous_operation);
    let baseline_count = calibrate(batch_ns, &mut baseline_operation);
    let floor_count = calibrate(batch_ns, &mut floor_operation);
    let mut ours = Samples::in_process(
        "ours (vonage_voice_lambda::vonage::verify::verify)",
        ours_count,
    );
    let mut previous = Samples::in_process(
        "previous: ours at e55dd26 (claims via jsonwebtoken into serde_json::Value)",
        previous_count,
    );
    let mut jsonwebtoken_baseline = Samples::in_process(
        "first: jsonwebtoken::decode (key built per call) + sha2",
        baseline_count,
    );
    let mut crypto_floor = Samples::in_process(
        "crypto floor (aws-lc HMAC-SHA256, key prepared once + aws-lc SHA-256)",
        floor_count,
    );
    let mut python_sdk = Samples::from_script();
    let mut node_sdk = Samples::from_script();
    let bench_dir = repo_root().join("bench");
    let python_script = bench_dir.join("sdk_verify_bench.py");
    let node_script = bench_dir.join("sdk_verify_bench.cjs");
    for _ in 0..plan.verify_batches {
        ours.per_batch_ns
            .push(batch(ours_count, &mut ours_operation));
        previous
            .per_batch_ns
            .push(batch(previous_count, &mut previous_operation));
        jsonwebtoken_baseline
            .per_batch_ns
            .push(batch(baseline_count, &mut baseline_operation));
        crypto_floor
            .per_batch_ns
            .push(batch(floor_count, &mut floor_operation));
        python_sdk.record(run_sdk_batch(
            plan,
            "python3",
            &python_script,
            &fixture_path,
        )?);
        node_sdk.record(run_sdk_batch(plan, "node", &node_script, &fixture_path)?);
    }
    let stages = stages(plan, &authorization)?;
    let (ours, crypto_floor) = (ours.timing()?, crypto_floor.timing()?);
    let previous = previous.timing()?;
    let jsonwebtoken_baseline = jsonwebtoken_baseline.timing()?;
    let (python_sdk, node_sdk) = (python_sdk.timing()?, node_sdk.timing()?);

    let criterion_dir = std::env::var_os("CRITERION_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/criterion"));
    let criterion = |name: &str| {
        criterion_figure(&criterion_dir, name).ok_or_else(|| {
            format!(
                "no criterion result for verify_event/{name} in {}: scripts/bench.sh runs \
                 `cargo bench -p bench --bench verify` first",
                criterion_dir.display()
            )
        })
    };
    Ok(VerificationResults {
        token_bytes: fixture.token.len(),
        body_bytes: BODY.len(),
        ours,
        previous,
        jsonwebtoken_baseline,
        crypto_floor,
        python_sdk,
        node_sdk,
        allocations,
        stages,
        criterion_full_verification: criterion("full_verification")?,
        criterion_crypto_floor: criterion("crypto_floor")?,
        criterion_dir,
    })
}
