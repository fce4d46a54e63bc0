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
  `date` string,
  `hour` string
)
STORED AS PARQUET
LOCATION 's3://my-bucket/flowlogs-parquet/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.date.type' = 'date',
  'projection.date.format' = 'yyyy-MM-dd',
  'projection.date.range' = '2023-08-01,NOW',
  'projection.date.interval' = '1',
  'projection.date.interval.unit' = 'DAYS',
  'projection.hour.type' = 'integer',
  'projection.hour.range' = '0,23',
  'projection.hour.digits' = '2',
  'storage.location.template' = 's3://my-bucket/flowlogs-parquet/date=${date}/hour=${hour}/'
);
