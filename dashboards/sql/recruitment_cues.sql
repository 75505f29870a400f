-- Recruitment cues over time: per day (or week, month), how many posts, ads,
-- bios and direct messages carried each lure of analyzer/text (young_age,
-- lodging, pickup, high_pay ...) and how many accounts wrote them. The record
-- keeps the cue names and the language, never the text. Variables: period.
SELECT
    toDateTime(multiIf('${period}' = 'month', toStartOfMonth(day),
        '${period}' = 'week', toMonday(day), day)) AS time,
    cue,
    count() AS posts,
    uniqExact(account_id) AS accounts
FROM ronda.events FINAL
ARRAY JOIN cues AS cue
WHERE type = 'post' AND $__timeFilter(at)
GROUP BY time, cue
ORDER BY time, cue
