CREATE DATABASE IF NOT EXISTS `default`;

CREATE TABLE IF NOT EXISTS `default`.`flow_logs` (
  `version` INT,
  `account_id` STRING,
  `interface_id` STRING,
  `srcaddr` STRING,
  `dstaddr` STRING,
  `srcport` INT,
  `dstport` INT,
  `protocol` INT,
  `packets` BIGINT,
  `bytes` BIGINT,
  `start` BIGINT,
  `end` BIGINT,
  `action` STRING,
  `log_status` STRING,
  `date` STRING
)
USING PARQUET
PARTITIONED BY (`date`)
LOCATION 'file:///tmp/legacy-w/lake/';

MSCK REPAIR TABLE `default`.`flow_logs`;
