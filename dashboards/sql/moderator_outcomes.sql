-- Moderator outcomes: actions taken on alerts per day (claim, ack, assign,
-- escalate, dismiss, note), with dismiss reasons, from the audit trail.
SELECT
    toDateTime(day) AS time,
    action,
    count() AS actions,
    uniqExact(alert_id) AS alerts,
    groupUniqArray(reason) AS reasons
FROM ronda.actions FINAL
WHERE $__timeFilter(at)
GROUP BY time, action
ORDER BY time, action
