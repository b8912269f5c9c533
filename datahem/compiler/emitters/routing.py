"""Routing tables for the collectors (serialized JSON, loaded at collector start-up):
http.json (path → methods, source, topic, format, auth, CORS, limits), sns.json (route value → allowed topic
ARNs, source, topic) and kinesis.json (stream ARN → source, topic). No secret values: only the names of the
environment variables that hold them."""

from __future__ import annotations

from datahem.compiler.emitters import OutputFile, header_text, to_json
from datahem.compiler.model.resolved import HttpAuth, Model, Source


def _common(s: Source) -> dict:
    return {"source": s.name, "message_type": s.message, "topic": s.table.topic}


_AUTH_KEYS = {
    "none": ("type",),
    "api_key": ("type", "header", "secret_env"),
    "hmac": ("type", "header", "secret_env", "algorithm", "encoding", "prefix"),
}


def _auth(auth: HttpAuth) -> dict:
    return {k: getattr(auth, k) for k in _AUTH_KEYS[auth.type]}


def emit(model: Model) -> list[OutputFile]:
    comment = header_text(["sources.yaml"])
    http, sns, kinesis = [], {}, {}
    for s in model.sources:
        if s.http:
            r = s.http
            auth = _auth(r.auth)
            http.append(
                {
                    **_common(s),
                    "path": r.path,
                    "methods": list(r.methods),
                    "format": r.format,
                    "auth": auth,
                    "cors_origins": list(r.cors_origins),
                    "max_body_bytes": r.max_body_bytes,
                    "ip_anonymization": r.ip_anonymization,
                }
            )
        elif s.sns:
            sns[s.sns.route] = {**_common(s), "topic_arns": list(s.sns.topic_arns)}
        elif s.kinesis:
            k = s.kinesis
            kinesis[k.stream_arn] = {
                **_common(s),
                "region": k.region,
                "role_arn": k.role_arn,
                "credentials_secret": k.credentials_secret,
            }
    http.sort(key=lambda r: r["path"])
    return [
        OutputFile("routing/http.json", to_json({"comment": comment, "routes": http})),
        OutputFile("routing/sns.json", to_json({"comment": comment, "query_parameter": "route", "routes": sns})),
        OutputFile("routing/kinesis.json", to_json({"comment": comment, "streams": kinesis})),
    ]
