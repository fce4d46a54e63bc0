ALTER TABLE `vpc`.`flow_logs` ADD IF NOT EXISTS
  PARTITION (`date` = '2023-08-01') LOCATION 's3://my-bucket/flowlogs-parquet/date=2023-08-01/'
  PARTITION (`date` = '2023-08-02') LOCATION 's3://my-bucket/flowlogs-parquet/date=2023-08-02/';
