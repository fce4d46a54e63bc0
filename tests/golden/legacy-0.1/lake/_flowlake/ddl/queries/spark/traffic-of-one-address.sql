-- Every flow to or from 172.31.0.5, 2023-07-31 to 2023-08-02. Change the address and the dates.
SELECT *
FROM `default`.`flow_logs`
WHERE `date` BETWEEN '2023-07-31' AND '2023-08-02'
  AND (`srcaddr` = '172.31.0.5' OR `dstaddr` = '172.31.0.5')
LIMIT 1000;
