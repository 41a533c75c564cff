//! Reads `template.yaml` as SAM reads it (`integration_tests::cfn`) and checks the promises the
//! stack makes: every function is built from a binary of this workspace, each may read only its
//! own secret, the API routes what Vonage calls, every parameter reaches the code, the outputs say
//! what to paste where, and no resource depends on itself once SAM's implicit edges are counted.
//!
//! CloudFormation's short tags (`!Ref`, `!Sub`, `!If`, …) are rewritten into the long JSON form
//! (`{"Ref": …}`, `{"Fn::Sub": …}`) first, so every check below sees one shape whichever form the
//! template uses.

use std::collections::{BTreeMap, BTreeSet};

use integration_tests::cfn::{
    References, canonical, dependency_graph, find_cycle, function, functions, parse_template,
    policy_statements, resources_of_type, section, statement_actions, sub_texts, sub_variables,
    template, template_text, workspace_binaries,
};
use integration_tests::repo_root;
use serde_json::{Map, Value, json};
use vonage_voice_lambda::observe::metrics::names;
use vonage_voice_lambda::settings;
use vonage_voice_lambda::settings::ALERT_RETENTION_DAYS;
use vonage_voice_lambda::settings::{ALERT_DEDUP_SECONDS, ALERT_REQUIRE_IDEMPOTENCY};
use vonage_voice_lambda::settings::{STATE_TABLE_NAME, STATE_TIMEOUT_MS};
use vonage_voice_lambda::state::dynamodb::{EXPIRES_AT_ATTRIBUTE, KEY_ATTRIBUTE};

const WEBHOOK_SECRET_VARIABLE: &str = "VONAGE_WEBHOOK_SECRET_ID";
const APPLICATION_SECRET_VARIABLE: &str = "VONAGE_APPLICATION_SECRET_ID";

/// Vonage's socket timeouts for the two webhooks, in seconds (the most it allows).
const ANSWER_SOCKET_TIMEOUT_SECONDS: u64 = 5;
const EVENT_SOCKET_TIMEOUT_SECONDS: u64 = 10;

/// The environment variables the team agreed on (the briefing's "Settings" and the drift check).
const AGREED_SETTINGS: &[&str] = &[
    WEBHOOK_SECRET_VARIABLE,
    APPLICATION_SECRET_VARIABLE,
    "SECRET_CACHE_SECONDS",
    "SECRET_REFRESH_MIN_INTERVAL_SECONDS",
    "WEBHOOK_MAX_AGE_SECONDS",
    "WEBHOOK_MAX_CLOCK_AHEAD_SECONDS",
    "PAYLOAD_HASH_MODE",
    "UNSIGNED_EVENT_STATUSES",
    settings::WEBHOOK_MAX_BODY_BYTES,
    settings::WEBHOOK_RESPONSE_BUDGET_MS,
    settings::SECRET_RETRY_BACKOFF_SECONDS,
    "ANSWER_ALLOW_UNSIGNED",
    "ANSWER_GREETING",
    "ANSWER_LANGUAGE",
    "EVENT_URL",
    "VONAGE_API_BASE_URL",
    "VONAGE_FROM_NUMBER",
    "ALERT_LANGUAGE",
    "EXPECTED_ANSWER_URL",
    "EXPECTED_EVENT_URL",
    "DRIFT_AUTO_REPAIR",
    STATE_TABLE_NAME,
    STATE_TIMEOUT_MS,
    ALERT_DEDUP_SECONDS,
    ALERT_REQUIRE_IDEMPOTENCY,
    ALERT_RETENTION_DAYS,
    vonage_voice_lambda::settings::METRICS_NAMESPACE,
];

/// What each function reads, by binary name. Secrets: answer and event never see the private key.
fn required_settings(binary: &str) -> &'static [&'static str] {
    match binary {
        "answer" => &[
            WEBHOOK_SECRET_VARIABLE,
            "SECRET_CACHE_SECONDS",
            "SECRET_REFRESH_MIN_INTERVAL_SECONDS",
            "WEBHOOK_MAX_AGE_SECONDS",
            "WEBHOOK_MAX_CLOCK_AHEAD_SECONDS",
            "PAYLOAD_HASH_MODE",
            "ANSWER_ALLOW_UNSIGNED",
            "ANSWER_GREETING",
            "ANSWER_LANGUAGE",
            settings::WEBHOOK_MAX_BODY_BYTES,
            settings::WEBHOOK_RESPONSE_BUDGET_MS,
            settings::SECRET_RETRY_BACKOFF_SECONDS,
            STATE_TABLE_NAME,
            STATE_TIMEOUT_MS,
        ],
        "event" => &[
            WEBHOOK_SECRET_VARIABLE,
            "SECRET_CACHE_SECONDS",
            "SECRET_REFRESH_MIN_INTERVAL_SECONDS",
            "WEBHOOK_MAX_AGE_SECONDS",
            "WEBHOOK_MAX_CLOCK_AHEAD_SECONDS",
            "PAYLOAD_HASH_MODE",
            "UNSIGNED_EVENT_STATUSES",
            settings::WEBHOOK_MAX_BODY_BYTES,
            settings::WEBHOOK_RESPONSE_BUDGET_MS,
            settings::SECRET_RETRY_BACKOFF_SECONDS,
            STATE_TABLE_NAME,
            STATE_TIMEOUT_MS,
            ALERT_RETENTION_DAYS,
        ],
        "send-alert" => &[
            APPLICATION_SECRET_VARIABLE,
            "SECRET_CACHE_SECONDS",
            "SECRET_REFRESH_MIN_INTERVAL_SECONDS",
            "VONAGE_API_BASE_URL",
            "VONAGE_FROM_NUMBER",
            "ALERT_LANGUAGE",
            "EVENT_URL",
            STATE_TABLE_NAME,
            STATE_TIMEOUT_MS,
            ALERT_DEDUP_SECONDS,
            ALERT_REQUIRE_IDEMPOTENCY,
            ALERT_RETENTION_DAYS,
        ],
        "alert-status" => &[STATE_TABLE_NAME, STATE_TIMEOUT_MS],
        "drift-check" => &[
            APPLICATION_SECRET_VARIABLE,
            "VONAGE_API_BASE_URL",
            "EXPECTED_ANSWER_URL",
            "EXPECTED_EVENT_URL",
            "DRIFT_AUTO_REPAIR",
        ],
        other => panic!("no agreed settings for a function named {other}; add them here"),
    }
}

