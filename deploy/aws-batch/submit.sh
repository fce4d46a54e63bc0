#!/bin/sh
# Submits a flowlake conversion as an AWS Batch array job of $SHARDS children, then one
# job that depends on the whole array and writes the DDL. Needs a job queue and a job
# definition whose image holds flowlake and deploy/entrypoint.sh (see job-definition.json).
#
#   SHARDS=24 QUEUE=flowlake aws-batch/submit.sh
set -eu
: "${SHARDS:?}" "${QUEUE:?}"
array=$(aws batch submit-job --job-name flowlake-convert --job-queue "$QUEUE" \
  --job-definition flowlake --array-properties "size=$SHARDS" \
  --container-overrides "environment=[{name=SHARDS,value=$SHARDS}]" \
  --query jobId --output text)
aws batch submit-job --job-name flowlake-ddl --job-queue "$QUEUE" --job-definition flowlake \
  --depends-on "jobId=$array" \
  --container-overrides 'command=["flowlake","ddl","s3://lake-bucket/flowlogs/","--database","vpc","--table","flow_logs","--out-dir","/tmp/ddl"]'
echo "submitted array job $array ($SHARDS shards) and its DDL step"
