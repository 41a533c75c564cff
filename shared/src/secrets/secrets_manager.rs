//! The [`SecretStore`] on AWS Secrets Manager.

use super::*;
use crate::observe::remote::{Service, remote_call};

/// AWS Secrets Manager through the SDK. `AWS_ENDPOINT_URL` (read by `aws-config`) points it at
/// moto in tests.
#[derive(Clone, Debug)]
pub struct SecretsManagerStore {
    client: aws_sdk_secretsmanager::Client,
}

impl SecretsManagerStore {
    /// A store over an SDK client.
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        Self { client }
    }

    /// The client from the standard AWS settings (region, credentials, `AWS_ENDPOINT_URL`).
    pub async fn from_environment() -> Self {
        Self::from_loader(crate::aws::environment_loader()).await
    }

    /// The client from `loader` (tests set region, credentials and endpoint on it), with
    /// [`crate::aws::secrets_manager_timeouts`].
    pub async fn from_loader(loader: aws_config::ConfigLoader) -> Self {
        crate::aws::secrets_manager_store(&crate::aws::load(loader).await)
    }
}

#[async_trait::async_trait]
impl SecretStore for SecretsManagerStore {
    async fn secret_string(
        &self,
        secret_id: &str,
        version_stage: &str,
    ) -> Result<Option<String>, SecretStoreError> {
        // A duration for the latency metric only; no decision reads it.
        let started = std::time::Instant::now();
        let request = self
            .client
            .get_secret_value()
            .secret_id(secret_id)
            .version_stage(version_stage)
            .send();
        let response = remote_call(Service::SecretsManager, "GetSecretValue", request).await;
        crate::observe::metrics::secret_read(started.elapsed());
        match response {
            Ok(output) => match output.secret_string {
                Some(value) => Ok(Some(value)),
                None => Err(SecretStoreError::NotReadable {
                    secret_id: secret_id.to_owned(),
                    problem: format!("the {version_stage} version holds binary data, not a string"),
                }),
            },
            Err(error) => classify_sdk_error(error, secret_id, version_stage),
        }
    }
}

/// Secrets Manager answers `ResourceNotFoundException` both for a missing secret and for a
/// staging label no version carries. `AWSCURRENT` always exists on a secret, so only for other
/// labels does "not found" mean "no such version".
fn classify_sdk_error(
    error: aws_sdk_secretsmanager::error::SdkError<
        aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError,
    >,
    secret_id: &str,
    version_stage: &str,
) -> Result<Option<String>, SecretStoreError> {
    use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

    let SdkError::ServiceError(service_error) = &error else {
        return Err(SecretStoreError::Unavailable(
            DisplayErrorContext(&error).to_string(),
        ));
    };
    let code = service_error.err().code().unwrap_or("Unknown");
    let message = service_error.err().message().unwrap_or_default();
    match code {
        "ResourceNotFoundException" if version_stage != CURRENT => Ok(None),
        "ResourceNotFoundException"
        | "AccessDeniedException"
        | "DecryptionFailure"
        | "InvalidParameterException"
        | "InvalidRequestException" => Err(SecretStoreError::NotReadable {
            secret_id: secret_id.to_owned(),
            problem: format!("{code}: {message}"),
        }),
        _ => Err(SecretStoreError::Unavailable(format!("{code}: {message}"))),
    }
}
