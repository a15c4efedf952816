-- rule: days_since_first("order") > 30
-- plan: days_since_first("order") >= 31

-- days_since_first("order") >= 31
-- kinds: orders
-- {p0:Int64} = 31
SELECT toString(groupBitmapState(c)) FROM (
	SELECT if(p.canonical = 0, f.person_id, p.canonical) AS c
	FROM (
		SELECT person_id, min(ordered_at) AS v FROM `cdp`.`orders` FINAL
		WHERE person_id != 0
			AND status NOT IN ('refunded', 'cancelled')
		GROUP BY person_id
	) AS f
	LEFT JOIN (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE person_id != canonical) AS p ON p.person_id = f.person_id
	GROUP BY c HAVING intDiv({now:Int64} - toUnixTimestamp64Milli(min(f.v)), 86400000) >= {p0:Int64}
);

-- refresh
SELECT toString(groupBitmapState(c)) FROM (
	SELECT if(p.canonical = 0, f.person_id, p.canonical) AS c
	FROM (
		SELECT person_id, min(ordered_at) AS v FROM `cdp`.`orders` FINAL
		WHERE person_id != 0
			AND status NOT IN ('refunded', 'cancelled')
			AND person_id IN (SELECT person_id FROM (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE canonical IN {persons:Array(UInt32)}))
		GROUP BY person_id
	) AS f
	LEFT JOIN (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE person_id != canonical AND canonical IN {persons:Array(UInt32)}) AS p ON p.person_id = f.person_id
	GROUP BY c HAVING intDiv({now:Int64} - toUnixTimestamp64Milli(min(f.v)), 86400000) >= {p0:Int64}
);

