-- The 20 address pairs that moved the most bytes, 2023-07-31 to 2023-08-02.
SELECT "srcaddr" AS srcaddr, "dstaddr" AS dstaddr, sum("bytes") AS bytes, sum("packets") AS packets, count(*) AS flows
FROM "default"."flow_logs"
WHERE "date" BETWEEN '2023-07-31' AND '2023-08-02'
  AND "srcaddr" IS NOT NULL
GROUP BY "srcaddr", "dstaddr"
ORDER BY bytes DESC
LIMIT 20;
