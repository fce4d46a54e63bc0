-- Flows with either address inside 172.31.0.0/16, 2023-07-31 to 2023-08-02.
SELECT count(*) AS flows, sum("bytes") AS bytes
FROM "default"."flow_logs"
WHERE "date" BETWEEN '2023-07-31' AND '2023-08-02'
  AND (contains('172.31.0.0/16', TRY_CAST("srcaddr" AS IPADDRESS)) OR contains('172.31.0.0/16', TRY_CAST("dstaddr" AS IPADDRESS)));
