-- Minors per month: distinct hosts showing as minors (age family 0.5 or more)
-- in the rings escalated that month, beside the rings and all their hosts.
-- Variables: min_severity, region.
SELECT
    toDateTime(toStartOfMonth(toDate(escalated_at))) AS time,
    uniqExact(alert_id) AS rings,
    uniqExactIf(host_id, host_id != '') AS hosts,
    uniqExactIf(host_id, minor) AS minors
FROM
(
    SELECT alert_id, escalated_at, host_id,
        host_id IN
        (
            SELECT DISTINCT entity_id FROM ronda.signals FINAL
            WHERE detector = 'age' AND entity_kind = 'host' AND score >= 0.5
        ) AS minor
    FROM
    (
        SELECT *
        FROM
        (
            SELECT alert_id, min(at) AS escalated_at
            FROM ronda.actions FINAL
            WHERE action = 'escalate'
            GROUP BY alert_id
            HAVING $__timeFilter(escalated_at)
        )
        ALL INNER JOIN
        (
            SELECT id AS alert_id, max(severity_rank) AS rank, argMax(hosts, updates) AS alert_hosts,
                arrayMap(x -> substring(x, 10, 4), arrayFilter(x -> startsWith(x, 'location:'), argMax(entities, updates))) AS regions
            FROM ronda.alerts FINAL
            GROUP BY id
            HAVING rank >= ${min_severity} AND ('${region}' = '*' OR has(regions, '${region}'))
        ) USING alert_id
    )
    LEFT ARRAY JOIN alert_hosts AS host_id
)
GROUP BY time
ORDER BY time
