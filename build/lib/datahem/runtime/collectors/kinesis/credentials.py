"""AWS credentials for the Kinesis reader, without a long-lived AWS key in a file, an image or a log.

Preferred: web-identity federation. The reader asks the GCP metadata server for an OIDC identity token of its
service account (audience configurable) and exchanges it with STS AssumeRoleWithWebIdentity for short-lived
credentials of the stream's `role_arn`; botocore refreshes them before they expire. The AWS role trusts Google
(`accounts.google.com`) for that service account, so nothing secret is stored anywhere.

Fallback: `credentials_secret`, a Secret Manager secret (encrypted at rest with KMS, readable only by the
reader's service account) holding `{"aws_access_key_id": ..., "aws_secret_access_key": ...}`; it is read at
start-up and kept in memory only.

`endpoint_url` points STS and Kinesis at a stand-in (moto) in tests; `metadata_host` at a stand-in metadata server
(the same GCE_METADATA_HOST variable google-auth honours).
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import boto3
import botocore.session
from botocore import UNSIGNED
from botocore.config import Config
from botocore.credentials import CredentialProvider, RefreshableCredentials

from datahem.runtime.collectors.config import env_str
from datahem.runtime.collectors.errors import CollectorConfigError
from datahem.runtime.collectors.routing import KinesisStream

SESSION_NAME = "datahem-kinesis-reader"
ROLE_SESSION_SECONDS = 3600


@dataclass(frozen=True)
class AwsSettings:
    endpoint_url: str | None = None
    metadata_host: str = "metadata.google.internal"
    audience: str = "sts.amazonaws.com"
    gcp_project: str | None = None  # for Secret Manager secret ids given without a project

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AwsSettings:
        return cls(
            endpoint_url=env_str(env, "DATAHEM_AWS_ENDPOINT_URL"),
            metadata_host=env_str(env, "GCE_METADATA_HOST", cls.metadata_host),
            audience=env_str(env, "DATAHEM_AWS_WEB_IDENTITY_AUDIENCE", cls.audience),
            gcp_project=env_str(env, "GOOGLE_CLOUD_PROJECT"),
        )


def identity_token(metadata_host: str, audience: str, timeout: float = 5.0) -> str:
    """An OIDC token for this workload's service account, from the GCP metadata server."""
    query = urllib.parse.urlencode({"audience": audience, "format": "full"})
    url = f"http://{metadata_host}/computeMetadata/v1/instance/service-accounts/default/identity?{query}"
    request = urllib.request.Request(url, headers={"Metadata-Flavor": "Google"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read().decode("ascii").strip()


class _WebIdentityProvider(CredentialProvider):
    METHOD = "datahem-gcp-web-identity"
    CANONICAL_NAME = "DatahemGcpWebIdentity"

    def __init__(self, stream: KinesisStream, settings: AwsSettings) -> None:
        super().__init__()
        self._stream = stream
        self._settings = settings

    def _fetch(self) -> dict:
        sts = boto3.client(
            "sts",
            region_name=self._stream.region,
            endpoint_url=self._settings.endpoint_url,
            config=Config(signature_version=UNSIGNED),  # AssumeRoleWithWebIdentity is authenticated by the token
        )
        response = sts.assume_role_with_web_identity(
            RoleArn=self._stream.role_arn,
            RoleSessionName=SESSION_NAME,
            WebIdentityToken=identity_token(self._settings.metadata_host, self._settings.audience),
            DurationSeconds=ROLE_SESSION_SECONDS,
        )
        c = response["Credentials"]
        return {
            "access_key": c["AccessKeyId"],
            "secret_key": c["SecretAccessKey"],
            "token": c["SessionToken"],
            "expiry_time": c["Expiration"].isoformat(),
        }

    def load(self) -> RefreshableCredentials:
        return RefreshableCredentials.create_from_metadata(self._fetch(), self._fetch, self.METHOD)


def _secret_manager_reader(name: str) -> bytes:
    from google.cloud import secretmanager

    return secretmanager.SecretManagerServiceClient().access_secret_version(name=name).payload.data


def secret_version_name(secret: str, project: str | None) -> str:
    if secret.startswith("projects/"):
        return secret if "/versions/" in secret else f"{secret}/versions/latest"
    if not project:
        raise CollectorConfigError(f"credentials_secret `{secret}` needs a project (set GOOGLE_CLOUD_PROJECT)")
    return f"projects/{project}/secrets/{secret}/versions/latest"


def aws_session(
    stream: KinesisStream, settings: AwsSettings, read_secret: Callable[[str], bytes] = _secret_manager_reader
) -> boto3.Session:
    """A boto3 session for the stream's account: web identity when the stream has a role, else the secret."""
    if stream.role_arn:
        core = botocore.session.Session()
        core.get_component("credential_provider").insert_before("env", _WebIdentityProvider(stream, settings))
        return boto3.Session(botocore_session=core, region_name=stream.region)
    if not stream.credentials_secret:
        raise CollectorConfigError(f"{stream.stream_arn}: neither role_arn nor credentials_secret is set")
    name = secret_version_name(stream.credentials_secret, settings.gcp_project)
    try:
        doc = json.loads(read_secret(name))
        key_id, secret_key = doc["aws_access_key_id"], doc["aws_secret_access_key"]
    except (ValueError, KeyError, TypeError):
        # Never echo the payload: it is a credential.
        raise CollectorConfigError(
            f"secret {name} must hold JSON with aws_access_key_id and aws_secret_access_key"
        ) from None
    return boto3.Session(aws_access_key_id=key_id, aws_secret_access_key=secret_key, region_name=stream.region)


@dataclass(frozen=True)
class KinesisClientFactory:
    """Picklable (Beam ships it to workers): builds each stream's Kinesis client where the reader runs."""

    settings: AwsSettings

    def __call__(self, stream: KinesisStream):
        session = aws_session(stream, self.settings)
        config = Config(retries={"mode": "adaptive", "max_attempts": 10})
        return session.client("kinesis", endpoint_url=self.settings.endpoint_url, config=config)
