"""One environment's Terraform stack, built from platform.json (the infrastructure model the compiler serializes).

Parts, in build order: providers and state backend; governance (policy-tag taxonomy, one tag per category, masking
data policies, reader IAM); the schema registry bucket with the descriptor set; BigQuery datasets and tables; per
message type the Pub/Sub topics and subscriptions; Secret Manager secrets (containers only, never a value);
service accounts with the grants platform.json lists; and compute (HTTP collector on Cloud Run, SNS collector as a
Cloud Function gen 2, Dataflow flex-template jobs).

Every resource is created directly in the stack with an address derived from its name (`model.logical_id`), so
the Terraform addresses are readable in a pull request and stable when other resources come and go. What to
create and who may do what is decided by the compiler (platform.json); this module only turns it into resources.
"""

from __future__ import annotations

from cdktf import (
    GcsBackend,
    LocalBackend,
    TerraformOutput,
    TerraformResourceLifecycle,
    TerraformStack,
    TerraformVariable,
)
from constructs import Construct

from datahem.deploy.infra import model as M
from datahem.deploy.infra.providers import google, google_beta
from datahem.runtime.contracts.platform import (
    MANAGED_BY_LABEL,
    PIPELINE_LABEL,
    PROJECT_LABEL,
    bucket_name,
    data_policy_id,
    taxonomy_display_name,
)

GoogleProvider = google("provider").GoogleProvider
GoogleBetaProvider = google_beta("provider").GoogleBetaProvider
ProjectService = google("project_service").ProjectService
ProjectIamMember = google("project_iam_member").ProjectIamMember
DataCatalogTaxonomy = google("data_catalog_taxonomy").DataCatalogTaxonomy
DataCatalogPolicyTag = google("data_catalog_policy_tag").DataCatalogPolicyTag
DataCatalogPolicyTagIamBinding = google("data_catalog_policy_tag_iam_binding").DataCatalogPolicyTagIamBinding
BigqueryDatapolicyDataPolicy = google("bigquery_datapolicy_data_policy").BigqueryDatapolicyDataPolicy
BigqueryDatapolicyDataPolicyIamBinding = google(
    "bigquery_datapolicy_data_policy_iam_binding"
).BigqueryDatapolicyDataPolicyIamBinding
_bucket = google("storage_bucket")
StorageBucket = _bucket.StorageBucket
BucketRule = _bucket.StorageBucketLifecycleRule
BucketRuleAction = _bucket.StorageBucketLifecycleRuleAction
BucketRuleCondition = _bucket.StorageBucketLifecycleRuleCondition
StorageBucketObject = google("storage_bucket_object").StorageBucketObject
StorageBucketIamMember = google("storage_bucket_iam_member").StorageBucketIamMember
ArtifactRegistryRepository = google("artifact_registry_repository").ArtifactRegistryRepository
ArtifactRegistryRepositoryIamMember = google(
    "artifact_registry_repository_iam_member"
).ArtifactRegistryRepositoryIamMember
_dataset = google("bigquery_dataset")
BigqueryDataset = _dataset.BigqueryDataset
DatasetAccess = _dataset.BigqueryDatasetAccess
ProjectIamCustomRole = google("project_iam_custom_role").ProjectIamCustomRole
BigqueryTable = google("bigquery_table").BigqueryTable
BigqueryTableIamMember = google("bigquery_table_iam_member").BigqueryTableIamMember
PubsubTopic = google("pubsub_topic").PubsubTopic
PubsubTopicIamMember = google("pubsub_topic_iam_member").PubsubTopicIamMember
PubsubSubscription = google("pubsub_subscription").PubsubSubscription
PubsubSubscriptionIamMember = google("pubsub_subscription_iam_member").PubsubSubscriptionIamMember
ServiceAccount = google("service_account").ServiceAccount
ServiceAccountIamMember = google("service_account_iam_member").ServiceAccountIamMember
_secret = google("secret_manager_secret")
SecretManagerSecret = _secret.SecretManagerSecret
SecretReplica = _secret.SecretManagerSecretReplicationUserManagedReplicas
SecretReplicaEncryption = _secret.SecretManagerSecretReplicationUserManagedReplicasCustomerManagedEncryption
SecretManagerSecretIamMember = google("secret_manager_secret_iam_member").SecretManagerSecretIamMember
KmsKeyRing = google("kms_key_ring").KmsKeyRing
KmsCryptoKey = google("kms_crypto_key").KmsCryptoKey
KmsCryptoKeyIamMember = google("kms_crypto_key_iam_member").KmsCryptoKeyIamMember
_run = google("cloud_run_v2_service")
CloudRunV2Service = _run.CloudRunV2Service
RunContainer = _run.CloudRunV2ServiceTemplateContainers
RunEnv = _run.CloudRunV2ServiceTemplateContainersEnv
RunEnvSource = _run.CloudRunV2ServiceTemplateContainersEnvValueSource
RunSecretRef = _run.CloudRunV2ServiceTemplateContainersEnvValueSourceSecretKeyRef
CloudRunV2ServiceIamMember = google("cloud_run_v2_service_iam_member").CloudRunV2ServiceIamMember
Cloudfunctions2Function = google("cloudfunctions2_function").Cloudfunctions2Function
DataflowFlexTemplateJob = google_beta("google_dataflow_flex_template_job").GoogleDataflowFlexTemplateJob
ProjectServiceIdentity = google_beta("google_project_service_identity").GoogleProjectServiceIdentity
DataStorageAgent = google("data_google_storage_project_service_account").DataGoogleStorageProjectServiceAccount
DataBigqueryAgent = google("data_google_bigquery_default_service_account").DataGoogleBigqueryDefaultServiceAccount
ROLE_KMS = "roles/cloudkms.cryptoKeyEncrypterDecrypter"

