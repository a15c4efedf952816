-- rule: bought("低GI大米", 365) >= 2
-- plan: bought("低GI大米", 365) >= 2

-- bought("低GI大米", 365) >= 2
-- kinds: orders
-- {p0:String} = "低GI大米"
-- {p1:UInt32} = 365
-- {p2:Int64} = 2
WITH (SELECT (groupArray(person_id), groupArray(canonical)) FROM (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE person_id != canonical)) AS merged
SELECT toString(groupBitmapState(c)) FROM (
	SELECT transform(f.person_id, merged.1, merged.2, f.person_id) AS c
	FROM (
		SELECT person_id FROM `cdp`.`item_orders` FINAL
		WHERE item = {p0:String}
			AND ordered_at >= fromUnixTimestamp64Milli({now:Int64}, 'UTC') - toIntervalDay({p1:UInt32})
			AND person_id != 0
			AND concat(toString(length(channel)), ':', channel, order_id) NOT IN (SELECT concat(toString(length(channel)), ':', channel, order_id) FROM `cdp`.`orders` FINAL WHERE status IN ('refunded', 'cancelled') AND ordered_at >= fromUnixTimestamp64Milli({now:Int64}, 'UTC') - toIntervalDay({p1:UInt32}))
	) AS f
	GROUP BY c HAVING count() >= {p2:Int64}
);

-- counted by the engine on one node: persons with 2 to 255 rows (255: no upper bound)
SELECT toString(groupArrayState(f.person_id)) FROM (
		SELECT person_id FROM `cdp`.`item_orders` FINAL
		WHERE item = {p0:String}
			AND ordered_at >= fromUnixTimestamp64Milli({now:Int64}, 'UTC') - toIntervalDay({p1:UInt32})
			AND concat(toString(length(channel)), ':', channel, order_id) NOT IN (SELECT concat(toString(length(channel)), ':', channel, order_id) FROM `cdp`.`orders` FINAL WHERE status IN ('refunded', 'cancelled') AND ordered_at >= fromUnixTimestamp64Milli({now:Int64}, 'UTC') - toIntervalDay({p1:UInt32}))
	) AS f
GROUP BY intDiv(rowNumberInAllBlocks(), 4194304);

-- refresh
SELECT toString(groupBitmapState(c)) FROM (
	SELECT if(p.canonical = 0, f.person_id, p.canonical) AS c
	FROM (
		SELECT person_id, count() AS v FROM `cdp`.`item_orders` FINAL
		WHERE item = {p0:String}
			AND ordered_at >= fromUnixTimestamp64Milli({now:Int64}, 'UTC') - toIntervalDay({p1:UInt32})
			AND person_id != 0
			AND concat(toString(length(channel)), ':', channel, order_id) NOT IN (SELECT concat(toString(length(channel)), ':', channel, order_id) FROM `cdp`.`orders` FINAL WHERE status IN ('refunded', 'cancelled') AND ordered_at >= fromUnixTimestamp64Milli({now:Int64}, 'UTC') - toIntervalDay({p1:UInt32}) AND person_id IN (SELECT person_id FROM (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE canonical IN {persons:Array(UInt32)})))
			AND person_id IN (SELECT person_id FROM (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE canonical IN {persons:Array(UInt32)}))
		GROUP BY person_id
	) AS f
	LEFT JOIN (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE person_id != canonical AND canonical IN {persons:Array(UInt32)}) AS p ON p.person_id = f.person_id
	GROUP BY c HAVING sum(f.v) >= {p2:Int64}
);

