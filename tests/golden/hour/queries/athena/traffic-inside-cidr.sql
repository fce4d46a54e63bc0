-- Flows with either address inside 10.192.0.0/16, 2023-08-01 to 2023-08-01.
SELECT count(*) AS flows, sum("bytes") AS bytes
FROM "vpc"."flow_logs"
WHERE "date" BETWEEN '2023-08-01' AND '2023-08-01'
  AND (contains('10.192.0.0/16', TRY_CAST("srcaddr" AS IPADDRESS)) OR contains('10.192.0.0/16', TRY_CAST("dstaddr" AS IPADDRESS)));
