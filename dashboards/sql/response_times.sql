-- Time to claim and to escalate: per day (or week, month) an alert was first
-- raised, the median and 90th percentile of minutes until a moderator first
-- claimed it and until it was first escalated, and how many were. Alerts not
-- claimed or escalated yet are left out of the times. Variables: period,
-- min_severity, region.
SELECT
    toDateTime(multiIf('${period}' = 'month', toStartOfMonth(toDate(raised)),
        '${period}' = 'week', toMonday(toDate(raised)), toDate(raised))) AS time,
    count() AS alerts,
    countIf(claimed) AS alerts_claimed,
    round(quantileExactIf(0.5)(claim_min, claimed), 1) AS claim_p50_min,
    round(quantileExactIf(0.9)(claim_min, claimed), 1) AS claim_p90_min,
    countIf(escalated) AS alerts_escalated,
    round(quantileExactIf(0.5)(escalate_min, escalated), 1) AS escalate_p50_min,
    round(quantileExactIf(0.9)(escalate_min, escalated), 1) AS escalate_p90_min
FROM
(
    SELECT raised, claim_at > toDateTime(0) AS claimed, escalate_at > toDateTime(0) AS escalated,
        greatest(toInt64(claim_at) - toInt64(raised), 0) / 60 AS claim_min,
        greatest(toInt64(escalate_at) - toInt64(raised), 0) / 60 AS escalate_min
    FROM
    (
        SELECT id AS alert_id, min(at) AS raised, max(severity_rank) AS rank,
            arrayMap(x -> substring(x, 10, 4), arrayFilter(x -> startsWith(x, 'location:'), argMax(entities, updates))) AS regions
        FROM ronda.alerts FINAL
        GROUP BY id
        HAVING $__timeFilter(raised) AND rank >= ${min_severity} AND ('${region}' = '*' OR has(regions, '${region}'))
    )
    ALL LEFT JOIN
    (
        SELECT alert_id, minIf(at, action = 'claim') AS claim_at, minIf(at, action = 'escalate') AS escalate_at
        FROM ronda.actions FINAL
        WHERE action IN ('claim', 'escalate')
        GROUP BY alert_id
    ) USING alert_id
)
GROUP BY time
ORDER BY time
