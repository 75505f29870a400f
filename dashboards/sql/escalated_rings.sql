-- Hosts per escalated ring: every alert first escalated in the range, with how
-- many hosts and accounts it names, how many of its hosts show as minors (the
-- age family scored 0.5 or more: a declared birth year, their own words or an
-- age estimate), its severity and detectors. alert_id opens the alert in the
-- console. Variables: min_severity, region.
SELECT
    alert_id,
    escalated_at,
    severity,
    countIf(host_id != '') AS hosts,
    sum(minor) AS minors,
    any(accounts) AS accounts,
    any(detectors) AS detectors
FROM
(
    SELECT alert_id, escalated_at, severity, length(alert_accounts) AS accounts, detectors, host_id,
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
            SELECT id AS alert_id, argMax(severity, updates) AS severity, max(severity_rank) AS rank,
                argMax(hosts, updates) AS alert_hosts, argMax(accounts, updates) AS alert_accounts,
                argMax(detectors, updates) AS detectors,
                arrayMap(x -> substring(x, 10, 4), arrayFilter(x -> startsWith(x, 'location:'), argMax(entities, updates))) AS regions
            FROM ronda.alerts FINAL
            GROUP BY id
            HAVING rank >= ${min_severity} AND ('${region}' = '*' OR has(regions, '${region}'))
        ) USING alert_id
    )
    LEFT ARRAY JOIN alert_hosts AS host_id
)
GROUP BY alert_id, escalated_at, severity
ORDER BY escalated_at DESC
LIMIT 500
