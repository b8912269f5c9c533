"""The BigQuery client every DataHem process uses: the real API, or an emulator (anonymous credentials) when an
endpoint is given. Light on purpose (no Beam import), so CLI paths such as `datahem dev --query` stay fast."""

from __future__ import annotations


def bigquery_client(project: str, endpoint: str | None):
    from google.cloud import bigquery

    if endpoint:
        from google.auth.credentials import AnonymousCredentials

        return bigquery.Client(
            project=project, credentials=AnonymousCredentials(), client_options={"api_endpoint": endpoint}
        )
    return bigquery.Client(project=project)
