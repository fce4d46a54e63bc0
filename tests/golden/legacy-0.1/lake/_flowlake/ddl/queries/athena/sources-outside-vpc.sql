-- Distinct source addresses outside the VPC (172.31.0.0/16), with flows and bytes, 2023-07-31 to 2023-08-02.
SELECT "srcaddr" AS srcaddr, count(*) AS flows, sum("bytes") AS bytes
FROM "default"."flow_logs"
WHERE "date" BETWEEN '2023-07-31' AND '2023-08-02'
  AND "srcaddr" IS NOT NULL
  AND NOT coalesce(contains('172.31.0.0/16', TRY_CAST("srcaddr" AS IPADDRESS)), false)
GROUP BY "srcaddr"
ORDER BY bytes DESC;
