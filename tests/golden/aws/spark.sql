CREATE DATABASE IF NOT EXISTS `vpc`;

CREATE TABLE IF NOT EXISTS `vpc`.`flow_logs` (
  `version` INT,
  `srcaddr` STRING,
  `dstaddr` STRING,
  `dstport` INT,
  `protocol` INT,
  `packets` BIGINT,
  `bytes` BIGINT,
  `start` BIGINT,
  `end` BIGINT,
  `action` STRING,
  `type` STRING,
  `aws-account-id` STRING,
  `aws-service` STRING,
  `aws-region` STRING,
  `year` STRING,
  `month` STRING,
  `day` STRING
)
USING PARQUET
PARTITIONED BY (`aws-account-id`, `aws-service`, `aws-region`, `year`, `month`, `day`)
LOCATION 's3://my-bucket/flowlogs-parquet/';

MSCK REPAIR TABLE `vpc`.`flow_logs`;
