CREATE EXTERNAL TABLE IF NOT EXISTS `vpc`.`flow_logs_raw` (
  `version` int,
  `account_id` string,
  `interface_id` string,
  `srcaddr` string,
  `dstaddr` string,
  `srcport` int,
  `dstport` int,
  `protocol` int,
  `packets` bigint,
  `bytes` bigint,
  `start` bigint,
  `end` bigint,
  `action` string,
  `log_status` string
)
PARTITIONED BY (
  `aws_account_id` string,
  `aws_region` string,
  `day` string
)
ROW FORMAT DELIMITED FIELDS TERMINATED BY ' '
STORED AS TEXTFILE
LOCATION 's3://log-bucket/AWSLogs/'
TBLPROPERTIES (
  'skip.header.line.count' = '1',
  'projection.enabled' = 'true',
  'projection.aws_account_id.type' = 'enum',
  'projection.aws_account_id.values' = '123456789010',
  'projection.aws_region.type' = 'enum',
  'projection.aws_region.values' = 'us-east-1',
  'projection.day.type' = 'date',
  'projection.day.format' = 'yyyy/MM/dd',
  'projection.day.range' = '2023/08/01,NOW',
  'projection.day.interval' = '1',
  'projection.day.interval.unit' = 'DAYS',
  'storage.location.template' = 's3://log-bucket/AWSLogs/${aws_account_id}/vpcflowlogs/${aws_region}/${day}/'
);