/// The secret each function reads; alert-status reads none.
fn secret_variable(binary: &str) -> Option<&'static str> {
    match binary {
        "answer" | "event" => Some(WEBHOOK_SECRET_VARIABLE),
        "send-alert" | "drift-check" => Some(APPLICATION_SECRET_VARIABLE),
        "alert-status" => None,
        other => panic!("no agreed secret for a function named {other}; add it here"),
    }
}

/// The DynamoDB actions each function may take on the state table, and no more: the answer
/// webhook one conditional PutItem per request; the event webhook that, and an alert's record
/// read (GetItem) and written back (conditional PutItem); send-alert claims and stores (PutItem),
/// releases (DeleteItem) and records the alert (PutItem); alert-status only reads (GetItem); the
/// drift check keeps no state.
fn state_table_actions(binary: &str) -> BTreeSet<&'static str> {
    match binary {
        "answer" => ["dynamodb:PutItem"].into(),
        "event" => ["dynamodb:PutItem", "dynamodb:GetItem"].into(),
        "send-alert" => ["dynamodb:PutItem", "dynamodb:DeleteItem"].into(),
        "alert-status" => ["dynamodb:GetItem"].into(),
        "drift-check" => BTreeSet::new(),
        other => {
            panic!("no agreed state table actions for a function named {other}; add them here")
        }
    }
}

/// The JSON fields each secret document holds (the briefing's secret formats).
fn secret_document_fields(variable: &str) -> BTreeSet<&'static str> {
    match variable {
        WEBHOOK_SECRET_VARIABLE => ["signature_secret", "api_key", "application_id"].into(),
        APPLICATION_SECRET_VARIABLE => {
            ["application_id", "private_key", "api_key", "api_secret"].into()
        }
        other => panic!("{other} names no secret"),
    }
}

// ---------------------------------------------------------------------------------------------
// The checks

#[test]
fn every_function_is_an_arm64_rust_binary_of_this_workspace() {
    let template = template();
    let functions = functions(&template);
    let workspace = workspace_binaries();

    for function in &functions {
        let id = &function.logical_id;
        let properties = &function.properties;
        assert_eq!(properties["Runtime"], "provided.al2023", "{id} runtime");
        assert_eq!(
            properties["Architectures"],
            json!(["arm64"]),
            "{id} architectures"
        );
        assert_eq!(properties["Handler"], "bootstrap", "{id} handler");
        assert_eq!(
            function.metadata["BuildMethod"], "rust-cargolambda",
            "{id} build method"
        );

        // sam build runs cargo-lambda in the CodeUri folder with `--bin <Binary>`: that folder
        // must be a workspace package with a bin target of exactly that name.
        let code_uri = properties["CodeUri"]
            .as_str()
            .unwrap_or_else(|| panic!("{id} has no local CodeUri"));
        let folder = canonical(repo_root().join(code_uri));
        let binaries = workspace
            .iter()
            .find(|(package_folder, _)| canonical((*package_folder).clone()) == folder)
            .map(|(_, binaries)| binaries)
            .unwrap_or_else(|| panic!("{id}'s CodeUri {code_uri} is not a workspace package"));
        assert!(
            binaries.contains(&function.binary),
            "{id} builds the binary {}, but the package in {code_uri} has only {binaries:?}",
            function.binary
        );
    }

    // And nothing the team wrote as a function is left out of the stack.
    let functions_folder = canonical(repo_root().join("functions"));
    let function_crates: BTreeSet<&String> = workspace
        .iter()
        .filter(|(folder, _)| folder.starts_with(&functions_folder))
        .flat_map(|(_, binaries)| binaries)
        .collect();
    let deployed: BTreeSet<&String> = functions.iter().map(|function| &function.binary).collect();
    assert_eq!(
        deployed, function_crates,
        "every crate under functions/ is deployed once"
    );
}

#[test]
fn webhooks_time_out_well_inside_vonages_socket_timeouts() {
    let template = template();
    let functions = functions(&template);
    let timeout = |binary: &str| {
        function(&functions, binary).properties["Timeout"]
            .as_u64()
            .unwrap_or_else(|| panic!("the {binary} function has no Timeout in seconds"))
    };
    // Vonage tries a webhook again (one or two more attempts, then the fallback answer URL) when
    // its socket timeout runs out; the function must give up first, with room left for API
    // Gateway and the network, so the retry meets a live function.
    let margin = 2;
    // The timeouts `status` and the drift check hold Vonage's settings against.
    use vonage_voice_lambda::applications::contract;
    assert_eq!(
        timeout("answer"),
        contract::ANSWER_FUNCTION_TIMEOUT.as_secs()
    );
    assert_eq!(timeout("event"), contract::EVENT_FUNCTION_TIMEOUT.as_secs());
    assert!(timeout("answer") + margin <= ANSWER_SOCKET_TIMEOUT_SECONDS);
    assert!(timeout("event") + margin <= EVENT_SOCKET_TIMEOUT_SECONDS);
    assert!(
        timeout("send-alert") > timeout("event"),
        "send-alert calls the Voice API with retries and gets longer than a webhook"
    );
}

