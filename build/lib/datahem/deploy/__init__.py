"""Deploy-time code: run by CI and `cdktf deploy`, never in the cloud (see README.md here)."""
