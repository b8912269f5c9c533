"""The AWS Kinesis reader: a pure-Python Beam source (boto3) that publishes every record to Pub/Sub."""
