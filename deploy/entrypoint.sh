#!/bin/sh
# Runs one shard of a flowlake conversion under a scheduler that numbers its tasks:
# a Kubernetes Indexed Job (JOB_COMPLETION_INDEX) or an AWS Batch array job
# (AWS_BATCH_JOB_ARRAY_INDEX). SHARDS is the number of tasks; the rest of the
# command line is passed to `flowlake convert`.
#
#   SHARDS=24 entrypoint.sh s3://logs/AWSLogs/ --out s3://lake/flowlogs/ --from 2023-01-01 --to 2023-12-31
set -eu
index="${JOB_COMPLETION_INDEX:-${AWS_BATCH_JOB_ARRAY_INDEX:-}}"
if [ -z "$index" ] || [ -z "${SHARDS:-}" ]; then
  echo "entrypoint.sh: set SHARDS, and run under an Indexed Job or a Batch array job (no task index found)" >&2
  exit 2
fi
exec flowlake convert "$@" --shard "$index/$SHARDS" --json
