"""The infrastructure library: CDK-for-Terraform constructs that turn generated/infra/platform.json into one
Terraform stack per environment. Imported by the generated app (generated/infra/main.py), never by code that runs in
the cloud, and it imports nothing from `datahem/compiler/`.

Importing this package is free; `datahem.deploy.infra.stack` and `datahem.deploy.infra.app` load cdktf and the providers.
"""
