-- The 20 address pairs that moved the most bytes, 2023-08-01 to 2023-08-03.
SELECT "srcaddr" AS srcaddr, "dstaddr" AS dstaddr, sum(TRY_CAST("bytes" AS BIGINT)) AS bytes, sum(TRY_CAST("packets" AS BIGINT)) AS packets, count(*) AS flows
FROM "vpc"."flow_logs_raw"
WHERE "day" BETWEEN '2023/08/01' AND '2023/08/03'
  AND "srcaddr" <> '-'
GROUP BY "srcaddr", "dstaddr"
ORDER BY bytes DESC
LIMIT 20;