/// The webhooks answer within `WEBHOOK_RESPONSE_BUDGET_MS` (or before Lambda's deadline, less a
/// margin): whatever the parameter is set to, that stays inside both functions' timeouts, and the
/// default inside Vonage's default socket timeouts.
#[test]
fn the_webhook_response_budget_fits_the_function_timeouts() {
    let template = template();
    let functions = functions(&template);
    let parameter = &template["Parameters"]["WebhookResponseBudgetMs"];
    let most = parameter["MaxValue"].as_u64().unwrap();
    let default = parameter["Default"].as_u64().unwrap();
    assert_eq!(
        u128::from(default),
        settings::DEFAULT_RESPONSE_BUDGET.as_millis()
    );
    for binary in ["answer", "event"] {
        let timeout_ms = function(&functions, binary).properties["Timeout"]
            .as_u64()
            .unwrap()
            * 1000;
        assert!(
            most < timeout_ms,
            "{binary}: budget {most} ms, timeout {timeout_ms} ms"
        );
    }
    assert!(default < ANSWER_SOCKET_TIMEOUT_SECONDS * 1000);
    assert_eq!(
        template["Parameters"]["WebhookMaxBodyBytes"]["Default"].as_u64(),
        u64::try_from(settings::DEFAULT_MAX_BODY_BYTES).ok()
    );
}

#[test]
fn one_throttled_http_api_routes_get_and_post_on_answer_and_event() {
    let template = template();
    let functions = functions(&template);
    let mut routes = BTreeSet::new();
    let mut apis = BTreeSet::new();
    for function in &functions {
        let events = function.properties["Events"].as_object();
        for event in events.into_iter().flat_map(|events| events.values()) {
            if event["Type"] != "HttpApi" && event["Type"] != "Api" {
                continue;
            }
            let properties = &event["Properties"];
            let api = properties["ApiId"]["Ref"]
                .as_str()
                .unwrap_or_else(|| panic!("{}'s route names no API", function.logical_id));
            apis.insert(api.to_owned());
            routes.insert((
                properties["Method"].as_str().unwrap_or_default().to_owned(),
                properties["Path"].as_str().unwrap_or_default().to_owned(),
                function.binary.clone(),
            ));
        }
    }
    let expected: BTreeSet<(String, String, String)> = [
        ("GET", "/answer", "answer"),
        ("POST", "/answer", "answer"),
        ("GET", "/event", "event"),
        ("POST", "/event", "event"),
    ]
    .into_iter()
    .map(|(method, path, binary)| (method.into(), path.into(), binary.into()))
    .collect();
    assert_eq!(routes, expected);

    assert_eq!(apis.len(), 1, "every route is on one API: {apis:?}");
    let api_id = apis.first().expect("one API");
    let api = &template["Resources"][api_id];
    assert_eq!(
        api["Type"], "AWS::Serverless::HttpApi",
        "{api_id} is an HTTP API"
    );
    let throttling = &api["Properties"]["DefaultRouteSettings"];
    assert!(
        !throttling["ThrottlingRateLimit"].is_null()
            && !throttling["ThrottlingBurstLimit"].is_null(),
        "{api_id} throttles its routes: {throttling}"
    );
}

#[test]
fn each_function_may_only_get_the_value_of_its_own_secret() {
    let template = template();
    let resources = section(&template, "Resources");
    let parameters = section(&template, "Parameters");
    let conditions = section(&template, "Conditions");
    let mut secret_behind_variable: BTreeMap<&str, String> = BTreeMap::new();

    for function in functions(&template) {
        let id = &function.logical_id;
        let Some(own) = secret_variable(&function.binary) else {
            let environment = function.environment();
            for variable in [WEBHOOK_SECRET_VARIABLE, APPLICATION_SECRET_VARIABLE] {
                assert!(
                    !environment.contains_key(variable),
                    "{id} must not know {variable}"
                );
            }
            let text = function.properties["Policies"].to_string();
            assert!(
                !text.contains("secretsmanager"),
                "{id} reads no secret: {text}"
            );
            continue;
        };
        let other = if own == WEBHOOK_SECRET_VARIABLE {
            APPLICATION_SECRET_VARIABLE
        } else {
            WEBHOOK_SECRET_VARIABLE
        };
        let environment = function.environment();
        assert!(
            !environment.contains_key(other),
            "{id} must not know {other}"
        );
        let secret = environment
            .get(own)
            .unwrap_or_else(|| panic!("{id} is not told {own}"));

        for forbidden in ["Role", "PermissionsBoundary", "RolePath"] {
            assert!(
                function.properties[forbidden].is_null(),
                "{id} sets {forbidden}; its only permissions come from Policies"
            );
        }
        let policies = function.properties["Policies"]
            .as_array()
            .unwrap_or_else(|| panic!("{id} has no Policies, so it cannot read {own}"));
        assert_eq!(
            policies.len(),
            1,
            "{id} has one inline policy: {policies:?}"
        );
        let document = policies[0]
            .as_object()
            .filter(|document| document.keys().all(|key| key == "Statement"))
            .unwrap_or_else(|| {
                panic!(
                    "{id}'s policy is an inline statement list, not a managed or template policy"
                )
            });
        let statements = document["Statement"]
            .as_array()
            .unwrap_or_else(|| panic!("{id}'s Statement is a list"));
        assert!(!statements.is_empty(), "{id} has a statement");
        for statement in statements {
            let keys: BTreeSet<&str> = statement
                .as_object()
                .map(|statement| statement.keys().map(String::as_str).collect())
                .unwrap_or_default();
            assert!(
                keys.is_subset(&["Sid", "Effect", "Action", "Resource"].into()),
                "{id}: no NotAction, NotResource or Condition tricks: {statement}"
            );
            assert_eq!(statement["Effect"], "Allow", "{id}");
            let actions = statement_actions(statement);
            // The state table's and the event bus's statements are checked by their own tests.
            if actions.iter().all(|action| {
                action
                    .as_str()
                    .is_some_and(|a| a.starts_with("dynamodb:") || a.starts_with("events:"))
            }) {
                continue;
            }
            assert_eq!(
                actions,
                vec![json!("secretsmanager:GetSecretValue")],
                "{id} may only get secret values"
            );
            assert_eq!(
                &statement["Resource"], secret,
                "{id} may read exactly the secret its {own} names"
            );
        }

        // The secret is either the stack's own or the one the user named, never anything else.
        let choice = secret["Fn::If"]
            .as_array()
            .filter(|choice| choice.len() == 3)
            .unwrap_or_else(|| panic!("{id}'s {own} is !If [created?, !Ref secret, !Ref ARN]"));
        let condition = choice[0].as_str().expect("the !If names a condition");
        let created = choice[1]["Ref"]
            .as_str()
            .expect("the first branch is a !Ref");
        let existing = choice[2]["Ref"]
            .as_str()
            .expect("the second branch is a !Ref");
        let created_secret = &resources[created];
        assert_eq!(created_secret["Type"], "AWS::SecretsManager::Secret");
        assert_eq!(
            created_secret["Condition"], condition,
            "{created} exists only when made"
        );
        assert_eq!(
            parameters[existing]["Default"], "",
            "{existing} is optional"
        );
        assert_eq!(
            conditions[condition],
            json!({ "Fn::Equals": [{ "Ref": existing }, ""] }),
            "the stack makes {created} exactly when {existing} is blank"
        );
        let previous = secret_behind_variable.insert(own, created.to_owned());
        assert!(
            previous.is_none_or(|previous| previous == created),
            "every function reading {own} reads the same secret"
        );
    }

    assert_eq!(
        secret_behind_variable.len(),
        2,
        "two secrets: the webhook one and the application one"
    );
    assert_ne!(
        secret_behind_variable[WEBHOOK_SECRET_VARIABLE],
        secret_behind_variable[APPLICATION_SECRET_VARIABLE],
        "the webhook functions never share a secret with the private key"
    );
    // A created secret starts as the right document with empty values, which the functions
    // refuse, so a forgotten put-secret-value fails loudly instead of verifying against junk.
    for (variable, secret_id) in &secret_behind_variable {
        let placeholder = resources[secret_id]["Properties"]["SecretString"]
            .as_str()
            .unwrap_or_else(|| panic!("{secret_id} has a placeholder SecretString"));
        let document: Map<String, Value> =
            serde_json::from_str(placeholder).expect("the placeholder is a JSON object");
        let fields: BTreeSet<&str> = document.keys().map(String::as_str).collect();
        assert_eq!(
            fields,
            secret_document_fields(variable),
            "{secret_id}'s fields"
        );
        assert!(
            document.values().all(|value| value == ""),
            "{secret_id}'s placeholder values are empty: {placeholder}"
        );
    }

    let iam: Vec<&String> = section(&template, "Resources")
        .iter()
        .filter(|(_, resource)| {
            resource["Type"]
                .as_str()
                .is_some_and(|kind| kind.starts_with("AWS::IAM::"))
        })
        .map(|(id, _)| id)
        .collect();
    assert!(
        iam.is_empty(),
        "no hand-made IAM resources widen a role: {iam:?}"
    );
}

