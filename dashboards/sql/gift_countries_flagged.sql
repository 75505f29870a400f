-- Sender countries of gifts to flagged hosts: where the coins of hosts named in
-- an alert (of at least min_severity) come from, with senders counted (keyed
-- pseudonyms, never shown) and each country's share of those hosts' coins.
-- Diaspora fans and whales show here too: read senders and coins together.
-- Variables: min_severity, region.
SELECT
    if(country = '', '(unknown)', country) AS country,
    count() AS gifts,
    sum(coins) AS coins,
    round(coins / greatest((
        SELECT sum(coins) FROM ronda.events FINAL
        WHERE type = 'gift' AND $__timeFilter(at) AND host_id IN
        (
            SELECT arrayJoin(hosts) FROM ronda.alerts FINAL
            WHERE severity_rank >= ${min_severity} AND ('${region}' = '*' OR has(arrayMap(x -> substring(x, 10, 4), arrayFilter(x -> startsWith(x, 'location:'), entities)), '${region}'))
        )), 1), 3) AS coins_share,
    uniqExactIf(counterpart, counterpart != '') AS senders,
    uniqExact(host_id) AS hosts
FROM ronda.events FINAL
WHERE type = 'gift' AND $__timeFilter(at) AND host_id IN
(
    SELECT arrayJoin(hosts) FROM ronda.alerts FINAL
    WHERE severity_rank >= ${min_severity} AND ('${region}' = '*' OR has(arrayMap(x -> substring(x, 10, 4), arrayFilter(x -> startsWith(x, 'location:'), entities)), '${region}'))
)
GROUP BY country
ORDER BY coins DESC