# Pub/Sub delivery: redeliver with backoff, then move the message to the dead-letter topic (nothing is dropped);
# subscriptions never expire and keep unacknowledged messages for 7 days (the maximum).
ACK_DEADLINE_SECONDS = 60
MAX_DELIVERY_ATTEMPTS = 5
RETRY_POLICY = {"minimum_backoff": "10s", "maximum_backoff": "600s"}
RETENTION = "604800s"
NEVER_EXPIRE = {"ttl": ""}
# Replays carry backfill=true and must not be backed up a second time.
BACKUP_FILTER = 'NOT attributes.backfill = "true"'
DAY_MS = 86_400_000
# Nested configuration is passed as dicts, except inside lists: jsii converts a dict to its struct (snake_case keys
# to camelCase) where the type says struct, but not list elements, whose snake_case keys would be dropped silently.
# List elements are therefore built with their struct classes.

REQUIRED_TERRAFORM = ">= 1.7.0"
# Topics and subscriptions are never destroyed by an apply: a topic's subscriptions hold up to 7 days of backlog and
# dead letters. What leaves the project is forgotten (`removed`); anything else that would destroy one (a changed
# subscription filter replaces the subscription) fails the apply instead of losing messages.
KEEP = TerraformResourceLifecycle(prevent_destroy=True)

ROLE_TAG_READER = "roles/datacatalog.categoryFineGrainedReader"
ROLE_MASKED_READER = "roles/bigquerydatapolicy.maskedReader"


