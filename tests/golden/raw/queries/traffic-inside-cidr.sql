-- Flows with either address inside 10.192.0.0/16, 2023-08-01 to 2023-08-03.
SELECT count(*) AS flows, sum(TRY_CAST("bytes" AS BIGINT)) AS bytes
FROM "vpc"."flow_logs_raw"
WHERE "day" BETWEEN '2023/08/01' AND '2023/08/03'
  AND (contains('10.192.0.0/16', TRY_CAST("srcaddr" AS IPADDRESS)) OR contains('10.192.0.0/16', TRY_CAST("dstaddr" AS IPADDRESS)));
