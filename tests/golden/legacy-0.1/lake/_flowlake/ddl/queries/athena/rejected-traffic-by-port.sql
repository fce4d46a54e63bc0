-- Rejected flows by destination port and protocol, 2023-07-31 to 2023-08-02.
SELECT "dstport" AS dstport, "protocol" AS protocol, count(*) AS flows, sum("packets") AS packets
FROM "default"."flow_logs"
WHERE "date" BETWEEN '2023-07-31' AND '2023-08-02'
  AND "action" = 'REJECT'
GROUP BY "dstport", "protocol"
ORDER BY flows DESC
LIMIT 50;
