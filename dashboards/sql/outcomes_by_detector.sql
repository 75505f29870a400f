-- Outcomes by detector: of the alerts moderators escalated or dismissed in the
-- range, how many each detector family contributed to, the precision the
-- moderators observe (escalated / (escalated + dismissed)), and why they
-- dismissed (reasons as typed, most frequent first). An alert's outcome is its
-- last escalate or dismiss; it counts once for every detector of its last
-- version. Variables: min_severity, region.
SELECT
    detector,
    sum(if(outcome = 'escalate', n, 0)) AS escalated,
    sum(if(outcome = 'dismiss', n, 0)) AS dismissed,
    round(escalated / greatest(escalated + dismissed, 1), 3) AS precision,
    arrayFilter(x -> x != '', groupArray(if(outcome = 'dismiss', concat(reason, ': ', toString(n)), ''))) AS dismiss_reasons
FROM
(
    SELECT detector, outcome, reason, count() AS n
    FROM
    (
        SELECT alert_id, argMax(action, at) AS outcome, if(argMax(reason, at) = '', '(none)', argMax(reason, at)) AS reason
        FROM ronda.actions FINAL
        WHERE action IN ('escalate', 'dismiss') AND $__timeFilter(at)
        GROUP BY alert_id
    )
    ALL INNER JOIN
    (
        SELECT alert_id, detector
        FROM
        (
            SELECT id AS alert_id, max(severity_rank) AS rank, argMax(detectors, updates) AS detectors,
                arrayMap(x -> substring(x, 10, 4), arrayFilter(x -> startsWith(x, 'location:'), argMax(entities, updates))) AS regions
            FROM ronda.alerts FINAL
            GROUP BY id
        )
        ARRAY JOIN detectors AS detector
        WHERE rank >= ${min_severity} AND ('${region}' = '*' OR has(regions, '${region}'))
    ) USING alert_id
    GROUP BY detector, outcome, reason
    ORDER BY n DESC
)
GROUP BY detector
ORDER BY escalated + dismissed DESC, detector
