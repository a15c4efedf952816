-- rule: did_then("video_complete", "order", 7, 30)
-- plan: did_then("video_complete", "order", 7, 30)

-- did_then("video_complete", "order", 7, 30)
-- kinds: events, orders
-- {p0:Array(String)} = [video_complete]
-- {p1:UInt32} = 30
-- {p2:UInt32} = 30
-- {p3:UInt64} = 604800000
-- {p4:String} = "video_complete"
-- {p5:String} = "order"
SELECT toString(groupBitmapState(c)) FROM (
	SELECT if(p.canonical = 0, f.person_id, p.canonical) AS c
	FROM (
		SELECT person_id, ts, toString(event) AS e FROM `cdp`.`events`
		WHERE event IN {p0:Array(String)}
			AND person_id != 0
			AND ts >= fromUnixTimestamp64Milli({now:Int64}, 'UTC') - toIntervalDay({p1:UInt32})
		UNION ALL
		SELECT person_id, ordered_at AS ts, 'order' AS e FROM `cdp`.`orders` FINAL
		WHERE person_id != 0
			AND status NOT IN ('refunded', 'cancelled')
			AND ordered_at >= fromUnixTimestamp64Milli({now:Int64}, 'UTC') - toIntervalDay({p2:UInt32})
	) AS f
	LEFT JOIN (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE person_id != canonical) AS p ON p.person_id = f.person_id
	GROUP BY c HAVING windowFunnel({p3:UInt64})(toUInt64(toUnixTimestamp64Milli(f.ts)), f.e = {p4:String}, f.e = {p5:String}) = 2
);

-- refresh
SELECT toString(groupBitmapState(c)) FROM (
	SELECT if(p.canonical = 0, f.person_id, p.canonical) AS c
	FROM (
		SELECT person_id, ts, toString(event) AS e FROM `cdp`.`events`
		WHERE event IN {p0:Array(String)}
			AND person_id != 0
			AND ts >= fromUnixTimestamp64Milli({now:Int64}, 'UTC') - toIntervalDay({p1:UInt32})
			AND person_id IN (SELECT person_id FROM (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE canonical IN {persons:Array(UInt32)}))
		UNION ALL
		SELECT person_id, ordered_at AS ts, 'order' AS e FROM `cdp`.`orders` FINAL
		WHERE person_id != 0
			AND status NOT IN ('refunded', 'cancelled')
			AND ordered_at >= fromUnixTimestamp64Milli({now:Int64}, 'UTC') - toIntervalDay({p2:UInt32})
			AND person_id IN (SELECT person_id FROM (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE canonical IN {persons:Array(UInt32)}))
	) AS f
	LEFT JOIN (SELECT person_id, canonical FROM `cdp`.`persons` FINAL WHERE person_id != canonical AND canonical IN {persons:Array(UInt32)}) AS p ON p.person_id = f.person_id
	GROUP BY c HAVING windowFunnel({p3:UInt64})(toUInt64(toUnixTimestamp64Milli(f.ts)), f.e = {p4:String}, f.e = {p5:String}) = 2
);

