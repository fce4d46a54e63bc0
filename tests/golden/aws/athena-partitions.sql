ALTER TABLE `vpc`.`flow_logs` ADD IF NOT EXISTS
  PARTITION (`aws-account-id` = '123456789010', `aws-service` = 'vpcflowlogs', `aws-region` = 'us-east-1', `year` = '2023', `month` = '08', `day` = '01') LOCATION 's3://my-bucket/flowlogs-parquet/aws-account-id=123456789010/aws-service=vpcflowlogs/aws-region=us-east-1/year=2023/month=08/day=01/';
