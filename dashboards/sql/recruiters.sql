-- Recruiter accounts and the hosts they reached: accounts whose first direct
-- messages went to accounts that began broadcasting afterwards, with how soon.
SELECT
    recruiter,
    uniqExact(host_id) AS hosts_reached,
    groupUniqArray(host_id) AS host_ids,
    round(avg(dateDiff('hour', dm_at, first_broadcast)) / 24, 1) AS avg_days_to_first_broadcast
FROM
(
    SELECT account_id AS recruiter, counterpart AS host_id, min(at) AS dm_at
    FROM ronda.events FINAL
    WHERE type = 'link' AND kind = 'dm' AND $__timeFilter(at)
    GROUP BY recruiter, host_id
)
ALL INNER JOIN
(
    SELECT host_id, min(start) AS first_broadcast
    FROM ronda.stream_sessions FINAL
    GROUP BY host_id
) USING host_id
WHERE first_broadcast >= dm_at
GROUP BY recruiter
HAVING hosts_reached >= 1
ORDER BY hosts_reached DESC, avg_days_to_first_broadcast
LIMIT 100
