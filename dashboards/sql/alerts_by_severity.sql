-- Alerts by severity per day: distinct alerts and their versions.
SELECT
    toDateTime(day) AS time,
    severity,
    alerts,
    versions
FROM ronda.trend_daily_alerts
WHERE $__timeFilter(toDateTime(day))
ORDER BY time, severity
