-- Co-located host clusters: devices and location cells from which two or more
-- hosts broadcast in the range, with their hosts, night share and new hosts.
-- Public places show up here too (many hosts, short visits): read hosts and
-- night_share together.
SELECT
    place,
    uniqExact(host_id) AS hosts,
    groupUniqArray(host_id) AS host_ids,
    count() AS streams,
    round(sum(night_minutes) / greatest(sum(minutes), 1), 3) AS night_share,
    min(start) AS first_seen,
    max(`end`) AS last_seen
FROM
(
    SELECT host_id, start, `end`, minutes, night_minutes,
        arrayJoin(arrayFilter(p -> p NOT IN ('device:', 'location:'),
            [concat('device:', device_id), concat('location:', cell)])) AS place
    FROM ronda.stream_sessions FINAL
    WHERE $__timeFilter(start)
)
GROUP BY place
HAVING hosts >= 2
ORDER BY night_share * hosts DESC, hosts DESC
LIMIT 100
