-- Distinct source addresses outside the VPC (10.192.0.0/16), with flows and bytes, 2023-08-01 to 2023-08-03.
SELECT "srcaddr" AS srcaddr, count(*) AS flows, sum(TRY_CAST("bytes" AS BIGINT)) AS bytes
FROM "vpc"."flow_logs_raw"
WHERE "day" BETWEEN '2023/08/01' AND '2023/08/03'
  AND "srcaddr" <> '-'
  AND NOT coalesce(contains('10.192.0.0/16', TRY_CAST("srcaddr" AS IPADDRESS)), false)
GROUP BY "srcaddr"
ORDER BY bytes DESC;