#[test]
fn every_function_gets_the_settings_it_reads_under_the_agreed_names() {
    let template = template();
    for function in functions(&template) {
        let names: BTreeSet<&str> = function.environment().keys().map(String::as_str).collect();
        let required: BTreeSet<&str> = required_settings(&function.binary)
            .iter()
            .copied()
            .collect();
        let missing: Vec<&&str> = required.difference(&names).collect();
        assert!(
            missing.is_empty(),
            "{} is not told {missing:?}",
            function.logical_id
        );
        let unknown: Vec<&&str> = names
            .iter()
            .filter(|name| !AGREED_SETTINGS.contains(name))
            .collect();
        assert!(
            unknown.is_empty(),
            "{} sets {unknown:?}, which no code reads",
            function.logical_id
        );
    }
}

#[test]
fn every_parameter_is_used_and_every_reference_resolves() {
    let template = template();
    let parameters = section(&template, "Parameters");
    let resources = section(&template, "Resources");
    let conditions = section(&template, "Conditions");

    let mut references = References::default();
    for name in ["Conditions", "Globals", "Resources", "Outputs"] {
        references.collect(&template[name]);
    }
    let unused: Vec<&String> = parameters
        .keys()
        .filter(|parameter| !references.names.contains(*parameter))
        .collect();
    assert!(unused.is_empty(), "parameters nothing uses: {unused:?}");

    let unresolved: Vec<&String> = references
        .names
        .iter()
        .filter(|name| {
            !name.starts_with("AWS::")
                && !parameters.contains_key(*name)
                && !resources.contains_key(*name)
        })
        .collect();
    assert!(
        unresolved.is_empty(),
        "references to nothing: {unresolved:?}"
    );

    let undefined: Vec<&String> = references
        .conditions
        .iter()
        .filter(|condition| !conditions.contains_key(*condition))
        .collect();
    assert!(
        undefined.is_empty(),
        "conditions never defined: {undefined:?}"
    );
    let unused_conditions: Vec<&String> = conditions
        .keys()
        .filter(|condition| !references.conditions.contains(*condition))
        .collect();
    assert!(
        unused_conditions.is_empty(),
        "conditions nothing uses: {unused_conditions:?}"
    );

    // The console and `sam deploy --guided` readers see every parameter in one group or another.
    let grouped: Vec<&str> =
        template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|group| group["Parameters"].as_array().into_iter().flatten())
            .filter_map(Value::as_str)
            .collect();
    let mut declared: Vec<&str> = parameters.keys().map(String::as_str).collect();
    let mut grouped_sorted = grouped.clone();
    declared.sort_unstable();
    grouped_sorted.sort_unstable();
    assert_eq!(
        grouped_sorted, declared,
        "each parameter sits in exactly one group"
    );
}