class PlatformStack(TerraformStack):
    """Every resource of one environment (its own GCP project), named after the environment."""

    def __init__(self, scope: Construct, platform: dict, env: dict) -> None:
        super().__init__(scope, env["name"])
        self.platform = platform
        self.env = env
        self.project = env["gcp_project"]
        self.region = env["region"]
        self.location = platform["bigquery"]["location"]
        self.apis: dict[str, ProjectService] = {}
        self.tags: dict[str, DataCatalogPolicyTag] = {}
        self.datasets: dict[str, BigqueryDataset] = {}
        self.tables: dict[str, BigqueryTable] = {}
        self.topics: dict[str, PubsubTopic] = {}
        self.subscriptions: dict[str, PubsubSubscription] = {}
        self.secrets: dict[str, SecretManagerSecret] = {}
        self.buckets: dict[str, StorageBucket] = {}
        self.repositories: dict[str, ArtifactRegistryRepository] = {}
        self.accounts: dict[str, ServiceAccount] = {}
        self.grants: dict[str, list] = {}
        self.custom_roles: dict[str, ProjectIamCustomRole] = {}
        self.bucket_names: dict[str, str] = {}
        self.add_override("//.comment", platform["comment"])
        self._providers()
        self.release = TerraformVariable(
            self,
            "release",
            type="string",
            description="Release tag of the collector images and the SNS function source (set by CI, e.g. the commit)",
        )
        self.agents: dict[str, ProjectServiceIdentity] = {}
        self.key_grants: dict[tuple[str, str], KmsCryptoKeyIamMember] = {}
        self.storage_agent: DataStorageAgent | None = None
        self.removed: list[dict] = []
        self._governance()
        self._registry()
        self._warehouse()
        self._streams()
        self._secrets()
        self._identities()
        self._import_topics()
        self._collectors()
        self._pipelines()

    # -- foundations -------------------------------------------------------------------------------------------

    def _providers(self) -> None:
        # `removed` blocks with `lifecycle { destroy = false }` need Terraform 1.7 (OpenTofu: 1.9)
        self.add_override("terraform.required_version", REQUIRED_TERRAFORM)
        # cdktf rewrites provider-level keys to snake_case (map keys included), so these labels use `_` already.
        labels = {MANAGED_BY_LABEL: "datahem", PROJECT_LABEL: self.platform["project"]}
        self.google = GoogleProvider(self, "google", project=self.project, region=self.region, default_labels=labels)
        self.beta = GoogleBetaProvider(
            self, "google-beta", project=self.project, region=self.region, default_labels=labels
        )
        bucket = self.env["state_bucket"]
        if bucket:
            GcsBackend(self, bucket=bucket, prefix=f"datahem/{self.env['name']}")
        else:
            # Terraform runs in cdktf.out/stacks/<env>/: keep local state in the project root, outside generated/
            # (which every build replaces), so a rebuild never deletes it.
            LocalBackend(self, path=f"../../../../../terraform.{self.env['name']}.tfstate")

    def api(self, service: str) -> ProjectService:
        """The project service (API) a resource needs, enabled once; resources depend on it so a fresh project
        deploys in one apply. APIs stay enabled on destroy (other things may use them)."""
        if service not in self.apis:
            self.apis[service] = ProjectService(
                self, M.logical_id("api", service.split(".")[0]), service=service, disable_on_destroy=False
            )
        return self.apis[service]

    def agent(self, service: str) -> ProjectServiceIdentity:
        """The service agent (Google-managed identity) of a service, created explicitly: on a new project it does not
        exist until the API is first used, and a grant to it fails ("service account ... does not exist"). Grants
        reference its email, so Terraform creates it (after its API) before any of them."""
        if service not in self.agents:
            self.agents[service] = ProjectServiceIdentity(
                self,
                f"{service.split('.')[0]}_agent",  # e.g. secretmanager_agent (the address earlier stacks used)
                provider=self.beta,
                service=service,
                depends_on=[self.api(service)],
            )
        return self.agents[service]

    def key_user(self, option: str, who: str, email: str) -> list[KmsCryptoKeyIamMember]:
        """The grant that lets a service agent use the environment's customer-managed key `option` (`kms_key` or
        `bigquery_kms_key`), as a dependency list for the resources it encrypts; [] without a key."""
        key = self.env.get(option)
        if not key:
            return []
        if (option, who) not in self.key_grants:
            self.key_grants[(option, who)] = KmsCryptoKeyIamMember(
                self,
                M.logical_id("iam_kms", f"{who}_{option}"),
                crypto_key_id=key,
                role=ROLE_KMS,
                member=M.member(email),
                depends_on=[self.api("cloudkms.googleapis.com")],
            )
        return [self.key_grants[(option, who)]]

    def storage_key(self) -> dict:
        """Bucket arguments for the environment's `kms_key` (with the Cloud Storage agent's grant first)."""
        if not self.env.get("kms_key"):
            return {}
        if self.storage_agent is None:
            self.storage_agent = DataStorageAgent(self, "storage_agent")
        grant = self.key_user("kms_key", "storage", self.storage_agent.email_address)
        return {"encryption": {"default_kms_key_name": self.env["kms_key"]}, "depends_on": grant}

    # -- governance --------------------------------------------------------------------------------------------

    def _governance(self) -> None:
        """Taxonomy in the BigQuery location (policy tags must live where the datasets are), one policy tag per
        category under its parent, a masking data policy where a category asks for one, and authoritative bindings:
        `readers` see clear values, `masked_readers` see masked values; anyone added by hand is removed."""
        region = self.location.lower()
        self.taxonomy = DataCatalogTaxonomy(
            self,
            "taxonomy",
            display_name=taxonomy_display_name(self.platform["project"]),
            description=f"Data categories of the DataHem project {self.platform['project']} (sources.yaml).",
            region=region,
            activated_policy_types=["FINE_GRAINED_ACCESS_CONTROL"],
            depends_on=[self.api("datacatalog.googleapis.com")],
        )
        for c in self.platform["categories"]:  # parents first
            name = c["name"]
            parent = self.tags[c["parent"]].id if c["parent"] else None
            tag = DataCatalogPolicyTag(
                self,
                M.logical_id("policy_tag", name),
                taxonomy=self.taxonomy.id,
                display_name=name,
                description=M.tf_literal(c["description"]) or None,
                parent_policy_tag=parent,
            )
            self.tags[name] = tag
            if c["readers"]:
                DataCatalogPolicyTagIamBinding(
                    self,
                    M.logical_id("policy_tag_readers", name),
                    policy_tag=tag.name,
                    role=ROLE_TAG_READER,
                    members=c["readers"],
                )
            if c["masking"]:
                policy = BigqueryDatapolicyDataPolicy(
                    self,
                    M.logical_id("data_policy", name),
                    data_policy_id=data_policy_id(self.platform["project"], name),
                    location=region,
                    policy_tag=tag.name,
                    data_policy_type="DATA_MASKING_POLICY",
                    data_masking_policy={"predefined_expression": c["masking"]},
                    depends_on=[self.api("bigquerydatapolicy.googleapis.com")],
                )
                if c["masked_readers"]:
                    BigqueryDatapolicyDataPolicyIamBinding(
                        self,
                        M.logical_id("data_policy_masked_readers", name),
                        project=self.project,
                        location=region,
                        data_policy_id=policy.data_policy_id,
                        role=ROLE_MASKED_READER,
                        members=c["masked_readers"],
                    )
        if self.tags:
            # `datahem migrate --policy-tags` reads this map to set the policy tags its schema patches name
            TerraformOutput(
                self,
                "policy_tags",
                value={name: tag.name for name, tag in sorted(self.tags.items())},
                description="Policy-tag resource name of each category (for `datahem migrate --policy-tags`)",
            )

    # -- schema registry, images -------------------------------------------------------------------------------

    def _bucket(self, key: str, name: str, **extra: object) -> StorageBucket:
        encryption = self.storage_key()
        bucket = StorageBucket(
            self,
            M.logical_id("bucket", key),
            name=name,
            location=self.region.upper(),
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            force_destroy=False,
            encryption=encryption.get("encryption"),
            depends_on=[self.api("storage.googleapis.com"), *encryption.get("depends_on", [])],
            **extra,
        )
        self.buckets[key] = bucket
        self.bucket_names[key] = name
        return bucket

    def _registry(self) -> None:
        """The schema registry bucket (versioned, so every descriptor set published stays retrievable) holding the
        descriptor set, the Dataflow templates and the SNS function sources; a bucket for Dataflow's temporary
        files; the Docker repository of the collector and pipeline images."""
        reg = self.platform["registry"]
        registry = self._bucket("registry", bucket_name(self.project, "registry"), versioning={"enabled": True})
        StorageBucketObject(
            self,
            "object_descriptor_set",
            bucket=registry.name,
            name=reg["object"],
            # Terraform runs in generated/infra/cdktf.out/stacks/<env>/; the file is generated/<descriptor_set>.
            source=f"${{path.module}}/../../../../{reg['descriptor_set']}",
            content_type="application/x-protobuf",
            metadata={"sha256": reg["sha256"]},
        )
        # Versioned like every bucket (an overwritten or deleted object can be recovered for a day), without keeping
        # every temporary file Dataflow replaces: non-current versions go after a day.
        self._bucket(
            "dataflow",
            bucket_name(self.project, "dataflow"),
            versioning={"enabled": True},
            lifecycle_rule=[
                BucketRule(
                    action=BucketRuleAction(type="Delete"),
                    condition=BucketRuleCondition(days_since_noncurrent_time=1, with_state="ARCHIVED"),
                )
            ],
        )
        registry_agent = self.agent("artifactregistry.googleapis.com") if self.env.get("kms_key") else None
        self.repositories["images"] = ArtifactRegistryRepository(
            self,
            "repository_images",
            repository_id="datahem",
            format="DOCKER",
            location=self.region,
            description="DataHem collector and pipeline images.",
            kms_key_name=self.env.get("kms_key"),
            depends_on=[
                self.api("artifactregistry.googleapis.com"),
                *(self.key_user("kms_key", "artifactregistry", registry_agent.email) if registry_agent else []),
            ],
        )

    def image(self, name: str) -> str:
        repo = self.repositories["images"]
        return f"{repo.location}-docker.pkg.dev/{self.project}/{repo.repository_id}/{name}:{self.release.string_value}"

    # -- BigQuery ----------------------------------------------------------------------------------------------

    def _warehouse(self) -> None:
        """Datasets in the configured location and every table with the BigQuery emitter's schema, its policy-tag
        placeholders resolved to this environment's tags; deletion protection on, always.

        Terraform creates a table with its schema and then ignores `schema` (`lifecycle.ignore_changes`): the google
        provider replaces a table for changes BigQuery makes in place (a widened type, a renamed column), so after
        creation the schema belongs to the migrations of generated/bigquery/migrations/, applied by `datahem migrate`.
        Tables that left the project (`retired_tables`) get a `removed` block: Terraform forgets them, their data
        stays."""
        bq = self.platform["bigquery"]
        cmek = self.env.get("bigquery_kms_key")
        cmek_grant = (
            self.key_user("bigquery_kms_key", "bigquery", DataBigqueryAgent(self, "bigquery_agent").email)
            if cmek
            else []
        )
        for d in bq["datasets"]:
            self.datasets[d["name"]] = BigqueryDataset(
                self,
                M.logical_id("dataset", d["name"]),
                dataset_id=d["name"],
                location=self.location,
                description=M.tf_literal(d["description"]),
                delete_contents_on_destroy=False,
                # raw payloads (backup, dead letters): an authoritative access list without the project's readers and
                # writers, so basic Viewer/Editor roles read no unmasked payload; pipelines write through table grants
                access=[DatasetAccess(role="OWNER", special_group="projectOwners")] if d.get("raw_payloads") else None,
                default_encryption_configuration={"kms_key_name": cmek} if cmek else None,
                depends_on=[self.api("bigquery.googleapis.com"), *cmek_grant],
            )
        prefix = self.platform["policy_tag_placeholder"]
        for t in self.platform["tables"]:
            p = t["partitioning"]
            partitioning: dict = {"type": p["type"]}
            if p["field"]:
                partitioning["field"] = p["field"]
            if p["expiration_days"]:
                partitioning["expiration_ms"] = p["expiration_days"] * DAY_MS
            key = f"{t['dataset']}.{t['name']}"
            self.tables[key] = BigqueryTable(
                self,
                M.logical_id("table", key),
                dataset_id=self.datasets[t["dataset"]].dataset_id,
                table_id=t["name"],
                description=M.tf_literal(t["description"]) or None,
                schema=M.table_schema(t["fields"], prefix, lambda category: self.tags[category].name),
                time_partitioning=partitioning,
                require_partition_filter=p["require_filter"],
                clustering=t["clustering"] or None,
                labels=t["labels"] or None,
                deletion_protection=True,
                encryption_configuration={"kms_key_name": cmek} if cmek else None,
                lifecycle=TerraformResourceLifecycle(ignore_changes=["schema"]),
            )
        self.retire([f"google_bigquery_table.{M.logical_id('table', ref)}" for ref in self.platform["retired_tables"]])

    def retire(self, addresses: list[str]) -> None:
        """`removed { from = ADDRESS  lifecycle { destroy = false } }` for each address: Terraform forgets the
        resource and leaves it (and its data) in the project. Needs Terraform 1.7 (`required_version`)."""
        self.removed += [{"from": a, "lifecycle": {"destroy": False}} for a in addresses]
        if self.removed:
            self.add_override("removed", sorted(self.removed, key=lambda r: r["from"]))

    # -- Pub/Sub -----------------------------------------------------------------------------------------------

    def _topic(self, name: str) -> PubsubTopic:
        key = self.key_user("kms_key", "pubsub", self.agent("pubsub.googleapis.com").email)
        topic = PubsubTopic(
            self,
            M.logical_id("topic", name),
            name=name,
            kms_key_name=self.env.get("kms_key"),
            depends_on=[self.api("pubsub.googleapis.com"), *key],
            lifecycle=KEEP,
        )
        self.topics[name] = topic
        return topic

    def _subscription(self, name: str, topic: PubsubTopic, **extra: object) -> PubsubSubscription:
        sub = PubsubSubscription(
            self,
            M.logical_id("subscription", name),
            name=name,
            topic=topic.id,
            ack_deadline_seconds=ACK_DEADLINE_SECONDS,
            message_retention_duration=RETENTION,
            expiration_policy=NEVER_EXPIRE,
            lifecycle=KEEP,
            **extra,
        )
        self.subscriptions[name] = sub
        return sub

    def _streams(self) -> None:
        """Per message type: the topic the collectors publish to, its `backup` and `enrichment` subscriptions with
        retry and dead-letter policies, the dead-letter topic with a subscription that holds what failed delivery,
        and the processed-stream topic. Pub/Sub's service agent may publish dead letters and acknowledge them."""
        agent = M.member(self.agent("pubsub.googleapis.com").email)
        self.retire(
            [f"google_pubsub_topic.{M.logical_id('topic', n)}" for n in self.platform.get("retired_topics", [])]
            + [
                f"google_pubsub_subscription.{M.logical_id('subscription', n)}"
                for n in self.platform.get("retired_subscriptions", [])
            ]
        )
        for s in self.platform["topics"]:
            topic = self._topic(s["topic"])
            self._topic(s["processed_topic"])
            dead = self._topic(s["dead_letter_topic"])
            self._subscription(s["dead_letter_subscription"], dead)
            PubsubTopicIamMember(
                self,
                M.logical_id("iam_pubsub-agent_publisher", s["dead_letter_topic"]),
                topic=dead.name,
                role="roles/pubsub.publisher",
                member=agent,
            )
            delivery = {
                "retry_policy": RETRY_POLICY,
                "dead_letter_policy": {"dead_letter_topic": dead.id, "max_delivery_attempts": MAX_DELIVERY_ATTEMPTS},
            }
            for name, extra in (
                (s["backup_subscription"], {"filter": BACKUP_FILTER}),
                (s["enrichment_subscription"], {}),
            ):
                sub = self._subscription(name, topic, **delivery, **extra)
                PubsubSubscriptionIamMember(
                    self,
                    M.logical_id("iam_pubsub-agent_subscriber", name),
                    subscription=sub.name,
                    role="roles/pubsub.subscriber",
                    member=agent,
                )

    # -- secrets -----------------------------------------------------------------------------------------------

    def _secrets(self) -> None:
        """Secret Manager secrets as empty containers: an operator adds the value (`gcloud secrets versions add`),
        so no secret value is ever in generated/ or in the Terraform state. Secrets marked `kms` (AWS credentials)
        are encrypted with a customer-managed key that only Secret Manager's service agent may use."""
        secrets = self.platform["secrets"]
        key = None
        if any(s["kms"] for s in secrets):
            ring = KmsKeyRing(
                self,
                "kms_key_ring",
                name="datahem",
                location=self.region,
                depends_on=[self.api("cloudkms.googleapis.com")],
            )
            crypto_key = KmsCryptoKey(
                self,
                "kms_crypto_key_secrets",
                name="secrets",
                key_ring=ring.id,
                purpose="ENCRYPT_DECRYPT",
                rotation_period="7776000s",
                lifecycle=TerraformResourceLifecycle(prevent_destroy=True),
            )
            agent = self.agent("secretmanager.googleapis.com")
            key = (
                crypto_key,
                KmsCryptoKeyIamMember(
                    self,
                    "iam_secretmanager-agent_kms",
                    crypto_key_id=crypto_key.id,
                    role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
                    member=M.member(agent.email),
                ),
            )
        for s in secrets:
            if s["kms"]:
                encryption = SecretReplicaEncryption(kms_key_name=key[0].id)
                replica = SecretReplica(location=self.region, customer_managed_encryption=encryption)
                replication: dict = {"user_managed": {"replicas": [replica]}}
                depends = [self.api("secretmanager.googleapis.com"), key[1]]
            elif self.env.get("secret_locations"):
                replicas = [SecretReplica(location=loc) for loc in self.env["secret_locations"]]
                replication = {"user_managed": {"replicas": replicas}}
                depends = [self.api("secretmanager.googleapis.com")]
            else:
                replication = {"auto": {}}
                depends = [self.api("secretmanager.googleapis.com")]
            self.secrets[s["id"]] = SecretManagerSecret(
                self, M.logical_id("secret", s["id"]), secret_id=s["id"], replication=replication, depends_on=depends
            )

    # -- identities --------------------------------------------------------------------------------------------

    def _identities(self) -> None:
        """One service account per collector and pipeline, holding exactly the grants platform.json lists, each on
        the single resource it concerns (a topic, a subscription, a table, a secret, a bucket...)."""
        for r in self.platform.get("custom_roles", []):
            self.custom_roles[f"custom:{r['id']}"] = ProjectIamCustomRole(
                self,
                M.logical_id("custom_role", r["id"]),
                role_id=r["id"],
                title=r["title"],
                description=M.tf_literal(r["description"]),
                permissions=r["permissions"],
                depends_on=[self.api("iam.googleapis.com")],
            )
        for sa in self.platform["service_accounts"]:
            account = ServiceAccount(
                self,
                M.logical_id("service_account", sa["id"]),
                account_id=sa["id"],
                display_name=sa["display_name"],
                description=M.tf_literal(sa["description"]),
                depends_on=[self.api("iam.googleapis.com")],
            )
            self.accounts[sa["id"]] = account
            self.grants[sa["id"]] = [self._grant(sa["id"], account, g) for g in sa["grants"]]

    def _grant(self, sa: str, account: ServiceAccount, grant: dict):
        ((kind, name),) = ((k, v) for k, v in grant.items() if k not in ("role", "prefix"))
        rid = M.logical_id("iam", f"{sa}_{grant['role'].removeprefix('roles/').replace(':', '-')}_{kind}_{name}")
        # a project custom role (`custom:<id>`) is referenced by its resource name, so it exists before the grant
        role = self.custom_roles[grant["role"]].name if grant["role"] in self.custom_roles else grant["role"]
        who = M.member(account.email)
        if kind == "topic":
            return PubsubTopicIamMember(self, rid, topic=self.topics[name].name, role=role, member=who)
        if kind == "subscription":
            sub = self.subscriptions[name]
            return PubsubSubscriptionIamMember(self, rid, subscription=sub.name, role=role, member=who)
        if kind == "table":
            t = self.tables[name]
            return BigqueryTableIamMember(
                self, rid, dataset_id=t.dataset_id, table_id=t.table_id, role=role, member=who
            )
        if kind == "secret":
            secret = self.secrets[name]
            return SecretManagerSecretIamMember(self, rid, secret_id=secret.secret_id, role=role, member=who)
        if kind == "bucket":
            bucket = self.buckets[name]
            condition = self._prefix_condition(name, grant["prefix"]) if "prefix" in grant else None
            return StorageBucketIamMember(self, rid, bucket=bucket.name, role=role, member=who, condition=condition)
        if kind == "repository":
            repo = self.repositories[name]
            return ArtifactRegistryRepositoryIamMember(
                self, rid, repository=repo.name, location=repo.location, role=role, member=who
            )
        if kind == "project":
            return ProjectIamMember(
                self,
                rid,
                project=self.project,
                role=role,
                member=who,
                depends_on=[self.api("cloudresourcemanager.googleapis.com")],
            )
        raise ValueError(f"service account {sa}: unknown grant target `{kind}` in platform.json")

    def _prefix_condition(self, bucket: str, prefix: str) -> dict:
        """An IAM condition limiting a bucket grant to the objects under `prefix` (and to listing that prefix)."""
        name = self.bucket_names[bucket]
        return {
            "title": f"only {prefix}",
            "description": f"Objects under gs://{name}/{prefix} only",
            "expression": f'resource.name.startsWith("projects/_/buckets/{name}/objects/{prefix}") || '
            f'api.getAttribute("storage.googleapis.com/objectListPrefix", "").startsWith("{prefix}")',
        }

    # -- compute -----------------------------------------------------------------------------------------------

    def _collectors(self) -> None:
        """The HTTP collector on Cloud Run and the SNS collector as a Cloud Function (gen 2), both public
        endpoints (anyone may send events; routes authenticate where sources.yaml says so). Webhook secrets reach
        the HTTP collector as environment variables read from Secret Manager at start-up."""
        collectors = self.platform["collectors"]
        http = collectors.get("http")
        if http:
            env = [
                RunEnv(name="GOOGLE_CLOUD_PROJECT", value=self.project),
                RunEnv(name="DATAHEM_TRUSTED_PROXY_HOPS", value="1"),  # Google's front end appends the client
            ]
            env += [
                RunEnv(
                    name=var,
                    value_source=RunEnvSource(
                        secret_key_ref=RunSecretRef(secret=self.secrets[sid].secret_id, version="latest")
                    ),
                )
                for var, sid in sorted(http["secret_env"].items())
            ]
            open_check = bool(self.env.get("invoker_iam_disabled"))
            service = CloudRunV2Service(
                self,
                M.logical_id("cloud_run", http["name"]),
                name=http["name"],
                location=self.region,
                ingress="INGRESS_TRAFFIC_ALL",
                # anyone may send events: through a disabled invoker check where organization policy forbids allUsers
                invoker_iam_disabled=True if open_check else None,
                deletion_protection=False,
                template={
                    "service_account": self.accounts[http["service_account"]].email,
                    "scaling": {"max_instance_count": http["max_instances"]},
                    "containers": [RunContainer(image=self.image(http["image"]), env=env)],
                },
                depends_on=[self.api("run.googleapis.com"), *self.grants[http["service_account"]]],
            )
            if not open_check:
                CloudRunV2ServiceIamMember(
                    self,
                    M.logical_id("iam_all-users_run-invoker", http["name"]),
                    name=service.name,
                    location=self.region,
                    role="roles/run.invoker",
                    member="allUsers",
                )
            TerraformOutput(self, "http_collector_url", value=service.uri, description="Base URL of the HTTP collector")
        sns = collectors.get("sns")
        if sns:
            function = Cloudfunctions2Function(
                self,
                M.logical_id("function", sns["name"]),
                name=sns["name"],
                location=self.region,
                description="DataHem SNS collector: one endpoint for every SNS subscription, routed by ?route=.",
                build_config={
                    # an explicit build account (projects created since mid-2024 give the default one no rights)
                    # pushing to DataHem's own repository
                    "service_account": self.accounts[sns["build_service_account"]].id,
                    "docker_repository": self.repositories["images"].id,
                    "runtime": sns["runtime"],
                    "entry_point": sns["entry_point"],
                    # the Python buildpack's setting for a function file other than main.py at the root
                    "environment_variables": {"GOOGLE_FUNCTION_SOURCE": sns["source_file"]},
                    "source": {
                        "storage_source": {
                            "bucket": self.buckets["registry"].name,
                            "object": f"functions/{sns['name']}-{self.release.string_value}.zip",
                        }
                    },
                },
                service_config={
                    "service_account_email": self.accounts[sns["service_account"]].email,
                    "ingress_settings": "ALLOW_ALL",
                    "max_instance_count": sns["max_instances"],
                    "available_memory": "512Mi",
                    "timeout_seconds": 60,
                    "all_traffic_on_latest_revision": True,
                    "environment_variables": {"GOOGLE_CLOUD_PROJECT": self.project},
                },
                depends_on=[
                    self.api("cloudfunctions.googleapis.com"),
                    self.api("cloudbuild.googleapis.com"),
                    self.api("run.googleapis.com"),
                    self.api("compute.googleapis.com"),  # gen-2 functions run on Cloud Run with Compute's networking
                    *self.grants[sns["service_account"]],
                    *self.grants[sns["build_service_account"]],
                ],
            )
            if not self.env.get("invoker_iam_disabled"):
                CloudRunV2ServiceIamMember(  # a gen-2 function is served by a Cloud Run service of the same name
                    self,
                    M.logical_id("iam_all-users_run-invoker", sns["name"]),
                    name=function.name,
                    location=self.region,
                    role="roles/run.invoker",
                    member="allUsers",
                )
            # else the function's Cloud Run service gets its invoker check disabled after the apply (the provider
            # cannot set it on a function): `python -m datahem.deploy.apply access <env>`
            TerraformOutput(self, "sns_collector_url", value=function.url, description="SNS subscription endpoint")

    def _job_parameters(self, p: dict) -> dict[str, str]:
        """The job's parameters; the jobs that write rows (the streaming job, or per_source's source and backup jobs)
        also get the environment's `write_method` (how rows reach BigQuery), which platform.json files from before it
        existed lack: the pipelines' default then applies."""
        parameters = {k: self._parameter(v) for k, v in p["parameters"].items()}
        if p["kind"] in ("streaming", "source", "backup") and self.env.get("write_method"):
            parameters["write_method"] = M.tf_literal(self.env["write_method"])
        return dict(sorted(parameters.items()))

    def _parameter(self, value: str | dict) -> str:
        """A job parameter: a literal, or a reference to a resource by name (so Terraform creates it first)."""
        if isinstance(value, str):
            return M.tf_literal(value)
        ((kind, name),) = value.items()
        if kind == "subscription":
            return self.subscriptions[name].id
        if kind == "topic":
            return self.topics[name].id
        if kind == "table":
            t = self.tables[name]
            return f"{t.dataset_id}.{t.table_id}"
        if kind == "secret":
            return f"{self.secrets[name].id}/versions/latest"
        raise ValueError(f"unknown job parameter reference `{kind}` in platform.json")

    def _import_topics(self) -> None:
        """A topic with `ingestion` is a Pub/Sub import topic: Pub/Sub reads the Kinesis stream through its enhanced
        fan-out consumer, as the AWS role it assumes by web identity with the source's own service account (which
        Pub/Sub's service agent may mint tokens for). The output is that account's unique id, the `sub` the role's
        trust policy must name."""
        agent = M.member(self.agent("pubsub.googleapis.com").email)
        for t in self.platform["topics"]:
            kinesis = (t.get("ingestion") or {}).get("aws_kinesis")
            if not kinesis:
                continue
            sa = self.accounts[kinesis["service_account"]]
            token = ServiceAccountIamMember(
                self,
                M.logical_id("iam_pubsub-agent_token-creator", kinesis["service_account"]),
                service_account_id=sa.name,
                role="roles/iam.serviceAccountTokenCreator",
                member=agent,
            )
            topic = self.topics[t["topic"]]
            topic.put_ingestion_data_source_settings(
                aws_kinesis={
                    "stream_arn": kinesis["stream_arn"],
                    "consumer_arn": kinesis["consumer_arn"],
                    "aws_role_arn": kinesis["aws_role_arn"],
                    "gcp_service_account": sa.email,
                }
            )
            # ingestion starts once the service agent may act as the account
            topic.depends_on = [
                *(topic.depends_on or []),
                f"{token.terraform_resource_type}.{token.friendly_unique_id}",
            ]
            TerraformOutput(
                self,
                M.logical_id("kinesis_web_identity", kinesis["source"]).replace("-", "_"),
                description=f"Trust policy of {kinesis['aws_role_arn']}: allow sts:AssumeRoleWithWebIdentity for "
                "accounts.google.com with this `sub` (the account the import topic reads the stream as)",
                value=sa.unique_id,
            )

    def _pipelines(self) -> None:
        """Dataflow flex-template jobs (google-beta): each runs as its own service account, from the template
        spec CI publishes to gs://<registry bucket>/templates/<template>.json, and starts only after its grants
        exist. Deleting a job drains it, so nothing in flight is lost."""
        dataflow = self.buckets["dataflow"]
        registry = self.buckets["registry"]
        for p in self.platform["pipelines"]:
            sa = p["service_account"]
            DataflowFlexTemplateJob(
                self,
                M.logical_id("dataflow_job", p["name"]),
                provider=self.beta,
                name=p["name"],
                project=self.project,
                region=self.region,
                # the release is in the path, so every release is a change Terraform applies to every job
                container_spec_gcs_path=f"gs://{registry.name}/templates/{self.release.string_value}/{p['template']}.json",
                service_account_email=self.accounts[sa].email,
                # each job under its own prefix: its account may touch nothing else in the bucket
                temp_location=f"gs://{dataflow.name}/{p['name']}/temp",
                staging_location=f"gs://{dataflow.name}/{p['name']}/staging",
                enable_streaming_engine=True,
                network=self.env.get("network"),
                subnetwork=self.env.get("subnetwork"),
                ip_configuration="WORKER_IP_PRIVATE" if self.env.get("private_workers") else None,
                on_delete="drain",
                parameters=self._job_parameters(p),
                labels={PIPELINE_LABEL: p["kind"]},
                depends_on=[self.api("dataflow.googleapis.com"), self.api("compute.googleapis.com"), *self.grants[sa]],
            )
            if p["kind"] == "kinesis" and p["web_identity"]:
                TerraformOutput(
                    self,
                    M.logical_id("kinesis_web_identity", p["source"]).replace("-", "_"),
                    description=f"Trust policy of {p['parameters']['aws_role_arn']}: allow "
                    "sts:AssumeRoleWithWebIdentity for accounts.google.com with this `sub` (the reader's account)",
                    value=self.accounts[sa].unique_id,
                )
