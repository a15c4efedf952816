-- rule: orders(90) >= 2
-- plan: orders(90) >= 2

-- orders(90) >= 2
-- kinds: orders
-- {p0:UInt32} = 90
-- {p1:Int64} = 2
WITH (SELECT (groupArray(person_id), groupArray(canonical)) FROM (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE person_id != canonical)) AS merged
SELECT toString(groupBitmapState(c)) FROM (
	SELECT transform(f.person_id, merged.1, merged.2, f.person_id) AS c
	FROM (
		SELECT person_id FROM `cdp`.`orders` FINAL
		WHERE person_id != 0
			AND status NOT IN ('refunded', 'cancelled')
			AND ordered_at >= fromUnixTimestamp64Milli({now:Int64}, 'UTC') - toIntervalDay({p0:UInt32})
	) AS f
	GROUP BY c HAVING count() >= {p1:Int64}
);

-- counted by the engine on one node: persons with 2 to 255 rows (255: no upper bound)
SELECT toString(groupArrayState(f.person_id)) FROM (
		SELECT person_id FROM `cdp`.`orders` FINAL
		WHERE status NOT IN ('refunded', 'cancelled')
			AND ordered_at >= fromUnixTimestamp64Milli({now:Int64}, 'UTC') - toIntervalDay({p0:UInt32})
	) AS f
GROUP BY intDiv(rowNumberInAllBlocks(), 4194304);

-- refresh
SELECT toString(groupBitmapState(c)) FROM (
	SELECT if(p.canonical = 0, f.person_id, p.canonical) AS c
	FROM (
		SELECT person_id, count() AS v FROM `cdp`.`orders` FINAL
		WHERE person_id != 0
			AND status NOT IN ('refunded', 'cancelled')
			AND ordered_at >= fromUnixTimestamp64Milli({now:Int64}, 'UTC') - toIntervalDay({p0:UInt32})
			AND person_id IN (SELECT person_id FROM (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE canonical IN {persons:Array(UInt32)}))
		GROUP BY person_id
	) AS f
	LEFT JOIN (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE person_id != canonical AND canonical IN {persons:Array(UInt32)}) AS p ON p.person_id = f.person_id
	GROUP BY c HAVING sum(f.v) >= {p1:Int64}
);