#[test]
fn outputs_say_what_to_paste_into_vonage_and_how_to_send_an_alert() {
    let template = template();
    let outputs = section(&template, "Outputs");
    let functions = functions(&template);
    let output = |name: &str| {
        &outputs
            .get(name)
            .unwrap_or_else(|| panic!("template.yaml has no {name} output"))["Value"]
    };

    for (name, path) in [("AnswerUrl", "/answer"), ("EventUrl", "/event")] {
        let texts = sub_texts(output(name));
        assert!(!texts.is_empty(), "{name} is built with !Sub");
        for text in &texts {
            assert!(
                text.starts_with("${"),
                "{name} starts at an endpoint: {text}"
            );
            assert!(text.ends_with(path), "{name} ends in {path}: {text}");
        }
    }
    // What the user pastes into Vonage is what send-alert asks Vonage to call and what the drift
    // check expects to find.
    let send_alert = function(&functions, "send-alert");
    let drift_check = function(&functions, "drift-check");
    assert_eq!(&send_alert.environment()["EVENT_URL"], output("EventUrl"));
    assert_eq!(
        &drift_check.environment()["EXPECTED_EVENT_URL"],
        output("EventUrl")
    );
    assert_eq!(
        &drift_check.environment()["EXPECTED_ANSWER_URL"],
        output("AnswerUrl")
    );

    assert_eq!(
        output("SendAlertFunctionName"),
        &json!({ "Ref": send_alert.logical_id })
    );
    let command = sub_texts(output("SendAlertInvokeCommand"))
        .pop()
        .expect("SendAlertInvokeCommand is built with !Sub");
    let prefix = format!("sam remote invoke {} ", send_alert.logical_id);
    assert!(command.starts_with(&prefix), "{command}");
    assert!(
        command.contains("--stack-name ${AWS::StackName}"),
        "{command}"
    );
    let payload = command
        .split_once("--event '")
        .and_then(|(_, rest)| rest.rsplit_once('\''))
        .map(|(payload, _)| payload)
        .unwrap_or_else(|| panic!("the command passes --event '<json>': {command}"));
    let payload: Value = serde_json::from_str(payload).expect("the --event payload is JSON");
    assert!(
        payload.is_object(),
        "the payload is a JSON object: {payload}"
    );

    for secret_output in ["WebhookSecretArn", "ApplicationSecretArn"] {
        assert!(
            output(secret_output)["Fn::If"].is_array(),
            "{secret_output}"
        );
    }
}

#[test]
fn logs_are_json_at_the_chosen_level_in_groups_that_expire() {
    let template = template();
    let resources = section(&template, "Resources");
    let conditions = section(&template, "Conditions");
    let mut groups = BTreeSet::new();
    for function in functions(&template) {
        let id = &function.logical_id;
        let logging = &function.properties["LoggingConfig"];
        assert_eq!(logging["LogFormat"], "JSON", "{id}");
        // The level follows the LogLevel parameter, directly or through a condition on it.
        let level = References::of(&logging["ApplicationLogLevel"]);
        let through_conditions = level.conditions.iter().any(|condition| {
            References::of(&conditions[condition])
                .names
                .contains("LogLevel")
        });
        assert!(
            level.names.contains("LogLevel") || through_conditions,
            "{id}'s ApplicationLogLevel follows LogLevel"
        );
        // RUST_LOG would outrank Lambda's level in shared::logging.
        assert!(!function.environment().contains_key("RUST_LOG"), "{id}");

        let group = logging["LogGroup"]["Ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{id} logs to a log group of this stack"));
        assert!(
            groups.insert(group.to_owned()),
            "{id} has a log group of its own"
        );
        assert_eq!(resources[group]["Type"], "AWS::Logs::LogGroup");
        assert_eq!(
            resources[group]["Properties"]["RetentionInDays"],
            json!({ "Ref": "LogRetentionDays" }),
            "{group} expires"
        );
    }
    for (id, group) in resources_of_type(&template, "AWS::Logs::LogGroup") {
        assert!(
            !group["Properties"]["RetentionInDays"].is_null(),
            "{id} expires"
        );
    }
}

#[test]
fn no_resource_depends_on_itself_once_sams_route_edges_are_counted() {
    let template = template();
    let graph = dependency_graph(&template);
    assert_eq!(find_cycle(&graph), None);
}

#[test]
fn the_cycle_check_catches_a_route_function_that_names_its_own_api() {
    // The trap the template avoids: the answer function told its event URL from the API it is a
    // route of. cfn-lint cannot see it before SAM's transform; this check must.
    let mut template = template();
    let answer_id = function(&functions(&template), "answer").logical_id.clone();
    let api_id = template["Resources"][&answer_id]["Properties"]["Events"]
        .as_object()
        .and_then(|events| events.values().next())
        .and_then(|event| event["Properties"]["ApiId"]["Ref"].as_str())
        .expect("the answer function is a route")
        .to_owned();
    template["Resources"][&answer_id]["Properties"]["Environment"]["Variables"]["EVENT_URL"] =
        json!({ "Fn::Sub": format!("${{{api_id}.ApiEndpoint}}/event") });

    let cycle = find_cycle(&dependency_graph(&template)).expect("a cycle is found");
    assert!(
        cycle.contains(&answer_id) && cycle.contains(&api_id),
        "{cycle:?}"
    );
}

#[test]
fn short_tags_read_as_their_long_forms() {
    let template = parse_template(
        "A: !Ref Name\nB: !GetAtt Api.ApiEndpoint\nC: !Sub \"${Api.ApiEndpoint}/x${!Literal}\"\n\
         D: !If [Cond, !Ref AWS::NoValue, x]\nE: { 'Fn::GetAtt': [Api, Arn] }\n",
    );
    assert_eq!(template["A"], json!({ "Ref": "Name" }));
    assert_eq!(
        template["B"],
        json!({ "Fn::GetAtt": ["Api", "ApiEndpoint"] })
    );
    assert_eq!(
        template["D"],
        json!({ "Fn::If": ["Cond", { "Ref": "AWS::NoValue" }, "x"] })
    );
    assert_eq!(template["E"], json!({ "Fn::GetAtt": ["Api", "Arn"] }));
    assert_eq!(
        sub_variables(template["C"]["Fn::Sub"].as_str().unwrap_or_default()),
        ["Api"]
    );
    let references = References::of(&template);
    assert_eq!(
        references.names,
        ["AWS::NoValue", "Api", "Name"].map(String::from).into()
    );
    assert_eq!(references.conditions, ["Cond"].map(String::from).into());
}

