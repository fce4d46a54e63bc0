-- Distinct source addresses outside the VPC (10.192.0.0/16), with flows and bytes, 2023-08-01 to 2023-08-01.
SELECT "srcaddr" AS srcaddr, count(*) AS flows, sum("bytes") AS bytes
FROM "vpc"."flow_logs"
WHERE "date" BETWEEN '2023-08-01' AND '2023-08-01'
  AND "srcaddr" IS NOT NULL
  AND NOT coalesce(contains('10.192.0.0/16', TRY_CAST("srcaddr" AS IPADDRESS)), false)
GROUP BY "srcaddr"
ORDER BY bytes DESC;
