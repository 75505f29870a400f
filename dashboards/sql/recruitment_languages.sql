-- Languages of recruitment texts over time: per day (or week, month), the
-- posts, ads, bios and direct messages that carry at least one lure, by the
-- language of their words (id, tl, en; und when the words do not tell).
-- Variables: period.
SELECT
    toDateTime(multiIf('${period}' = 'month', toStartOfMonth(day),
        '${period}' = 'week', toMonday(day), day)) AS time,
    lang,
    count() AS posts,
    uniqExact(account_id) AS accounts
FROM ronda.events FINAL
WHERE type = 'post' AND notEmpty(cues) AND $__timeFilter(at)
GROUP BY time, lang
ORDER BY time, lang