#[test]
fn no_account_data_is_written_into_the_stack() {
    let text = template_text();
    // An account id shows as the fifth field of an ARN; a region as a word like eu-west-1.
    let account_in_arn = text
        .split(':')
        .any(|field| field.len() == 12 && field.bytes().all(|byte| byte.is_ascii_digit()));
    assert!(!account_in_arn, "template.yaml names an account id");
    let region = text
        .split(|character: char| !(character.is_ascii_alphanumeric() || character == '-'))
        .find(|word| looks_like_region(word));
    assert_eq!(region, None, "template.yaml names a region");
    for literal in ["arn:aws", "amazonaws.com", ".execute-api."] {
        assert!(
            !text.contains(literal),
            "template.yaml spells out {literal}; derive it from the stack instead"
        );
    }
}

fn looks_like_region(word: &str) -> bool {
    let parts: Vec<&str> = word.split('-').collect();
    let [area, middle @ .., number] = parts.as_slice() else {
        return false;
    };
    ["af", "ap", "ca", "cn", "eu", "il", "me", "mx", "sa", "us"].contains(area)
        && !middle.is_empty()
        && middle
            .iter()
            .all(|part| !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_lowercase()))
        && !number.is_empty()
        && number.bytes().all(|byte| byte.is_ascii_digit())
}

#[test]
fn the_account_check_knows_an_arn_and_a_region_when_it_sees_one() {
    assert!(looks_like_region("eu-west-1"));
    assert!(looks_like_region("us-gov-west-1"));
    assert!(!looks_like_region("en-US"));
    assert!(!looks_like_region("exact-or-compact-json"));
    assert!(!looks_like_region("api-eu-3"));
}

#[test]
fn the_state_table_is_on_demand_encrypted_expiring_and_each_function_may_use_only_what_it_needs() {
    let template = template();
    let tables = resources_of_type(&template, "AWS::DynamoDB::Table");
    assert_eq!(tables.len(), 1, "one state table: {tables:?}");
    let (table_id, table) = tables[0];
    let properties = &table["Properties"];
    assert_eq!(properties["BillingMode"], "PAY_PER_REQUEST", "on-demand");
    assert_eq!(
        properties["KeySchema"],
        json!([{ "AttributeName": KEY_ATTRIBUTE, "KeyType": "HASH" }]),
        "the hash key the stores write"
    );
    assert_eq!(
        properties["AttributeDefinitions"],
        json!([{ "AttributeName": KEY_ATTRIBUTE, "AttributeType": "S" }])
    );
    assert_eq!(
        properties["TimeToLiveSpecification"],
        json!({ "AttributeName": EXPIRES_AT_ATTRIBUTE, "Enabled": true }),
        "items expire through TTL on the attribute the stores set"
    );
    assert_eq!(
        properties["SSESpecification"]["SSEEnabled"], true,
        "encrypted at rest"
    );
    assert!(
        properties["TableName"].is_null(),
        "named by CloudFormation, so two stacks can live in one account"
    );

    let table_arn = json!({ "Fn::GetAtt": [table_id, "Arn"] });
    for function in functions(&template) {
        let id = &function.logical_id;
        let expected = state_table_actions(&function.binary);
        let statements = policy_statements(&function);
        let mut granted = BTreeSet::new();
        for statement in statements {
            let actions = statement_actions(statement);
            let dynamodb: Vec<&str> = actions
                .iter()
                .filter_map(Value::as_str)
                .filter(|action| action.to_ascii_lowercase().starts_with("dynamodb:"))
                .collect();
            if dynamodb.is_empty() {
                continue;
            }
            assert_eq!(
                dynamodb.len(),
                actions.len(),
                "{id}: DynamoDB actions stand in statements of their own: {statement}"
            );
            assert_eq!(
                statement["Resource"], table_arn,
                "{id} may use the state table and no other"
            );
            for action in dynamodb {
                assert!(!action.contains('*'), "{id}: no wildcard actions: {action}");
                granted.insert(action.to_owned());
            }
        }
        let expected: BTreeSet<String> = expected.into_iter().map(str::to_owned).collect();
        assert_eq!(granted, expected, "{id}'s DynamoDB actions");

        let table_name = function.environment().get(STATE_TABLE_NAME);
        if expected.is_empty() {
            assert_eq!(
                table_name, None,
                "{id} keeps no state and is not told the table"
            );
        } else {
            assert_eq!(
                table_name,
                Some(&json!({ "Ref": table_id })),
                "{id} is told the stack's own table"
            );
        }
    }
}

/// Only the event function publishes, with `events:PutEvents` alone, on the default bus alone.
#[test]
fn only_the_event_function_may_put_events_and_only_on_the_default_bus() {
    let template = template();
    let default_bus = json!({
        "Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"
    });
    for function in functions(&template) {
        let id = &function.logical_id;
        let statements = policy_statements(&function);
        let mut granted: Vec<String> = Vec::new();
        for statement in statements {
            let actions = statement_actions(statement);
            let events: Vec<String> = actions
                .iter()
                .filter_map(Value::as_str)
                .filter(|action| action.to_ascii_lowercase().starts_with("events:"))
                .map(str::to_owned)
                .collect();
            if events.is_empty() {
                continue;
            }
            assert_eq!(events.len(), actions.len(), "{id}: a statement of its own");
            assert_eq!(
                statement["Resource"], default_bus,
                "{id}: the default bus only"
            );
            granted.extend(events);
        }
        let expected: Vec<String> = if function.binary == "event" {
            vec!["events:PutEvents".to_owned()]
        } else {
            Vec::new()
        };
        assert_eq!(granted, expected, "{id}'s EventBridge actions");
    }
}

