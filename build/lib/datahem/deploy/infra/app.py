"""The CDK-for-Terraform app: one `PlatformStack` per environment of platform.json.

`generated/infra/main.py` calls `synth`; `cdktf synth|deploy` run that file (cdktf.json), and so does
`datahem build`, in a subprocess, to commit `cdktf.out/stacks/<env>/cdk.tf.json`. The output directory is
cdktf's: `$CDKTF_OUTDIR` when the cdktf CLI sets it, else `cdktf.out` in the working directory.
"""

from __future__ import annotations

from pathlib import Path

from cdktf import App

from datahem.deploy.infra import model
from datahem.deploy.infra.stack import PlatformStack


def build(platform_path: Path) -> App:
    platform = model.load(platform_path)
    app = App()
    for env in platform["environments"]:
        PlatformStack(app, platform, env)
    return app


def synth(platform_path: Path) -> None:
    build(platform_path).synth()
