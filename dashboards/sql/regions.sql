-- Regions below the country: per geohash-4 region (about 20 by 40 km, the
-- coarsest place the record keeps; '(no location)' when the app sends none),
-- the streams and hosts broadcasting there in the range, how many of those
-- hosts are flagged (named in an alert of at least min_severity), their share
-- of night minutes, and how many alerts placed there were escalated.
-- Variables: min_severity, region.
SELECT
    region,
    streams,
    hosts,
    flagged_hosts,
    round(flagged_hosts / greatest(hosts, 1), 3) AS flagged_share,
    round(night_share, 3) AS night_share,
    escalated_alerts
FROM
(
    SELECT
        if(region = '', '(no location)', region) AS region,
        uniqExact(stream_id) AS streams,
        uniqExact(host_id) AS hosts,
        uniqExactIf(host_id, host_id IN
        (
            SELECT arrayJoin(hosts) FROM ronda.alerts FINAL WHERE severity_rank >= ${min_severity}
        )) AS flagged_hosts,
        sum(night_minutes) / greatest(sum(minutes), 1) AS night_share
    FROM ronda.stream_sessions FINAL
    WHERE $__timeFilter(start) AND ('${region}' = '*' OR region = '${region}')
    GROUP BY region
)
ALL LEFT JOIN
(
    SELECT region, uniqExact(id) AS escalated_alerts
    FROM ronda.alerts FINAL
    ARRAY JOIN arrayMap(x -> substring(x, 10, 4), arrayFilter(x -> startsWith(x, 'location:'), entities)) AS region
    WHERE severity_rank >= ${min_severity}
        AND id IN (SELECT alert_id FROM ronda.actions FINAL WHERE action = 'escalate')
    GROUP BY region
) USING region
ORDER BY flagged_hosts DESC, hosts DESC
LIMIT 200