/// alert-status is invoked on demand like send-alert, and says how.
#[test]
fn alert_status_is_an_on_demand_function_with_its_invoke_command() {
    let template = template();
    let functions = functions(&template);
    let status = function(&functions, "alert-status");
    assert!(
        status.properties["Events"].is_null(),
        "no route and no schedule: invoked on demand"
    );
    let outputs = section(&template, "Outputs");
    assert_eq!(
        outputs["AlertStatusFunctionName"]["Value"],
        json!({ "Ref": status.logical_id })
    );
    let command = sub_texts(&outputs["AlertStatusInvokeCommand"]["Value"])
        .into_iter()
        .next()
        .expect("AlertStatusInvokeCommand is built with !Sub");
    assert!(
        command.contains(&format!("sam remote invoke {}", status.logical_id))
            && command.contains(r#"'{"alert_id":"#),
        "{command}"
    );
}

// ---------------------------------------------------------------------------------------------
// Tracing, alarms and the dashboard, checked against `vonage_voice_lambda::observe::metrics::names`
// ---------------------------------------------------------------------------------------------

#[test]
fn every_function_is_traced_and_told_the_metrics_namespace() {
    let template = template();
    for function in functions(&template) {
        let id = &function.logical_id;
        assert_eq!(function.properties["Tracing"], "Active", "{id}");
        assert_eq!(
            function.environment()[vonage_voice_lambda::settings::METRICS_NAMESPACE],
            json!({ "Ref": "MetricsNamespace" }),
            "{id}"
        );
    }
    let parameter = &section(&template, "Parameters")["MetricsNamespace"];
    assert_eq!(
        parameter["Default"],
        vonage_voice_lambda::settings::DEFAULT_METRICS_NAMESPACE
    );
}

/// What an alarm or a dashboard row names: namespace, metric, dimensions (name and value).
#[derive(Debug)]
struct Watched {
    namespace: Value,
    metric: String,
    dimensions: Vec<(String, Value)>,
}

fn every_emitted_metric() -> BTreeSet<&'static str> {
    names::COUNTERS
        .iter()
        .chain(names::MILLISECOND_HISTOGRAMS)
        .copied()
        .collect()
}

/// The Lambda metrics an alarm or the dashboard may use besides the functions' own.
const LAMBDA_METRICS: &[&str] = &["Errors", "Throttles", "Duration", "Invocations"];

/// `watched` is a metric the code emits, with the dimensions it emits it with, for a function of
/// this stack (`function_of` reads a dimension value as a function's logical id).
fn assert_emitted(
    template: &Value,
    watched: &Watched,
    own_namespace: &Value,
    function_of: impl Fn(&Value) -> Option<String>,
    what: &str,
) {
    let resources = section(template, "Resources");
    let mut dimension_names: Vec<&str> = watched
        .dimensions
        .iter()
        .map(|(name, _)| name.as_str())
        .collect();
    dimension_names.sort();
    if &watched.namespace == own_namespace {
        assert!(
            every_emitted_metric().contains(watched.metric.as_str()),
            "{what}: {} is no metric the code emits",
            watched.metric
        );
        let mut emitted = names::dimensions(&watched.metric).to_vec();
        emitted.sort();
        assert_eq!(dimension_names, emitted, "{what}: {watched:?}");
    } else {
        assert_eq!(watched.namespace, "AWS/Lambda", "{what}: {watched:?}");
        assert!(LAMBDA_METRICS.contains(&watched.metric.as_str()), "{what}");
        assert_eq!(dimension_names, [names::FUNCTION_DIMENSION], "{what}");
    }
    for (name, value) in &watched.dimensions {
        if name == names::FUNCTION_DIMENSION {
            let function = function_of(value)
                .unwrap_or_else(|| panic!("{what}: {value} names no function of the stack"));
            assert_eq!(
                resources[&function]["Type"], "AWS::Serverless::Function",
                "{what}"
            );
        } else {
            assert_eq!(name, names::REASON_DIMENSION, "{what}");
            assert_eq!(
                value,
                vonage_voice_lambda::vonage::verify::Rejection::Signature.reason(),
                "{what}: an alarm on a reason the code gives"
            );
        }
    }
}

