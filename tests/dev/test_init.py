"""`datahem init`: a complete project that builds with zero edits; never writes over an existing project."""

from __future__ import annotations

import yaml

from datahem.compiler.vocabulary import VOCABULARY_PATH
from tests.conftest import ROOT, invoke_datahem


def test_init_scaffolds_a_project_that_builds(tmp_path):
    proc = invoke_datahem("init", "web-shop", cwd=tmp_path, check=True)
    project = tmp_path / "web-shop"
    assert "datahem build" in proc.stdout
    for rel in (
        "sources.yaml",
        "README.md",
        ".gitignore",
        "requirements.txt",
        ".github/workflows/pull-request.yml",
        ".github/workflows/deploy.yml",
        "schemas/web_shop/v1/page_view.proto",
        "schemas/web_shop/v1/page_view.examples.yaml",
    ):
        assert (project / rel).is_file(), rel
    assert (project / "schemas/datahem/options.proto").read_bytes() == VOCABULARY_PATH.read_bytes()
    sources = yaml.safe_load((project / "sources.yaml").read_text())
    assert sources["project"]["name"] == "web-shop"
    assert [s["kind"] for s in sources["sources"]] == ["http"]
    assert all(c.get("readers") for c in sources["categories"].values())
    assert 'category: "pii"' in (project / "schemas/web_shop/v1/page_view.proto").read_text()
    for workflow in ("pull-request.yml", "deploy.yml"):
        text = (project / ".github/workflows" / workflow).read_text()
        assert "datahem test" in text and "make " not in text and "requirements.txt" in text
    invoke_datahem("build", cwd=project, check=True)
    assert (project / "generated/pipelines/source_page_views.py").is_file()


def test_init_name_option(tmp_path):
    invoke_datahem("init", "--name", "acme", cwd=tmp_path, check=True)
    assert "name: acme" in (tmp_path / "sources.yaml").read_text()
    assert (tmp_path / "schemas/acme/v1/page_view.proto").is_file()


def test_init_refuses_an_existing_project(tmp_path):
    (tmp_path / "sources.yaml").write_text("keep: me\n")
    proc = invoke_datahem("init", str(tmp_path), cwd=ROOT)
    assert proc.returncode == 1
    assert "already holds a project" in proc.stderr and "Traceback" not in proc.stderr
    assert (tmp_path / "sources.yaml").read_text() == "keep: me\n"
    assert not (tmp_path / "schemas").exists()
