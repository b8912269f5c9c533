"""Names that become Google Cloud resources (issue 17): every name derived from a value the build accepts is one
Google Cloud accepts, checked with each resource's documented rules (written out here, apart from the checks)."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from datahem.compiler.diagnostics import Diagnostics, Loc
from datahem.compiler.model.resolved import BigQuerySettings, Category, Model
from datahem.compiler.sources.platform import account_id
from datahem.compiler.validate.checks import SOURCE_NAME
from datahem.compiler.validate.infra import derived_names
from datahem.runtime.contracts import platform
from datahem.runtime.contracts.routing import job_name, reader_job_name

SERVICE_ACCOUNT = re.compile(r"^[a-z]([-a-z0-9]{4,28}[a-z0-9])$")
DATAFLOW_JOB = re.compile(r"^[a-z]([-a-z0-9]{0,1022}[a-z0-9])?$")
DATA_POLICY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,255}$")
LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
SOURCE_NAMES = st.from_regex(SOURCE_NAME, fullmatch=True).filter(lambda n: not n.endswith("_"))
CATEGORY = "pii_email"


@given(SOURCE_NAMES, st.sampled_from(["src", "kin", "http-collector", "sns-collector", "backup"]))
def test_accepted_source_names_make_valid_jobs_and_accounts(name, kind):
    assert DATAFLOW_JOB.match(job_name(name))
    assert DATAFLOW_JOB.match(reader_job_name("kinesis", name))
    assert SERVICE_ACCOUNT.match(account_id(kind, name))


def _model(project: str) -> Model:
    category = Category(CATEGORY, "", None, "SHA256", (), (), Loc("sources.yaml", 9, 3))
    return Model(
        project=project,
        environments=(),
        bigquery=BigQuerySettings("EU", "events", "events_backup", "events_dead_letter"),
        categories=(category,),
        tables=(),
        sources=(),
        proto_files=(),
        locs={"project.name": Loc("sources.yaml", 2, 9)},
    )


@given(st.one_of(st.text(max_size=70), st.from_regex(r"[a-z][a-z0-9_-]{0,62}", fullmatch=True)))
def test_a_project_name_is_refused_or_makes_valid_names(project):
    d = Diagnostics()
    derived_names(_model(project), d)
    valid = (
        bool(project)
        and bool(LABEL_VALUE.match(project))
        and bool(DATA_POLICY.match(platform.data_policy_id(project, CATEGORY)))
        and len(platform.taxonomy_display_name(project).encode()) <= 200
    )
    assert bool(d) == (not valid)
    assert all(x.loc == Loc("sources.yaml", 2, 9) and x.rule_id == "CLOUD_NAME_INVALID" for x in d.items)