fn alarm_metrics(id: &str, alarm: &Value) -> Vec<Watched> {
    let properties = &alarm["Properties"];
    let stats: Vec<&Value> = match properties["Metrics"].as_array() {
        Some(queries) => {
            let ids: BTreeSet<&str> = queries
                .iter()
                .filter_map(|query| query["Id"].as_str())
                .collect();
            for query in queries {
                if let Some(expression) = query["Expression"].as_str() {
                    for word in expression.split(|c: char| !c.is_ascii_alphanumeric() && c != '_') {
                        assert!(
                            word.is_empty() || ids.contains(word),
                            "{id}: {word} in {expression:?} is no query"
                        );
                    }
                }
            }
            queries
                .iter()
                .filter_map(|query| query.get("MetricStat").map(|stat| &stat["Metric"]))
                .collect()
        }
        None => vec![properties],
    };
    assert!(!stats.is_empty(), "{id} watches no metric");
    stats
        .into_iter()
        .map(|metric| Watched {
            namespace: metric["Namespace"].clone(),
            metric: metric["MetricName"]
                .as_str()
                .unwrap_or_else(|| panic!("{id}: a metric without a name"))
                .to_owned(),
            dimensions: metric["Dimensions"]
                .as_array()
                .map(|dimensions| {
                    dimensions
                        .iter()
                        .map(|dimension| {
                            (
                                dimension["Name"].as_str().unwrap_or_default().to_owned(),
                                dimension["Value"].clone(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

#[test]
fn every_alarm_watches_a_metric_the_code_emits_and_notifies_the_one_topic() {
    let template = template();
    let alarms = resources_of_type(&template, "AWS::CloudWatch::Alarm");
    let mut alarmed = BTreeSet::new();
    let topic = json!([{ "Fn::If": ["CreateAlarmTopic", { "Ref": "AlarmTopic" }, { "Ref": "ExistingAlarmTopicArn" }] }]);
    for (id, alarm) in &alarms {
        assert_eq!(alarm["Properties"]["AlarmActions"], topic, "{id}");
        assert_eq!(
            alarm["Properties"]["TreatMissingData"], "notBreaching",
            "{id}"
        );
        for watched in alarm_metrics(id, alarm) {
            assert_emitted(
                &template,
                &watched,
                &json!({ "Ref": "MetricsNamespace" }),
                |value| value["Ref"].as_str().map(str::to_owned),
                id,
            );
            alarmed.insert(watched.metric);
        }
    }
    for wanted in [
        names::WEBHOOK_REJECTED,
        names::SECRET_UNAVAILABLE,
        names::ALERT_FAILED,
        names::ALERT_OUTCOME_UNKNOWN,
        names::DRIFT_FOUND,
        names::DYNAMODB_FAILURE,
        names::EVENTBRIDGE_FAILURE,
        "Errors",
        "Throttles",
    ] {
        assert!(
            alarmed.contains(wanted),
            "no alarm on {wanted}: {alarmed:?}"
        );
    }
}

#[test]
fn the_alarm_topic_and_its_email_subscription_are_optional() {
    let template = template();
    let resources = section(&template, "Resources");
    let parameters = section(&template, "Parameters");
    let conditions = section(&template, "Conditions");
    for parameter in ["AlarmEmail", "ExistingAlarmTopicArn"] {
        assert_eq!(
            parameters[parameter]["Default"], "",
            "{parameter} may be left empty"
        );
    }
    assert_eq!(resources["AlarmTopic"]["Condition"], "CreateAlarmTopic");
    assert!(
        References::of(&conditions["CreateAlarmTopic"])
            .names
            .contains("ExistingAlarmTopicArn")
    );
    let subscriptions = resources_of_type(&template, "AWS::SNS::Subscription");
    assert_eq!(subscriptions.len(), 1);
    let (id, subscription) = subscriptions[0];
    assert_eq!(subscription["Condition"], "SubscribeAlarmEmail", "{id}");
    let condition = References::of(&conditions["SubscribeAlarmEmail"]);
    assert!(condition.names.contains("AlarmEmail"), "{condition:?}");
    assert!(
        condition.conditions.contains("CreateAlarmTopic"),
        "{condition:?}"
    );
    assert_eq!(subscription["Properties"]["Protocol"], "email");
    assert_eq!(
        subscription["Properties"]["Endpoint"],
        json!({ "Ref": "AlarmEmail" })
    );
}

/// The dashboard's body with its `${…}` references replaced: the namespace by `NAMESPACE`, a
/// resource by `ref:<logical id>`.
fn dashboard_body(template: &Value) -> Value {
    let dashboards = resources_of_type(template, "AWS::CloudWatch::Dashboard");
    assert_eq!(dashboards.len(), 1, "one dashboard");
    let text = dashboards[0].1["Properties"]["DashboardBody"]["Fn::Sub"]
        .as_str()
        .expect("the body is one !Sub text");
    let mut body = text.to_owned();
    for variable in sub_variables(text) {
        let value = match variable.as_str() {
            "MetricsNamespace" => "NAMESPACE".to_owned(),
            "AWS::Region" => "us-east-1".to_owned(),
            other => format!("ref:{other}"),
        };
        body = body.replace(&format!("${{{variable}}}"), &value);
    }
    serde_json::from_str(&body)
        .unwrap_or_else(|error| panic!("the dashboard body is JSON: {error}"))
}

#[test]
fn the_dashboard_shows_only_metrics_the_code_emits() {
    let template = template();
    let body = dashboard_body(&template);
    let function_of = |value: &Value| {
        value
            .as_str()
            .and_then(|text| text.strip_prefix("ref:"))
            .map(str::to_owned)
    };
    let mut shown = BTreeSet::new();
    for widget in body["widgets"].as_array().expect("widgets") {
        let title = widget["properties"]["title"].as_str().unwrap_or("a widget");
        for row in widget["properties"]["metrics"].as_array().expect("metrics") {
            let row = row.as_array().expect("a row is an array");
            if let Some(expression) = row[0]["expression"].as_str() {
                // SEARCH('{NAMESPACE,Dim,…} MetricName="Name"', …)
                let schema = expression
                    .split_once('{')
                    .and_then(|(_, rest)| rest.split_once('}'))
                    .map(|(schema, _)| schema)
                    .unwrap_or_else(|| panic!("{title}: {expression}"));
                let mut parts = schema.split(',');
                assert_eq!(parts.next(), Some("NAMESPACE"), "{title}");
                let mut dimensions: Vec<&str> = parts.collect();
                dimensions.sort();
                let metric = expression
                    .split_once("MetricName=\"")
                    .and_then(|(_, rest)| rest.split_once('"'))
                    .map(|(metric, _)| metric)
                    .unwrap_or_else(|| panic!("{title}: {expression}"));
                assert!(every_emitted_metric().contains(metric), "{title}: {metric}");
                let mut emitted = names::dimensions(metric).to_vec();
                emitted.sort();
                assert_eq!(dimensions, emitted, "{title}: {expression}");
                shown.insert(metric.to_owned());
                continue;
            }
            let texts: Vec<&Value> = row.iter().take_while(|cell| cell.is_string()).collect();
            assert!(
                texts.len() >= 2 && texts.len().is_multiple_of(2),
                "{title}: {row:?}"
            );
            let watched = Watched {
                namespace: texts[0].clone(),
                metric: texts[1].as_str().unwrap_or_default().to_owned(),
                dimensions: texts[2..]
                    .chunks(2)
                    .map(|pair| {
                        (
                            pair[0].as_str().unwrap_or_default().to_owned(),
                            pair[1].clone(),
                        )
                    })
                    .collect(),
            };
            assert_emitted(&template, &watched, &json!("NAMESPACE"), function_of, title);
            shown.insert(watched.metric);
        }
    }
    for wanted in [
        names::WEBHOOK_VERIFIED,
        names::WEBHOOK_REJECTED,
        names::WEBHOOK_DUPLICATE,
        names::WEBHOOK_UNSIGNED,
        names::ALERT_PLACED,
        names::ALERT_CONFIRMED,
        names::SECRET_READ_LATENCY,
        names::COLD_START,
        "Duration",
    ] {
        assert!(
            shown.contains(wanted),
            "the dashboard does not show {wanted}"
        );
    }
}
