CREATE EXTERNAL TABLE IF NOT EXISTS `vpc`.`flow_logs` (
  `version` int,
  `srcaddr` string,
  `dstaddr` string,
  `dstport` int,
  `protocol` int,
  `packets` bigint,
  `bytes` bigint,
  `start` bigint,
  `end` bigint,
  `action` string,
  `type` string
)
PARTITIONED BY (
  `aws-account-id` string,
  `aws-service` string,
  `aws-region` string,
  `year` string,
  `month` string,
  `day` string,
  `hour` string
)
STORED AS PARQUET
LOCATION 's3://my-bucket/flowlogs-parquet/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.aws-account-id.type' = 'enum',
  'projection.aws-account-id.values' = '123456789010',
  'projection.aws-service.type' = 'enum',
  'projection.aws-service.values' = 'vpcflowlogs',
  'projection.aws-region.type' = 'enum',
  'projection.aws-region.values' = 'us-east-1',
  'projection.year.type' = 'integer',
  'projection.year.range' = '2023,2026',
  'projection.year.digits' = '4',
  'projection.month.type' = 'integer',
  'projection.month.range' = '1,12',
  'projection.month.digits' = '2',
  'projection.day.type' = 'integer',
  'projection.day.range' = '1,31',
  'projection.day.digits' = '2',
  'projection.hour.type' = 'integer',
  'projection.hour.range' = '0,23',
  'projection.hour.digits' = '2',
  'storage.location.template' = 's3://my-bucket/flowlogs-parquet/aws-account-id=${aws-account-id}/aws-service=${aws-service}/aws-region=${aws-region}/year=${year}/month=${month}/day=${day}/hour=${hour}/'
);
