-- Every flow to or from 10.192.80.5, 2023-08-01 to 2023-08-01. Change the address and the dates.
SELECT *
FROM `vpc`.`flow_logs`
WHERE `date` BETWEEN '2023-08-01' AND '2023-08-01'
  AND (`srcaddr` = '10.192.80.5' OR `dstaddr` = '10.192.80.5')
LIMIT 1000;
