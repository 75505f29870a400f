-- Night broadcasting by region over time: per hour and region (geohash-4 cell,
-- about 40 km; '' when the app sends no location), how many streams, and what
-- share of broadcast minutes fell in the hosts' local night (20:00-04:00).
SELECT
    hour AS time,
    if(region = '', '(no location)', region) AS region,
    streams,
    round(night_share, 3) AS night_share,
    round(foreign_share, 3) AS foreign_share
FROM ronda.trend_hourly_streams
WHERE $__timeFilter(hour)
ORDER BY time, region
