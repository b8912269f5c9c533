"""The infrastructure library: CDK-for-Terraform constructs that turn generated/infra/platform.json into one
Terraform stack per environment. Imported by the generated app (generated/infra/main.py), never by code that runs in
the cloud, and it imports nothing from `compiler/`.

Importing this package is free; `runtime.infra.stack` and `runtime.infra.app` load cdktf and the providers.
"""
