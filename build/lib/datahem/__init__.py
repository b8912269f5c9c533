"""DataHem: compile protobuf schemas and sources.yaml into an event-data platform on Google Cloud.

Subpackages: `compiler` (sources.yaml + schemas → generated/), `runtime` (what runs in the cloud and generated code
imports), `deploy` (deploy-time code: the CDKTF library, migrations, Dataflow updates), `dev` (the local platform),
`templates` (Jinja2 templates, package data); `cli` is the command line. Importing this package loads nothing else.
"""
