"""Collectors: receive events over HTTP, AWS SNS and AWS Kinesis and publish them to Pub/Sub, routed by the
tables under generated/routing/. See README.md in this folder."""
