-- rule: lapsed("低GI大米", 60)
-- plan: lapsed("低GI大米", 60)

-- lapsed("低GI大米", 60)
-- kinds: orders
-- {p0:String} = "低GI大米"
-- {p1:UInt32} = 60
SELECT toString(groupBitmapState(c)) FROM (
	SELECT if(p.canonical = 0, f.person_id, p.canonical) AS c
	FROM (
		SELECT person_id, max(ordered_at) AS v FROM `cdp`.`item_orders` FINAL
		WHERE item = {p0:String}
			AND person_id != 0
			AND concat(toString(length(channel)), ':', channel, order_id) NOT IN (SELECT concat(toString(length(channel)), ':', channel, order_id) FROM `cdp`.`orders` FINAL WHERE status IN ('refunded', 'cancelled'))
		GROUP BY person_id
	) AS f
	LEFT JOIN (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE person_id != canonical) AS p ON p.person_id = f.person_id
	GROUP BY c HAVING max(f.v) < fromUnixTimestamp64Milli({now:Int64}, 'UTC') - toIntervalDay({p1:UInt32})
);

-- refresh
SELECT toString(groupBitmapState(c)) FROM (
	SELECT if(p.canonical = 0, f.person_id, p.canonical) AS c
	FROM (
		SELECT person_id, max(ordered_at) AS v FROM `cdp`.`item_orders` FINAL
		WHERE item = {p0:String}
			AND person_id != 0
			AND concat(toString(length(channel)), ':', channel, order_id) NOT IN (SELECT concat(toString(length(channel)), ':', channel, order_id) FROM `cdp`.`orders` FINAL WHERE status IN ('refunded', 'cancelled') AND person_id IN (SELECT person_id FROM (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE canonical IN {persons:Array(UInt32)})))
			AND person_id IN (SELECT person_id FROM (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE canonical IN {persons:Array(UInt32)}))
		GROUP BY person_id
	) AS f
	LEFT JOIN (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE person_id != canonical AND canonical IN {persons:Array(UInt32)}) AS p ON p.person_id = f.person_id
	GROUP BY c HAVING max(f.v) < fromUnixTimestamp64Milli({now:Int64}, 'UTC') - toIntervalDay({p1:UInt32})
);

