-- Detector volumes: signals raised per day by each detector family, and the
-- distinct entities they were about.
SELECT
    toDateTime(day) AS time,
    detector,
    signals,
    entities
FROM ronda.trend_daily_signals
WHERE $__timeFilter(toDateTime(day))
ORDER BY time, detector
