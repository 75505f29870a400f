-- Payout funnels to beneficiaries: accounts that receive coins cashed out by
-- other accounts, with how many payers, how many coins, and by which methods.
-- A legit agency appears here too; several new hosts paying one account at
-- night-time schedules is the pattern.
SELECT
    counterpart AS beneficiary,
    uniqExact(account_id) AS payers,
    groupUniqArray(account_id) AS payer_ids,
    sum(coins) AS coins,
    round(sum(amount), 2) AS amount,
    groupUniqArray(method) AS methods,
    min(at) AS first_payout,
    max(at) AS last_payout
FROM ronda.events FINAL
WHERE type = 'payout' AND counterpart != account_id AND $__timeFilter(at)
GROUP BY beneficiary
ORDER BY payers DESC, coins DESC
LIMIT 100
