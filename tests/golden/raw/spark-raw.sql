CREATE DATABASE IF NOT EXISTS `vpc`;

CREATE TABLE IF NOT EXISTS `vpc`.`flow_logs_raw` (
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
  `aws_account_id` STRING,
  `aws_region` STRING,
  `day` STRING
)
USING CSV
OPTIONS (sep ' ', header 'true', nullValue '-')
PARTITIONED BY (`aws_account_id`, `aws_region`, `day`)
LOCATION 's3://log-bucket/AWSLogs/';

ALTER TABLE `vpc`.`flow_logs_raw` ADD IF NOT EXISTS
  PARTITION (`aws_account_id` = '123456789010', `aws_region` = 'us-east-1', `day` = '2023/08/01') LOCATION 's3://log-bucket/AWSLogs/123456789010/vpcflowlogs/us-east-1/2023/08/01/';
