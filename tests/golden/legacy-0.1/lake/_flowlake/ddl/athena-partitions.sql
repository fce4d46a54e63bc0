ALTER TABLE `default`.`flow_logs` ADD IF NOT EXISTS
  PARTITION (`date` = '2023-07-31') LOCATION 'file:///tmp/legacy-w/lake/date=2023-07-31/'
  PARTITION (`date` = '2023-08-01') LOCATION 'file:///tmp/legacy-w/lake/date=2023-08-01/'
  PARTITION (`date` = '2023-08-02') LOCATION 'file:///tmp/legacy-w/lake/date=2023-08-02/';
