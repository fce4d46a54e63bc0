-- Flows with either address inside 172.31.0.0/16, 2023-07-31 to 2023-08-02.
SELECT count(*) AS flows, sum(`bytes`) AS bytes
FROM `default`.`flow_logs`
WHERE `date` BETWEEN '2023-07-31' AND '2023-08-02'
  AND ((instr(`srcaddr`, ':') = 0 AND (TRY_CAST(split(`srcaddr`, '\\.')[0] AS BIGINT) * 16777216 + TRY_CAST(split(`srcaddr`, '\\.')[1] AS BIGINT) * 65536 + TRY_CAST(split(`srcaddr`, '\\.')[2] AS BIGINT) * 256 + TRY_CAST(split(`srcaddr`, '\\.')[3] AS BIGINT)) BETWEEN 2887712768 AND 2887778303) OR (instr(`dstaddr`, ':') = 0 AND (TRY_CAST(split(`dstaddr`, '\\.')[0] AS BIGINT) * 16777216 + TRY_CAST(split(`dstaddr`, '\\.')[1] AS BIGINT) * 65536 + TRY_CAST(split(`dstaddr`, '\\.')[2] AS BIGINT) * 256 + TRY_CAST(split(`dstaddr`, '\\.')[3] AS BIGINT)) BETWEEN 2887712768 AND 2887778303));
