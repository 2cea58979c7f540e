"""SageMaker notebook instances for every participant, with plain boto3 (no 1 GB SDK needed)."""
