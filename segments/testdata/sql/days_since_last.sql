-- rule: days_since_last("order") <= 60
-- plan: days_since_last("order") <= 60

-- days_since_last("order") <= 60
-- kinds: orders
-- {p0:UInt32} = 61
-- {p1:Int64} = 60
SELECT toString(groupBitmapState(c)) FROM (
	SELECT if(p.canonical = 0, f.person_id, p.canonical) AS c
	FROM (
		SELECT person_id, max(ordered_at) AS v FROM `cdp`.`orders` FINAL
		WHERE person_id != 0
			AND status NOT IN ('refunded', 'cancelled')
			AND ordered_at >= fromUnixTimestamp64Milli({now:Int64}, 'UTC') - toIntervalDay({p0:UInt32})
		GROUP BY person_id
	) AS f
	LEFT JOIN (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE person_id != canonical) AS p ON p.person_id = f.person_id
	GROUP BY c HAVING intDiv({now:Int64} - toUnixTimestamp64Milli(max(f.v)), 86400000) <= {p1:Int64}
);

-- refresh
SELECT toString(groupBitmapState(c)) FROM (
	SELECT if(p.canonical = 0, f.person_id, p.canonical) AS c
	FROM (
		SELECT person_id, max(ordered_at) AS v FROM `cdp`.`orders` FINAL
		WHERE person_id != 0
			AND status NOT IN ('refunded', 'cancelled')
			AND ordered_at >= fromUnixTimestamp64Milli({now:Int64}, 'UTC') - toIntervalDay({p0:UInt32})
			AND person_id IN (SELECT person_id FROM (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE canonical IN {persons:Array(UInt32)}))
		GROUP BY person_id
	) AS f
	LEFT JOIN (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE person_id != canonical AND canonical IN {persons:Array(UInt32)}) AS p ON p.person_id = f.person_id
	GROUP BY c HAVING intDiv({now:Int64} - toUnixTimestamp64Milli(max(f.v)), 86400000) <= {p1:Int64}
);

